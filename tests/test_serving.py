"""Serving metrics: Prometheus text → deltas → store → figures, checked against hand-worked values.

The scrapes and the expected numbers are in ``serving_fixture`` (worked out
in its docstring). The sampler test polls the real demo server over HTTP.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from serving_fixture import (
    EXPECTED,
    FIXTURE,
    SCRAPE_A,
    SCRAPE_B,
)
from support import wait_for

from opta_stream.demo.server import DemoServer
from opta_stream.errors import ServerRefused
from opta_stream.events.counters import serving_step
from opta_stream.events.prom import MetricsError, parse_metrics
from opta_stream.feed.sampler import Sampler
from opta_stream.feed.serving_poll import ServingPoller
from opta_stream.figures import serving_totals as serving
from opta_stream.figures.serving_lines import quantiles_matrix, serving_lines
from opta_stream.store.core import Store
from opta_stream.wire.client import AdminClient

A, B = parse_metrics(SCRAPE_A), parse_metrics(SCRAPE_B)


def filled(now: float = 112.0) -> Store:
    store = Store("s", clock=lambda: now)
    step = serving_step(A, 100.0, B, 110.0)
    assert step is not None
    store.add_serving(step)
    return store


# --- parsing --------------------------------------------------------------


def test_the_captured_idle_scrape_reads_as_zeros_with_no_histogram_and_no_clients():
    r = parse_metrics(FIXTURE.read_text())
    assert r.totals == dict.fromkeys(("requests", "errors", "prompt_tokens",
                                      "completion_tokens", "spec_accepted", "spec_rejected",
                                      "spec_ignored"), 0.0)
    assert r.latency == {} and r.per_model == {} and r.per_client == {}
    assert r.gauges["limit"] == 4.0 and math.isnan(r.gauges["acceptance_ratio"])


def test_a_scrape_reads_every_family():
    assert B.totals["requests"] == 30 and B.totals["spec_accepted"] == 600
    assert B.per_model["org/a"] == {"requests": 16, "errors": 2, "completion_tokens": 3200}
    assert B.per_client["web"] == {"requests": 10, "completion_tokens": 2000, "errors": 0}
    h = B.latency["org/b"]
    assert h.bounds == (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, math.inf)
    assert h.cumulative[-1] == h.count == 14 and h.sum == 300.0
    assert B.gauges == {"acceptance_ratio": 0.75, "uptime_s": 77.2, "in_flight": 3.0,
                        "limit": 4.0, "queued": 2.0}


@pytest.mark.parametrize(("text", "words"), [
    ("lmx_requests_total{ 3\n", "not Prometheus text"),
    ('lmx_request_duration_seconds_bucket{model="m",le="1.0"} 3\n', r"has no \+Inf bucket"),
    ('lmx_request_duration_seconds_bucket{model="m",le="1.0"} 3\n'
     'lmx_request_duration_seconds_bucket{model="m",le="+Inf"} 2\n', "counts that decrease"),
])
def test_bad_text_is_a_clear_error(text, words):
    with pytest.raises(MetricsError, match=words):
        parse_metrics(text)


# --- deltas ---------------------------------------------------------------


def test_a_step_is_the_difference_and_a_new_client_starts_from_zero():
    step = serving_step(A, 100.0, B, 110.0)
    assert step is not None and step.dt == 10.0
    assert step.totals["requests"] == 20 and step.totals["completion_tokens"] == 4000
    assert step.per_model["org/b"]["requests"] == 10
    assert step.buckets["org/a"] == (2, 3, 4, 5, 6, 7, 9, 9, 9, 9)
    assert step.buckets_total() == (2, 3, 4, 5, 6, 7, 9, 13, 17, 19)
    assert step.totals["latency_count"] == 19 and step.totals["latency_sum"] == 310.0
    assert step.per_client == {"cli": {"requests": 10, "completion_tokens": 2000, "errors": 1},
                               "web": {"requests": 10, "completion_tokens": 2000, "errors": 0}}


def test_counters_going_backwards_is_a_restart_not_a_step():
    assert serving_step(B, 110.0, A, 111.0) is None


# --- quantiles ------------------------------------------------------------

BOUNDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, math.inf)


def test_histogram_quantile_follows_prometheus():
    q = serving.histogram_quantile
    assert math.isnan(q(0.5, BOUNDS, [0] * 10))  # no observations
    assert q(0.5, BOUNDS, [0, 0, 0, 0, 0, 0, 0, 0, 0, 5]) == 60.0  # all in +Inf
    assert q(0.1, BOUNDS, [2, 3, 4, 5, 6, 7, 9, 9, 9, 9]) == pytest.approx(0.045)  # from 0
    assert q(1.0, BOUNDS, [2, 3, 4, 5, 6, 7, 9, 9, 9, 9]) == 10.0
    assert q(-0.1, BOUNDS, [1] * 10) == -math.inf and q(1.1, BOUNDS, [1] * 10) == math.inf
    assert math.isnan(q(0.5, (1.0, 2.0), [1, 2]))  # no +Inf bound


counts = st.lists(st.integers(0, 50), min_size=10, max_size=10).map(lambda c: np.cumsum(c))


@given(st.lists(counts, min_size=1, max_size=8), st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]))
def test_the_vectorised_quantile_equals_the_scalar_one(rows, q):
    matrix = np.vstack(rows).astype(float)
    fast = quantiles_matrix(q, BOUNDS, matrix)
    slow = np.array([serving.histogram_quantile(q, BOUNDS, r) for r in matrix])
    np.testing.assert_allclose(fast, slow, equal_nan=True)


# --- the store's window and the figures ----------------------------------


def test_window_figures_equal_the_hand_worked_values():
    win = filled().snapshot(300).serving
    t = serving.totals(win)
    assert t.span_s == 10.0
    assert t.per_s("requests") == EXPECTED["requests_per_s"]
    assert t.per_s("errors") == pytest.approx(EXPECTED["errors_per_s"])
    assert t.error_ratio == EXPECTED["error_ratio"]
    assert t.per_s("prompt_tokens") == EXPECTED["prompt_tps"]
    assert t.per_s("completion_tokens") == EXPECTED["completion_tps"]
    assert t.mean_latency == pytest.approx(EXPECTED["mean_latency"])
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert t.quantile(q) == pytest.approx(EXPECTED[name]), name
    assert t.acceptance == EXPECTED["acceptance"]
    a, b = serving.totals(win, "model", "org/a"), serving.totals(win, "model", "org/b")
    assert a.quantile(0.5) == EXPECTED["a_p50"]
    assert a.quantile(0.95) == pytest.approx(EXPECTED["a_p95"])
    assert a.per_s("completion_tokens") == EXPECTED["a_tps"]
    assert b.quantile(0.5) == EXPECTED["b_p50"] and b.quantile(0.95) == EXPECTED["b_p95"]
    web = serving.totals(win, "client", "web")
    assert (web.get("requests"), web.get("errors"), web.get("completion_tokens")) == (10, 0, 2000)
    assert serving.latest_gauges(win)["queued"] == 2.0
    assert serving.latest_gauges(win)["in_flight"] == 3.0


def test_no_requests_reads_as_unknown_not_zero():
    t = serving.totals(Store("s", clock=lambda: 0.0).snapshot(60).serving)
    assert math.isnan(t.error_ratio) and math.isnan(t.quantile(0.95))
    assert math.isnan(t.mean_latency) and math.isnan(t.acceptance)


def test_lines_on_the_grid_carry_the_same_figures():
    win = filled().snapshot(300).serving
    lines = serving_lines(win, 112.0 - 300, 112.0, window_s=300)
    assert lines.over_s == 10.0 and lines.latency_over_s == 60.0 and lines.step_s == 1.0
    req = lines.requests[lines.requests["series"] == "requests/s"]
    assert req["per_second"].tolist() == [2.0, 2.0, 2.0]  # at 110, 111 and 112 s
    p50 = lines.latency[lines.latency["series"] == "p50"]["seconds"]
    assert p50.tolist() == [12.5, 12.5, 12.5]
    queued = lines.queue[lines.queue["series"] == "queued"]
    # a gauge reading stands for the few seconds after it (polls are about a second apart,
    # not on the grid), so the line does not break between polls
    assert queued["requests"].tolist() == [2.0, 2.0, 2.0]


def test_minute_rows_add_up_to_the_per_poll_rows():
    clock = [0.0]
    store = Store("s", clock=lambda: clock[0])
    prev = A
    for i in range(1, 200):  # 199 steps, 1 s apart, over four minutes
        cur = parse_metrics(SCRAPE_A.replace("lmx_requests_total 10",
                                             f"lmx_requests_total {10 + 2 * i}"))
        step = serving_step(prev, 100.0 + i - 1, cur, 100.0 + i)
        assert step is not None
        store.add_serving(step)
        prev = cur
    clock[0] = 299.0
    raw, minutes = store.snapshot(3600).serving, store.snapshot(86400).serving
    assert raw.resolution_s == 0.0 and minutes.resolution_s == 60.0
    assert len(minutes) < len(raw) == 199
    # three closed minutes, then the open minute's per-poll rows: nothing missing
    assert minutes.ts.tolist() == [120.0, 180.0, 240.0, *range(240, 300)]
    assert serving.totals(minutes).get("requests") == serving.totals(raw).get(
        "requests") == 2 * 199


# --- polling ----------------------------------------------------------------


class _Garbage:
    base_url = "http://127.0.0.1:1"

    def get_text(self, path: str) -> str:
        return "this is { not prometheus"


def test_text_that_is_not_prometheus_fails_the_poll_in_words_and_keeps_the_baseline():
    store = Store("s")
    poller = ServingPoller(_Garbage(), store, clock=time.time,  # type: ignore[arg-type]
                           on_reset=lambda m: None)
    with pytest.raises(ServerRefused, match="not Prometheus metrics"):
        poller.poll()
    assert len(store.snapshot(60).serving) == 0


class _Scripted:
    """Answers each poll with the next scrape (the poller's parsing and deltas are real)."""

    base_url = "http://127.0.0.1:1"

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)

    def get_text(self, path: str) -> str:
        return self.texts.pop(0)


