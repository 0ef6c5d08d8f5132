"""The diagnosis routes of a busy server: the captured shapes, with values of their own.

The captures in ``fixtures/lmx`` come from a fresh server on Linux, so their
lists are empty and their Metal fields null. ``POPULATED`` keeps every key,
its nesting and order from those captures (and from the facts sheet for the
rows the captures cannot show) and fills them with distinctive values, so a
test can tell that each one reached the page: a chip name, a helper's last
error, a benchmark's tokens/s, a compatibility reason, a quarantined model.
``CAPTURED`` is the captures themselves, by path.
"""

from __future__ import annotations

import json
from typing import Any

from support import FIXTURES

HERON = "mlx-community/Heron-14B-Instruct-4bit"
KESTREL = "/models/kestrel-8b.Q5_K_M.gguf"
OSPREY = "mlx-community/Osprey-70B-4bit"
CHIP = "Apple M3 Ultra"
HELPER_ERROR = "ReadTimeout('embed node 192.168.188.20 took 10 s')"
BENCH_TPS = 37.91  # Heron's newest tokens/s p50: 13.8 % slower than its 43.97 before
BENCH_TPS_BEFORE = 43.97
COMPAT_REASON = "canary_failed:empty completion after 3 tries"
NOW = 1_796_700_123.0
CAPTURE_FILES = {
    "/admin/diagnostics": "get-admin_diagnostics.json", "/admin/device": "get-admin_device.json",
    "/admin/stack": "get-admin_stack.json", "/admin/helpers": "get-admin_helpers.json",
    "/admin/benchmark/results": "get-admin_benchmark_results.json",
    "/admin/models/compatibility": "get-admin_models_compatibility-include_summary.json",
    "/admin/predictor": "get-admin_predictor.json", "/admin/presets": "get-admin_presets.json",
    "/admin/memory": "get-admin_memory.json", "/admin/health": "get-admin_health.json",
}


def captured(path: str) -> Any:
    return json.loads((FIXTURES / CAPTURE_FILES[path]).read_text(encoding="utf-8"))


CAPTURED = {path: captured(path) for path in CAPTURE_FILES}


def _run(model: str, at: str, tps: float, ttft: float, runs: int, flag: str,
         status: str = "ok") -> dict:
    return {"model_id": model, "backend": "mlx", "timestamp": at, "status": status,
            "hardware": CHIP, "lmx_version": "0.1.0",
            "prompt_preview": "Write a detailed explanation of how transformers work",
            "stats": {"ttft_p50_sec": ttft, "ttft_p95_sec": round(ttft * 1.1, 3),
                      "ttft_mean_sec": ttft, "toks_per_sec_p50": tps,
                      "toks_per_sec_p95": round(tps * 1.02, 2), "toks_per_sec_mean": tps,
                      "prompt_tokens": 21, "output_tokens": 200, "runs_completed": runs,
                      "warmup_runs_discarded": 1, "output_text": "Transformers replace…",
                      "output_token_count": 200, "completed_naturally": False,
                      "repetition_ratio": 0.0, "coherence_flag": flag, "tool_call": None,
                      "skills": []}}


