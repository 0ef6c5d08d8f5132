"""The diagnosis routes' bodies read into the shared words: the captured shapes, busy values,
and bodies that are not what a route sends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from report_fixture import (
    CAPTURED,
    CHIP,
    COMPAT_REASON,
    HELPER_ERROR,
    KESTREL,
    PERFORMANCE,
    POPULATED,
)

from opta_stream.events import report_bodies as rb
from opta_stream.server_report import SECTIONS, ServerReport

ROUTE_OF = {"diagnostics": "/admin/diagnostics", "device": "/admin/device",
            "stack": "/admin/stack", "helpers": "/admin/helpers",
            "benchmarks": "/admin/benchmark/results",
            "compatibility": "/admin/models/compatibility", "predictor": "/admin/predictor",
            "presets": "/admin/presets", "memory": "/admin/memory", "health": "/admin/health"}
RECORDS = {"/admin/diagnostics": ("system", "models", "inference", "agents"),
           "/admin/device": ("hardware", "identity")}


def test_every_section_has_a_parser_a_route_and_a_place_in_the_report() -> None:
    assert set(rb.PARSERS) | {"performance"} == set(SECTIONS) == set(ServerReport.__slots__)
    assert set(ROUTE_OF) == set(rb.PARSERS)


@pytest.mark.parametrize("section", sorted(ROUTE_OF))
def test_the_captured_answers_of_a_fresh_server_read_cleanly(section: str) -> None:
    value = rb.PARSERS[section](CAPTURED[ROUTE_OF[section]])
    assert value is not None


def test_the_captures_read_as_a_fresh_linux_server() -> None:
    diag = rb.diagnostics(CAPTURED["/admin/diagnostics"])
    assert (diag.verdict, diag.error_rate_pct, diag.crash_loop, diag.recent_errors) == \
        ("healthy", 0.0, False, ())
    device = rb.device(CAPTURED["/admin/device"])
    assert device.metal_available is False and device.cpu_cores == 2
    assert (device.chip_name, device.memory_gb, device.max_working_set_gb,
            device.gpu_family) == (None, None, None, None)
    stack = rb.stack(CAPTURED["/admin/stack"])
    assert [r.alias for r in stack.roles] == ["code", "reasoning", "chat"]
    assert stack.default_model is None and stack.helper_nodes == ()
    assert rb.helpers(CAPTURED["/admin/helpers"]).all_healthy is True
    assert rb.benchmarks(CAPTURED["/admin/benchmark/results"]) == ()
    assert rb.compatibility(CAPTURED["/admin/models/compatibility"]).summary == ()
    without = rb.compatibility(captured_file("get-admin_models_compatibility.json"))
    assert without.summary is None  # null unless asked for, not {}
    assert rb.predictor(CAPTURED["/admin/predictor"]).predicted_next is None
    memory = rb.memory(CAPTURED["/admin/memory"])
    assert memory.threshold_pct == 90 and memory.total_gb == pytest.approx(23.54, abs=0.01)


def captured_file(name: str) -> object:
    import json

    from support import FIXTURES

    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", sorted(p for p, body in CAPTURED.items()
                                        if isinstance(body, dict) and p in POPULATED))
def test_the_busy_bodies_keep_the_captured_shapes(path: str) -> None:
    """Same keys as the capture, and the same keys in each record part."""
    cap, pop = CAPTURED[path], POPULATED[path]
    assert set(pop) == set(cap)
    for part in RECORDS.get(path, ()):
        assert set(pop[part]) == set(cap[part]), part


def test_busy_values_are_read_field_by_field() -> None:
    diag = rb.diagnostics(POPULATED["/admin/diagnostics"])
    assert (diag.verdict, diag.error_rate_pct, diag.quarantined_count) == ("critical", 6.1, 1)
    assert [(m.model_id, m.readiness) for m in diag.models][1] == (KESTREL, "quarantined")
    assert rb.device(POPULATED["/admin/device"]).chip_name == CHIP
    helpers = rb.helpers(POPULATED["/admin/helpers"])
    node = helpers.nodes[0]
    assert (node.name, node.circuit_state, node.last_error, node.live_check) == \
        ("embedding", "half_open", HELPER_ERROR, True)
    runs = rb.benchmarks(POPULATED["/admin/benchmark/results"])
    assert [r.status for r in runs] == ["insufficient_data", "ok", "ok"]
    assert runs[2].tokens_per_s_p50 == 37.91 and runs[2].coherence_flag == "truncated"
    assert runs[2].at == datetime(2026, 11, 30, 22, 14, 5, 118302, UTC).timestamp()
    compat = rb.compatibility(POPULATED["/admin/models/compatibility"])
    assert compat.rows[0].reason == COMPAT_REASON
    assert dict((m, (t, p, f)) for m, t, p, f in compat.summary or ())[KESTREL] == (2, 1, 1)
    pred = rb.predictor(POPULATED["/admin/predictor"])
    assert pred.top_models[0][1] == 431 and pred.predicted_next
    assert rb.presets(POPULATED["/admin/presets"])[0].memory_estimate_gb == 18.0
    perf = rb.performance(PERFORMANCE[KESTREL])
    assert (perf.readiness, perf.crash_count) == ("quarantined", 3)


@pytest.mark.parametrize(("section", "body", "words"), [
    ("diagnostics", [], "answered a list, not the JSON object it sends"),
    ("diagnostics", {"system": {}}, "without a health_verdict"),
    ("device", {"identity": {}}, "without its hardware part"),
    ("stack", {"roles": []}, "without its roles"),
    ("helpers", "text", "answered a string"),
    ("benchmarks", {"results": []}, "answered an object, not a list"),
    ("compatibility", {"total": 0}, "without its rows"),
    ("presets", None, "answered null"),
    ("memory", {"used_gb": 1.0}, "without total_unified_memory_gb"),
])
def test_a_body_of_the_wrong_shape_is_refused_in_words(section: str, body: object,
                                                       words: str) -> None:
    with pytest.raises(rb.BadAnswer, match=words):
        rb.PARSERS[section](body)


def test_fields_of_the_wrong_type_are_unknown_not_zero_and_text_is_clipped() -> None:
    device = rb.device({"hardware": {"cpu_cores": "many", "memory_gb": True,
                                     "metal_available": "yes", "chip_name": "x" * 5000}})
    assert (device.cpu_cores, device.memory_gb, device.metal_available) == (None, None, None)
    assert device.chip_name is not None and len(device.chip_name) == rb.MAX_TEXT + 1
    diag = rb.diagnostics({"health_verdict": "healthy", "inference": {"error_rate_pct": None},
                           "models": {"models": [{"readiness": "routable"}, "junk"]}})
    assert diag.error_rate_pct is None and diag.models == () and diag.recent_errors is None
    runs = rb.benchmarks([{"model_id": "m", "timestamp": "not a time", "stats": []}, 7])
    assert len(runs) == 1 and runs[0].at is None and runs[0].tokens_per_s_p50 is None
    pred = rb.predictor({"top_models": [["a", 3], ["b"], "c", [None, 2]]})
    assert pred.top_models == (("a", 3),)
    helpers = rb.helpers({"helpers": {"embedding": {"last_check_at": 0.0}}})
    assert helpers.nodes[0].last_check_at is None  # 0.0 is the server's "never checked"