def _poll_all(times: list[float], *texts: str) -> tuple[Store, list[str]]:
    clock = iter(times)
    store, resets = Store("s", clock=lambda: 200.0), []
    poller = ServingPoller(_Scripted(*texts), store,  # type: ignore[arg-type]
                           clock=lambda: next(clock), on_reset=resets.append)
    for _ in texts:
        poller.poll()
    return store, resets


def test_a_restart_counts_the_new_readings_from_zero_and_loses_nothing():
    # B (30 requests), then A (10: lower, a restart), then B again (+20)
    store, resets = _poll_all([100.0, 110.0, 120.0], SCRAPE_B, SCRAPE_A, SCRAPE_B)
    assert serving.totals(store.snapshot(300).serving).get("requests") == 10 + 20
    assert len(resets) == 1


def test_a_clock_step_back_keeps_the_baseline():
    store, _ = _poll_all([100.0, 90.0, 110.0], SCRAPE_A, SCRAPE_B, SCRAPE_B)
    assert serving.totals(store.snapshot(300).serving).get("requests") == 20


def test_a_gauge_the_server_does_not_report_is_a_gap_not_zero():
    no_limit = SCRAPE_B.replace("lmx_concurrent_limit 4\n", "")
    store, _ = _poll_all([100.0, 110.0], SCRAPE_A, no_limit)
    lines = serving_lines(store.snapshot(300).serving, -100.0, 200.0, window_s=300)
    assert set(lines.queue["series"]) == {"in flight", "queued"}


