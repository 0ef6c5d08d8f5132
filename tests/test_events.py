"""events.records: every event type from realistic data, and bad input that never raises."""

from __future__ import annotations

import dataclasses
import json
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import FIXTURES

from opta_stream.events.records import (
    ConfigReloaded,
    DownloadFinished,
    DownloadProgress,
    Heartbeat,
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
    parse_event,
)
from opta_stream.events.text import classify, classify_event, summarize
from opta_stream.wire.sse import ServerSentEvent

T = 1_795_269_200.0


def ev(event: str, data: object) -> ServerSentEvent:
    text = data if isinstance(data, str) else json.dumps(data)
    return ServerSentEvent(event=event, data=text)


def parse(event: str, data: object):
    return parse_event(ev(event, data), T)


def fixture_events(name: str) -> list[ServerSentEvent]:
    """Decode a captured .sse file simply: blocks split on blank lines."""
    path = FIXTURES / name
    out = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields:
            out.append(ServerSentEvent(event=fields.get("event", "message"), data=fields["data"]))
    return out


# -- the captured feed ------------------------------------------------------------

def test_fixture_heartbeats() -> None:
    events = [parse_event(s, T) for s in fixture_events("events-heartbeats.sse")]
    assert len(events) >= 15
    assert all(isinstance(e, Heartbeat) for e in events)
    stamps = [e.timestamp for e in events]
    assert stamps == sorted(stamps) and stamps[0] == pytest.approx(1795269136.4036133)
    assert classify_event(events[0]) == ("system", "debug")


def test_fixture_config_reload_and_failing_quantize() -> None:
    events = [parse_event(s, T) for s in fixture_events("events-config-reload-and-quantize.sse")]
    kinds = [type(e).__name__ for e in events]
    assert kinds[:4] == ["Heartbeat", "ConfigReloaded", "QuantizeProgress", "QuantizeProgress"]
    config, running, failed = events[1], events[2], events[3]
    assert dict(config.changes) == {"routing_aliases": 3, "memory_threshold": 90,
                                    "log_level": "INFO"}
    assert (running.job_id, running.model_id, running.status, running.percent) == (
        "/models/nonexistent-model", "/models/nonexistent-model", "quantizing", 0.0)
    assert failed.status == "failed: No module named 'mlx_lm'"
    assert classify_event(running) == ("quantize", "info")
    assert classify_event(failed) == ("quantize", "error")
    assert summarize(config) == "Config reloaded (routing_aliases=3, memory_threshold=90, " \
                                "log_level=INFO)"


# -- one realistic event of every type -----------------------------------------------

def test_model_loaded_and_unloaded() -> None:
    e = parse("model_loaded", {"model_id": "mlx-community/Qwen2.5-7B", "format": "mlx",
                               "memory_gb": 4.3, "duration_sec": 2.1})
    assert e == ModelLoaded("model_loaded", T, e.raw, "mlx-community/Qwen2.5-7B", "mlx", 4.3, 2.1)
    assert summarize(e) == "Loaded mlx-community/Qwen2.5-7B (4.3 GB in 2.1 s, mlx)"
    u = parse("model_unloaded", {"model_id": "m", "memory_freed_gb": 4, "reason": "ttl"})
    assert isinstance(u, ModelUnloaded) and u.memory_freed_gb == 4.0 and u.reason == "ttl"
    assert summarize(u) == "Unloaded m (4.0 GB freed, reason: ttl)"


@pytest.mark.parametrize("etype,severity", [
    ("model_ttl_evicted", "warning"), ("model_readiness_changed", "info"),
    ("model_canary_started", "info"), ("model_canary_passed", "info"),
    ("model_canary_failed", "error"), ("model_compatibility_recorded", "info"),
])
def test_model_lifecycle(etype: str, severity: str) -> None:
    e = parse(etype, {"model_id": "m", "state": "ready", "nested": {"a": [1, 2]}})
    assert isinstance(e, ModelLifecycle) and e.model_id == "m"
    assert isinstance(e.detail, MappingProxyType) and e.detail["nested"]["a"] == (1, 2)
    assert classify_event(e) == ("model", severity)
    assert summarize(e).startswith(f"Model {etype[6:].replace('_', ' ')}: m")


@pytest.mark.parametrize("state,severity", [
    ("degraded", "warning"), ("quarantined", "error"), ("routable", "info"),
    ("canary_pending", "info"), ("loading", "info"), (None, "info"), (3, "info"),
])
def test_a_readiness_change_is_as_severe_as_its_new_state(state: object, severity: str) -> None:
    """The demo and the real server send ``state``; degraded needs a look, quarantined action."""
    e = parse("model_readiness_changed", {"model_id": "m", "state": state,
                                          "previous_state": "routable"})
    assert classify_event(e) == ("model", severity)


