"""The demo's diagnosis routes against the real server's: captured empty shapes in lmx mode,
populated shapes in rich mode, and a verdict and a helper circuit that move.

lmx mode at start must be the captured body, key order included, with only
the values that move (time, uptime, memory, the machine) masked. Rich mode
must have the field shapes of Opta LMX 0.1.0. The sim is driven on an
injected clock (``sim.step(now)``), never by sleeping.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Callable, Iterator

import pytest
import requests
from support import FIXTURES

from opta_stream.demo import diagnosis
from opta_stream.demo.benchmarks import file_name, repetition_ratio
from opta_stream.demo.books import Books
from opta_stream.demo.model import CATALOGUE
from opta_stream.demo.server import DemoServer
from opta_stream.demo.sim import Simulation

KEY = "sk-demo-diagnosis-0b7e"
H = {"X-Admin-Key": KEY}
T0 = 1_796_000_000.0
QWEN7 = "mlx-community/Qwen2.5-7B-Instruct-4bit"
ROUTES = ["/admin/diagnostics", "/admin/device", "/admin/stack", "/admin/helpers",
          "/admin/benchmark/results", "/admin/models/compatibility", "/admin/predictor",
          "/admin/presets", f"/admin/models/{QWEN7}/performance"]
# Fixture file → the path it was captured from, for routes whose capture does not move.
STILL = {"get-admin_stack.json": "/admin/stack", "get-admin_helpers.json": "/admin/helpers",
         "get-admin_benchmark_results.json": "/admin/benchmark/results",
         "get-admin_predictor.json": "/admin/predictor", "get-admin_presets.json": "/admin/presets",
         "get-admin_models_compatibility.json": "/admin/models/compatibility",
         "get-admin_models_compatibility-include_summary.json":
             "/admin/models/compatibility?include_summary=true"}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def skeleton(obj: object) -> object:
    """Keys in their order and value types, all the way down (every list item)."""
    if isinstance(obj, dict):
        return [(k, skeleton(v)) for k, v in obj.items()]
    if isinstance(obj, list):
        return [skeleton(v) for v in obj]
    return type(obj).__name__


def masked(body: dict, moving: dict[str, tuple[str, ...]]) -> dict:
    """``body`` with the values that move (``{section: keys}``, "" = top level) set to None."""
    out = json.loads(json.dumps(body))
    for section, keys in moving.items():
        for key in keys:
            (out[section] if section else out)[key] = None
    return out


class Clock:
    """A clock the test moves; the server's ticker steps to the same instants, so the run
    is the same whoever steps first."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make(make_demo: Callable[..., DemoServer]) -> Callable[..., DemoServer]:
    """Demo servers with this file's admin key unless told otherwise."""
    return functools.partial(make_demo, admin_key=KEY)


def get(server: DemoServer, path: str, **kw: object) -> requests.Response:
    return requests.get(server.url + path, headers=H, timeout=5, **kw)  # type: ignore[arg-type]


def advance(server: DemoServer, clock: Clock, seconds: float, step: float = 0.1) -> None:
    for _ in range(round(seconds / step)):
        clock.now += step
        server.sim.step(clock.now)


# --- lmx mode: the captured bodies -------------------------------------------


@pytest.mark.parametrize("name", sorted(STILL))
def test_lmx_bodies_that_do_not_move_are_the_captures_byte_for_byte(make, name) -> None:
    r = get(make(mode="lmx"), STILL[name])
    assert (r.status_code, r.headers["content-type"]) == (200, "application/json")
    assert r.content == fixture(name)


def test_lmx_diagnostics_is_the_capture_but_for_time_memory_and_python(make) -> None:
    like = json.loads(fixture("get-admin_diagnostics.json"))
    got = get(make(mode="lmx"), "/admin/diagnostics").json()
    assert skeleton(got) == skeleton(like)
    moving = {"": ("timestamp",), "system": ("memory_percent", "memory_gb_used",
                                            "uptime_seconds", "python_version")}
    assert masked(got, moving) == masked(like, moving)
    assert got["system"]["memory_gb_total"] == 23.54 and got["health_verdict"] == "healthy"