POPULATED: dict[str, Any] = {
    "/admin/diagnostics": {
        "timestamp": NOW,
        "system": {"memory_percent": 71.3, "memory_gb_used": 365.06, "memory_gb_total": 512.0,
                   "uptime_seconds": 8123.4, "python_version": "3.12.9",
                   "crash_loop_detected": False},
        "models": {"loaded_count": 2, "quarantined_count": 1, "models": [
            {"id": HERON, "readiness": "routable", "loaded_at": NOW - 9123.0,
             "requests_total": 417, "backend_type": "mlx", "memory_gb": 18.37},
            {"id": KESTREL, "readiness": "quarantined", "loaded_at": NOW - 1123.0,
             "requests_total": 14, "backend_type": "gguf", "memory_gb": 6.02}]},
        "inference": {"total_requests": 1310, "active_requests": 2, "avg_latency_ms": 2874.6,
                      "error_rate_pct": 6.1, "tokens_generated": 98213,
                      "total_tokens_processed": 311877},
        "agents": {"active_runs": 1, "completed_runs": 12, "failed_runs": 3},
        "recent_errors": [], "health_verdict": "critical"},
    "/admin/device": {
        "hardware": {"hostname": "mono512.local", "chip_name": CHIP,
                     "architecture": "applegpu_g15d", "memory_gb": 512.0,
                     "max_working_set_gb": 403.7, "cpu_cores": 32, "metal_available": True,
                     "gpu_family": "g15d"},
        "identity": {"name": "Mono512", "purpose": "Heavy compute, overnight batch",
                     "role": "inference_server"}},
    "/admin/stack": {
        "roles": {"code": {"preferences": [HERON], "resolved_model": HERON, "loaded": True},
                  "reasoning": {"preferences": [OSPREY, HERON], "resolved_model": HERON,
                                "loaded": True},
                  "chat": {"preferences": [OSPREY], "resolved_model": None, "loaded": False}},
        "helper_nodes": {"embedding": {"url": "http://192.168.188.20:1234",
                                       "model": "nomic-embed-text-v1.5", "healthy": False,
                                       "fallback": "local", "circuit_state": "half_open"}},
        "loaded_models": [KESTREL, HERON], "default_model": HERON, "backends": {},
        "stack_presets": {}},
    "/admin/helpers": {
        "helpers": {"embedding": {"url": "http://192.168.188.20:1234",
                                  "model": "nomic-embed-text-v1.5", "healthy": False,
                                  "fallback": "local", "total_requests": 1542,
                                  "successes": 1536, "failures": 6, "success_rate_pct": 99.6,
                                  "avg_latency_ms": 41.7, "p95_latency_ms": 88.2,
                                  "last_check_at": NOW - 23.0, "last_error": HELPER_ERROR,
                                  "circuit_state": "half_open"}},
        "live_checks": {"embedding": True}, "configured_count": 1, "all_healthy": False},
    "/admin/benchmark/results": [
        _run(KESTREL, "2026-11-29T08:00:00.000000+00:00", 61.2, 0.2, 1, "ok",
             "insufficient_data"),
        _run(HERON, "2026-11-28T21:02:11.000000+00:00", BENCH_TPS_BEFORE, 0.39, 5, "ok"),
        _run(HERON, "2026-11-30T22:14:05.118302+00:00", BENCH_TPS, 0.412, 5, "truncated"),
    ],
    "/admin/models/compatibility": {
        "total": 3, "rows": [
            {"ts": NOW - 1000.0, "model_id": KESTREL, "backend": "gguf",
             "backend_version": "0.3.9", "outcome": "fail", "reason": COMPAT_REASON,
             "metadata": {}},
            {"ts": NOW - 5000.0, "model_id": KESTREL, "backend": "gguf",
             "backend_version": "0.3.9", "outcome": "pass", "reason": "canary_ok",
             "metadata": {}},
            {"ts": NOW - 9000.0, "model_id": HERON, "backend": "vllm-mlx",
             "backend_version": "0.2.6", "outcome": "pass", "reason": "canary_ok",
             "metadata": {}}],
        "summary": {HERON: {"total": 1, "pass": 1, "fail": 0, "latest_ts": NOW - 9000.0},
                    KESTREL: {"total": 2, "pass": 1, "fail": 1, "latest_ts": NOW - 1000.0}}},
    "/admin/predictor": {"total_accesses": 652, "unique_models": 3, "history_size": 50,
                         "top_models": [[HERON, 431], [KESTREL, 205], [OSPREY, 16]],
                         "transition_count": 37, "predicted_next": OSPREY},
    "/admin/presets": {"presets": [{
        "name": "code-heron", "description": "Low-temp coding", "model": HERON,
        "parameters": {"temperature": 0.15}, "system_prompt": None, "routing_alias": "code",
        "auto_load": True, "performance": {"prefix_cache": True, "memory_estimate_gb": 18},
        "chat_template": None}], "count": 1},
    "/admin/memory": {"total_unified_memory_gb": 512.0, "used_gb": 365.06,
                      "available_gb": 146.94, "threshold_percent": 90, "models": {}},
}
PERFORMANCE = {
    HERON: {"model_id": HERON, "backend_type": "mlx", "loaded_at": NOW - 9123.0,
            "request_count": 417, "last_used_at": NOW - 10.0, "memory_gb": 18.37,
            "context_length": 32768, "use_batching": True, "performance": {},
            "speculative": {"requested": False, "active": False, "reason": "not_requested",
                            "draft_model": None, "num_tokens": None,
                            "telemetry": "unavailable"},
            "readiness": {"state": "routable", "reason": None, "crash_count": 0},
            "global_defaults": {}},
    KESTREL: {"model_id": KESTREL, "backend_type": "gguf", "loaded_at": NOW - 1123.0,
              "request_count": 14, "last_used_at": NOW - 500.0, "memory_gb": 6.02,
              "context_length": None, "use_batching": False, "performance": {},
              "speculative": {"requested": False, "active": False, "reason": "not_requested",
                              "draft_model": None, "num_tokens": None,
                              "telemetry": "unavailable"},
              "readiness": {"state": "quarantined", "reason": "model_unstable:crash_loop:3",
                            "crash_count": 3},
              "global_defaults": {}},
}
MODELS_BODY = {"loaded": [{"id": HERON, "loaded": True, "memory_gb": 18.37,
                           "loaded_at": NOW - 9123.0, "request_count": 417,
                           "readiness": {"state": "routable"}},
                          {"id": KESTREL, "loaded": True, "memory_gb": 6.02,
                           "loaded_at": NOW - 1123.0, "request_count": 14,
                           "readiness": {"state": "quarantined"}}], "count": 2}


def performance_path(model_id: str) -> str:
    return f"/admin/models/{model_id}/performance"


def inject(faults: Any, bodies: dict[str, Any] | None = None) -> None:
    """Make a demo server (``server.faults``) answer the diagnosis routes with ``bodies``
    (default ``POPULATED``, its loaded models and their performance rows)."""
    for path, body in (bodies or POPULATED).items():
        faults.answer(path, 200, json.dumps(body).encode())
    if bodies is None:
        faults.answer("/admin/models", 200, json.dumps(MODELS_BODY).encode())
        for model_id, body in PERFORMANCE.items():
            faults.answer(performance_path(model_id), 200, json.dumps(body).encode())


def keys_of(body: Any) -> Any:
    """The key structure of a body (lists: their first item's), for comparing shapes."""
    if isinstance(body, dict):
        return {k: keys_of(v) for k, v in body.items()}
    if isinstance(body, list):
        return [keys_of(body[0])] if body else []
    return None
