"""Render a ``SimView`` as the real server's JSON and Prometheus bodies.

Pure functions: same view in, same bytes out. Key names, nesting and rounding
follow the captured fixtures in ``tests/fixtures/lmx``; ``offset`` shifts
every absolute timestamp (the ``clock_offset`` fault).
"""

from __future__ import annotations

import json
import math

from opta_stream.demo.diagnosis import readiness, speculative
from opta_stream.demo.model import VERSION, SimView
from opta_stream.demo.tally import BUCKETS

__all__ = [
    "dashboard_status",
    "dumps",
    "health",
    "memory",
    "metrics_json",
    "models",
    "prometheus",
    "status",
]

def dumps(obj: object) -> bytes:
    """JSON exactly as FastAPI's JSONResponse writes it (compact, UTF-8)."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode("utf-8")


def status(v: SimView) -> dict:
    """GET /admin/status."""
    return {
        "version": VERSION, "uptime_seconds": round(v.uptime_s, 1),
        "loaded_models": len(v.models), "models": [m.model_id for m in v.models],
        "memory": {"total_gb": round(v.total_gb, 2), "used_gb": round(v.used_gb, 2),
                   "available_gb": round(v.total_gb - v.used_gb, 2),
                   "usage_percent": v.usage_percent, "threshold_percent": v.threshold_percent},
        "in_flight_requests": v.in_flight, "max_concurrent_requests": v.max_concurrent,
    }


def memory(v: SimView) -> dict:
    """GET /admin/memory."""
    return {
        "total_unified_memory_gb": v.total_gb, "used_gb": v.used_gb,
        "available_gb": v.total_gb - v.used_gb, "threshold_percent": v.threshold_percent,
        "models": {m.model_id: {"memory_gb": m.memory_gb, "loaded": True} for m in v.models},
    }


def models(v: SimView, offset: float = 0.0) -> dict:
    """GET /admin/models."""
    loaded = [{
        "id": m.model_id, "loaded": True, "memory_gb": m.memory_gb,
        "loaded_at": m.loaded_at + offset, "use_batching": True,
        "request_count": m.request_count, "last_used_at": m.last_used_at + offset,
        "context_length": m.context_length, "performance": dict(m.performance),
        "speculative": speculative(m.model_id), "readiness": readiness(m),
    } for m in v.models]
    return {"loaded": loaded, "count": len(loaded)}


def metrics_json(v: SimView) -> dict:
    """GET /admin/metrics/json: cumulative counters (clients derive rates from deltas)."""
    t = v.totals
    per_model = {k: {"requests": p["requests"], "errors": p["errors"],
                     "completion_tokens": p["completion_tokens"]}
                 for k, p in v.per_model.items()}
    return {
        "total_requests": t["requests"], "total_errors": t["errors"],
        "total_stream_requests": t["stream_requests"],
        "total_prompt_tokens": t["prompt_tokens"],
        "total_completion_tokens": t["completion_tokens"],
        "requests": {"total": t["requests"], "errors": t["errors"],
                     "stream_total": t["stream_requests"],
                     "throughput_1m": round(v.tally.requests_last_minute / 60.0, 3)},
        "tokens": {"prompt_total": t["prompt_tokens"], "completion_total": t["completion_tokens"]},
        "speculative": {"accepted_tokens": t["spec_accepted"],
                        "rejected_tokens": t["spec_rejected"],
                        "ignored_tokens": t["spec_ignored"],
                        "acceptance_ratio": _ratio(v)},
        "per_model": per_model, "uptime_seconds": round(v.uptime_s, 1),
        "per_client": {k: dict(c) for k, c in v.tally.per_client.items()},
        "schema_version": "2026-03-02",
    }


def health(v: SimView, helper: dict | None = None) -> dict:
    """GET /admin/health: degraded past 95 % memory, or when a helper node is unhealthy.

    Never shed (it is how an operator sees the pressure that sheds the rest).
    """
    usage = v.usage_percent
    helpers = {"embedding": helper} if helper else {}
    status, reason = "ok", None
    if usage > 95:
        status, reason = "degraded", f"Memory at {usage:.1f}% \u2014 approaching OOM threshold"
    elif any(not h["healthy"] for h in helpers.values()):
        status, reason = "degraded", "One or more helper nodes unhealthy"
    weights = float(sum(m.memory_gb for m in v.models))
    return {
        "status": status, "version": VERSION, "reason": reason, "memory_usage_percent": usage,
        "metal": {"active_memory_gb": round(weights, 2), "peak_memory_gb": round(v.peak_gb, 2),
                  "cache_memory_gb": round(max(v.used_gb - weights - 1.16, 0.0), 2)},
        "helpers": helpers, "models_loaded": len(v.models), "in_flight_requests": v.in_flight,
    }


def dashboard_status(v: SimView, offset: float = 0.0) -> dict:
    """The ``status`` event of the dashboard contract (rich mode only)."""
    return {
        "vram_used_gb": round(v.used_gb, 2), "vram_total_gb": round(v.total_gb, 2),
        "loaded_models": [{
            "id": m.model_id, "name": m.model_id.rsplit("/", 1)[-1], "vram_gb": m.memory_gb,
            "quantization": m.quantization, "context_length": m.context_length,
            "loaded_at": m.loaded_at + offset} for m in v.models],
        "active_requests": v.in_flight, "tokens_per_second": round(v.tokens_per_second, 1),
        "temperature_celsius": v.temperature_c, "uptime_seconds": round(v.uptime_s, 1),
    }


def _ratio(v: SimView) -> float | None:
    ratio = v.tally.acceptance_ratio
    return None if ratio is None else round(ratio, 4)


_COUNTERS = (
    ("lmx_requests_total", "Total inference requests.", "requests"),
    ("lmx_errors_total", "Total failed inference requests.", "errors"),
    ("lmx_stream_requests_total", "Total streaming requests.", "stream_requests"),
    ("lmx_prompt_tokens_total", "Total prompt tokens processed.", "prompt_tokens"),
    ("lmx_completion_tokens_total", "Total completion tokens generated.", "completion_tokens"),
    ("lmx_speculative_accepted_tokens_total", "Total accepted speculative draft tokens.",
     "spec_accepted"),
    ("lmx_speculative_rejected_tokens_total", "Total rejected speculative draft tokens.",
     "spec_rejected"),
    ("lmx_speculative_ignored_tokens_total", "Total speculative-ignored completion tokens.",
     "spec_ignored"),
)
_PER_MODEL = (
    ("lmx_model_requests_total", "Requests per model.", "requests"),
    ("lmx_model_errors_total", "Errors per model.", "errors"),
    ("lmx_model_tokens_total", "Completion tokens per model.", "completion_tokens"),
)
_PER_CLIENT = (
    ("lmx_client_requests_total", "Requests per client.", "requests"),
    ("lmx_client_tokens_total", "Completion tokens per client.", "completion_tokens"),
    ("lmx_client_errors_total", "Errors per client.", "errors"),
)


def _family(name: str, help_: str, kind: str, samples: list[str]) -> list[str]:
    return [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", *samples]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def _histogram(v: SimView) -> list[str]:
    """Per model, as the real server: no samples at all before a model's first request."""
    name = "lmx_request_duration_seconds"
    rows: list[str] = []
    for model, (counts, total) in v.tally.histograms.items():
        m = _label(model)
        rows += [f'{name}_bucket{{model="{m}",le="{_le(b)}"}} {n}'
                 for b, n in zip(BUCKETS, counts, strict=True)]
        rows += [f'{name}_sum{{model="{m}"}} {round(total, 3)}',
                 f'{name}_count{{model="{m}"}} {counts[-1]}']
    return _family(name, "Request latency histogram.", "histogram", rows)


