"""PromQL range queries against Debian's real Prometheus scraping two demo servers, compared
with the app's own figures from the same run; and each way a Prometheus can fail."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from prom_fixture import PromRun, instance, prometheus_run  # noqa: F401 (a fixture)
from streamlit.testing.v1 import AppTest
from support import free_port, wait_for
from test_app_pages import APP
from test_fleet_pages import html_server  # noqa: F401 (a fixture)

from opta_stream.charts import long_window as long_lines
from opta_stream.demo import DemoServer
from opta_stream.demo.model import CATALOGUE
from opta_stream.feed import Feed
from opta_stream.figures.serving_totals import totals
from opta_stream.settings import HistorySettings, PromSettings
from opta_stream.ui import sources
from opta_stream.ui.widgets import WINDOW_KEY
from opta_stream.wire.promql import MAX_POINTS, PromClient, PromError, query_for, step_for


@pytest.mark.parametrize(("range_s", "step"), [
    (600, 1), (3600, 5), (6 * 3600, 30), (86400, 120), (7 * 86400, 900), (30 * 86400, 3600)])
def test_the_step_keeps_a_window_at_or_under_a_thousand_points(range_s: int, step: int) -> None:
    assert step_for(range_s) == step
    assert range_s / step + 1 <= MAX_POINTS  # both ends are points
    assert range_s / step_for(range_s) > MAX_POINTS / 10  # and not needlessly coarse


def test_queries_select_one_server_and_quote_its_label() -> None:
    q = query_for("tokens_per_s", "instance", 'studio:1234"} or vector(1) #', 5)
    assert q == ('sum(rate(lmx_completion_tokens_total{instance="studio:1234\\"} or vector(1) '
                 '#"}[60s]))')
    assert "[3600s]" in query_for("p95_s", "host", "a", 3600)


def _rows_span(win, key: int = 0) -> tuple[float, float]:
    rows = win.key == key
    ends, dts = win.ts[rows], win.dt[rows]
    return float(ends[0] - dts[0]), float(ends[-1])


@pytest.fixture
def feed_on_first(prometheus_run: PromRun) -> Iterator[Feed]:  # noqa: F811
    feed = Feed(prometheus_run.servers[0].url, None, history=HistorySettings(path="")).start()
    yield feed
    feed.stop()


def test_prometheus_rates_and_quantiles_match_the_apps_own(prometheus_run: PromRun,  # noqa: F811
                                                           feed_on_first: Feed) -> None:
    store = feed_on_first.store

    def covered() -> bool:
        win = store.snapshot(120).serving
        if not (win.key == 0).sum():
            return False
        t0, t1 = _rows_span(win)
        # The rich demo finishes about one request a second.
        return t1 - t0 >= 30.0 and totals(win, t0=t0 - 1, t1=t1).get("requests") >= 20
    wait_for(covered, 90.0, "30 s of the app's own request metrics", store=store)
    win = store.snapshot(120).serving
    t0, t1 = _rows_span(win)
    ours = totals(win, t0=t0 - 1, t1=t1)
    span = int(round(t1 - t0))
    target = instance(prometheus_run.servers[0])
    wait_for(lambda: prometheus_run.last_scrape(target) > t1 + 1.0, 10.0,
             "Prometheus's scrapes past the app's last reading")
    client = PromClient(PromSettings(prometheus_run.url))
    sel = f'instance="{instance(prometheus_run.servers[0])}"'

    def at_t1(q: str) -> float:
        return float(client.query_range(q, t1, t1, 1.0).values[0])

    theirs_tokens = at_t1(f"sum(rate(lmx_completion_tokens_total{{{sel}}}[{span}s]))")
    theirs_requests = at_t1(f"sum(rate(lmx_requests_total{{{sel}}}[{span}s]))")
    theirs_p95 = at_t1("histogram_quantile(0.95, sum by (le) (rate("
                       f"lmx_request_duration_seconds_bucket{{{sel}}}[{span}s])))")
    assert ours.per_s("completion_tokens") > 0 and ours.per_s("requests") > 0
    # Both read the same counters; the edges differ by under a scrape (1 s of ~30 s)
    # and Prometheus extrapolates to the range's ends.
    assert theirs_tokens == pytest.approx(ours.per_s("completion_tokens"), rel=0.2)
    assert theirs_requests == pytest.approx(ours.per_s("requests"), rel=0.2)
    assert theirs_p95 == pytest.approx(ours.quantile(0.95), rel=0.25)


def test_a_range_query_gives_each_server_its_own_line(prometheus_run: PromRun) -> None:  # noqa: F811
    client = PromClient(PromSettings(prometheus_run.url))

    def lines_now() -> list:
        end = time.time()
        return [client.query_range(query_for("tokens_per_s", "instance", instance(s), 1.0),
                                   end - 30, end, 1.0) for s in prometheus_run.servers]

    # run alone, Prometheus may have scraped for a few seconds only: wait for 10 points each
    wait_for(lambda: all(np.isfinite(x.values).sum() >= 10 for x in lines_now()), 40.0,
             "10 s of rates for each server in Prometheus")
    end = time.time()
    lines = lines_now()
    for line in lines:
        assert line.t.size == 31 and line.step_s == 1.0
        assert np.isfinite(line.values).sum() >= 10 and np.nanmax(line.values) > 0
    memory = client.query_range(query_for("memory_total_gb", "instance",
                                          instance(prometheus_run.servers[0]), 1.0),
                                end - 10, end, 1.0)
    assert np.nanmax(memory.values) > 0


def test_prometheus_failures_say_what_is_wrong(prometheus_run: PromRun,  # noqa: F811
                                               html_server: str) -> None:  # noqa: F811
    def fails(url: str, query: str = "up", timeout: float = 2.0) -> PromError:
        client = PromClient(PromSettings(url, timeout_s=timeout))
        with pytest.raises(PromError) as caught:
            client.query_range(query, time.time() - 10, time.time(), 1.0)
        return caught.value

    down = fails(f"http://127.0.0.1:{free_port()}")
    assert down.kind == "down" and "cannot be reached" in str(down)
    refused = fails(prometheus_run.url, "sum(rate(")
    assert refused.kind == "error" and "refused the query" in str(refused)
    html = fails(html_server)
    assert html.kind == "error" and "'text/html', not Prometheus's JSON" in str(html)
    missing = fails(prometheus_run.url, query_for("tokens_per_s", "instance", "nope:1", 1.0))
    assert missing.kind == "missing" and "instance = 'nope:1'" in str(missing)
    with silent_server() as url:
        slow = fails(url, timeout=0.3)
    assert slow.kind == "slow" and "did not answer within 0.3 s" in str(slow)


class silent_server:  # noqa: N801 (used as a context manager)
    """Accepts connections and never answers: a Prometheus past its timeout."""

    def __enter__(self) -> str:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.stop = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, name="test-silent", daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                continue

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(2)
        for conn in self.conns:
            conn.close()
        self.sock.close()


def chart_rows(at: AppTest, index: int = 0) -> pd.DataFrame:
    """The rows of a page chart's line layer (dataset ``d3``), as the browser gets them."""
    proto = at.get("vega_lite_chart")[index].proto
    found = {ds.name: ds.data.data for ds in proto.datasets}
    return pa.ipc.open_stream(found["d3"]).read_pandas()


