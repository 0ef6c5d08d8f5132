"""Trust at a glance: long windows never break, figures come from the drawn line, charts
say what they show. Views built from Stores, without Streamlit."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pytest
from conftest import MODEL_A, SERVER, T0
from hypothesis import given, settings
from hypothesis import strategies as st

from opta_stream.charts.frames import with_floor, with_show
from opta_stream.charts.line_charts import SPECS, lines_plan
from opta_stream.charts.plans import to_spec
from opta_stream.events.counters import ServingStep
from opta_stream.figures.serving_lines import serving_lines
from opta_stream.snapshot import ConnState
from opta_stream.store.core import Store
from opta_stream.views import memory_page, throughput_page
from opta_stream.views.recording import Chart, Metric, Recording, Text
from opta_stream.views.specs import MemorySpec, ThroughputSpec


def young_store(minutes: float, rate: float = 120.0) -> Store:
    """A recording of a few minutes: 1 Hz throughput and memory, ending at T0."""
    store = Store(SERVER, clock=lambda: T0)
    store.set_connection(ConnState.OPEN, "Connected")
    n = int(minutes * 60)
    ts = [T0 - n + i for i in range(n)]
    store.add_throughput_many(ts, [rate + (i % 7) for i in range(n)], [MODEL_A] * n)
    for t in ts[::5]:
        store.add_memory(t, 8.0, 24.0, 90.0)
    return store


def metrics(rec: Recording) -> dict[str, str]:
    return {op.label: op.value for op in rec.walk() if isinstance(op, Metric)}


def captions(rec: Recording) -> str:
    return " ".join(op.body for op in rec.walk() if isinstance(op, Text))


def chart_data(rec: Recording, key: str) -> list[list[dict[str, Any]]]:
    chart = next(op for op in rec.walk() if isinstance(op, Chart) and op.key == key)
    return [frame.to_dict("records") for frame in chart.spec["datasets"].values()]


def number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.mark.parametrize(("window_s", "minutes"), [(86400.0, 3.0), (7 * 86400.0, 1.0)])
def test_a_young_recording_on_a_long_window_draws_its_line_and_says_where_it_starts(
        window_s, minutes) -> None:
    store = young_store(minutes)
    snap = store.snapshot(window_s)
    rec = throughput_page.build(ThroughputSpec("s", "UTC", window_s), snap)
    m = metrics(rec)
    label = "last 24 h" if window_s == 86400.0 else "last 7 d"
    peak, avg = number(m[f"Peak tokens/s · {label}"]), number(m[f"Average tokens/s · {label}"])
    p95, now = number(m[f"p95 tokens/s · {label}"]), number(m["Tokens / s · now"])
    assert avg <= p95 <= peak and now <= peak  # the drawn line's figures, now included
    gaps, _, markers, lines, _dots, *_ = chart_data(rec, "throughput_chart")
    shown = [r for r in lines if r["show"] == 1]
    assert shown, "the line has at least its last point (now)"
    if len(shown) == 1:  # a minute on 7 d: one point, drawn as a dot
        assert shown[0]["alone"] == 1
    assert shown[-1]["tokens_per_second"] == pytest.approx(now, abs=0.05)  # it ends now
    start = f"{pd.Timestamp(T0 - minutes * 60, unit='s', tz='UTC'):%H:%M:%S}"
    ago = f"{minutes:.0f} min 00 s ago ({start})"
    assert [r["label"] for r in markers if r["show"] == 1] == [
        f"recorded since {start if window_s <= 86400 else ago}"]
    assert any(pd.Timestamp(g["start"]).timestamp() <= T0 - window_s + 1 for g in gaps)
    assert "Recorded since" in captions(rec)


def test_a_window_the_recording_covers_says_nothing_about_where_it_starts() -> None:
    rec = throughput_page.build(ThroughputSpec("s", "UTC", 300.0),
                                young_store(10.0).snapshot(300.0))
    assert "Recorded since" not in captions(rec)


def test_a_short_window_with_an_empty_start_says_where_the_recording_starts() -> None:
    """Three minutes after the dashboard started, 5 min has two empty minutes: said."""
    rec = throughput_page.build(ThroughputSpec("s", "UTC", 300.0),
                                young_store(3.0).snapshot(300.0))
    assert "Recorded since" in captions(rec)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=500), min_size=1, max_size=120),
       st.sampled_from([60.0, 300.0, 900.0, 3600.0, 86400.0]))
def test_the_figures_are_ordered_on_every_window(rates, window_s) -> None:
    store = Store(SERVER, clock=lambda: T0)
    store.set_connection(ConnState.OPEN, "Connected")
    ts = [T0 - len(rates) + i for i in range(len(rates))]
    store.add_throughput_many(ts, rates, [MODEL_A] * len(rates))
    m = metrics(throughput_page.build(ThroughputSpec("s", "UTC", window_s),
                                      store.snapshot(window_s)))
    vals = {k.split(" · ")[0]: v for k, v in m.items()}
    if vals["Average tokens/s"] == "—":
        return
    avg, p95 = number(vals["Average tokens/s"]), number(vals["p95 tokens/s"])
    peak = number(vals["Peak tokens/s"])
    # Both from the drawn line's points (rounded to 0.1 on screen). The average may
    # exceed the p95 of a skewed line (one burst among zeros): that is arithmetic.
    assert avg <= peak + 0.05 and p95 <= peak + 0.05
    if vals["Tokens / s"] != "—":
        assert number(vals["Tokens / s"]) <= peak + 0.05


def test_no_axis_can_read_nan_an_empty_or_all_zero_line_gets_a_floor() -> None:
    frame = pd.DataFrame({"time": pd.to_datetime([T0, T0 + 1], unit="s", utc=True),
                          "series": ["a", "a"], "v": [0.0, 0.0], "segment": [0, 0]})
    floored = with_floor(with_show(frame, T0), "v", T0)
    hidden = floored[floored["show"] == 0]
    assert hidden["v"].tolist() == [1.0] and hidden["segment"].tolist() == [-1]
    busy = with_floor(with_show(frame.assign(v=[3.0, 5.0]), T0), "v", T0)
    assert len(busy) == 2  # a line that reaches the floor needs none
    empty = with_floor(with_show(frame.iloc[:0], T0), "v", T0)
    assert empty["v"].max() == 1.0 and (empty["show"] == 0).all()


def test_memory_labels_never_run_into_each_other_and_the_axis_reaches_past_total() -> None:
    store = young_store(10.0)
    rec = memory_page.build(MemorySpec("s", "UTC", 300.0), store.snapshot(300.0))
    chart = next(op for op in rec.walk() if isinstance(op, Chart) and op.key == "memory_chart")
    spec = json.loads(json.dumps(chart.spec, default=str))
    texts = [layer for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    assert {t["mark"]["baseline"] for t in texts} == {"bottom", "top"}  # above and below
    labels = chart.spec["datasets"][f"d{len(spec['layer']) - 1}"]
    assert set(labels["below"]) == {0.0, 1.0}


def _poll(ts: float, gauges: dict[str, float]) -> ServingStep:
    return ServingStep(ts=ts, dt=1.05, totals={"requests": 0.0}, per_model={}, per_client={},
                       buckets={}, bounds=None, gauges=gauges)


def test_the_queue_lines_do_not_break_while_the_server_answers() -> None:
    store = Store(SERVER, clock=lambda: T0)
    t = T0 - 120.0
    while t < T0:  # polls about a second apart, not on the grid
        store.add_serving(_poll(t, {"in_flight": 4.0, "queued": 2.0, "limit": 4.0}))
        t += 1.05
    win = store.snapshot(120.0).serving
    queue = serving_lines(win, T0 - 100.0, T0 - 5.0, window_s=120.0).queue
    for name in ("in flight", "queued", "limit"):
        assert queue[queue["series"] == name]["segment"].nunique() == 1, name


def test_request_charts_are_tall_titled_with_units_and_the_limit_is_dashed() -> None:
    spec = to_spec(lines_plan("queue", pd.DataFrame(
        {"time": pd.to_datetime([T0], unit="s", utc=True), "series": ["limit"],
         "requests": [4.0], "segment": [0]})))
    assert spec["height"] >= 250
    line = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "line")
    assert line["encoding"]["strokeDash"]["scale"]["range"][2] != [1, 0]  # the limit
    assert SPECS["requests"].title == "requests / s" and SPECS["tokens"].title == "tokens / s"
    assert not math.isnan(spec["height"])


def test_the_throughput_csv_of_the_chart_redraws_the_chart() -> None:
    import csv
    import io

    from opta_stream.views.recording import Download

    snap = young_store(10.0).snapshot(300.0)
    rec = throughput_page.build(ThroughputSpec("s", "UTC", 300.0), snap)
    files = {op.key: op for op in rec.walk() if isinstance(op, Download)}
    assert set(files) == {"throughput_rates_csv", "throughput_csv"}  # the chart's and raw
    data = files["throughput_rates_csv"].data
    rows = list(csv.DictReader(io.StringIO((data() if callable(data) else data).decode())))
    lines = [r for r in chart_data(rec, "throughput_chart")[3] if r["show"] == 1]
    assert [(r["series"], float(r["tokens_per_second"])) for r in rows] == [
        (r["series"], r["tokens_per_second"]) for r in lines]
    assert rows[-1]["series"] == "all models" and rows[-1]["rate_over_s"] == "10.0"  # now
    assert {r["rate_over_s"] for r in rows[:-1]} == {"10.0"}  # 5 min: 10 s rates


def test_the_sidebar_says_since_when_history_reaches_in_clock_time() -> None:
    """The sidebar is drawn with the page, not its live part: an age ("22 s ago") would
    stand still on screen, a clock time stays true. Today's is a time, an older one a date."""
    from dataclasses import replace
    from zoneinfo import ZoneInfo

    from opta_stream.snapshot import HistoryState
    from opta_stream.views.verdict import history_caption

    snap = Store(SERVER, clock=lambda: T0).snapshot(60.0)
    tokyo = ZoneInfo("Asia/Tokyo")  # T0 is 2026-11-18 11:06:40 UTC, 20:06:40 in Tokyo
    kept = HistoryState("recording", path="/data/h.sqlite3", since=T0 - 600.0)
    assert history_caption(replace(snap, history=kept), tokyo) == (
        "History: kept in /data/h.sqlite3, since 19:56:40.")
    older = replace(kept, since=T0 - 3 * 86400.0)
    assert history_caption(replace(snap, history=older), tokyo) == (
        "History: kept in /data/h.sqlite3, since Nov 15, 20:06.")
