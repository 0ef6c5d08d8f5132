"""The diagnosis routes' JSON bodies → ``server_report`` types, leniently.

One parser per route. A field of the wrong type is None ("not reported"),
never a crash, and rows without their id are skipped; server text is
clipped. A body that is not the route's shape at all (a list where an object
belongs, no ``health_verdict`` in the diagnostics) raises ``BadAnswer`` with
a sentence saying so, and the Store keeps the answer before it. Field names
and meanings: the facts sheet in docs/PROTOCOL.md and the captures in
``tests/fixtures/lmx``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from opta_stream.events.coerce import Reader, as_int, as_text, as_time
from opta_stream.server_report import (
    BenchmarkRun,
    Compatibility,
    CompatRow,
    Device,
    DiagModel,
    Diagnostics,
    HealthReport,
    HelperNode,
    Helpers,
    MemoryReport,
    ModelPerformance,
    Predictor,
    Preset,
    RecentError,
    Role,
    Stack,
)

__all__ = [
    "MAX_ROWS",
    "PARSERS",
    "BadAnswer",
    "benchmarks",
    "compatibility",
    "device",
    "diagnostics",
    "health",
    "helpers",
    "memory",
    "performance",
    "predictor",
    "presets",
    "stack",
]

MAX_TEXT = 500  # server text kept per field
MAX_ROWS = 2000  # rows kept per list (the compatibility registry's own bound)
T = TypeVar("T")


class BadAnswer(ValueError):
    """The body is not what this route answers with; the message says what it was."""


def _clip(text: str | None) -> str | None:
    return None if text is None else (text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…")


def _obj(body: Any, route: str) -> Reader:
    if not isinstance(body, dict):
        raise BadAnswer(f"{route} answered {_what(body)}, not the JSON object it sends")
    return Reader(body)


def _what(body: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(body), "a number")


def _sub(r: Reader, key: str) -> Reader:
    value = r.d.get(key)
    return Reader(value if isinstance(value, dict) else {})


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _rows(value: Any, make: Callable[[Reader], T | None]) -> tuple[T, ...]:
    """Each object in a list through ``make`` (None: skipped), at most ``MAX_ROWS``."""
    out = []
    for item in value if isinstance(value, list) else ():
        if isinstance(item, dict) and (row := make(Reader(item))) is not None:
            out.append(row)
            if len(out) >= MAX_ROWS:
                break
    return tuple(out)


def _keyed(value: Any) -> list[tuple[str, Reader]]:
    """An object of objects (``{"embedding": {...}}``) as (key, reader) pairs."""
    if not isinstance(value, dict):
        return []
    return [(str(k), Reader(v)) for k, v in value.items() if isinstance(v, dict)][:MAX_ROWS]


# -- /admin/diagnostics --------------------------------------------------------------


def _diag_model(r: Reader) -> DiagModel | None:
    model_id = r.text("id")
    if not model_id:
        return None
    return DiagModel(_clip(model_id) or "", r.text("readiness"), r.time("loaded_at"),
                     r.int("requests_total"), r.text("backend_type"), r.num("memory_gb"))


def _recent_error(r: Reader) -> RecentError:
    return RecentError(_clip(r.text("event_type")) or "unknown", _clip(r.text("message")) or "",
                       _clip(r.text("model_id")), r.text("severity") or "error",
                       _clip(as_text(r.d.get("timestamp"))) or "")


def diagnostics(body: Any) -> Diagnostics:
    """``GET /admin/diagnostics``; its ``health_verdict`` is required."""
    r = _obj(body, "/admin/diagnostics")
    verdict = r.text("health_verdict")
    if not verdict:
        raise BadAnswer("/admin/diagnostics answered without a health_verdict")
    system, models, inference, agents = (_sub(r, k) for k in
                                         ("system", "models", "inference", "agents"))
    errors = r.d.get("recent_errors")
    return Diagnostics(
        verdict=verdict, timestamp=r.time("timestamp"),
        memory_percent=system.num("memory_percent"),
        memory_gb_used=system.num("memory_gb_used"), memory_gb_total=system.num("memory_gb_total"),
        uptime_s=system.num("uptime_seconds"), python_version=system.text("python_version"),
        crash_loop=_flag(system.d.get("crash_loop_detected")),
        loaded_count=models.int("loaded_count"), quarantined_count=models.int("quarantined_count"),
        models=_rows(models.d.get("models"), _diag_model),
        total_requests=inference.int("total_requests"),
        active_requests=inference.int("active_requests"),
        avg_latency_ms=inference.num("avg_latency_ms"),
        error_rate_pct=inference.num("error_rate_pct"),
        tokens_generated=inference.int("tokens_generated"),
        agents_active=agents.int("active_runs"), agents_completed=agents.int("completed_runs"),
        agents_failed=agents.int("failed_runs"),
        recent_errors=_rows(errors, _recent_error) if isinstance(errors, list) else None)


# -- /admin/device ---------------------------------------------------------------------


def device(body: Any) -> Device:
    """``GET /admin/device``: ``hardware`` and ``identity``."""
    r = _obj(body, "/admin/device")
    if not isinstance(r.d.get("hardware"), dict):
        raise BadAnswer("/admin/device answered without its hardware part")
    hw, who = _sub(r, "hardware"), _sub(r, "identity")
    return Device(hostname=_clip(hw.text("hostname")), chip_name=_clip(hw.text("chip_name")),
                  architecture=hw.text("architecture"), memory_gb=hw.num("memory_gb"),
                  max_working_set_gb=hw.num("max_working_set_gb"),
                  cpu_cores=hw.int("cpu_cores"),
                  metal_available=_flag(hw.d.get("metal_available")),
                  gpu_family=hw.text("gpu_family"), name=_clip(who.text("name")) or "",
                  purpose=_clip(who.text("purpose")) or "", role=who.text("role") or "")


# -- /admin/stack, /admin/helpers --------------------------------------------------------


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(t for v in (value if isinstance(value, list) else ())[:MAX_ROWS]
                 if (t := as_text(v)))


def _node(name: str, r: Reader, live: bool | None = None) -> HelperNode:
    checked = r.time("last_check_at")
    return HelperNode(
        name=_clip(name) or "", url=_clip(r.text("url")), model=_clip(r.text("model")),
        healthy=_flag(r.d.get("healthy")), fallback=r.text("fallback"),
        circuit_state=r.text("circuit_state"), total_requests=r.int("total_requests"),
        successes=r.int("successes"), failures=r.int("failures"),
        success_rate_pct=r.num("success_rate_pct"), avg_latency_ms=r.num("avg_latency_ms"),
        p95_latency_ms=r.num("p95_latency_ms"),
        last_check_at=checked if checked else None,  # 0.0: never checked
        last_error=_clip(r.text("last_error")), live_check=live)


def stack(body: Any) -> Stack:
    """``GET /admin/stack``: roles are an object alias → row."""
    r = _obj(body, "/admin/stack")
    if not isinstance(r.d.get("roles"), dict):
        raise BadAnswer("/admin/stack answered without its roles")
    roles = tuple(Role(_clip(alias) or "", _texts(row.d.get("preferences")),
                       _clip(row.text("resolved_model")), row.d.get("loaded") is True)
                  for alias, row in _keyed(r.d.get("roles")))
    return Stack(roles, tuple(_node(k, v) for k, v in _keyed(r.d.get("helper_nodes"))),
                 _texts(r.d.get("loaded_models")), _clip(r.text("default_model")))


def helpers(body: Any) -> Helpers:
    """``GET /admin/helpers``: each helper's stats and this call's live check."""
    r = _obj(body, "/admin/helpers")
    if not isinstance(r.d.get("helpers"), dict):
        raise BadAnswer("/admin/helpers answered without its helpers")
    live = r.d.get("live_checks")
    live = live if isinstance(live, dict) else {}
    nodes = tuple(_node(k, v, _flag(live.get(k))) for k, v in _keyed(r.d.get("helpers")))
    return Helpers(nodes, r.int("configured_count"), _flag(r.d.get("all_healthy")))


# -- benchmarks, compatibility, predictor, presets, performance --------------------------


def _run(r: Reader) -> BenchmarkRun | None:
    model_id = r.text("model_id")
    if not model_id:
        return None
    stats = _sub(r, "stats")
    stamp = as_text(r.d.get("timestamp")) or ""
    return BenchmarkRun(
        model_id=_clip(model_id) or "", at=as_time(stamp) if stamp else None,
        status=r.text("status") or "unknown", backend=r.text("backend"),
        hardware=_clip(r.text("hardware")), lmx_version=r.text("lmx_version"),
        tokens_per_s_p50=stats.num("toks_per_sec_p50"),
        tokens_per_s_p95=stats.num("toks_per_sec_p95"),
        tokens_per_s_mean=stats.num("toks_per_sec_mean"),
        ttft_p50_s=stats.num("ttft_p50_sec"), ttft_p95_s=stats.num("ttft_p95_sec"),
        runs_completed=stats.int("runs_completed"), output_tokens=stats.int("output_tokens"),
        coherence_flag=stats.text("coherence_flag"),
        repetition_ratio=stats.num("repetition_ratio"), timestamp=_clip(stamp) or "")


def benchmarks(body: Any) -> tuple[BenchmarkRun, ...]:
    """``GET /admin/benchmark/results``: a bare array, in the server's file-name order."""
    if not isinstance(body, list):
        raise BadAnswer(f"/admin/benchmark/results answered {_what(body)}, not a list")
    return _rows(body, _run)