def test_lmx_device_is_linux_without_metal_like_the_capture(make) -> None:
    like = json.loads(fixture("get-admin_device.json"))
    got = get(make(mode="lmx"), "/admin/device").json()
    assert skeleton(got) == skeleton(like)
    moving = {"hardware": ("hostname", "cpu_cores")}  # this machine's, as the server reports
    assert masked(got, moving) == masked(like, moving)


def test_lmx_performance_of_a_model_not_loaded_is_the_captured_404(make) -> None:
    r = get(make(mode="lmx"), f"/admin/models/{QWEN7}/performance")
    assert (r.status_code, r.content) == (404, fixture("get-admin_models_performance-404.json"))


def test_lmx_performance_answers_once_the_model_is_loaded(make) -> None:
    server = make(mode="lmx")
    model = server.sim.catalogue_on_disk()[0]
    assert requests.post(server.url + "/admin/models/load", json={"model_id": model},
                         headers=H, timeout=5).status_code == 200
    body = get(server, f"/admin/models/{model}/performance").json()
    assert body["model_id"] == model and body["readiness"]["state"] == "routable"
    encoded = get(server, "/admin/models/" + model.replace("/", "%2F") + "/performance")
    assert encoded.json()["model_id"] == model
    rows = get(server, "/admin/models/compatibility").json()["rows"]
    assert [(r["model_id"], r["outcome"], r["reason"]) for r in rows] == [
        (model, "pass", "canary_ok")], "a load that passes writes one registry row"


@pytest.mark.parametrize("path", ROUTES)
def test_each_route_refuses_a_missing_or_wrong_key(make, path) -> None:
    server = make(mode="lmx")
    for headers in ({}, {"X-Admin-Key": "wrong"}):
        r = requests.get(server.url + path, headers=headers, timeout=5)
        assert (r.status_code, r.content) == (403, fixture("error-403-missing-key.json"))
    assert requests.post(server.url + path, headers=H, timeout=5).status_code == 405


def test_no_key_configured_means_open(make) -> None:
    assert get(make(mode="lmx", admin_key=None), "/admin/diagnostics").ok


@pytest.mark.parametrize("query,kinds", [
    ("limit=x", ["int_parsing"]), ("since_ts=soon", ["float_parsing"]),
    ("include_summary=maybe", ["bool_parsing"]),
    ("since_ts=&limit=1.5&include_summary=", ["float_parsing", "int_parsing", "bool_parsing"]),
])
def test_compatibility_query_errors_are_fastapi_422s(make, query, kinds) -> None:
    r = get(make(mode="lmx"), "/admin/models/compatibility?" + query)
    assert r.status_code == 422
    assert [d["type"] for d in r.json()["detail"]] == kinds
    assert all(d["loc"][0] == "query" for d in r.json()["detail"])


def test_compatibility_reads_booleans_and_repeats_like_fastapi(make) -> None:
    server = make(mode="lmx")
    for query, summary in (("TRUE", {}), ("on", {}), ("0", None), ("1&include_summary=0", None)):
        body = get(server, "/admin/models/compatibility?include_summary=" + query).json()
        assert body["summary"] == summary, query


# --- rich mode: populated, in the real shapes ------------------------------------

DIAG_MODEL = ["id", "readiness", "loaded_at", "requests_total", "backend_type", "memory_gb"]
HELPER = ["url", "model", "healthy", "fallback", "total_requests", "successes", "failures",
          "success_rate_pct", "avg_latency_ms", "p95_latency_ms", "last_check_at", "last_error",
          "circuit_state"]
RESULT = ["model_id", "backend", "timestamp", "status", "hardware", "lmx_version",
          "prompt_preview", "stats"]
STATS = ["ttft_p50_sec", "ttft_p95_sec", "ttft_mean_sec", "toks_per_sec_p50",
         "toks_per_sec_p95", "toks_per_sec_mean", "prompt_tokens", "output_tokens",
         "runs_completed", "warmup_runs_discarded", "output_text", "output_token_count",
         "completed_naturally", "repetition_ratio", "coherence_flag", "tool_call", "skills"]
