"""Render the server's self-diagnosis as its JSON bodies: diagnostics, stack, performance,
compatibility, benchmark results, presets.

Pure functions: a ``SimView`` and a ``BooksView`` in, the body out. Field
names, order, rounding and the verdict's rules follow Opta LMX 0.1.0; with
nothing loaded and nothing configured (lmx mode at start) each body is the
captured one in ``tests/fixtures/lmx``. ``offset`` shifts absolute
timestamps (the ``clock_offset`` fault).
"""

from __future__ import annotations

from opta_stream.demo.books import BooksView
from opta_stream.demo.inventory import (
    BACKENDS,
    DEFAULT_MODEL,
    GLOBAL_DEFAULTS,
    ROLES,
    STACK_PRESETS,
)
from opta_stream.demo.model import LoadedView, Reply, SimView, model_not_found
from opta_stream.demo.tally import BUCKETS, SPECULATIVE_MODELS

__all__ = [
    "benchmark_results",
    "compatibility",
    "diagnostics",
    "performance",
    "presets",
    "readiness",
    "speculative",
    "stack",
    "verdict",
]

DRAFT_MODEL = "mlx-community/Qwen2.5-0.5B-Instruct-4bit"
_ERROR_RATE_CRITICAL = 5.0


def verdict(*, memory_percent: float, threshold: int, quarantined: int, error_rate_pct: float,
            crash_loop: bool = False) -> str:
    """The server's fixed rules, first match wins: a crash loop or more than 5 % errors is
    critical; memory at the threshold or a quarantined model is degraded; else healthy."""
    if crash_loop or error_rate_pct > _ERROR_RATE_CRITICAL:
        return "critical"
    if memory_percent >= threshold or quarantined > 0:
        return "degraded"
    return "healthy"


def diagnostics(v: SimView, python: str, offset: float = 0.0) -> dict:
    """GET /admin/diagnostics. The error rate is over the whole process life, not a window."""
    t = v.totals
    requests = t["requests"]
    error_rate = round(100.0 * t["errors"] / requests if requests else 0.0, 2)
    latency = sum(total for _, total in v.tally.histograms.values())
    quarantined = sum(m.readiness == "quarantined" for m in v.models)
    return {
        "timestamp": v.now + offset,
        "system": {"memory_percent": v.usage_percent, "memory_gb_used": round(v.used_gb, 2),
                   "memory_gb_total": round(v.total_gb, 2),
                   "uptime_seconds": round(v.uptime_s, 1), "python_version": python,
                   "crash_loop_detected": False},
        "models": {"loaded_count": len(v.models), "quarantined_count": quarantined,
                   "models": [{"id": m.model_id, "readiness": m.readiness,
                               "loaded_at": m.loaded_at + offset,
                               "requests_total": m.request_count, "backend_type": "mlx",
                               "memory_gb": round(m.memory_gb, 2)} for m in v.models]},
        "inference": {"total_requests": requests, "active_requests": v.in_flight,
                      "avg_latency_ms": round(1000.0 * latency / requests, 1) if requests
                      else 0.0,
                      "error_rate_pct": error_rate,
                      "tokens_generated": t["completion_tokens"],
                      "total_tokens_processed": t["completion_tokens"] + t["prompt_tokens"]},
        "agents": {"active_runs": 0, "completed_runs": 0, "failed_runs": 0},
        "recent_errors": [],  # the real server's list never fills at 0.1.0
        "health_verdict": verdict(memory_percent=v.usage_percent,
                                  threshold=v.threshold_percent, quarantined=quarantined,
                                  error_rate_pct=error_rate),
    }


def stack(v: SimView, books: BooksView) -> dict:
    """GET /admin/stack: each role resolves to its first loaded preference."""
    loaded = sorted(m.model_id for m in v.models)
    roles = ROLES if books.rich else {"code": [], "reasoning": [], "chat": []}
    rows = {}
    for alias, preferences in roles.items():
        resolved = next((p for p in preferences if p in loaded), None)
        rows[alias] = {"preferences": list(preferences), "resolved_model": resolved,
                       "loaded": resolved is not None}
    rich = books.rich
    return {"roles": rows,
            "helper_nodes": {"embedding": books.helper_stack} if books.helper_stack else {},
            "loaded_models": loaded, "default_model": DEFAULT_MODEL if rich else None,
            "backends": BACKENDS if rich else {}, "stack_presets": STACK_PRESETS if rich else {}}


