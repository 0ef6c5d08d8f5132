"""What ``Store.apply`` does for each event record: one handler per record type.

Split out of ``core.py`` so the store itself reads as locking, bounds and
snapshots, while the per-event rules live here: a status event sets gauges and
the models table, a download or quantize event updates its job row, a bad event
bumps a counter, and most events also become a log entry. The handlers are
methods of the ``EventHandlers`` mixin that ``Store`` inherits; they run with
the store's lock already held and never take it; they reach the state they
change through ``self`` and never import the Store class. A job's ticks share
one log line (``joblog``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from opta_stream.events.batch import ThroughputBatch
from opta_stream.events.records import (
    DownloadFinished,
    DownloadProgress,
    Heartbeat,
    LmxEvent,
    Malformed,
    ModelLifecycle,
    ModelLoaded,
    ModelUnloaded,
    QuantizeProgress,
    StatusEvent,
    ThroughputEvent,
    Unknown,
)
from opta_stream.events.text import classify_event, summarize
from opta_stream.snapshot import Gauges, ModelInfo, Progress
from opta_stream.store.bounds import Interner, clip
from opta_stream.store.joblog import JobLines
from opta_stream.units import byte_size

__all__ = ["MAX_JOBS", "MAX_MODELS", "EventHandlers"]

MAX_MODELS, MAX_JOBS = 256, 100


def _merge_model(old: ModelInfo | None, new: ModelInfo) -> ModelInfo:
    """Fields the new source does not report keep what an older source said."""
    if old is None:
        return new
    fill = {f.name: getattr(old, f.name) for f in fields(new) if getattr(new, f.name) is None}
    return replace(new, **fill)


def _quantize_status(status: str) -> tuple[str, str]:
    """The server's free-form status → (running|completed|failed|cancelled, message)."""
    low = status.strip().lower()
    if low.startswith("fail"):
        return "failed", status.partition(":")[2].strip() or status
    if low in ("completed", "complete", "done", "finished", "success", "succeeded"):
        return "completed", ""
    return ("cancelled", "") if low.startswith("cancel") else ("running", status)


