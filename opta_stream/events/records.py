"""Typed records for the server's feed events, parsed without ever raising.

``parse_event`` turns one decoded SSE event into a small frozen record. Bad input is
data (DESIGN rule 5): unparsable or non-object JSON, or a missing required field,
becomes ``Malformed``; an unknown type becomes ``Unknown``; wrong-typed values are
coerced or dropped by ``coerce``'s rules. The log's words (``classify``,
``classify_event``, ``summarize``) live in ``text``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from opta_stream.events.coerce import Reader, error_text, freeze, percent_of, str_attr

__all__ = [
    "ConfigReloaded", "DownloadFinished", "DownloadProgress", "Heartbeat", "LmxEvent",
    "Malformed", "MemoryWarning", "ModelLifecycle", "ModelLoaded", "ModelUnloaded",
    "QuantizeProgress", "RequestCompleted", "SSELike", "StatusEvent", "StatusModel",
    "ThroughputEvent", "Unknown", "parse_event",
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


_Parser = Callable[[Reader, dict[str, Any]], LmxEvent]


def parse_event(sse: SSELike, received_at: float) -> LmxEvent:
    """One SSE event → one typed record. Never raises."""
    etype, raw = str_attr(sse, "event") or "message", str_attr(sse, "data")
    base: dict[str, Any] = {"type": etype, "received_at": float(received_at), "raw": raw}
    try:
        obj = json.loads(raw)
        if not isinstance(obj, dict):
            return Malformed(**base, error=f"data is a JSON {type(obj).__name__}, not an object")
        parser = _parser_for(etype)
        if parser is None:
            return Unknown(**base, data=freeze(obj))
        return parser(Reader(obj), base)
    except Exception as exc:  # noqa: BLE001 - bad input is data, never fatal
        return Malformed(**base, error=error_text(exc))


def _heartbeat(r: Reader, b: dict[str, Any]) -> LmxEvent:
    return Heartbeat(**b, timestamp=r.num("timestamp") or b["received_at"])


def _model_loaded(r: Reader, b: dict[str, Any]) -> LmxEvent:
    return ModelLoaded(**b, model_id=r.need_text("model_id"), format=r.text("format"),
                       memory_gb=r.num("memory_gb"), duration_sec=r.num("duration_sec"))


def _model_unloaded(r: Reader, b: dict[str, Any]) -> LmxEvent:
    return ModelUnloaded(**b, model_id=r.need_text("model_id"),
                         memory_freed_gb=r.num("memory_freed_gb"), reason=r.text("reason"))


def _model_lifecycle(r: Reader, b: dict[str, Any]) -> LmxEvent:
    return ModelLifecycle(**b, model_id=r.need_text("model_id"), detail=freeze(r.d))


def _download_progress(r: Reader, b: dict[str, Any]) -> LmxEvent:
    return DownloadProgress(**b, download_id=r.need_text("download_id", "repo_id"),
                            repo_id=r.text("repo_id"), percent=percent_of(r.d),
                            downloaded_bytes=r.int("downloaded_bytes"),
                            total_bytes=r.int("total_bytes"))


def _download_finished(r: Reader, b: dict[str, Any]) -> LmxEvent:
    return DownloadFinished(**b, download_id=r.need_text("download_id", "repo_id"),
                            repo_id=r.text("repo_id"), outcome=b["type"].rsplit("_", 1)[1],
                            error=r.text("error"), local_path=r.text("local_path"))


def _quantize_progress(r: Reader, b: dict[str, Any]) -> LmxEvent:
    return QuantizeProgress(**b, job_id=r.need_text("job_id", "id", "model_id"),
                            model_id=r.text("model_id"), status=r.text("status") or "running",
                            percent=percent_of(r.d))


def _config_reloaded(r: Reader, b: dict[str, Any]) -> LmxEvent:
    changes = r.d.get("changes")
    return ConfigReloaded(**b, changes=freeze(changes if isinstance(changes, dict) else r.d))


def _memory_warning(r: Reader, b: dict[str, Any]) -> LmxEvent:
    return MemoryWarning(**b, data=freeze(r.d))


def _request_completed(r: Reader, b: dict[str, Any]) -> LmxEvent:
    return RequestCompleted(**b, model_id=r.text("model_id"),
                            prompt_tokens=r.int("prompt_tokens"),
                            completion_tokens=r.int("completion_tokens"))


def _status(r: Reader, b: dict[str, Any]) -> LmxEvent:
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
        r = Reader(item) if isinstance(item, dict) else None
        mid = r.text("id", "model_id", "name") if r else None
        if r is not None and mid:
            out.append(StatusModel(mid, r.text("name") or mid, r.num("vram_gb"),
                                   r.text("quantization"), r.int("context_length"),
                                   r.time("loaded_at")))
    return tuple(out)


def _throughput(r: Reader, b: dict[str, Any]) -> LmxEvent:
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