def _compat_row(r: Reader) -> CompatRow | None:
    model_id, backend, outcome = r.text("model_id"), r.text("backend"), r.text("outcome")
    if not (model_id and backend and outcome):
        return None
    return CompatRow(r.time("ts"), _clip(model_id) or "", backend, outcome,
                     _clip(r.text("reason")), r.text("backend_version"))


def compatibility(body: Any, limit: int = MAX_ROWS) -> Compatibility:
    """``GET /admin/models/compatibility?include_summary=true&limit=...``."""
    r = _obj(body, "/admin/models/compatibility")
    if not isinstance(r.d.get("rows"), list):
        raise BadAnswer("/admin/models/compatibility answered without its rows")
    summary = None
    if isinstance(r.d.get("summary"), dict):
        summary = tuple((_clip(k) or "", v.int("total") or 0, v.int("pass") or 0,
                         v.int("fail") or 0) for k, v in _keyed(r.d["summary"]))
    return Compatibility(_rows(r.d["rows"], _compat_row), summary, limit)


def predictor(body: Any) -> Predictor:
    """``GET /admin/predictor``: ``top_models`` holds ``[id, count]`` pairs."""
    r = _obj(body, "/admin/predictor")
    top = []
    pairs = r.d.get("top_models")
    for pair in pairs if isinstance(pairs, list) else ():
        if isinstance(pair, list | tuple) and len(pair) == 2 and (name := as_text(pair[0])):
            top.append((_clip(name) or "", as_int(pair[1]) or 0))
    return Predictor(tuple(top), _clip(r.text("predicted_next")), r.int("total_accesses"),
                     r.int("unique_models"))


