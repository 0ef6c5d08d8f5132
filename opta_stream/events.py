"""Typed records for the server's feed events, parsed without ever raising.

``parse_event`` turns one decoded SSE event into a small frozen record. Bad
input is data, not an exception (DESIGN rule 5): JSON that does not parse, or
is not an object, or lacks a required field becomes ``Malformed``; a type this
module does not know becomes ``Unknown``. Field values of the wrong type are
coerced where the meaning is clear and dropped (``None``) where it is not.
Every mapping kept in a record is deeply frozen (MappingProxyType, tuples).
``classify`` and ``summarize`` give the event log its category, severity and
one-line text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Protocol

__all__ = [
    "ConfigReloaded", "DownloadFinished", "DownloadProgress", "Heartbeat", "LmxEvent",
    "Malformed", "MemoryWarning", "ModelLifecycle", "ModelLoaded", "ModelUnloaded",
    "QuantizeProgress", "RequestCompleted", "SSELike", "StatusEvent", "StatusModel",
    "ThroughputEvent", "Unknown", "classify", "classify_event", "parse_event", "summarize",
]


class SSELike(Protocol):
    """What parse_event needs from a decoded event (sse.ServerSentEvent fits)."""

    @property
    def event(self) -> str: ...

    @property
    def data(self) -> str: ...


@dataclass(frozen=True, slots=True)
class _Event:
    """Fields every record carries: the wire type, arrival time and data text."""

    type: str
    received_at: float
    raw: str


@dataclass(frozen=True, slots=True)
class Heartbeat(_Event):
    timestamp: float


@dataclass(frozen=True, slots=True)
class ModelLoaded(_Event):
    model_id: str
    format: str | None
    memory_gb: float | None
    duration_sec: float | None


@dataclass(frozen=True, slots=True)
class ModelUnloaded(_Event):
    model_id: str
    memory_freed_gb: float | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class ModelLifecycle(_Event):
    """TTL eviction, readiness, canary and compatibility events; ``detail`` is the data."""

    model_id: str
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DownloadProgress(_Event):
    download_id: str
    repo_id: str | None
    percent: float | None  # 0..100
    downloaded_bytes: int | None
    total_bytes: int | None


@dataclass(frozen=True, slots=True)
class DownloadFinished(_Event):
    download_id: str
    repo_id: str | None
    outcome: str  # "completed" | "failed" | "cancelled"
    error: str | None
    local_path: str | None


@dataclass(frozen=True, slots=True)
class QuantizeProgress(_Event):
    job_id: str
    model_id: str | None
    status: str
    percent: float | None  # 0..100


@dataclass(frozen=True, slots=True)
class ConfigReloaded(_Event):
    changes: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MemoryWarning(_Event):
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RequestCompleted(_Event):
    model_id: str | None
    prompt_tokens: int | None
    completion_tokens: int | None


@dataclass(frozen=True, slots=True)
class StatusModel:
    """One entry of a status event's ``loaded_models``."""

    id: str
    name: str
    vram_gb: float | None = None
    quantization: str | None = None
    context_length: int | None = None
    loaded_at: float | None = None


@dataclass(frozen=True, slots=True)
class StatusEvent(_Event):
    """The dashboard contract's gauge event (the demo server streams it)."""

    vram_used_gb: float | None
    vram_total_gb: float | None
    loaded_models: tuple[StatusModel, ...]
    active_requests: int | None
    tokens_per_second: float | None
    temperature_celsius: float | None
    uptime_seconds: float | None


@dataclass(frozen=True, slots=True)
class ThroughputEvent(_Event):
    timestamp: float
    tokens_per_second: float
    model_id: str | None


@dataclass(frozen=True, slots=True)
class Malformed(_Event):
    error: str


@dataclass(frozen=True, slots=True)
class Unknown(_Event):
    data: Mapping[str, Any]


LmxEvent = (
    Heartbeat | ModelLoaded | ModelUnloaded | ModelLifecycle | DownloadProgress
    | DownloadFinished | QuantizeProgress | ConfigReloaded | MemoryWarning
    | RequestCompleted | StatusEvent | ThroughputEvent | Malformed | Unknown
)


# -- coercion: wrong types become None (or Malformed when the field is required) --


class _FieldError(ValueError):
    """A required field is missing or unusable; parse_event turns it into Malformed."""