ROW = ["ts", "model_id", "backend", "backend_version", "outcome", "reason", "metadata"]
PERFORMANCE = ["model_id", "backend_type", "loaded_at", "request_count", "last_used_at",
               "memory_gb", "context_length", "use_batching", "performance", "speculative",
               "readiness", "global_defaults"]
PRESET = ["name", "description", "model", "parameters", "system_prompt", "routing_alias",
          "auto_load", "performance", "chat_template"]


@pytest.fixture
def lived() -> Iterator[tuple[DemoServer, Clock]]:
    """A rich server five simulated minutes into its life (seed 0)."""
    clock = Clock()
    server = DemoServer(admin_key=KEY, mode="rich", seed=0, clock=clock).start()
    try:
        advance(server, clock, 300.0)
        yield server, clock
    finally:
        server.stop()


def test_rich_diagnostics_are_populated(lived) -> None:
    server, _ = lived
    body = get(server, "/admin/diagnostics").json()
    like = json.loads(fixture("get-admin_diagnostics.json"))
    assert [k for k, _ in skeleton(body)] == [k for k, _ in skeleton(like)]
    models = body["models"]["models"]
    assert len(models) == 2 and all(list(m) == DIAG_MODEL for m in models)
    assert body["inference"]["total_requests"] > 50 and body["inference"]["avg_latency_ms"] > 0
    assert isinstance(body["inference"]["error_rate_pct"], float)
    assert body["health_verdict"] in ("healthy", "degraded", "critical")


def test_rich_device_has_its_metal_fields(lived) -> None:
    hardware = get(lived[0], "/admin/device").json()["hardware"]
    assert hardware["metal_available"] is True and hardware["memory_gb"] == 24.0
    assert hardware["gpu_family"] == hardware["architecture"].split("_", 1)[1]
    assert all(v is not None for v in hardware.values())


def test_rich_helpers_and_stack_show_the_helper_node(lived) -> None:
    server, _ = lived
    body = get(server, "/admin/helpers").json()
    assert list(body) == ["helpers", "live_checks", "configured_count", "all_healthy"]
    stats = body["helpers"]["embedding"]
    assert list(stats) == HELPER and stats["total_requests"] > 0
    assert stats["successes"] + stats["failures"] == stats["total_requests"]
    assert body["live_checks"] == {"embedding": get(server, "/admin/stack").json()[
        "helper_nodes"]["embedding"]["healthy"]}, "the live check sets healthy"
    stack = get(server, "/admin/stack").json()
    assert stack["roles"]["code"]["resolved_model"] == QWEN7
    assert stack["roles"]["code"]["loaded"] is True and stack["backends"] and stack[
        "stack_presets"]


def test_rich_benchmarks_are_sorted_by_file_name_with_a_regression_a_flag_and_a_thin_run(
        lived) -> None:
    results = get(lived[0], "/admin/benchmark/results").json()
    assert all(list(r) == RESULT and list(r["stats"]) == STATS for r in results)
    names = [file_name(r["model_id"], r["timestamp"]) for r in results]
    assert names == sorted(names)
    stamps = [r["timestamp"] for r in results]
    assert stamps != sorted(stamps), "sorted by file name, not by time"
    assert len({r["timestamp"][:10] for r in results}) >= 5, "spread over past days"
    by_model: dict[str, list[dict]] = {}
    for r in results:
        by_model.setdefault(r["model_id"], []).append(r)
    regressed = [m for m, rs in by_model.items() if len(rs) >= 2 and rs[-1]["stats"][
        "toks_per_sec_mean"] < 0.9 * rs[-2]["stats"]["toks_per_sec_mean"]]
    assert regressed == [QWEN7]
    flagged = [r for r in results if r["stats"]["coherence_flag"] != "ok"]
    assert [r["stats"]["coherence_flag"] for r in flagged] == ["repetitive"]
    assert flagged[0]["stats"]["repetition_ratio"] == round(
        repetition_ratio(flagged[0]["stats"]["output_text"]), 4) > 0.3
    thin = [r for r in results if r["status"] == "insufficient_data"]
    assert len(thin) == 1 and thin[0]["stats"]["runs_completed"] == 1
    one = get(lived[0], "/admin/benchmark/results", params={"model_id": QWEN7}).json()
    assert one == by_model[QWEN7]


