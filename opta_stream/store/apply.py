"""What ``Store.apply`` does for each event record: one rule per record type.

The Store reads as locking, bounds and snapshots; the per-event rules live
here: a status event sets gauges, a memory sample and the models table, a
download or quantize event updates its job row and its one log line, a bad
event bumps a counter, and most events also become a log line. ``EventRules``
is handed the parts it changes when the Store makes it (the series, the log,
what the server reported, the counters, the model-id interner) and works
only through their APIs. It runs with the Store's lock held and never takes
it; it never imports the Store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from opta_stream.snapshot import ModelInfo, Progress
from opta_stream.store.bounds import Interner, clip
from opta_stream.store.counts import Tally
from opta_stream.store.eventlog import EventLog
from opta_stream.store.reported import Reported
from opta_stream.store.series import SeriesSet
from opta_stream.units import byte_size

__all__ = ["EventRules"]


def _quantize_status(status: str) -> tuple[str, str]:
    """The server's free-form status → (running|completed|failed|cancelled, message)."""
    low = status.strip().lower()
    if low.startswith("fail"):
        return "failed", status.partition(":")[2].strip() or status
    if low in ("completed", "complete", "done", "finished", "success", "succeeded"):
        return "completed", ""
    return ("cancelled", "") if low.startswith("cancel") else ("running", status)


class EventRules:
    """The Store's per-event rules, over the parts they change (see the module docstring)."""

    def __init__(self, series: SeriesSet, log: EventLog, reported: Reported, tally: Tally,
                 names: Interner) -> None:
        self._series = series
        self._log = log
        self._reported = reported
        self._tally = tally
        self._names = names

    def apply(self, event: LmxEvent) -> None:
        """One event's rule; a bug in it is counted and logged, and costs no other event."""
        handler = _HANDLERS.get(type(event), EventRules._on_other)
        if handler is None:
            return
        try:
            handler(self, event)
        except Exception as exc:  # noqa: BLE001 - a bug in one rule must not cost the others
            self._tally.add(internal_errors=1)
            self._log.append("feed_internal_error", f"Internal error applying a "
                             f"'{clip(event.type, 64)}' event ({type(exc).__name__}); the "
                             "other events were kept.", "feed", "error", "", event.received_at)

    def throughput(self, events: list[ThroughputEvent | ThroughputBatch]) -> None:
        """Every sample of the batch in one ring append, in arrival order."""
        batches = [e if isinstance(e, ThroughputBatch) else ThroughputBatch.of([e], e.received_at)
                   for e in events]
        t = np.concatenate([b.timestamps for b in batches])
        v = np.concatenate([b.rates for b in batches])
        ids = [m for b in batches for m in b.model_ids]
        rate = self._series.add_throughput_many(t, v, self._names.codes(ids, t.shape[0]))
        gauges: dict[str, float] = {"updated_at": events[-1].received_at}
        if rate is not None:
            gauges["tokens_per_s"] = rate
        self._reported.update_gauges(**gauges)

    def _on_status(self, e: StatusEvent) -> None:
        """Gauges (only those reported), a memory sample, and the models list."""
        reported: dict[str, Any] = dict(
            memory_used_gb=e.vram_used_gb, memory_total_gb=e.vram_total_gb,
            active_requests=e.active_requests, tokens_per_s=e.tokens_per_second,
            temperature_c=e.temperature_celsius, uptime_s=e.uptime_seconds)
        self._reported.update_gauges(updated_at=e.received_at,
                                     **{k: v for k, v in reported.items() if v is not None})
        if e.vram_used_gb is not None and e.vram_total_gb is not None:
            self._series.add_memory(e.received_at, e.vram_used_gb, e.vram_total_gb)
        self._reported.set_models((ModelInfo(
            model_id=clip(m.id, 256), memory_gb=m.vram_gb, loaded_at=m.loaded_at,
            context_length=m.context_length, quantization=m.quantization)
            for m in e.loaded_models), at=e.received_at)

    def _on_loaded(self, e: ModelLoaded) -> None:
        self._reported.model_loaded(ModelInfo(model_id=clip(e.model_id, 256),
                                              memory_gb=e.memory_gb, loaded_at=e.received_at,
                                              format=e.format))
        self._log.add_event(e)

    def _on_model_event(self, e: ModelUnloaded | ModelLifecycle) -> None:
        model_id = clip(e.model_id, 256)
        if e.type in ("model_unloaded", "model_ttl_evicted"):
            self._reported.model_gone(model_id)
        elif e.type == "model_readiness_changed":
            state = e.detail.get("state") if isinstance(e, ModelLifecycle) else None
            if isinstance(state, str):
                self._reported.set_readiness(model_id, clip(state, 40))
        self._log.add_event(e)

    def _on_download(self, e: DownloadProgress | DownloadFinished) -> None:
        key = "download:" + clip(e.download_id, 256)
        old = self._reported.job(key)
        if isinstance(e, DownloadProgress):
            size = f"{byte_size(e.downloaded_bytes)} of {byte_size(e.total_bytes)}" \
                if e.downloaded_bytes is not None and e.total_bytes else ""
            status, pct, msg = "running", e.percent, size
        else:
            pct = 100.0 if e.outcome == "completed" else (old.percent if old else None)
            status, msg = e.outcome, e.error or e.local_path or ""
        self._reported.put_job(key, Progress(clip(e.download_id, 256), "download",
                                             clip(e.repo_id or e.download_id, 256), pct, status,
                                             clip(msg, 1024), e.received_at))
        self._log.add_job(key, e, done=status != "running")

    def _on_quantize(self, e: QuantizeProgress) -> None:
        status, msg = _quantize_status(e.status)
        pct = 100.0 if status == "completed" else e.percent
        key = "quantize:" + clip(e.job_id, 256)
        self._reported.put_job(key, Progress(clip(e.job_id, 256), "quantize",
                                             clip(e.model_id or e.job_id, 256), pct, status,
                                             clip(msg, 1024), e.received_at))
        self._log.add_job(key, e, done=status != "running")

    def _on_bad(self, e: Malformed | Unknown) -> None:
        if isinstance(e, Malformed):
            self._tally.add(malformed=1)
        else:
            self._tally.add(unknown=1)
        self._log.add_event(e)

    def _on_other(self, e: LmxEvent) -> None:
        self._log.add_event(e)


# Record types not listed are only logged; None means "counted, not logged".
# Each handler takes its own record type; the table is looked up by type(event).
_HANDLERS: dict[type, Callable[[EventRules, Any], None] | None] = {
    Heartbeat: None,
    StatusEvent: EventRules._on_status,
    ModelLoaded: EventRules._on_loaded,
    ModelUnloaded: EventRules._on_model_event,
    ModelLifecycle: EventRules._on_model_event,
    DownloadProgress: EventRules._on_download,
    DownloadFinished: EventRules._on_download,
    QuantizeProgress: EventRules._on_quantize,
    Malformed: EventRules._on_bad,
    Unknown: EventRules._on_bad,
}
