"""The event log's words for a feed event: category, severity and a one-line summary.

Kept apart from ``records`` so parsing (what the server sent) and presentation
(how the log names it) change separately. Everything here is pure and total:
``classify`` works from the event name alone, so the dashboard's own entries
(feed, poll, auth) get a category too, and ``summarize`` never raises and never
returns more than one line. ``events`` re-exports all three public names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from opta_stream.events.records import (
    ConfigReloaded,
    DownloadFinished,
    DownloadProgress,
    Heartbeat,
    LmxEvent,
    Malformed,
    MemoryWarning,
    ModelLifecycle,
    ModelLoaded,
    ModelUnloaded,
    QuantizeProgress,
    RequestCompleted,
    StatusEvent,
    ThroughputEvent,
    Unknown,
)
from opta_stream.units import byte_size

__all__ = ["classify", "classify_event", "summarize"]

_CATEGORIES = ("model", "download", "quantize", "config", "memory", "request", "alert")
# entries the dashboard writes itself
_DASHBOARD_OWN = ("feed", "poll", "auth", "counter", "server")
_DEBUG_TYPES = {"heartbeat": "system", "status": "metrics", "throughput": "metrics"}


def classify(event_type: str, data: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """(category, severity) from the event name, the way the server's schema groups them."""
    return _category(event_type), _severity(event_type, data)


def _category(event_type: str) -> str:
    if event_type in _DEBUG_TYPES:
        return _DEBUG_TYPES[event_type]
    family = event_type.split("_", 1)[0]
    if family in _CATEGORIES:
        return family
    return "feed" if family in _DASHBOARD_OWN else "other"


# readiness states that need an operator's eye; the rest (admitted, loading,
# canary_pending, routable) are the normal life of a model
_READINESS_SEVERITY = {"degraded": "warning", "quarantined": "error"}


def _severity(event_type: str, data: Mapping[str, Any] | None) -> str:
    status = data.get("status") if data is not None else None
    if event_type == "quantize_progress" and isinstance(status, str):
        if status.lower().startswith("failed"):
            return "error"
    state = data.get("state") if data is not None else None
    if event_type == "model_readiness_changed" and isinstance(state, str):
        return _READINESS_SEVERITY.get(state.strip().lower(), "info")
    if event_type == "malformed" or event_type.endswith(("_failed", "_error")):
        return "error"
    if event_type == "unknown" or event_type.endswith(("_warning", "_evicted", "_cancelled")):
        return "warning"
    return "debug" if event_type in _DEBUG_TYPES else "info"


def classify_event(event: LmxEvent) -> tuple[str, str]:
    """classify() for a parsed record: malformed is an error, unknown a warning, a
    readiness change to "degraded" a warning and to "quarantined" an error."""
    category = _category(event.type)
    if isinstance(event, Malformed):
        return category, "error"
    if isinstance(event, Unknown):
        return category, "warning"
    if isinstance(event, QuantizeProgress):
        return category, _severity(event.type, {"status": event.status})
    if isinstance(event, ModelLifecycle):
        return category, _severity(event.type, event.detail)
    return category, _severity(event.type, None)


def _n(value: float | None, unit: str, digits: int = 1) -> str | None:
    return None if value is None else f"{value:.{digits}f}{unit}"


def _paren(*parts: str | None) -> str:
    kept = [p for p in parts if p]
    return f" ({', '.join(kept)})" if kept else ""


def _short(value: object) -> str:
    if isinstance(value, Mapping | tuple):
        return "{…}" if isinstance(value, Mapping) else "[…]"
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _pairs(data: Mapping[str, Any], skip: tuple[str, ...] = (), limit: int = 4) -> str:
    items = [f"{k}={_short(v)}" for k, v in data.items() if k not in skip]
    more = ", …" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _sum_loaded(e: ModelLoaded) -> str:
    took = f"{_n(e.memory_gb, ' GB')} in {_n(e.duration_sec, ' s')}" \
        if e.memory_gb is not None and e.duration_sec is not None else None
    return f"Loaded {e.model_id}" + _paren(took or _n(e.memory_gb, " GB")
                                         or _n(e.duration_sec, " s"), e.format)


def _sum_download(e: DownloadProgress) -> str:
    size = byte_size(e.total_bytes) if e.total_bytes else None
    return f"Downloading {e.repo_id or e.download_id}" + _paren(_n(e.percent, "%"), size)


def _sum_finished(e: DownloadFinished) -> str:
    tail = {"failed": f": {e.error}" if e.error else "",
            "completed": f" → {e.local_path}" if e.local_path else ""}.get(e.outcome, "")
    return f"Download {e.outcome}: {e.repo_id or e.download_id}{tail}"


def _sum_status(e: StatusEvent) -> str:
    mem = f"{e.vram_used_gb:.1f}/{e.vram_total_gb:.1f} GB" \
        if e.vram_used_gb is not None and e.vram_total_gb is not None else None
    active = None if e.active_requests is None else f"{e.active_requests} active"
    count = len(e.loaded_models)
    return "Status" + _paren(mem, f"{count} model{'' if count == 1 else 's'}", active)


def _sum_request(e: RequestCompleted) -> str:
    tokens = f"{e.prompt_tokens} prompt + {e.completion_tokens} completion tokens" \
        if e.prompt_tokens is not None and e.completion_tokens is not None else None
    return f"Request completed on {e.model_id or 'unknown model'}" + _paren(tokens)


_SUMMARIES: Mapping[type, Callable[[Any], str]] = MappingProxyType({
    Heartbeat: lambda e: "Heartbeat",
    ModelLoaded: _sum_loaded,
    ModelUnloaded: lambda e: f"Unloaded {e.model_id}"
    + _paren(_n(e.memory_freed_gb, " GB freed"), e.reason and f"reason: {e.reason}"),
    ModelLifecycle: lambda e: f"Model {e.type[6:].replace('_', ' ')}: {e.model_id}"
    + _paren(_pairs(e.detail, skip=("model_id",), limit=3)),
    DownloadProgress: _sum_download,
    DownloadFinished: _sum_finished,
    QuantizeProgress: lambda e: f"Quantize {e.model_id or e.job_id}: {e.status}"
    + _paren(_n(e.percent, "%", 0)),
    ConfigReloaded: lambda e: "Config reloaded" + _paren(_pairs(e.changes)),
    MemoryWarning: lambda e: "Memory warning" + _paren(_pairs(e.data)),
    RequestCompleted: _sum_request,
    StatusEvent: _sum_status,
    ThroughputEvent: lambda e: f"Throughput {e.tokens_per_second:.1f} tok/s"
    + _paren(e.model_id),
    Malformed: lambda e: f"Malformed '{e.type}' event: {e.error}",
    Unknown: lambda e: f"Unknown event type '{e.type}'" + _paren(_pairs(e.data, limit=3)),
})


def summarize(event: LmxEvent) -> str:
    """One line a person can read in the event log; never raises, never multi-line."""
    try:
        text = _SUMMARIES[type(event)](event)
    except Exception:  # noqa: BLE001 - a summary must never break the log
        text = f"{getattr(event, 'type', 'event')} event"
    return " ".join(text.split())