def _preset(r: Reader) -> Preset | None:
    name = r.text("name")
    if not name:
        return None
    auto = r.d.get("auto_load")
    return Preset(_clip(name) or "", _clip(r.text("model")) or "",
                  _clip(r.text("description")) or "", _clip(r.text("routing_alias")),
                  auto if isinstance(auto, bool) else None,
                  _sub(r, "performance").num("memory_estimate_gb"))


def presets(body: Any) -> tuple[Preset, ...]:
    """``GET /admin/presets``: ``{presets: [...], count}``."""
    r = _obj(body, "/admin/presets")
    if not isinstance(r.d.get("presets"), list):
        raise BadAnswer("/admin/presets answered without its presets")
    return _rows(r.d["presets"], _preset)


def performance(body: Any) -> ModelPerformance:
    """``GET /admin/models/{id}/performance``: the readiness row (its crash count too)."""
    r = _obj(body, "/admin/models/{id}/performance")
    model_id = r.text("model_id")
    if not model_id:
        raise BadAnswer("/admin/models/{id}/performance answered without a model_id")
    ready = _sub(r, "readiness")
    return ModelPerformance(_clip(model_id) or "", ready.text("state"),
                            _clip(ready.text("reason")), ready.int("crash_count"),
                            r.num("memory_gb"), r.int("request_count"))


# -- /admin/memory, /admin/health ------------------------------------------------------


def memory(body: Any) -> MemoryReport:
    """``GET /admin/memory``."""
    r = _obj(body, "/admin/memory")
    total = r.num("total_unified_memory_gb")
    if total is None:
        raise BadAnswer("/admin/memory answered without total_unified_memory_gb")
    return MemoryReport(total, r.num("used_gb"), r.num("available_gb"),
                        r.num("threshold_percent"))


def health(body: Any) -> HealthReport:
    """``GET /admin/health``."""
    r = _obj(body, "/admin/health")
    return HealthReport(r.text("status"), _clip(r.text("reason")),
                        r.num("memory_usage_percent"))


PARSERS: Mapping[str, Callable[[Any], Any]] = {
    "diagnostics": diagnostics, "device": device, "stack": stack, "helpers": helpers,
    "benchmarks": benchmarks, "compatibility": compatibility, "predictor": predictor,
    "presets": presets, "memory": memory, "health": health,
}