def prom_app(run: PromRun, prometheus_url: str, page: str) -> AppTest:  # noqa: F811
    """The app watching both scraped demo servers (real feeds), with ``prometheus_url``, on a
    1 h window of ``page``; a third entry names an instance Prometheus has never seen."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets.update({
        "history_path": "", "read_only": True, "prometheus_url": prometheus_url,
        "prometheus_timeout_s": 1.0,
        "servers": [{"name": f"demo{i}", "url": s.url} for i, s in enumerate(run.servers)]
        + [{"name": "unscraped", "url": run.servers[0].url.replace("127.0.0.1", "localhost"),
            "prometheus_instance": "nowhere:1"}]})
    at.session_state[WINDOW_KEY] = "1 h"
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.main.caption)


MODEL_NAMES = {m.model_id for m in CATALOGUE}


@pytest.fixture
def no_shared_resources() -> Iterator[None]:
    yield
    sources.shutdown()


def test_long_windows_come_from_prometheus_with_the_live_minutes_from_the_feed(
        prometheus_run: PromRun, no_shared_resources: None, clean_env: None,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Prometheus here is seconds old: the feed's part is its last 10 s, not 5 min, so that
    # Prometheus's own points show (the pages read the constant on every run).
    monkeypatch.setattr(long_lines, "LIVE_TAIL_S", 10.0)
    wait_for(lambda: prometheus_run.scrapes() >= 30, 50.0, "30 s of scrapes (6 points at 5 s)")
    at = prom_app(prometheus_run, prometheus_run.url, "throughput")
    where = f"Prometheus at 127.0.0.1:{prometheus_run.url.rsplit(':', 1)[1]}"
    reader = sources.prom_reader(prometheus_run.url, "instance", 1.0)
    first = instance(prometheus_run.servers[0])
    assert reader.wait_answered(first, "throughput", 3600.0, 20.0) is not None
    at.run()
    text = captions(at)
    assert f"Source: {where}, one point every 5 s (`sum(rate(lmx_completion_tokens_total" \
           f"{{instance=\"{first}\"}}[60s]))`)" in text, text
    rows = chart_rows(at)
    prom = rows[(rows["series"] == "Prometheus") & (rows["show"] == 1)]
    assert len(prom) >= 3 and prom["tokens_per_second"].max() > 0
    assert len(prom) <= 720  # 1 h at 5 s: never over 1,000 points

    def live_rows() -> tuple[pd.DataFrame] | None:
        """The feed's part, once the feed (started with the page) has 10 s of its own."""
        rows = chart_rows(at.run())
        found = rows[(rows["series"] == "live feed") & (rows["show"] == 1)]
        return (found,) if len(found) >= 3 else None
    (live,) = wait_for(live_rows, 20.0, "the live feed's last 10 s on the chart")
    assert live["time"].min() > prom["time"].max()  # the feed's part comes after
    assert (live["time"].max() - live["time"].min()).total_seconds() <= 10
    # The figures are the drawn line's: Prometheus's points, then the feed's, ending now
    rows = chart_rows(at)
    drawn = rows[rows["show"] == 1]["tokens_per_second"]
    assert {m.label: m.value for m in at.metric}["Average tokens/s · last 1 h"] == \
        f"{drawn.mean():.1f}"
    # The same window on the Memory page and the Requests page's latency
    at.switch_page("pages/memory.py").run()
    assert reader.wait_answered(first, "memory", 3600.0, 20.0) is not None
    at.run()
    assert f"Source: {where}" in captions(at) and "max(lmx_memory_used_gb" in captions(at)
    mem = chart_rows(at)
    assert {"used · Prometheus", "total · Prometheus"} <= set(mem["series"])
    at.switch_page("pages/requests.py").run()
    assert reader.wait_answered(first, "latency", 3600.0, 20.0) is not None
    at.run()
    assert "histogram_quantile(0.95" in captions(at)
    # A server Prometheus has no series for falls back to local history, saying why
    at.query_params["server"] = "unscraped"
    at.switch_page("pages/memory.py").run()
    assert reader.wait_answered("nowhere:1", "memory", 3600.0, 20.0) is not None
    at.run()
    text = captions(at)
    assert "has no series for this server (instance = 'nowhere:1')" in text, text
    assert "Showing this dashboard's own history instead" in text
    assert "own recording" in text


