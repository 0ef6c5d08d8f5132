"""The Server page: the server's own diagnosis, from one snapshot.

Pure view tests build ``server_page.build`` from Stores filled with the
captured shapes (``report_fixture``); the AppTests run the page the way
users do, one of them against a real twin serving a busy server's bodies
through a real Feed, which polls what the page asks for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import streamlit_internals as compat
from app_sources import StoreSources
from conftest import SERVER, T0, fill_report, fill_store
from report_fixture import (
    BENCH_TPS,
    BENCH_TPS_BEFORE,
    CAPTURED,
    CHIP,
    COMPAT_REASON,
    HELPER_ERROR,
    HERON,
    KESTREL,
    POPULATED,
    inject,
)
from support import wait_for
from test_app_pages import make_app, open_page

from opta_stream.charts.bench_charts import bench_frame
from opta_stream.demo.server import DemoServer
from opta_stream.events import report_bodies as rb
from opta_stream.feed.feed import Feed
from opta_stream.figures.report_figures import bench_split, regressions, verdict_rule
from opta_stream.server_report import Failure
from opta_stream.store.core import Store
from opta_stream.ui import sources
from opta_stream.views import server_page
from opta_stream.views.recording import Badge, Chart, Download, Metric, Note, Recording, Text
from opta_stream.views.specs import ServerSpec

DIAG = rb.diagnostics(POPULATED["/admin/diagnostics"])


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    compat.use_navigation_mode(monkeypatch)


def build(store: Store) -> Recording:
    return server_page.build(ServerSpec("s", "UTC"), store.snapshot(300))


def words(rec: Recording) -> str:
    """Everything a person reads in a recording, tables included."""
    out = []
    for op in rec.walk():
        if isinstance(op, Text | Note):
            out.append(op.body)
        elif isinstance(op, Badge):
            out.append(op.label)
        elif isinstance(op, Metric):
            out.append(f"{op.label}: {op.value}")
        elif hasattr(op, "data") and hasattr(op.data, "to_string"):
            out.append(op.data.to_string())
    return "\n".join(out)


def unescaped(text: str) -> str:
    return text.replace("\\", "")


# -- the verdict's rule -------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "threshold", "verdict", "said"), [
    ({"crash_loop": True}, 90.0, "critical", "critical: a crash loop"),
    ({"error_rate_pct": 6.1}, 90.0, "critical",
     "critical: 6.1 % of all requests since start failed (over 5 %)"),
    ({"error_rate_pct": 5.0, "quarantined_count": 0}, 90.0, "healthy",
     "healthy: no crash loop, 5.0 % of requests since start failed (critical over 5 %)"),
    ({"error_rate_pct": 1.0, "memory_percent": 90.0}, 90.0, "degraded",
     "degraded: memory at 90.0 %, at or over its 90 % threshold"),
    ({"error_rate_pct": 1.0, "memory_percent": 89.9, "quarantined_count": 2}, 90.0,
     "degraded", "degraded: 2 models quarantined"),
    ({"error_rate_pct": 0.4, "memory_percent": 31.0, "quarantined_count": 0}, 90.0, "healthy",
     "memory 31.0 %, under its 90 % threshold, no model quarantined"),
    ({"error_rate_pct": 0.4, "memory_percent": 95.0, "quarantined_count": 0}, None, "healthy",
     "memory 95.0 %, no model"),
])
def test_the_verdicts_rule_in_words(changes, threshold, verdict, said) -> None:
    ruled, text = verdict_rule(replace(DIAG, **changes), threshold)
    assert ruled == verdict and said in text


def test_the_verdict_badge_its_rule_and_both_error_rates(filled_store) -> None:
    rec = build(filled_store)
    badges = [op for op in rec.walk() if isinstance(op, Badge)]
    assert badges[0].label == "Live"  # the dashboard's verdict on the connection comes first
    assert badges[1].label == "critical" and badges[1].color == "red"  # then the server's
    text = unescaped(words(rec))
    assert "critical: 6.1 % of all requests since start failed (over 5 %)" in text
    metrics = {op.label: op.value for op in rec.walk() if isinstance(op, Metric)}
    assert metrics["Server's error rate · since start"] == "6.1 %"
    assert "Dashboard's error rate · last 5 min" in metrics
    helps = " ".join(op.help or "" for op in rec.walk() if isinstance(op, Metric))
    assert "over its whole life, never a window" in helps
    assert "The server's rate is lifetime: 1,310 requests since it started" in text


def test_a_verdict_the_dashboard_cannot_explain_is_still_the_servers(fixed_now) -> None:
    store = Store(SERVER, clock=lambda: fixed_now)
    store.set_report("diagnostics", replace(DIAG, verdict="degraded", error_rate_pct=0.1,
                                            quarantined_count=0, memory_percent=91.0))
    text = unescaped(words(build(store)))  # no threshold known: rule 3 cannot be checked
    assert "The server says **degraded**" in text


# -- each section ------------------------------------------------------------------------


def test_crash_loop_quarantine_readiness_and_crash_counts(filled_store) -> None:
    text = unescaped(words(build(filled_store)))
    assert "**Crash loop:** no" in text and "**Quarantined models:** 1" in text
    row = next(line for line in text.splitlines() if KESTREL in line and "quarantined" in line)
    assert "model_unstable:crash_loop:3" in row and " 3 " in row


def test_recent_errors_none_reported_points_to_the_events_page(filled_store) -> None:
    rec = build(filled_store)
    assert "This server version (Opta LMX 0.1.0) reports none" in unescaped(words(rec))
    links = [op for op in rec.walk() if type(op).__name__ == "PageLink"]
    assert [link.page for link in links] == ["pages/events.py"]  # type: ignore[attr-defined]


def test_recent_errors_when_a_server_reports_them(fixed_now) -> None:
    body = {**POPULATED["/admin/diagnostics"], "recent_errors": [
        {"timestamp": "2026-12-01T10:00:00", "event_type": "download_failed",
         "message": "disk full on /models", "model_id": None, "severity": "error"}]}
    store = Store(SERVER, clock=lambda: fixed_now)
    store.set_report("diagnostics", rb.diagnostics(body))
    text = words(build(store))
    assert "disk full on /models" in text and "reports none" not in text


def test_the_device_on_apple_silicon(filled_store) -> None:
    text = unescaped(words(build(filled_store)))
    for name, value in (("Host", "mono512.local"), ("Chip", f"**{CHIP}**"),
                        ("Unified memory", "**512 GB**"), ("Max working set", "**403.7 GB"),
                        ("CPU cores", "**32**"), ("GPU family", "**g15d**"),
                        ("Metal", "**available**")):
        assert f"| {name} | {value}" in text, name


def test_a_device_without_metal_is_said_in_words_not_dashes(fixed_now) -> None:
    store = Store(SERVER, clock=lambda: fixed_now)
    store.set_report("device", rb.device(CAPTURED["/admin/device"]))
    rec = build(store)
    text = unescaped(words(rec))
    assert "**vm** runs without Metal (not on Apple silicon)" in text
    assert "CPU cores: **2**" in text
    assert not [op for op in rec.walk() if isinstance(op, Metric) and op.value == "—"]


def test_routing_roles_default_model_and_helper_state(filled_store) -> None:
    text = unescaped(words(build(filled_store)))
    chat = next(line for line in text.splitlines() if line.strip().startswith("2"))
    assert "chat" in chat and "not loaded" in chat
    assert f"**Default model** (the `auto` alias): {HERON}" in text
    helper = next(line for line in text.splitlines() if "embedding" in line)
    assert "half-open" in helper and "99.6" in helper and "88.2" in helper
    assert HELPER_ERROR in helper and "live check passed" in helper


def test_benchmarks_regression_flags_and_results_set_apart(filled_store) -> None:
    rec = build(filled_store)
    text = unescaped(words(rec))
    slower = 100 * (BENCH_TPS_BEFORE - BENCH_TPS) / BENCH_TPS_BEFORE
    assert f"is {slower:.0f} % slower than the one before (44.0 tokens/s)" in text
    assert "**Set apart** (1)" in text and "insufficient_data" in text
    assert "truncated" in text and f"{BENCH_TPS}" in text
    charts = [op for op in rec.walk() if isinstance(op, Chart)]
    assert [c.key for c in charts] == ["server_bench_tokens", "server_bench_ttft"]


def test_the_benchmark_frame_marks_the_regression_and_the_flag() -> None:
    runs = rb.benchmarks(POPULATED["/admin/benchmark/results"])
    charted, apart = bench_split(runs)
    assert [r.status for r in apart] == ["insufficient_data"]
    slow = regressions(charted)
    assert list(slow) == [HERON] and slow[HERON].slower_pct == pytest.approx(
        100 * (BENCH_TPS_BEFORE - BENCH_TPS) / BENCH_TPS_BEFORE)
    frame = bench_frame(charted, "tokens", frozenset({(HERON, slow[HERON].newest.at)}))
    assert frame["regressed"].tolist() == [0, 1]
    assert frame["flagged"].tolist() == [0, 1]  # the newest one is "truncated"
    assert frame["p95"].tolist()[1] == pytest.approx(BENCH_TPS * 1.02, abs=0.01)


def test_ten_percent_slower_is_not_yet_a_regression() -> None:
    runs = rb.benchmarks(POPULATED["/admin/benchmark/results"])
    charted, _ = bench_split(runs)
    at_ten = [replace(r, tokens_per_s_p50=90.0 if i == len(charted) - 1 else 100.0)
              for i, r in enumerate(charted)]
    assert regressions(at_ten) == {}
    assert regressions([*at_ten[:-1], replace(at_ten[-1], tokens_per_s_p50=89.9)])


def test_the_benchmark_csv_holds_every_result(filled_store) -> None:
    download = next(op for op in build(filled_store).walk() if isinstance(op, Download))
    data = download.data() if callable(download.data) else download.data
    lines = data.decode().splitlines()
    assert lines[0].startswith("timestamp_utc,unix_s,model_id,backend,status,tokens_per_s_p50")
    assert len(lines) == 4 and f",{BENCH_TPS}," in lines[-1]
    assert download.file_name.startswith("opta-stream_lmx.test-1234_benchmarks_")


def test_compatibility_per_model_and_backend(filled_store) -> None:
    text = words(build(filled_store))
    row = next(line for line in text.splitlines() if COMPAT_REASON in line)
    assert KESTREL in row and "gguf" in row and " 1 " in row and "fail" in row


def test_predictor_and_presets(filled_store) -> None:
    text = unescaped(words(build(filled_store)))
    assert "**Predicted next:** mlx-community/Osprey-70B-4bit" in text
    assert "431" in text and "code-heron" in text and "Low-temp coding" in text


# -- ages and failures ----------------------------------------------------------------------


def test_each_section_says_how_old_its_answer_is(fixed_now) -> None:
    now = [fixed_now]
    store = fill_report(Store(SERVER, clock=lambda: now[0]))
    now[0] += 42.0
    text = words(build(store))
    for route in ("/admin/diagnostics", "/admin/device", "/admin/stack", "/admin/helpers",
                  "/admin/benchmark/results", "/admin/models/compatibility",
                  "/admin/predictor", "/admin/presets"):
        assert f"From {route}, 42 s ago" in text, route


@pytest.mark.parametrize(("failure", "shown"), [
    (Failure("policy", "The server's policy refuses /admin/stack (HTTP 403: no)", 403),
     "policy refuses"),
    (Failure("missing", "This server does not serve /admin/stack (HTTP 404: Not Found): an "
             "Opta LMX older than this route.", 404), "older than this route"),
    (Failure("timeout", "lmx.test:1234 stopped answering (read timeout)."), "read timeout"),
])
def test_a_failed_section_says_why_keeps_its_answer_and_the_rest_go_on(
        failure, shown, fixed_now) -> None:
    now = [fixed_now]
    store = fill_report(Store(SERVER, clock=lambda: now[0]))
    now[0] += 90.0
    store.set_report_failure("stack", failure)
    rec = build(store)
    notes = [op.body for op in rec.walk() if isinstance(op, Note)]
    said = next(n for n in notes if "/admin/stack" in n)
    assert shown in unescaped(said) and "its answer from" in said and "1 min 30 s ago" in said
    text = words(rec)
    assert "From /admin/device, 1 min 30 s ago" in text  # the others carry on
    assert f"{HERON}" in text  # the stack's kept answer is still shown


def test_a_section_never_answered_says_it_waits(fixed_now) -> None:
    store = Store(SERVER, clock=lambda: fixed_now)
    text = words(build(store))
    assert "Waiting for the first answer of /admin/diagnostics (asked every 10 s)" in text
    assert "Waiting for the first answer of /admin/stack (asked every 30 s while this " \
           "page is open)" in text


# -- the page, for real -----------------------------------------------------------------------


def page_text(at: Any) -> str:
    parts = [str(getattr(el, "value", "")) for el in at.main.markdown]
    parts += [c.value for c in at.main.caption] + [w.value for w in at.main.warning]
    parts += [f"{m.label}: {m.value}" for m in at.main.metric]
    parts += [d.value.to_string() for d in at.main.dataframe]
    return unescaped("\n".join(parts))


@pytest.fixture
def busy_twin() -> Iterator[tuple[DemoServer, Feed]]:
    server = DemoServer(mode="lmx", heartbeat_s=0.5, seed=9).start()
    inject(server.faults)
    feed = Feed(server.url, poll_interval=0.3).start()
    yield server, feed
    feed.stop()
    server.stop()


def test_pointed_at_a_busy_server_the_page_shows_its_own_values(busy_twin, clean_env) -> None:
    """The twin answers every diagnosis route with a busy server's bodies in the captured
    shapes; the page asks its feed for its sections, and shows each distinctive value."""
    _, feed = busy_twin
    sources.install(StoreSources(feed.store, feed.client, feed=feed))
    at = open_page(make_app(None), "server")
    wanted = ("diagnostics", "device", "stack", "helpers", "benchmarks", "compatibility",
              "predictor", "presets", "performance")
    wait_for(lambda: all(getattr(feed.store.snapshot(1).report, s).known for s in wanted)
             and feed.store.snapshot(1).report.performance.value, 15,
             "every section the page asked for", store=feed.store)
    at.run()
    text = page_text(at)
    assert CHIP in text
    assert HELPER_ERROR in text
    assert f"{BENCH_TPS}" in text
    assert COMPAT_REASON in text
    assert KESTREL in text and "quarantined" in text and "**Quarantined models:** 1" in text
    assert "critical: 6.1 % of all requests since start failed (over 5 %)" in text
    assert not at.exception


def test_pointed_at_a_fresh_linux_server_the_page_says_so(clean_env) -> None:
    server = DemoServer(mode="lmx", heartbeat_s=0.5, seed=4).start()
    feed = Feed(server.url, poll_interval=0.3).start()
    try:
        sources.install(StoreSources(feed.store, feed.client, feed=feed))
        at = open_page(make_app(None), "server")
        wait_for(lambda: feed.store.snapshot(1).report.device.known and
                 feed.store.snapshot(1).report.stack.known, 15, "device and stack",
                 store=feed.store)
        at.run()
        text = page_text(at)
        assert "runs without Metal (not on Apple silicon)" in text
        assert "healthy: no crash loop, 0.0 % of requests since start failed" in text
        assert "No stored benchmark result" in text or "/admin/benchmark/results" in text
        assert not at.main.warning, [w.value for w in at.main.warning]
    finally:
        feed.stop()
        server.stop()


def test_the_rich_twin_fills_the_page_without_a_failed_section(clean_env) -> None:
    server = DemoServer(mode="rich", heartbeat_s=0.5, seed=6).start()
    feed = Feed(server.url, poll_interval=0.3).start()
    try:
        sources.install(StoreSources(feed.store, feed.client, feed=feed))
        at = open_page(make_app(None), "server")
        wait_for(lambda: all(getattr(feed.store.snapshot(1).report, s).known
                             for s in server_page.WANTED), 15, "every section",
                 store=feed.store)
        at.run()
        text = page_text(at)
        assert "Apple M4 Pro" in text and "embedding" in text and "code-qwen" in text
        assert not [w for w in at.main.warning if "/admin/" in w.value]
        assert len(at.get("vega_lite_chart")) == 2
    finally:
        feed.stop()
        server.stop()


def test_a_section_the_server_refuses_says_why_on_the_page(clean_env) -> None:
    server = DemoServer(mode="lmx", heartbeat_s=0.5, seed=4).start()
    server.faults.answer("/admin/helpers", 404, b'{"detail":"Not Found"}')
    server.faults.answer("/admin/stack", 403, json.dumps({"error": {
        "message": "Stack view disabled", "type": "permission_error", "code": "forbidden"}}
    ).encode())
    feed = Feed(server.url, poll_interval=0.3).start()
    try:
        sources.install(StoreSources(feed.store, feed.client, feed=feed))
        at = open_page(make_app(None), "server")
        wait_for(lambda: feed.store.snapshot(1).report.helpers.failure is not None and
                 feed.store.snapshot(1).report.stack.failure is not None, 15, "failures",
                 store=feed.store)
        at.run()
        warnings = unescaped(" ".join(w.value for w in at.main.warning))
        assert "does not serve /admin/helpers (HTTP 404: Not Found)" in warnings
        assert "policy refuses /admin/stack (HTTP 403: Stack view disabled)" in warnings
        assert "runs without Metal" in page_text(at)  # the other sections carry on
    finally:
        feed.stop()
        server.stop()


def test_the_server_page_is_in_every_servers_navigation(filled_store, clean_env) -> None:
    """One server: a page of its own. A fleet: the Fleet page stays the default, and the
    Server page shows the selected server."""
    from test_fleet_pages import fleet_app, stores

    at = open_page(make_app(filled_store), "server")
    assert at.header[0].value == "Server"
    at = fleet_app(stores()).run()
    assert at.header[0].value == "Fleet"
    at.switch_page("pages/server.py").run()
    assert not at.exception and at.header[0].value == "Server"
    assert CHIP in page_text(at)


def test_filled_store_fixture_is_the_busy_server() -> None:
    store = fill_store(Store(SERVER, clock=lambda: T0), T0)
    assert store.snapshot(1).report.diagnostics.value == DIAG
