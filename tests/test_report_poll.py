"""The server's self-report, polled: against the twin in both modes, each failure in words,
and the schedule (what is asked, how often, only while someone looks).

The schedule tests drive ``ReportPoller.due`` on an injected clock and a
client that only counts; the rest talk to a real demo server over loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from report_fixture import CAPTURED, COMPAT_REASON, HELPER_ERROR, KESTREL, inject
from support import free_port, wait_for

from opta_stream.demo.server import DemoServer
from opta_stream.events import report_bodies as rb
from opta_stream.feed.feed import Feed
from opta_stream.feed.report_poll import FORGET_S, ReportPoller
from opta_stream.server_report import ALWAYS, EVERY_S, ON_VIEW, Answer
from opta_stream.store.core import Store
from opta_stream.wire.client import AdminClient

KEY = "sk-opta-REPORT-71c2e0"
SECTIONS = (*ALWAYS, *ON_VIEW)


def answer(store: Store, section: str) -> Answer[Any]:
    return getattr(store.snapshot(1).report, section)


@pytest.fixture
def lmx() -> Iterator[DemoServer]:
    server = DemoServer(admin_key=KEY, mode="lmx", heartbeat_s=0.5, seed=3).start()
    yield server
    server.stop()


@pytest.fixture
def rich() -> Iterator[DemoServer]:
    server = DemoServer(admin_key=KEY, mode="rich", heartbeat_s=0.5, seed=5).start()
    yield server
    server.stop()


def poll_all(server: DemoServer, *, key: str | None = KEY, timeout: float = 5.0,
             loaded: tuple[str, ...] = ()) -> Store:
    store = Store(server.url)
    poller = ReportPoller(AdminClient(server.url, key, timeout=timeout), store,
                          loaded=lambda: loaded)
    for section in SECTIONS:
        poller.poll(section)
    return store


# -- against the twin --------------------------------------------------------------------


def test_the_lmx_twin_answers_every_section_as_the_real_fresh_server(lmx) -> None:
    store = poll_all(lmx)
    for section in SECTIONS:
        got = answer(store, section)
        assert got.failure is None and got.at is not None, (section, got.failure)
    same = {"stack": "/admin/stack", "helpers": "/admin/helpers",
            "benchmarks": "/admin/benchmark/results",
            "compatibility": "/admin/models/compatibility", "predictor": "/admin/predictor",
            "presets": "/admin/presets"}
    for section, path in same.items():
        assert answer(store, section).value == rb.PARSERS[section](CAPTURED[path]), section
    device = answer(store, "device").value
    assert device.metal_available is False and device.chip_name is None
    assert answer(store, "diagnostics").value.verdict == "healthy"
    assert answer(store, "performance").value == ()  # nothing loaded


def test_the_rich_twin_fills_every_section(rich) -> None:
    loaded = tuple(m["id"] for m in AdminClient(rich.url, KEY).get_json("/admin/models")
                   ["loaded"])
    store = poll_all(rich, loaded=loaded)
    report = store.snapshot(1).report
    assert report.device.value.chip_name and report.device.value.metal_available
    assert report.stack.value.default_model and report.stack.value.helper_nodes
    assert report.helpers.value.nodes[0].name == "embedding"
    assert len(report.benchmarks.value) >= 5
    assert report.compatibility.value.rows and report.compatibility.value.summary
    assert report.presets.value and report.memory.value.threshold_pct == 90
    assert {p.model_id for p in report.performance.value} == set(loaded) and loaded


def test_the_twin_with_a_busy_servers_bodies_reads_each_of_its_values(lmx) -> None:
    inject(lmx.faults)
    store = poll_all(lmx, loaded=("mlx-community/Heron-14B-Instruct-4bit", KESTREL))
    report = store.snapshot(1).report
    assert report.helpers.value.nodes[0].last_error == HELPER_ERROR
    assert report.compatibility.value.rows[0].reason == COMPAT_REASON
    assert {p.model_id: p.crash_count for p in report.performance.value}[KESTREL] == 3


# -- failures -------------------------------------------------------------------------------

POLICY = json.dumps({"error": {"message": "Diagnostics are off on this host",
                               "type": "permission_error", "param": None,
                               "code": "diagnostics_disabled"}}).encode()


@pytest.mark.parametrize(("path", "status", "body", "section", "kind", "words"), [
    ("/admin/stack", 403, POLICY, "stack", "policy",
     ("policy refuses /admin/stack", "Diagnostics are off on this host", "key itself was "
      "accepted")),
    ("/admin/helpers", 404, b'{"detail":"Not Found"}', "helpers", "missing",
     ("does not serve /admin/helpers", "HTTP 404", "older")),
    ("/admin/predictor", 500, b'{"error":{"message":"boom","type":"server_error"}}',
     "predictor", "error", ("/admin/predictor failed", "HTTP 500: boom")),
    ("/admin/diagnostics", 200, b"[]", "diagnostics", "bad_answer",
     ("answered a list", "last good answer is kept")),
    ("/admin/device", 200, b"<html>", "device", "bad_answer", ("did not answer JSON",)),
])
def test_a_failing_section_says_why_and_the_others_keep_working(
        lmx, path, status, body, section, kind, words) -> None:
    good = poll_all(lmx)  # first a good answer: a failure must not erase it
    lmx.faults.answer(path, status, body)
    store = Store(lmx.url)
    poller = ReportPoller(AdminClient(lmx.url, KEY), store)
    store.set_report(section, answer(good, section).value)
    for s in SECTIONS:
        poller.poll(s)
    got = answer(store, section)
    assert got.failure is not None and got.failure.kind == kind, got.failure
    assert all(w in got.failure.message for w in words), got.failure.message
    assert got.value is not None, "the last good answer is kept"
    others = [s for s in SECTIONS if s != section]
    assert all(answer(store, s).failure is None for s in others)


def test_a_slow_route_is_a_timeout(lmx) -> None:
    lmx.faults.answer("/admin/stack", 200, json.dumps(CAPTURED["/admin/stack"]).encode(),
                      delay_s=1.0)
    store = poll_all(lmx, timeout=0.3)
    got = answer(store, "stack").failure
    assert got is not None and got.kind == "timeout" and "read timeout" in got.message
    assert answer(store, "presets").failure is None


def test_a_refused_connection_a_rejected_key_and_load_shedding(lmx) -> None:
    closed = Store("http://127.0.0.1")
    ReportPoller(AdminClient(f"http://127.0.0.1:{free_port()}", KEY), closed).poll("device")
    assert answer(closed, "device").failure.kind == "refused"
    wrong = poll_all(lmx, key="not-the-key")
    failure = answer(wrong, "diagnostics").failure
    assert failure.kind == "auth" and failure.status == 403
    lmx.sim.hold_memory(96.0)
    shed = poll_all(lmx)
    failure = answer(shed, "stack").failure
    assert failure.kind == "shedding" and "shedding load at ≥ 95 % memory" in failure.message


def test_a_model_unloaded_meanwhile_is_left_out_of_the_performance_rows(lmx) -> None:
    store = poll_all(lmx, loaded=("mlx-community/gone-away-4bit",))
    got = answer(store, "performance")
    assert got.failure is None and got.value == ()


def test_a_round_leaves_no_connection_open_at_the_server(lmx) -> None:
    """Rounds are 10 s or more apart: a kept-alive socket between them would only hold a
    connection at the server (with 20 servers, 20 more sockets)."""
    port = int(lmx.url.rsplit(":", 1)[1])

    def open_to_server() -> int:
        return sum(1 for c in psutil.Process().net_connections("tcp")
                   if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED)

    store = Store(lmx.url)
    poller = ReportPoller(AdminClient(lmx.url, KEY), store)
    assert poller.poll_once() == len(ALWAYS)
    assert open_to_server() == 0
    assert answer(store, "diagnostics").known  # the round still read its answers


# -- the schedule ---------------------------------------------------------------------------


class CountingClient:
    """Answers every section with its capture, and counts what was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def report(self, section: str) -> Any:
        self.asked.append(section)
        path = {"benchmarks": "/admin/benchmark/results",
                "compatibility": "/admin/models/compatibility"}.get(section, f"/admin/{section}")
        return CAPTURED[path]

    def performance(self, model_id: str) -> Any:
        self.asked.append("performance")
        return {"model_id": model_id}

    def close_session(self) -> None:
        self.asked.append("(closed)")


