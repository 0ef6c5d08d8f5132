"""The benchmarks still import and run, on tiny sizes: no timing is asserted.

Why: ``bench/`` is only run by hand, so without this a renamed function or a
changed contract would leave it broken until someone needs the figures.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from support import require_chromium  # noqa: E402

from bench import (  # noqa: E402
    common,
    first_numbers,
    history_bench,
    ingest,
    protocol,
    run,
    soak,
    tick,
    viewer_measures,
    viewers,
)
from opta_stream.demo.server import DemoServer  # noqa: E402

REQUIRED_KEYS = {
    "decoder_events_per_s", "decoder_vs_sseclient", "ingest_events_per_s",
    "ingest_vs_raw_bound", "tick_ms_p95_1h", "chart_points_max", "tick_bytes_per_chart",
    "store_mb_full", "rss_growth_mb", "upstream_connections_10_viewers",
    "server_cpu_pct_10_viewers", "viewer_hz_10_viewers", "event_to_browser_ms_p95",
    "viewer_cost_vs_floor", "viewer_cost_vs_floor_throughput", "viewer_cost_vs_floor_requests",
    "viewer_cost_vs_floor_memory", "viewer_cost_vs_floor_models", "viewer_cost_vs_floor_events",
    "viewer_hz_30_viewers", "viewer_hz_50_viewers", "upstream_connections_50_viewers",
    "rss_per_viewer_mib", "rss_kept_per_closed_session_mib", "viewer_hz_50_viewers_render_1s",
    "history_persist_cpu_pct", "history_load_s", "history_month_mb", "first_numbers_s",
    "viewer_hz_70_viewers", "viewer_hz_100_viewers", "viewers_ready_100_viewers",
    "viewer_hz_min_100_viewers", "rss_growth_100_viewers_mib",
}


def test_statistics_helpers():
    assert common.median([3.0, 1.0, 2.0]) == 2.0
    assert common.median([]) is None
    assert common.p95(list(map(float, range(101)))) == pytest.approx(95.0)
    assert json.loads(common.json_line({"a": float("nan"), "b": 1})) == {"a": None, "b": 1}


def test_every_required_key_has_a_measurement():
    keys = {k for _, ks in run.MEASURES.values() for k in ks} | {"rss_growth_mb"}
    assert REQUIRED_KEYS <= keys


def test_a_failing_measurement_records_null_and_reason(monkeypatch):
    def broken(quick: bool):
        raise RuntimeError("no browser here")

    monkeypatch.setitem(run.MEASURES, "browser", (broken, ("event_to_browser_ms_p95",)))
    [result] = run.guarded("browser", True, lambda text: None)
    assert result.value is None and "no browser here" in result.note
    payload = run._payload([result], True, "2026-01-01", "here", "abc1234")
    assert payload["event_to_browser_ms_p95"] is None
    assert "event_to_browser_ms_p95" in payload["failed"]
    assert {"date", "machine", "quick", "commit"} <= payload.keys()


def test_decoder_bench_runs_on_a_small_stream():
    decoder_bench = pytest.importorskip("bench.decoder_bench")
    assert decoder_bench.measure_ours(decoder_bench.make_stream(2_000)) > 0


def test_ingest_raw_and_feed_runs_read_events():
    server = DemoServer(mode="rich", rate_hz=None).start()
    try:
        raw = ingest.read_raw(server.port, 0.3)
        fed = ingest.read_feed(server.url, 0.3)
    finally:
        server.stop()
    assert raw.events_per_s > 0 and fed.events_per_s > 0
    assert ingest.summarize([raw, fed])["ratio"] is not None


def test_tick_and_chart_payload_on_a_small_store():
    res = tick.measure_tick(ticks=3, warmup=1, n=6_000, with_csv=True)
    assert res["ticks"] == 3 and res["points"] > 5_000
    assert 0 < res["chart_points_max"] <= 1_000
    assert res["bytes_per_chart"] > res["spec_bytes"] > 0
    assert {"snapshot", "rates", "chart", "serialize", "csv"} <= set(
        res["stages_ms_median"])


def test_soak_summary_from_samples():
    samples = [soak.Sample(t=10.0 * i, rss_mib=50.0 + 0.01 * i, threads=4, sockets=2,
                           upstream=2, events=500 * i, tp_rows=500 * i, log_entries=i,
                           gaps=0, reconnects=0, store_bytes=1000,
                           py_objects=100_000) for i in range(6)]
    summary = soak.summarize(samples, restarts=1)
    assert summary["flat"] is True
    assert summary["rss_growth_mib"] == pytest.approx(0.05)
    assert summary["events_per_s"] == pytest.approx(50.0)
    assert soak.summarize([], 0)["flat"] is None


def test_viewer_follows_auto_rerun_and_counts_fragment_runs():
    from bench import streamlit_internals as compat

    sent: list[bytes] = []

    class FakeSocket:
        def __init__(self) -> None:
            self.rerun = asyncio.Event()  # set by the viewer's timer sending a rerun

        async def send(self, data: bytes) -> None:
            sent.append(data)
            self.rerun.set()

    async def scenario() -> viewers.Viewer:
        v = viewers.Viewer("http://127.0.0.1:1")
        ws = FakeSocket()
        msg = compat.forward_msg()
        msg.new_session.page_script_hash = "page-hash"
        v._on_message(msg, ws)
        msg = compat.forward_msg()
        msg.auto_rerun.interval, msg.auto_rerun.fragment_id = 0.05, "frag"
        v._on_message(msg, ws)
        await asyncio.wait_for(ws.rerun.wait(), 5.0)  # the 50 ms timer fired
        done = compat.forward_msg()
        done.script_finished = protocol.FRAGMENT_DONE
        done.metadata.run.fragment_ids.append("frag")
        v._on_message(done, ws)
        v._stop_timer("frag")
        return v

    v = asyncio.run(scenario())
    assert v.fastest_fragment() == "frag" and len(v.finished["frag"]) == 1
    assert sent, "the timer sent no rerun"
    back = compat.back_msg()
    back.ParseFromString(sent[0])
    assert back.rerun_script.fragment_id == "frag" and back.rerun_script.is_auto_rerun
    assert back.rerun_script.page_script_hash == "page-hash"


def test_store_full_measure_is_bounded():
    res = tick.measure_store_full(300)
    assert 0 < res["traced_mib"] < 50


def test_the_floor_overview_draws_the_same_elements_as_the_real_one(filled_store, clean_env,
                                                                      monkeypatch):
    """``bench/floor_app.py`` is the per-viewer floor only while it mirrors the page."""
    from collections import Counter

    import streamlit_internals as compat
    from streamlit.testing.v1 import AppTest
    from test_app_pages import FakeClient, make_app, open_page
    from test_shared_ticks import _walk

    compat.use_navigation_mode(monkeypatch)
    real = open_page(make_app(filled_store, client=FakeClient()), "overview")
    floor = AppTest.from_file(str(ROOT / "bench" / "floor_app.py"), default_timeout=15).run()
    assert not floor.exception
    kinds = [Counter(el.type for el in _walk(at.main) if el.type != "info")
             for at in (real, floor)]  # the floor shows the demo banner, the test store not
    assert kinds[0] == kinds[1] and kinds[0]["vega_lite_chart"] == 2 and kinds[0]["metric"] == 10


def test_viewer_cost_subtracts_each_apps_idle_cost():
    app = {"cpu_pct": 30.0, "idle_cpu_pct": 6.0, "hz_median": 2.0}
    floor = {"cpu_pct": 24.0, "idle_cpu_pct": 0.0, "hz_median": 2.0}
    cost, note = viewer_measures._viewer_cost(app, floor)
    assert cost == pytest.approx(1.0) and "raw CPU ratio 1.25" in note
    assert viewer_measures._viewer_cost(app, {**floor, "cpu_pct": 0.0})[0] is None


def test_the_render_interval_setting_reaches_the_pages_fragment(clean_env):
    """``streamlit run app.py`` with OPTA_STREAM_RENDER_S=1: the live fragment asks the
    browser for a rerun every second, and it is the page's only timer (the verdict is drawn
    by it: the sidebar has no fragment of its own)."""
    demo = DemoServer(mode="lmx").start()
    app = viewers.StreamlitApp(common.free_port(), {
        "OPTA_LMX_URL": demo.url, "OPTA_LMX_ADMIN_KEY": "", "OPTA_STREAM_RENDER_S": "1"})
    try:
        app.start()

        v = protocol.visit(viewers.Viewer(f"http://127.0.0.1:{app.port}", "throughput"),
                           lambda v: len(v.intervals) == 2)
    finally:
        app.stop()
        demo.stop()
        app.remove_log()
    assert sorted(round(i, 2) for i in v.intervals.values()) == [1.0], v.errors


def test_history_month_and_load_run_on_a_small_span(tmp_path):
    path = str(tmp_path / "h.sqlite3")
    month = history_bench.build_month(path, hours=0.05, days=0.5)
    assert month["copies"] == 239 and month["rows"]["tiers"] > 0 and month["file_bytes"] > 0
    load = history_bench.measure_load(path, month["end"], runs=1, days=0.5)
    assert load["rows_read"] > 0 and load["throughput_points_30d"] > 0


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_first_numbers_times_a_cold_start_to_a_figure(tmp_path):
    """One ``streamlit run app.py`` (the demo) timed to the Overview's first figure, starting
    from a small history file of the demo's (the full run uses a month)."""
    require_chromium()
    path = str(tmp_path / "h.sqlite3")
    history_bench.build_month(path, hours=0.02, days=0.1, start=time.time() - 72.0,
                              identity="demo")
    m = first_numbers.measure_first_numbers(rounds=1, history=path)
    assert not m["missed"], m["missed"]
    [run] = m["runs"]
    assert 0 < run["accepting_s"] <= run["page_s"] <= run["tile_s"] <= run["number_s"]
    assert run["value"] not in ("", first_numbers.UNKNOWN) and m["median_s"] == run["number_s"]