def speculative(model_id: str) -> dict:
    """A loaded model's speculative-decoding status (one demo model drafts)."""
    if model_id in SPECULATIVE_MODELS:
        return {"requested": True, "active": True, "reason": None, "draft_model": DRAFT_MODEL,
                "num_tokens": 5, "telemetry": "unavailable"}
    return {"requested": False, "active": False, "reason": "not_requested", "draft_model": None,
            "num_tokens": None, "telemetry": "unavailable"}


def performance(v: SimView, model_id: str, offset: float = 0.0) -> Reply:
    """GET /admin/models/{model_id}/performance; 404 ``model_not_found`` when not loaded."""
    model = next((m for m in v.models if m.model_id == model_id), None)
    if model is None:
        return Reply(404, model_not_found(model_id))
    return Reply(200, {
        "model_id": model.model_id, "backend_type": "mlx", "loaded_at": model.loaded_at + offset,
        "request_count": model.request_count, "last_used_at": model.last_used_at + offset,
        "memory_gb": model.memory_gb, "context_length": model.context_length,
        "use_batching": True, "performance": dict(model.performance),
        "speculative": speculative(model.model_id), "readiness": readiness(model),
        "global_defaults": {**GLOBAL_DEFAULTS, "adaptive": _adaptive(v),
                            "max_concurrent_requests": v.max_concurrent}})


def readiness(model: LoadedView) -> dict:
    """A loaded model's readiness row; the real server's loaded object never counts crashes."""
    reason = "model_unstable:crash_loop:3" if model.readiness == "quarantined" else None
    return {"state": model.readiness, "reason": reason, "crash_count": 0}


def _adaptive(v: SimView) -> dict:
    """Adaptive concurrency, with a p95 once requests have finished."""
    return {**GLOBAL_DEFAULTS["adaptive"], "latency_p95_sec": _p95_seconds(v)}


def _p95_seconds(v: SimView) -> float | None:
    """The p95 latency to the histogram's bucket edge (None before any request ended)."""
    counts = [sum(c[i] for c, _ in v.tally.histograms.values()) for i in range(len(BUCKETS))]
    if not counts or counts[-1] == 0:
        return None
    edge = next(b for b, n in zip(BUCKETS, counts, strict=True) if n >= 0.95 * counts[-1])
    return edge if edge != float("inf") else 60.0


def presets(books: BooksView) -> dict:
    """GET /admin/presets (sorted by name)."""
    return {"presets": [dict(p) for p in books.presets], "count": len(books.presets)}


def compatibility(books: BooksView, *, model_id: str | None, backend: str | None,
                  outcome: str | None, since_ts: float | None, limit: int,
                  include_summary: bool, offset: float = 0.0) -> dict:
    """GET /admin/models/compatibility: newest first, filtered, at most ``limit`` (1…2000);
    the summary covers the whole registry and is null unless asked for."""
    rows = [{**r, "ts": r["ts"] + offset} for r in books.compatibility]
    kept = [r for r in rows if (model_id is None or r["model_id"] == model_id)
            and (backend is None or r["backend"] == backend)
            and (outcome is None or r["outcome"] == outcome)
            and (since_ts is None or r["ts"] >= since_ts)]
    kept.sort(key=lambda r: r["ts"], reverse=True)
    kept = kept[: max(1, min(limit, 2000))]
    body: dict = {"total": len(kept), "rows": kept, "summary": None}
    if include_summary:
        summary: dict[str, dict] = {}
        for row in rows:
            item = summary.setdefault(row["model_id"],
                                      {"total": 0, "pass": 0, "fail": 0, "latest_ts": 0.0})
            item["total"] += 1
            if row["outcome"] in ("pass", "fail"):
                item[row["outcome"]] += 1
            item["latest_ts"] = max(item["latest_ts"], row["ts"])
        body["summary"] = summary
    return body


def benchmark_results(books: BooksView, model_id: str | None) -> list[dict]:
    """GET /admin/benchmark/results: a bare array in file-name order, ``model_id`` exact."""
    return [r for r in books.benchmarks if model_id is None or r["model_id"] == model_id]