def _num(v: object) -> float | None:
    """A finite float from a number or numeric string; None for anything else."""
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        return None
    try:
        f = float(v)
    except (ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def _int(v: object) -> int | None:
    f = _num(v)
    return int(f) if f is not None and f.is_integer() and abs(f) < 2**63 else None


def _text(v: object) -> str | None:
    if isinstance(v, str):
        return v
    return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _time(v: object) -> float | None:
    """Unix seconds from a number or an ISO 8601 string (naive means UTC)."""
    f = _num(v)
    if f is not None or not isinstance(v, str):
        return f
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


class _Reader:
    """Typed, lenient access to one JSON object's fields (first usable key wins)."""

    __slots__ = ("d",)

    def __init__(self, d: dict[str, Any]) -> None:
        self.d = d

    def _first(self, conv: Callable[[object], Any], keys: tuple[str, ...]) -> Any:
        for key in keys:
            value = conv(self.d.get(key))
            if value is not None and value != "":
                return value
        return None

    def text(self, *keys: str) -> str | None:
        return self._first(_text, keys)

    def num(self, *keys: str) -> float | None:
        return self._first(_num, keys)

    def int(self, *keys: str) -> int | None:
        return self._first(_int, keys)

    def time(self, *keys: str) -> float | None:
        return self._first(_time, keys)

    def need_text(self, *keys: str) -> str:
        return self._need(self.text(*keys), keys)

    def need_num(self, *keys: str) -> float:
        return self._need(self.num(*keys), keys)

    @staticmethod
    def _need(value: Any, keys: tuple[str, ...]) -> Any:
        if value is None:
            raise _FieldError(f"field '{keys[0]}' is missing or not usable")
        return value


def _freeze(value: object) -> Any:
    """Deep read-only copy of parsed JSON: dicts → MappingProxyType, lists → tuples."""
    if isinstance(value, dict):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _percent_of(d: Mapping[str, Any]) -> float | None:
    """0..100 from ``percent``, ``progress`` (0..1 or 0..100, or a nested object) or bytes."""
    pct = _num(d.get("percent"))
    progress = d.get("progress")
    if pct is None and isinstance(progress, dict):
        return _percent_of(progress)
    if pct is None and (pct := _num(progress)) is not None and pct <= 1.0:
        pct *= 100.0
    if pct is None:
        done, total = _num(d.get("downloaded_bytes")), _num(d.get("total_bytes"))
        pct = 100.0 * done / total if done is not None and total else None
    return None if pct is None else min(100.0, max(0.0, pct))


_Parser = Callable[[_Reader, dict[str, Any]], LmxEvent]


def parse_event(sse: SSELike, received_at: float) -> LmxEvent:
    """One SSE event → one typed record. Never raises."""
    etype, raw = _text_attr(sse, "event") or "message", _text_attr(sse, "data")
    base: dict[str, Any] = {"type": etype, "received_at": float(received_at), "raw": raw}
    try:
        obj = json.loads(raw)
        if not isinstance(obj, dict):
            return Malformed(**base, error=f"data is a JSON {type(obj).__name__}, not an object")
        parser = _parser_for(etype)
        if parser is None:
            return Unknown(**base, data=_freeze(obj))
        return parser(_Reader(obj), base)
    except Exception as exc:  # noqa: BLE001 - bad input is data, never fatal
        return Malformed(**base, error=_error_text(exc))


def _text_attr(sse: object, name: str) -> str:
    value = getattr(sse, name, "")
    return value if isinstance(value, str) else ""


def _error_text(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)[:200] or type(exc).__name__


def _heartbeat(r: _Reader, b: dict[str, Any]) -> LmxEvent:
    return Heartbeat(**b, timestamp=r.num("timestamp") or b["received_at"])


def _model_loaded(r: _Reader, b: dict[str, Any]) -> LmxEvent:
    return ModelLoaded(**b, model_id=r.need_text("model_id"), format=r.text("format"),
                       memory_gb=r.num("memory_gb"), duration_sec=r.num("duration_sec"))


def _model_unloaded(r: _Reader, b: dict[str, Any]) -> LmxEvent:
    return ModelUnloaded(**b, model_id=r.need_text("model_id"),
                         memory_freed_gb=r.num("memory_freed_gb"), reason=r.text("reason"))


def _model_lifecycle(r: _Reader, b: dict[str, Any]) -> LmxEvent:
    return ModelLifecycle(**b, model_id=r.need_text("model_id"), detail=_freeze(r.d))


def _download_progress(r: _Reader, b: dict[str, Any]) -> LmxEvent:
    return DownloadProgress(**b, download_id=r.need_text("download_id", "repo_id"),
                            repo_id=r.text("repo_id"), percent=_percent_of(r.d),
                            downloaded_bytes=r.int("downloaded_bytes"),
                            total_bytes=r.int("total_bytes"))


def _download_finished(r: _Reader, b: dict[str, Any]) -> LmxEvent:
    return DownloadFinished(**b, download_id=r.need_text("download_id", "repo_id"),
                            repo_id=r.text("repo_id"), outcome=b["type"].rsplit("_", 1)[1],
                            error=r.text("error"), local_path=r.text("local_path"))


def _quantize_progress(r: _Reader, b: dict[str, Any]) -> LmxEvent:
    return QuantizeProgress(**b, job_id=r.need_text("job_id", "id", "model_id"),
                            model_id=r.text("model_id"), status=r.text("status") or "running",
                            percent=_percent_of(r.d))


def _config_reloaded(r: _Reader, b: dict[str, Any]) -> LmxEvent:
    changes = r.d.get("changes")
    return ConfigReloaded(**b, changes=_freeze(changes if isinstance(changes, dict) else r.d))


def _memory_warning(r: _Reader, b: dict[str, Any]) -> LmxEvent:
    return MemoryWarning(**b, data=_freeze(r.d))


def _request_completed(r: _Reader, b: dict[str, Any]) -> LmxEvent:
    return RequestCompleted(**b, model_id=r.text("model_id"),
                            prompt_tokens=r.int("prompt_tokens"),
                            completion_tokens=r.int("completion_tokens"))


def _status(r: _Reader, b: dict[str, Any]) -> LmxEvent:
    return StatusEvent(**b, vram_used_gb=r.num("vram_used_gb"),
                       vram_total_gb=r.num("vram_total_gb"),
                       loaded_models=_status_models(r.d.get("loaded_models")),
                       active_requests=r.int("active_requests"),
                       tokens_per_second=r.num("tokens_per_second"),
                       temperature_celsius=r.num("temperature_celsius"),
                       uptime_seconds=r.num("uptime_seconds"))


def _status_models(items: object) -> tuple[StatusModel, ...]:
    """Keep the entries that name a model; skip anything else silently."""
    if not isinstance(items, list):
        return ()
    out = []
    for item in items:
        r = _Reader(item) if isinstance(item, dict) else None
        mid = r.text("id", "model_id", "name") if r else None
        if r is not None and mid:
            out.append(StatusModel(mid, r.text("name") or mid, r.num("vram_gb"),
                                   r.text("quantization"), r.int("context_length"),
                                   r.time("loaded_at")))
    return tuple(out)


def _throughput(r: _Reader, b: dict[str, Any]) -> LmxEvent:
    return ThroughputEvent(**b, timestamp=r.num("timestamp") or b["received_at"],
                           tokens_per_second=r.need_num("tokens_per_second"),
                           model_id=r.text("model_id"))


_PARSERS: Mapping[str, _Parser] = MappingProxyType({
    "heartbeat": _heartbeat,
    "model_loaded": _model_loaded,
    "model_unloaded": _model_unloaded,
    "model_ttl_evicted": _model_lifecycle,
    "model_readiness_changed": _model_lifecycle,
    "model_compatibility_recorded": _model_lifecycle,
    "download_progress": _download_progress,
    "download_completed": _download_finished,
    "download_failed": _download_finished,
    "download_cancelled": _download_finished,
    "quantize_progress": _quantize_progress,
    "config_reloaded": _config_reloaded,
    "memory_warning": _memory_warning,
    "request_completed": _request_completed,
    "status": _status,
    "throughput": _throughput,
})


def _parser_for(etype: str) -> _Parser | None:
    if etype.startswith("model_canary_") and len(etype) > len("model_canary_"):
        return _model_lifecycle
    return _PARSERS.get(etype)

# -- classification and one-line summaries for the event log --

_CATEGORIES = ("model", "download", "quantize", "config", "memory", "request")
_DASHBOARD_OWN = ("feed", "poll", "auth", "counter")  # entries the dashboard writes itself
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


def _severity(event_type: str, data: Mapping[str, Any] | None) -> str:
    status = data.get("status") if data is not None else None
    if event_type == "quantize_progress" and isinstance(status, str):
        if status.lower().startswith("failed"):
            return "error"
    if event_type == "malformed" or event_type.endswith(("_failed", "_error")):
        return "error"
    if event_type == "unknown" or event_type.endswith(("_warning", "_evicted", "_cancelled")):
        return "warning"
    return "debug" if event_type in _DEBUG_TYPES else "info"


def classify_event(event: LmxEvent) -> tuple[str, str]:
    """classify() for a parsed record: malformed is an error, unknown a warning."""
    category = _category(event.type)
    if isinstance(event, Malformed):
        return category, "error"
    if isinstance(event, Unknown):
        return category, "warning"
    if isinstance(event, QuantizeProgress):
        return category, _severity(event.type, {"status": event.status})
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
    size = _n(e.total_bytes / 1e9, " GB", 2) if e.total_bytes else None
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