def test_a_prometheus_that_is_down_leaves_the_dashboards_own_history(
        prometheus_run: PromRun, no_shared_resources: None, clean_env: None) -> None:  # noqa: F811
    dead = f"http://127.0.0.1:{free_port()}"
    at = prom_app(prometheus_run, dead, "throughput")
    reader = sources.prom_reader(dead, "instance", 1.0)
    answer = reader.wait_answered(instance(prometheus_run.servers[0]), "throughput", 3600.0,
                                  20.0)
    assert answer is not None and answer.status == "down"
    at.run()
    text = captions(at)
    assert "cannot be reached: is it running, and is prometheus_url right? Showing this " \
           "dashboard's own history instead." in text, text
    assert set(chart_rows(at)["series"]) <= {"all models", *MODEL_NAMES}


def test_fleet_history_comes_from_prometheus_for_each_server_it_scrapes(
        prometheus_run: PromRun, no_shared_resources: None, clean_env: None) -> None:  # noqa: F811
    at = prom_app(prometheus_run, prometheus_run.url, "fleet")
    reader = sources.prom_reader(prometheus_run.url, "instance", 1.0)
    for name in [instance(s) for s in prometheus_run.servers] + ["nowhere:1"]:
        assert reader.wait_answered(name, "throughput", 86400.0, 20.0) is not None
    at.run()
    where = f"Prometheus at 127.0.0.1:{prometheus_run.url.rsplit(':', 1)[1]}"
    text = captions(at)
    assert (f"Source: {where} for demo0, demo1; this dashboard's own recording for "
            "unscraped.") in text, text
    assert "has no series for unscraped (instance = 'nowhere:1'): does it scrape" in text
    rows = chart_rows(at, -1)
    shown = rows[rows["show"] == 1]
    assert {"demo0", "demo1"} <= set(shown["series"])


class _RecordingProm(http.server.BaseHTTPRequestHandler):
    """A stand-in Prometheus that records every request line and header, and answers an
    empty matrix."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).seen.append(self.requestline + "\n" + str(self.headers))
        body = json.dumps({"status": "success", "data": {"resultType": "matrix",
                                                         "result": []}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_admin_key_never_goes_to_prometheus(no_shared_resources: None,
                                                clean_env: None) -> None:
    canary = "prom-canary-s3cr3t-0042"
    demo = DemoServer(mode="lmx", admin_key=canary).start()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordingProm)
    thread = threading.Thread(target=httpd.serve_forever, name="test-prom", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        at = AppTest.from_file(APP, default_timeout=30)
        at.secrets.update({"history_path": "", "prometheus_url": url, "servers": [
            {"name": "keyed", "url": demo.url, "admin_key": canary},
            {"name": "other", "url": demo.url.replace("127.0.0.1", "localhost")}]})
        at.session_state[WINDOW_KEY] = "1 h"
        at.run()
        at.switch_page("pages/throughput.py").run()
        reader = sources.prom_reader(url, "instance", 3.0)
        assert reader.wait_answered(f"127.0.0.1:{demo.port}", "throughput", 3600.0, 20.0)
        at.run()
        assert _RecordingProm.seen, "the page never asked Prometheus"
        assert all(canary not in req and "x-admin-key" not in req.lower()
                   for req in _RecordingProm.seen), _RecordingProm.seen
        assert canary not in captions(at)
    finally:
        httpd.shutdown()
        httpd.server_close()
        demo.stop()