@pytest.mark.parametrize("data,percent", [
    ({"percent": 42.5}, 42.5),
    ({"progress": 0.25}, 25.0),
    ({"progress": 60}, 60.0),
    ({"progress": {"downloaded_bytes": 1, "total_bytes": 4}}, 25.0),
    ({"downloaded_bytes": 3_000_000_000, "total_bytes": 4_000_000_000}, 75.0),
    ({"percent": 250}, 100.0),
    ({"percent": "12.5"}, 12.5),
    ({"percent": True}, None),
    ({"total_bytes": 0, "downloaded_bytes": 5}, None),
    ({}, None),
])
def test_download_progress_normalises_percent(data: dict, percent: float | None) -> None:
    e = parse("download_progress", {"download_id": "d1", "repo_id": "org/model", **data})
    assert isinstance(e, DownloadProgress) and e.download_id == "d1" and e.repo_id == "org/model"
    assert e.percent == (None if percent is None else pytest.approx(percent))


def test_download_progress_bytes_and_id_fallback() -> None:
    e = parse("download_progress", {"repo_id": "org/m", "downloaded_bytes": 10,
                                    "total_bytes": "40"})
    assert (e.download_id, e.downloaded_bytes, e.total_bytes, e.percent) == ("org/m", 10, 40, 25.0)


@pytest.mark.parametrize("etype,severity", [
    ("download_completed", "info"), ("download_failed", "error"),
    ("download_cancelled", "warning"),
])
def test_download_finished(etype: str, severity: str) -> None:
    e = parse(etype, {"download_id": "d1", "repo_id": "org/m", "error": "disk full",
                      "local_path": "/models/m", "duration_sec": 3})
    assert isinstance(e, DownloadFinished) and e.outcome == etype.split("_")[1]
    assert (e.error, e.local_path) == ("disk full", "/models/m")
    assert classify_event(e) == ("download", severity)


def test_quantize_job_id_preferred_over_model_id() -> None:
    e = parse("quantize_progress", {"job_id": "q7", "model_id": "m", "status": "running",
                                    "progress": 0.5})
    assert (e.job_id, e.model_id, e.percent) == ("q7", "m", 50.0)
    assert isinstance(e, QuantizeProgress)


def test_memory_warning_and_request_completed() -> None:
    m = parse("memory_warning", {"used_gb": 21.0, "threshold_percent": 90})
    assert isinstance(m, MemoryWarning) and m.data["used_gb"] == 21.0
    assert classify_event(m) == ("memory", "warning")
    r = parse("request_completed", {"model_id": "m", "prompt_tokens": 12,
                                    "completion_tokens": 30.0})
    assert isinstance(r, RequestCompleted) and (r.prompt_tokens, r.completion_tokens) == (12, 30)
    assert summarize(r) == "Request completed on m (12 prompt + 30 completion tokens)"


def test_status_event() -> None:
    e = parse("status", {
        "vram_used_gb": 12.5, "vram_total_gb": 64, "active_requests": 2,
        "tokens_per_second": 41.2, "temperature_celsius": 55, "uptime_seconds": 3600,
        "loaded_models": [
            {"id": "a", "name": "A", "vram_gb": 4.3, "quantization": "4bit",
             "context_length": 32768, "loaded_at": "2026-11-21T10:00:00Z"},
            {"id": "b", "name": "B", "loaded_at": 1795269000},
            "junk", {"name": "no id but a name"}, {"vram_gb": 1},
        ]})
    assert isinstance(e, StatusEvent)
    assert (e.vram_used_gb, e.vram_total_gb, e.active_requests) == (12.5, 64.0, 2)
    assert [m.id for m in e.loaded_models] == ["a", "b", "no id but a name"]
    a = e.loaded_models[0]
    assert (a.vram_gb, a.quantization, a.context_length) == (4.3, "4bit", 32768)
    assert a.loaded_at == pytest.approx(1795255200.0)
    assert classify_event(e) == ("metrics", "debug")
    assert summarize(e) == "Status (12.5/64.0 GB, 3 models, 2 active)"


def test_throughput_event() -> None:
    e = parse("throughput", {"timestamp": T - 1, "tokens_per_second": 42, "model_id": "m"})
    assert e == ThroughputEvent("throughput", T, e.raw, T - 1, 42.0, "m")
    no_ts = parse("throughput", {"tokens_per_second": "7.5"})
    assert (no_ts.timestamp, no_ts.tokens_per_second, no_ts.model_id) == (T, 7.5, None)


# -- bad input -----------------------------------------------------------------------

@pytest.mark.parametrize("etype,data,why", [
    ("heartbeat", "{not json", "invalid JSON"),
    ("heartbeat", "", "invalid JSON"),
    ("model_loaded", "[1, 2]", "JSON list"),
    ("status", "null", "JSON NoneType"),
    ("weird_type", '"text"', "JSON str"),
    ("model_loaded", {"format": "mlx"}, "model_id"),
    ("model_loaded", {"model_id": ["a"]}, "model_id"),
    ("model_unloaded", {"model_id": ""}, "model_id"),
    ("throughput", {"tokens_per_second": "fast"}, "tokens_per_second"),
    ("throughput", {"tokens_per_second": float("nan")}, "tokens_per_second"),
    ("download_failed", {"error": "x"}, "download_id"),
    ("quantize_progress", {"status": "x"}, "job_id"),
])
def test_malformed(etype: str, data: object, why: str) -> None:
    e = parse(etype, data)
    assert isinstance(e, Malformed) and e.type == etype and why in e.error
    assert classify_event(e)[1] == "error"
    assert summarize(e).startswith(f"Malformed '{etype}' event")