def test_the_sampler_reads_the_demo_servers_metrics_and_survives_an_outage():
    fast_start, t0 = time.monotonic(), time.time()
    server = DemoServer(mode="lmx", clock=lambda: t0 + 40.0 * (time.monotonic() - fast_start),
                        heartbeat_s=0.5).start()
    store = Store(server.url)
    client = AdminClient(server.url)
    scraped: list[str] = []  # every text the sampler read, over real HTTP
    real_get_text = client.get_text
    client.get_text = lambda path: scraped.append(real_get_text(path)) or scraped[-1]  # type: ignore[method-assign]
    sampler = Sampler(client, store, clock=time.time)
    try:
        client.load_model("mlx-community/Qwen2.5-7B-Instruct-4bit")
        wait_for(lambda: sampler.sample_once() and serving.totals(
            store.snapshot(3600).serving).get("latency_count") >= 3, 30, "three requests")
        server.faults.fail_status(500, frozenset({"/admin/metrics"}))
        for _ in range(3):
            sampler.sample_once()
        snap = store.snapshot(3600)
        failed = [p for p in snap.polls if p.endpoint == "/admin/metrics"]
        assert failed and not failed[0].ok and "500" in failed[0].message
        assert any(p.ok for p in snap.polls if p.endpoint == "/admin/status")
        server.faults.fail_status(None)
        sampler.sample_once()
        first, last = parse_metrics(scraped[0]), parse_metrics(scraped[-1])
        win = store.snapshot(3600).serving
        # no count lost to the outage: the rows add up to the counters' growth exactly
        for name in ("requests", "completion_tokens", "spec_accepted"):
            assert serving.totals(win).get(name) == last.totals[name] - first.totals[name]
        assert serving.totals(win).get("spec_accepted") > 0
        assert [k for k in win.keys if k[0] == "client"], "per-client counters reach the store"
    finally:
        server.stop()