def scheduled() -> tuple[ReportPoller, CountingClient, list[float]]:
    now = [1_000_000.0]
    client = CountingClient()
    poller = ReportPoller(client, Store("x", clock=lambda: now[0]),  # type: ignore[arg-type]
                          clock=lambda: now[0], loaded=lambda: ("m",))
    return poller, client, now


def test_diagnostics_every_10_s_and_the_device_every_5_min_whoever_looks() -> None:
    poller, client, now = scheduled()
    for _ in range(61):  # ten minutes, a round every 10 s
        poller.poll_once()
        now[0] += 10.0
    assert client.asked.count("diagnostics") == 61
    assert client.asked.count("device") == 3  # at 0, 300 and 600 s
    assert set(client.asked) == {"diagnostics", "device", "(closed)"}, \
        "nobody looked at the rest"


def test_the_rest_is_asked_only_while_a_page_shows_it_then_forgotten() -> None:
    poller, client, now = scheduled()
    poller.poll_once()
    poller.want(["stack", "helpers", "benchmarks", "performance"])
    asked_at = {}
    for step in range(int(FORGET_S) + 200):  # a page open for 2 min, then closed
        if step < 120:
            poller.want(["stack", "helpers", "benchmarks", "performance"])
        before = len(client.asked)
        poller.poll_once()
        for section in client.asked[before:]:
            if section == "(closed)":
                continue
            asked_at.setdefault(section, []).append(step)
        now[0] += 1.0
    for section in ("stack", "helpers", "benchmarks", "performance"):
        times = asked_at[section]
        gaps = {b - a for a, b in zip(times, times[1:], strict=False)}
        assert gaps <= {int(EVERY_S[section])}, (section, times)
        assert times[-1] < 120 + FORGET_S, f"{section} was polled after nobody looked"
    assert asked_at["helpers"] == [0, 60, 120, 180], "helpers at most once a minute"
    assert "predictor" not in asked_at and "presets" not in asked_at


def test_a_page_that_starts_looking_gets_its_sections_at_once() -> None:
    poller, client, now = scheduled()
    poller.poll_once()
    poller.want(["compatibility"])
    assert poller.due(now[0]) == ["compatibility"]
    poller.want(["diagnostics", "not-a-section"])  # always polled / unknown: ignored
    assert poller.wanted() == frozenset({"compatibility"})


def test_a_feed_polls_what_a_page_wants_in_its_own_thread(rich) -> None:
    feed = Feed(rich.url, KEY, poll_interval=0.2).start()
    try:
        store = feed.store
        wait_for(lambda: answer(store, "diagnostics").known, 10, "the diagnostics",
                 store=store)
        assert not answer(store, "stack").known, "nobody looked at the stack yet"
        feed.reports.want(["stack", "helpers"])
        wait_for(lambda: answer(store, "stack").known and answer(store, "helpers").known, 10,
                 "the wanted sections", store=store)
        assert "opta-reports" in " ".join(t.name for t in feed.alive_threads())
    finally:
        feed.stop()
    assert not feed.alive_threads()
