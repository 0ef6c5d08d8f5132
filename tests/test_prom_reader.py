"""The Prometheus reader off the render path (injected answers and clock), and the long
window's lines: Prometheus's part, the live feed's tail, the source in words."""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import pytest
import requests

from opta_stream.charts.long_window import (
    fallback_caption,
    line_stats,
    long_frame,
    source_caption,
    split_at,
    uses_prometheus,
)
from opta_stream.feed.prom_reader import PromReader
from opta_stream.settings import PromSettings
from opta_stream.snapshot import RangeAnswer, RangeLine
from opta_stream.wire.promql import MAX_POINTS, PromClient

URL = "http://prom.test:9090"


class FakeProm:
    """Stands in for ``requests.get`` against Prometheus: answers every range query with one
    series (value = the step), or raises / refuses as told; records what was asked."""

    def __init__(self) -> None:
        self.asked: list[dict[str, str]] = []
        self.fail: type[Exception] | None = None
        self.empty = False

    def __call__(self, url: str, params: dict[str, str], **_: Any) -> requests.Response:
        self.asked.append(params)
        if self.fail is not None:
            raise self.fail("no")
        start, end, step = (float(params[k]) for k in ("start", "end", "step"))
        values = [[start + i * step, str(step)] for i in range(int((end - start) // step) + 1)]
        result = [] if self.empty else [{"metric": {}, "values": values}]
        resp = requests.Response()
        resp.status_code = 200
        resp.headers["content-type"] = "application/json"
        resp._content = json.dumps({"status": "success", "data": {
            "resultType": "matrix", "result": result}}).encode()
        return resp


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def reader(fake: FakeProm, clock: Clock, **kw: Any) -> PromReader:
    settings = PromSettings(URL, label="host", timeout_s=1.0)
    return PromReader(settings, client=PromClient(settings, get=fake), clock=clock, **kw)


def test_a_page_never_waits_and_gets_the_answer_of_the_next_round() -> None:
    fake, clock = FakeProm(), Clock()
    r = reader(fake, clock)
    first = r.answer("studio:1234", "memory", 86400.0)
    assert first.status == "pending" and not fake.asked  # nothing was sent on the page's call
    assert r.run_round() == 1
    answer = r.answer("studio:1234", "memory", 86400.0)
    assert answer.ok and answer.source == "Prometheus at prom.test:9090"
    assert set(answer.lines) == {"memory_used_gb", "memory_total_gb"}
    assert [p["query"] for p in fake.asked] == ['max(lmx_memory_used_gb{host="studio:1234"})',
                                                'max(lmx_memory_total_gb{host="studio:1234"})']
    line = answer.lines["memory_used_gb"]
    assert line.step_s == 120.0 and line.t.size <= MAX_POINTS
    assert line.t[0] == clock.t - 86400.0 and np.all(line.values == 120.0)


def test_answers_refresh_after_their_interval_and_are_forgotten_when_nobody_looks() -> None:
    fake, clock = FakeProm(), Clock()
    r = reader(fake, clock, refresh_s=15.0, forget_s=120.0)
    r.answer("a:1", "throughput", 3600.0)
    r.run_round()
    clock.t += 10.0
    assert r.run_round() == 0  # 10 s old: still fresh (refresh 15 s; the step is 5 s)
    clock.t += 6.0
    assert r.run_round() == 1 and len(fake.asked) == 2
    clock.t += 121.0  # nobody asked since: dropped, not asked again
    assert r.run_round() == 0 and len(fake.asked) == 2
    assert r.answer("a:1", "throughput", 3600.0).status == "pending"


def test_a_prometheus_that_is_down_costs_one_try_per_round() -> None:
    fake, clock = FakeProm(), Clock()
    fake.fail = requests.exceptions.ConnectionError
    r = reader(fake, clock)
    for chart in ("throughput", "latency", "memory"):
        r.answer("a:1", chart, 3600.0)
    assert r.run_round() == 3
    assert len(fake.asked) == 1  # the other two charts got the same answer unsent
    for chart in ("throughput", "latency", "memory"):
        answer = r.answer("a:1", chart, 3600.0)
        assert answer.status == "down" and "cannot be reached" in (answer.problem or "")
        assert not uses_prometheus(answer, 3600.0)
        assert "Showing this dashboard's own history instead" in (fallback_caption(answer)
                                                                 or "")


def test_missing_series_are_said_per_chart() -> None:
    fake, clock = FakeProm(), Clock()
    fake.empty = True
    r = reader(fake, clock)
    r.answer("gone:1", "latency", 7200.0)
    r.run_round()
    answer = r.answer("gone:1", "latency", 7200.0)
    assert answer.status == "missing"
    assert "no series for this server (host = 'gone:1')" in (answer.problem or "")


def test_the_thread_answers_at_once_and_stops_cleanly() -> None:
    fake, clock = FakeProm(), Clock()
    r = reader(fake, clock).start()
    try:
        assert any(t.name == "opta-prometheus" and t.daemon for t in threading.enumerate())
        answer = r.wait_answered("a:1", "throughput", 3600.0, timeout=10.0)
        assert answer is not None and answer.ok
    finally:
        r.stop()
        r.stop()  # idempotent
    assert not r.alive
    assert not any(t.name == "opta-prometheus" for t in threading.enumerate())


def test_an_unknown_chart_is_a_bug_not_a_query() -> None:
    with pytest.raises(ValueError, match="unknown chart"):
        reader(FakeProm(), Clock()).answer("a:1", "nope", 3600.0)


def _answer(values: np.ndarray, step: float = 60.0) -> RangeAnswer:
    t = 1000.0 + step * np.arange(values.size)
    line = RangeLine(t, values, step, "sum(rate(x[60s]))")
    return RangeAnswer("Prometheus at p:9090", "ok", {"tokens_per_s": line}, asked_at=t[-1])


def test_the_long_line_is_prometheus_then_the_live_feed() -> None:
    answer = _answer(np.array([1.0, np.nan, 3.0, 4.0, 5.0]))
    line = answer.lines["tokens_per_s"]
    pt, pv = split_at(line.t, line.values, 1180.0, before=True)
    assert pt.tolist() == [1000.0, 1060.0, 1120.0]  # before the live part starts
    lt, lv = split_at(np.array([1170.0, 1180.0, 1190.0]), np.array([9.0, 8.0, 7.0]), 1180.0,
                      before=False)
    frame = long_frame([("Prometheus", pt, pv), ("live feed", lt, lv)], "tokens_per_second")
    assert frame["series"].tolist() == ["Prometheus", "Prometheus", "live feed", "live feed"]
    assert frame["tokens_per_second"].tolist() == [1.0, 3.0, 8.0, 7.0]
    assert frame["segment"].tolist()[:2] == [0, 1]  # the NaN breaks the line
    assert line_stats(np.concatenate([pv, lv])) == pytest.approx((4.75, 7.85, 8.0))
    assert line_stats(np.array([np.nan])) == (None, None, None)
    assert uses_prometheus(answer, 3600.0) and not uses_prometheus(answer, 900.0)
    assert source_caption(answer).startswith("Source: Prometheus at p:9090, one point every "
                                             "1 min (`sum(rate(x[60s]))`), then the last "
                                             "5 min from this dashboard's live feed.")
    assert fallback_caption(None) is None
    assert "Asking Prometheus at p:9090" in (fallback_caption(
        RangeAnswer("Prometheus at p:9090", "pending")) or "")


def test_a_failed_answer_is_asked_again_sooner_than_a_long_windows_step() -> None:
    fake, clock = FakeProm(), Clock()
    fake.empty = True  # Prometheus has not scraped the server yet
    r = reader(fake, clock, refresh_s=15.0)
    r.answer("new:1", "throughput", 86400.0)  # a good answer would wait its 120 s step
    r.run_round()
    assert r.answer("new:1", "throughput", 86400.0).status == "missing"
    fake.empty = False
    clock.t += 16.0
    assert r.run_round() == 1
    assert r.answer("new:1", "throughput", 86400.0).ok
    clock.t += 16.0
    assert r.run_round() == 0  # now fresh until its step


def test_an_answer_it_cannot_read_is_an_error_said_once_a_round_not_a_spin() -> None:
    fake, clock = FakeProm(), Clock()
    settings = PromSettings(URL, label="host", timeout_s=1.0)

    def odd(url: str, params: dict[str, str], **kw: Any) -> requests.Response:
        resp = fake(url, params, **kw)
        resp._content = resp._content.replace(b'[[', b'[[1e999, "1"], [', 1)  # an infinite time
        return resp
    r = PromReader(settings, client=PromClient(settings, get=odd), clock=clock)
    r.answer("a:1", "throughput", 3600.0)
    assert r.run_round() == 1 and len(fake.asked) == 1
    answer = r.answer("a:1", "throughput", 3600.0)
    assert answer.status == "error" and "points that are not numbers" in (answer.problem or "")
    assert answer.selects == "host = 'a:1'"
    assert r.run_round() == 0  # asked again only after refresh_s


def test_a_bug_in_reading_is_said_and_retried_not_raised() -> None:
    fake, clock = FakeProm(), Clock()
    settings = PromSettings(URL, label="host", timeout_s=1.0)

    class Broken(PromClient):
        def query_range(self, *a: Any, **kw: Any) -> RangeLine:
            raise KeyError("surprise")
    r = PromReader(settings, client=Broken(settings, get=fake), clock=clock)
    r.answer("a:1", "latency", 3600.0)
    r.run_round()
    answer = r.answer("a:1", "latency", 3600.0)
    assert answer.status == "error" and "(KeyError): this is a bug in Opta Stream" in (
        answer.problem or "")