def test_rich_compatibility_rows_and_summary(lived) -> None:
    server, _ = lived
    body = get(server, "/admin/models/compatibility?include_summary=true").json()
    rows = body["rows"]
    assert body["total"] == len(rows) and all(list(r) == ROW for r in rows)
    assert [r["ts"] for r in rows] == sorted((r["ts"] for r in rows), reverse=True)
    assert {r["outcome"] for r in rows} == {"pass", "fail"}
    assert all(r["reason"] for r in rows) and {r["backend"] for r in rows} >= {"vllm-mlx",
                                                                                "mlx-lm"}
    summary = body["summary"]
    for model_id, item in summary.items():
        mine = [r for r in rows if r["model_id"] == model_id]
        assert list(item) == ["total", "pass", "fail", "latest_ts"]
        assert item["total"] == len(mine) == item["pass"] + item["fail"]
        assert item["latest_ts"] == max(r["ts"] for r in mine)
    fails = get(server, "/admin/models/compatibility?outcome=fail&limit=1").json()
    assert fails["total"] == 1 and fails["rows"][0]["outcome"] == "fail"
    assert fails["summary"] is None


def test_rich_presets_predictor_and_performance(lived) -> None:
    server, _ = lived
    presets = get(server, "/admin/presets").json()
    assert presets["count"] == len(presets["presets"]) >= 2
    assert all(list(p) == PRESET for p in presets["presets"])
    assert [p["name"] for p in presets["presets"]] == sorted(p["name"] for p in presets[
        "presets"])
    predictor = get(server, "/admin/predictor").json()
    assert predictor["total_accesses"] > 0 and predictor["history_size"] == 50
    assert all(isinstance(pair, list) and len(pair) == 2 for pair in predictor["top_models"])
    for model_id in get(server, "/admin/stack").json()["loaded_models"]:
        body = get(server, f"/admin/models/{model_id}/performance").json()
        assert list(body) == PERFORMANCE
        assert list(body["readiness"]) == ["state", "reason", "crash_count"]
        assert body["readiness"]["crash_count"] == 0  # the server's loaded object never counts
        assert body["performance"]["memory_estimate_gb"] > 0, "from the model's preset"
        assert body["global_defaults"]["max_concurrent_requests"] == 4


# --- moving parts ------------------------------------------------------------------


def timeline(seed: int, seconds: float = 600.0) -> list[tuple[float, str, str]]:
    """(time, verdict, circuit) each time either changes, the sim stepped every 0.1 s."""
    clock = Clock()
    sim = Simulation("rich", rng=random.Random(seed), clock=clock,
                     side_rng=random.Random(f"opta-demo-side-{seed}"))
    seen: list[tuple[float, str, str]] = []
    for _ in range(round(seconds / 0.1)):
        clock.now += 0.1
        sim.step(clock.now)
        view, books = sim.inspect()
        state = (diagnosis.diagnostics(view, "3")["health_verdict"],
                 books.helper_stack["circuit_state"] if books.helper_stack else "")
        if not seen or seen[-1][1:] != state:
            seen.append((round(clock.now - T0, 1), *state))
    return seen


def test_the_verdict_and_the_helper_circuit_move_and_replay_with_the_seed() -> None:
    run = timeline(0)
    verdicts = [v for _, v, _ in run]
    circuits = [c for _, _, c in run]
    assert {"healthy", "degraded"} <= set(verdicts)
    assert verdicts.index("degraded") < len(verdicts) - 1 - verdicts[::-1].index("healthy"), \
        "back to healthy after a quarantine"
    assert {"closed", "open", "half_open"} <= set(circuits)
    assert "closed" in circuits[circuits.index("half_open"):], "a helper that recovers"
    assert timeline(0) == run, "the same seed replays the same life"