def _keyed(families: tuple[tuple[str, str, str], ...], label: str,
           rows: dict[str, dict[str, int]]) -> list[str]:
    lines: list[str] = []
    for name, help_, key in families:
        samples = [f'{name}{{{label}="{_label(k)}"}} {p[key]}' for k, p in rows.items()]
        lines += _family(name, help_, "counter", samples)
    return lines


def prometheus(v: SimView) -> str:
    """GET /admin/metrics: the fixture's metric names, in the fixture's order.

    The per-client families appear only once a client has been seen.
    """
    lines: list[str] = []
    for name, help_, key in _COUNTERS:
        lines += _family(name, help_, "counter", [f"{name} {v.totals[key]}"])
    ratio = v.tally.acceptance_ratio
    lines += _family("lmx_speculative_acceptance_ratio",
                     "Accepted speculative tokens ratio (accepted/(accepted+rejected)).",
                     "gauge", [f"lmx_speculative_acceptance_ratio "
                               f"{'NaN' if ratio is None else round(ratio, 4)}"])
    lines += _keyed(_PER_MODEL, "model", v.per_model)
    if v.tally.per_client:
        lines += _keyed(_PER_CLIENT, "client", v.tally.per_client)
    lines += _histogram(v)
    gauges = (
        ("lmx_uptime_seconds", "Server uptime.", round(v.uptime_s, 1)),
        ("lmx_loaded_models", "Number of currently loaded models.", len(v.models)),
        ("lmx_memory_used_gb", "Unified memory used in GB.", round(v.used_gb, 2)),
        ("lmx_memory_total_gb", "Total unified memory in GB.", round(v.total_gb, 2)),
        ("lmx_in_flight_requests", "Currently active inference requests.", v.in_flight),
        ("lmx_concurrent_limit", "Max concurrent inference requests allowed.",
         v.max_concurrent),
        ("lmx_queued_requests", "Requests waiting for inference semaphore.", v.queued),
    )
    for name, help_, value in gauges:
        lines += _family(name, help_, "gauge", [f"{name} {value}"])
    return "\n".join(lines) + "\n"