class EventHandlers(JobLines):
    """Store's per-event rules. Callers hold ``Store._lock``; Store provides the state."""

    _gauges: Gauges
    _models: dict[str, ModelInfo]
    _models_at: float | None
    _jobs: dict[str, Progress]
    _counters: dict[str, int]
    _names: Interner

    if TYPE_CHECKING:  # defined by Store
        def _add_tp(self, t: np.ndarray, v: np.ndarray, codes: np.ndarray) -> None: ...
        def _add_memory(self, ts: float, used: float, total: float) -> None: ...
        def _append_log(self, type_: str, summary: str, category: str, severity: str,
                        data: str, ts: float) -> None: ...

    def _apply_one(self, event: LmxEvent) -> None:
        handler = _HANDLERS.get(type(event), EventHandlers._log_event)
        if handler is None:
            return
        try:
            handler(self, event)
        except Exception as exc:  # noqa: BLE001 - a bug in one rule must not cost the others
            self._counters["internal_errors"] += 1
            self._append_log("feed_internal_error", f"Internal error applying a "
                             f"'{clip(event.type, 64)}' event ({type(exc).__name__}); the "
                             "other events were kept.", "feed", "error", "", event.received_at)

    def _apply_throughput(self, events: list[ThroughputEvent | ThroughputBatch]) -> None:
        """Every sample of the batch in one ring append, in arrival order."""
        batches = [e if isinstance(e, ThroughputBatch) else ThroughputBatch.of([e], e.received_at)
                   for e in events]
        t = np.concatenate([b.timestamps for b in batches])
        v = np.concatenate([b.rates for b in batches])
        ids = [m for b in batches for m in b.model_ids]
        self._add_tp(t, v, self._names.codes(ids, t.shape[0]))
        self._gauges = replace(self._gauges, updated_at=events[-1].received_at)

    def _on_status(self, e: StatusEvent) -> None:
        """Gauges (only those reported), a memory sample, and the models list."""
        reported: dict[str, Any] = dict(
            memory_used_gb=e.vram_used_gb, memory_total_gb=e.vram_total_gb,
            active_requests=e.active_requests, tokens_per_s=e.tokens_per_second,
            temperature_c=e.temperature_celsius, uptime_s=e.uptime_seconds)
        self._gauges = replace(self._gauges, updated_at=e.received_at,
                               **{k: v for k, v in reported.items() if v is not None})
        if e.vram_used_gb is not None and e.vram_total_gb is not None:
            self._add_memory(e.received_at, e.vram_used_gb, e.vram_total_gb)
        self._models_at = e.received_at
        self._set_models(ModelInfo(model_id=clip(m.id, 256), memory_gb=m.vram_gb,
                                   loaded_at=m.loaded_at, context_length=m.context_length,
                                   quantization=m.quantization) for m in e.loaded_models)

    def _set_models(self, models: Iterable[ModelInfo]) -> None:
        """Replace the models table (status events and polling share this)."""
        new: dict[str, ModelInfo] = {}
        for model in models:
            if len(new) >= MAX_MODELS:
                break
            new[model.model_id] = _merge_model(self._models.get(model.model_id), model)
        self._models = new

    def _on_loaded(self, e: ModelLoaded) -> None:
        mid = clip(e.model_id, 256)
        if mid in self._models or len(self._models) < MAX_MODELS:
            new = ModelInfo(model_id=mid, memory_gb=e.memory_gb, loaded_at=e.received_at,
                            format=e.format)
            self._models[mid] = _merge_model(self._models.get(mid), new)
        self._log_event(e)

    def _on_model_event(self, e: ModelUnloaded | ModelLifecycle) -> None:
        model_id = clip(e.model_id, 256)
        if e.type in ("model_unloaded", "model_ttl_evicted"):
            self._models.pop(model_id, None)
        elif e.type == "model_readiness_changed" and model_id in self._models:
            state = e.detail.get("state") if isinstance(e, ModelLifecycle) else None
            if isinstance(state, str):
                self._models[model_id] = replace(self._models[model_id],
                                                 readiness=clip(state, 40))
        self._log_event(e)

    def _on_download(self, e: DownloadProgress | DownloadFinished) -> None:
        key = "download:" + clip(e.download_id, 256)
        old = self._jobs.get(key)
        if isinstance(e, DownloadProgress):
            size = f"{byte_size(e.downloaded_bytes)} of {byte_size(e.total_bytes)}" \
                if e.downloaded_bytes is not None and e.total_bytes else ""
            status, pct, msg = "running", e.percent, size
        else:
            pct = 100.0 if e.outcome == "completed" else (old.percent if old else None)
            status, msg = e.outcome, e.error or e.local_path or ""
        self._put_job(key, Progress(clip(e.download_id, 256), "download",
                                    clip(e.repo_id or e.download_id, 256), pct, status,
                                    clip(msg, 1024), e.received_at))
        self._log_job(key, e, done=status != "running")

    def _on_quantize(self, e: QuantizeProgress) -> None:
        status, msg = _quantize_status(e.status)
        pct = 100.0 if status == "completed" else e.percent
        key = "quantize:" + clip(e.job_id, 256)
        self._put_job(key, Progress(clip(e.job_id, 256), "quantize",
                                    clip(e.model_id or e.job_id, 256), pct, status,
                                    clip(msg, 1024), e.received_at))
        self._log_job(key, e, done=status != "running")

    def _put_job(self, key: str, job: Progress) -> None:
        """Insert or update; when full, evict the oldest finished job (else the oldest)."""
        if key not in self._jobs and len(self._jobs) >= MAX_JOBS:
            done = (k for k, j in self._jobs.items() if j.status != "running")
            del self._jobs[next(done, next(iter(self._jobs)))]
        self._jobs[key] = job

    def _on_bad(self, e: Malformed | Unknown) -> None:
        self._counters["malformed" if isinstance(e, Malformed) else "unknown"] += 1
        self._log_event(e)

    def _log_event(self, e: LmxEvent) -> None:
        category, severity = classify_event(e)
        self._append_log(e.type, summarize(e), category, severity, e.raw, e.received_at)


# Record types not listed are only logged; None means "counted, not logged".
# Each handler takes its own record type; the table is looked up by type(event).
_HANDLERS: dict[type, Callable[[EventHandlers, Any], None] | None] = {
    Heartbeat: None,
    StatusEvent: EventHandlers._on_status,
    ModelLoaded: EventHandlers._on_loaded,
    ModelUnloaded: EventHandlers._on_model_event,
    ModelLifecycle: EventHandlers._on_model_event,
    DownloadProgress: EventHandlers._on_download,
    DownloadFinished: EventHandlers._on_download,
    QuantizeProgress: EventHandlers._on_quantize,
    Malformed: EventHandlers._on_bad,
    Unknown: EventHandlers._on_bad,
}