@pytest.mark.parametrize("window_s", [60.0, 300.0, 900.0, 3600.0, 86400.0])
def test_every_requests_chart_stays_within_1000_points(window_s):
    from dataclasses import replace

    step = serving_step(A, 0.0, B, 1.0)
    assert step is not None
    now = [0.0]
    store = Store("s", clock=lambda: now[0])
    for i in range(1, 4000):
        store.add_serving(replace(step, ts=float(i), dt=1.0))
    now[0] = 4000.0
    lines = serving_lines(store.snapshot(window_s).serving, 4000.0 - window_s, 4000.0,
                          window_s=window_s)
    for frame in (lines.latency, lines.requests, lines.tokens, lines.queue):
        assert 0 < len(frame) <= 1000


def test_a_requests_chart_keeps_its_structure_from_empty_to_busy():
    from opta_stream.charts.line_charts import lines_plan
    from opta_stream.charts.plans import to_spec

    busy = serving_lines(filled().snapshot(300).serving, -188.0, 112.0, window_s=300)
    idle = serving_lines(Store("s").snapshot(300).serving, -188.0, 112.0, window_s=300)
    for kind in ("latency", "requests", "tokens", "queue"):
        a = to_spec(lines_plan(kind, getattr(busy, kind), window=(-188.0, 112.0)))
        b = to_spec(lines_plan(kind, getattr(idle, kind), window=(-188.0, 112.0)))
        assert {k: v for k, v in a.items() if k != "datasets"} == {
            k: v for k, v in b.items() if k != "datasets"}
        hidden = b["datasets"]["d3"]["show"].tolist()  # hidden rows (a placeholder and the
        assert hidden and set(hidden) == {0.0}         # y axis's floor), not none


def test_a_restart_while_the_dashboard_was_off_gets_its_marker_at_the_restart() -> None:
    """The history file last recorded the server an hour ago; the server has been up for
    seconds: it restarted meanwhile, and the log (and so every time chart) marks when."""
    from opta_stream.charts.frames import marker_frame
    from opta_stream.store.history_rows import HistoryRows

    server = DemoServer(mode="lmx").start()
    try:
        now = time.time()
        store = Store(server.url)
        store.load_history(HistoryRows(last_at=now - 3600.0), now)
        Sampler(AdminClient(server.url), store, clock=time.time).sample_once()
        snap = store.snapshot(7200.0)
        restarts = [e for e in snap.events if e.type == "server_restarted"]
        assert len(restarts) == 1 and "while the dashboard was off" in restarts[0].summary
        uptime = snap.gauges.uptime_s
        assert uptime is not None and restarts[0].ts == pytest.approx(
            snap.gauges.updated_at - uptime, abs=1.0)
        marks = marker_frame(snap.events, (now - 7200.0, now + 60.0))
        assert any("server restarted" in label for label in marks["label"])
        # a server up longer than the dashboard was off did not restart: nothing to mark
        quiet = Store(server.url)
        quiet.load_history(HistoryRows(last_at=time.time() - 1.0), time.time())
        Sampler(AdminClient(server.url), quiet, clock=time.time).sample_once()
        assert not [e for e in quiet.snapshot(60).events if e.type == "server_restarted"]
    finally:
        server.stop()