def test_a_quarantine_degrades_and_its_reload_heals() -> None:
    clock = Clock()
    sim = Simulation("rich", rng=random.Random(0), clock=clock, side_rng=random.Random(5))
    changes, counts = [], []
    while len(changes) < 2 and clock.now < T0 + 900:
        clock.now += 0.1
        changes += [d for e, d in sim.step(clock.now)
                    if e == "model_readiness_changed" and "crash_count" in d]
        counts.append(diagnosis.diagnostics(sim.view(), "3")["models"]["quarantined_count"])
        if len(changes) == 1:
            assert counts[-1] == 1, "the quarantined model is counted while it lasts"
            assert diagnosis.diagnostics(sim.view(), "3")["health_verdict"] != "healthy"
    quarantined, healed = changes
    assert quarantined["state"] == "quarantined" and quarantined["crash_count"] == 3
    assert quarantined["reason"] == "crash_loop:3" and quarantined["last_failure_reason"]
    assert healed["model_id"] == quarantined["model_id"] and healed["state"] == "routable"
    assert counts[-1] == 0


def test_a_helpers_call_reports_first_then_checks_live() -> None:
    """After an outage the open breaker lets no call through, so ``healthy`` stays false
    until a check: ``GET /admin/helpers`` shows the old flag and sets the new one."""
    books = Books(True, random.Random(3), T0)
    helper = books.helper
    assert helper is not None
    now = T0
    while not (helper.down(now) and helper.circuit(now) == "open"):
        now += 0.1
        books.advance(now, 0.1)
    while helper.down(now) or helper.healthy:
        now += 0.1
        books.advance(now, 0.1)
    body = books.check_helpers(now)
    assert body["helpers"]["embedding"]["healthy"] is False and body["all_healthy"] is False
    assert body["live_checks"] == {"embedding": True}
    assert body["helpers"]["embedding"]["last_error"] == "timed out"
    stack = books.view(now).helper_stack
    assert stack is not None and stack["healthy"] is True and stack["circuit_state"] == "open"
    assert helper.last_check_at == now


def test_memory_at_the_threshold_degrades_and_errors_above_5_percent_are_critical() -> None:
    rule = diagnosis.verdict
    assert rule(memory_percent=89.9, threshold=90, quarantined=0, error_rate_pct=5.0) == "healthy"
    assert rule(memory_percent=90.0, threshold=90, quarantined=0, error_rate_pct=0) == "degraded"
    assert rule(memory_percent=10, threshold=90, quarantined=1, error_rate_pct=0) == "degraded"
    assert rule(memory_percent=99, threshold=90, quarantined=1, error_rate_pct=5.01) == "critical"
    assert rule(memory_percent=1, threshold=90, quarantined=0, error_rate_pct=0,
                crash_loop=True) == "critical"


def test_held_memory_turns_the_served_verdict_degraded(make) -> None:
    server = make(mode="lmx")
    server.sim.hold_memory(90.0)
    body = get(server, "/admin/diagnostics").json()
    assert body["system"]["memory_percent"] == 90.0 and body["health_verdict"] == "degraded"
    server.sim.hold_memory(None)
    assert get(server, "/admin/diagnostics").json()["health_verdict"] == "healthy"


def test_benchmark_file_names_are_the_servers() -> None:
    stamp = "2026-11-30T22:14:05.118302+00:00"
    assert file_name("mlx-community/Qwen2.5-7B-Instruct-4bit", stamp) == (
        "mlx-community_Qwen2_5-7B-Instruct-4bit_2026-11-30T22-14-05-118302-00-00.json")
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+_[0-9T-]+\.json", file_name(m.model_id, stamp))
               for m in CATALOGUE)
    assert file_name("x" * 80, stamp).startswith("x" * 60 + "_2026")