def test_unknown_type_keeps_frozen_data() -> None:
    e = parse("brand_new_thing", {"a": [1, {"b": 2}]})
    assert isinstance(e, Unknown) and e.data["a"][1]["b"] == 2
    assert isinstance(e.data, MappingProxyType) and isinstance(e.data["a"], tuple)
    with pytest.raises(TypeError):
        e.data["a"][1]["c"] = 3  # type: ignore[index]
    assert classify_event(e) == ("other", "warning")
    assert parse_event(ServerSentEvent(event="", data="{}"), T).type == "message"


def test_wrong_field_types_are_dropped_not_raised() -> None:
    e = parse("model_loaded", {"model_id": 7, "format": {"x": 1}, "memory_gb": "lots",
                               "duration_sec": [1]})
    assert e == ModelLoaded("model_loaded", T, e.raw, "7", None, None, None)
    s = parse("status", {"vram_used_gb": None, "loaded_models": {"a": 1},
                         "active_requests": 1.5, "uptime_seconds": True})
    assert (s.vram_used_gb, s.loaded_models, s.active_requests, s.uptime_seconds) == (
        None, (), None, None)
    hb = parse("heartbeat", {"timestamp": "yesterday"})
    assert isinstance(hb, Heartbeat) and hb.timestamp == T


def test_duck_typed_input_and_deep_nesting() -> None:
    class Stub:
        event = "config_reloaded"
        data = '{"changes": {"log_level": "DEBUG"}}'

    e = parse_event(Stub(), T)
    assert isinstance(e, ConfigReloaded) and dict(e.changes) == {"log_level": "DEBUG"}
    deep = parse("memory_warning", "[" * 100_000 + "]" * 100_000)
    assert isinstance(deep, Malformed)


def test_records_are_frozen_and_slotted() -> None:
    e = parse("heartbeat", {"timestamp": 1.0})
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.timestamp = 2.0  # type: ignore[misc]
    assert not hasattr(e, "__dict__")


_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                               max_size=4),
    max_leaves=12,
)
_keys = st.sampled_from(["model_id", "download_id", "repo_id", "percent", "progress",
                         "timestamp", "tokens_per_second", "status", "loaded_models",
                         "vram_used_gb", "job_id", "changes", "total_bytes"])
_types = st.sampled_from(["heartbeat", "model_loaded", "model_unloaded", "model_ttl_evicted",
                          "model_canary_x", "download_progress", "download_failed",
                          "quantize_progress", "config_reloaded", "memory_warning",
                          "request_completed", "status", "throughput", "other", ""])


@settings(max_examples=300, deadline=None)
@given(_types, st.dictionaries(_keys, _json, max_size=6) | st.text(max_size=30))
def test_parse_never_raises(etype: str, data: object) -> None:
    text = data if isinstance(data, str) else json.dumps(data)
    e = parse_event(ServerSentEvent(event=etype, data=text), T)
    assert e.raw == text and e.received_at == T
    category, severity = classify_event(e)
    assert severity in ("debug", "info", "warning", "error") and category
    line = summarize(e)
    assert isinstance(line, str) and "\n" not in line


# -- classify ------------------------------------------------------------------------

@pytest.mark.parametrize("etype,data,expected", [
    ("heartbeat", None, ("system", "debug")),
    ("status", None, ("metrics", "debug")),
    ("throughput", None, ("metrics", "debug")),
    ("model_loaded", None, ("model", "info")),
    ("model_ttl_evicted", None, ("model", "warning")),
    ("download_cancelled", None, ("download", "warning")),
    ("download_failed", None, ("download", "error")),
    ("quantize_progress", {"status": "failed: boom"}, ("quantize", "error")),
    ("quantize_progress", {"status": "quantizing"}, ("quantize", "info")),
    ("model_readiness_changed", {"state": "degraded"}, ("model", "warning")),
    ("model_readiness_changed", {"state": "Quarantined"}, ("model", "error")),
    ("model_readiness_changed", {"state": "routable"}, ("model", "info")),
    ("config_reloaded", None, ("config", "info")),
    ("memory_warning", None, ("memory", "warning")),
    ("request_completed", None, ("request", "info")),
    ("feed_down", None, ("feed", "info")),
    ("poll_failed", None, ("feed", "error")),
    ("auth_rejected", None, ("feed", "info")),
    ("malformed", None, ("other", "error")),
    ("unknown", None, ("other", "warning")),
    ("something_error", None, ("other", "error")),
    ("surprise", None, ("other", "info")),
])
def test_classify(etype: str, data: dict | None, expected: tuple[str, str]) -> None:
    assert classify(etype, data) == expected
