"""Chart builders: frames, constant structure, layers, theme, summary numbers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from opta_stream.charts import frames
from opta_stream.charts import parts as chart_parts
from opta_stream.charts import small_charts as cards
from opta_stream.charts import time_charts as charts
from opta_stream.charts.throughput_lines import TOTAL, throughput_view
from opta_stream.figures import windows
from opta_stream.snapshot import (
    LogEntry,
    ModelInfo,
    Series,
    Snapshot,
    empty_series,
    frozen_array,
)

T0 = 1_800_000_000.0


def _series(value, *, ts=None, seg=None, model=None, names=(), lo=None, hi=None,
            resolution_s=0.0) -> Series:
    value = np.asarray(value, dtype=np.float64)
    n = value.size
    return Series(
        ts=frozen_array(T0 + np.arange(n, dtype=np.float64) if ts is None else ts),
        value=frozen_array(value),
        lo=frozen_array(value if lo is None else lo),
        hi=frozen_array(value if hi is None else hi),
        seg=frozen_array(np.zeros(n) if seg is None else seg, np.int64),
        model=frozen_array(np.full(n, -1) if model is None else model, np.int32),
        model_names=tuple(names),
        resolution_s=resolution_s,
    )


def _structure(chart) -> dict:
    """The spec without its data: what must not change between reruns."""
    spec = chart.to_dict()
    spec.pop("datasets", None)
    spec.pop("data", None)
    for layer in spec.get("layer", []):
        layer.pop("data", None)
    return spec


def _data(chart, layer: int | None = None) -> list[dict]:
    spec = chart.to_dict()
    holder = spec if layer is None else spec["layer"][layer]
    if "data" not in holder:  # Altair lifts data shared by every layer to the top
        holder = spec
    return spec["datasets"][holder["data"]["name"]]


# --- frames ---------------------------------------------------------------


def _snap(series: Series, window_s: float = 60.0, taken_at: float | None = None) -> Snapshot:
    end = T0 + len(series) if taken_at is None else taken_at
    return Snapshot(server="s", taken_at=end, window_s=window_s, throughput=series)


def test_throughput_view_lines_columns_and_types():
    view = throughput_view(_snap(_series([1.0, 2.5, 4.0]), window_s=10.0))
    frame = view.lines
    assert list(frame.columns) == ["time", "series", "tokens_per_second", "segment", "alone"]
    assert isinstance(frame["time"].dtype, pd.DatetimeTZDtype)
    assert str(frame["time"].dt.tz) == "UTC"
    assert view.names == (TOTAL,)  # one unnamed source: the total line only
    # samples at T0, T0+1, T0+2 (window T0-7 .. T0+3): the 10 s mean up to each second
    assert frame["tokens_per_second"].tolist() == [1.0, 1.75, 2.5, 2.5]
    assert frame["time"].iloc[0] == pd.Timestamp(T0, unit="s", tz="UTC")


def test_throughput_view_has_a_line_per_model_and_their_sum():
    s = _series([10.0, 20.0, 30.0, 40.0], model=[0, 1, 0, 1], names=("org/a", "org/b"))
    view = throughput_view(_snap(s, window_s=10.0), now=50.0)
    assert view.names == ("org/a", "org/b", TOTAL)
    assert view.colors[:2] == (chart_parts.model_color(0), chart_parts.model_color(1))
    last = view.lines.groupby("series", observed=True)["tokens_per_second"].last().to_dict()
    assert last == {"org/a": 20.0, "org/b": 30.0, TOTAL: 50.0}  # means of (10, 30), (20, 40)
    assert view.now == 50.0 and view.peak == 50.0


def test_a_models_colour_does_not_depend_on_the_window():
    names = ("a", "b", "gemma", "d", "e", "f")
    with_a = throughput_view(_snap(_series([1.0, 2.0, 3.0], model=[0, 2, 5], names=names), 10.0))
    without_a = throughput_view(_snap(_series([1.0, 2.0], model=[2, 5], names=names), 3600.0))
    gemma = {dict(zip(v.names, v.colors, strict=True))["gemma"] for v in (with_a, without_a)}
    assert gemma == {chart_parts.model_color(2)}
    assert chart_parts.model_color(2) != chart_parts.model_color(5)


def test_throughput_view_keeps_lines_under_the_point_budget():
    n = 20_000
    s = _series(np.random.default_rng(0).random(n), model=np.arange(n) % 3,
                names=("a", "b", "c"))
    view = throughput_view(_snap(s, window_s=float(n)), max_points=1000)
    assert len(view.lines) <= 1000
    assert set(view.lines["series"]) == {"a", "b", "c", TOTAL}


def test_aggregated_series_rate_is_the_bucket_mean():
    n = 300
    value = np.full(n, 10.0)
    hi = value.copy()
    hi[150] = 999.0
    s = _series(value, ts=T0 + 60.0 * np.arange(n), hi=hi, resolution_s=60.0)
    view = throughput_view(_snap(s, window_s=60.0 * n, taken_at=T0 + 60.0 * n))
    assert view.peak == 10.0 and view.average == 10.0
    assert view.grid.over_s >= 60.0


def test_empty_series_gives_empty_typed_lines():
    view = throughput_view(_snap(empty_series(), taken_at=T0))
    assert len(view.lines) == 0
    assert isinstance(view.lines["time"].dtype, pd.DatetimeTZDtype)
    assert view.average is None and view.now is None


def test_memory_frame_shares_rows_or_interpolates_total():
    used = _series([10.0, 12.0, 14.0])
    same = frames.memory_frame(used, _series([64.0, 64.0, 64.0]))
    assert same["total_gb"].tolist() == [64.0, 64.0, 64.0]
    other = _series([60.0, 70.0], ts=np.array([T0, T0 + 2.0]))
    shifted = frames.memory_frame(used, other)
    assert shifted["total_gb"].tolist() == [60.0, 65.0, 70.0]
    none = frames.memory_frame(used, empty_series())
    assert none["total_gb"].isna().all()
    assert list(same.columns) == ["time", "used_gb", "total_gb", "segment"]


def test_snapshot_window():
    snap = Snapshot(server="s", taken_at=T0 + 300.0, window_s=300.0)
    assert windows.snapshot_window(snap) == (T0, T0 + 300.0)


# --- throughput chart ----------------------------------------------------


def test_throughput_structure_is_constant_between_reruns():
    names = ("a", "b")
    busy = _series(np.arange(2_000.0), seg=np.repeat([0, 1], 1_000),
                   model=np.arange(2_000) % 2, names=names)
    idle = _series(np.zeros(4), model=[0, 1, 0, 1], names=names)
    a = charts.throughput_chart(throughput_view(_snap(busy, 3600.0)),
                                gaps=[(T0 + 10, T0 + 20), (T0 + 1_990, None)],
                                window=(T0, T0 + 2_000))
    b = charts.throughput_chart(throughput_view(_snap(idle, 60.0)), gaps=(), window=(T0, T0 + 4))
    assert _structure(a) == _structure(b)
    # nothing to show is a hidden placeholder row, never an empty layer (Vega warns)
    assert _data(b, 0) == [{"start": "2027-01-15T08:00:00+00:00",
                            "end": "2027-01-15T08:00:00+00:00"}]
    assert [r["show"] for r in _data(b, 2)] == [0.0]


def test_throughput_layers():
    view = throughput_view(_snap(_series([1.0, 2.0]), window_s=5.0))
    chart = charts.throughput_chart(view)
    gap, anchor, marks, line, dots, avg, halo, label = chart.to_dict()["layer"]
    assert dots["mark"]["type"] == "point" and dots["encoding"]["opacity"]["field"] == "alone"
    assert gap["mark"]["type"] == "rect"
    assert gap["encoding"]["x"]["field"] == "start" and gap["encoding"]["x2"]["field"] == "end"
    assert anchor["mark"]["opacity"] == 0
    assert marks["mark"]["type"] == "rule" and marks["encoding"]["opacity"]["field"] == "show"
    assert line["mark"]["type"] == "line"
    assert line["encoding"]["detail"] == {"field": "segment", "type": "nominal"}
    assert line["encoding"]["x"]["type"] == "temporal"
    assert [t["field"] for t in line["encoding"]["tooltip"]] == [
        "time", "series", "tokens_per_second"]
    assert line["encoding"]["color"]["scale"]["range"] == [charts.PALETTE["primary"]]
    assert avg["mark"]["type"] == "rule" and avg["mark"]["strokeDash"] == [6, 4]
    # points at T0 (1.0), T0+1 and T0+2 (the 10 s mean, 1.5); earlier seconds have none
    assert _data(chart, 5) == [{"average": 4 / 3, "label": "average 1.3 tokens/s",
                                "show": 1.0}]
    assert label["mark"]["type"] == "text" and label["encoding"]["text"]["field"] == "label"
    # the same words first, stroked in the page's background: readable across a line
    assert halo["encoding"] == label["encoding"] and _data(chart, 6) == _data(chart, 7)
    assert halo["mark"]["stroke"] == charts.PALETTE["background"] and halo["mark"]["strokeWidth"]
    assert not label["mark"]["strokeWidth"]


def test_legends_keep_the_end_of_long_ids():
    names = ("mlx-community/Qwen2.5-Coder-32B-Instruct-4bit", "mlx-community/gemma-2-9b-it-4bit")
    s = _series([1.0, 2.0], model=[0, 1], names=names)
    line = charts.throughput_chart(throughput_view(_snap(s, 5.0))).to_dict()["layer"][3]
    legend = line["encoding"]["color"]["legend"]
    assert "slice(datum.label, -29)" in legend["labelExpr"] and legend["labelLimit"] == 0
    assert line["encoding"]["color"]["scale"]["domain"] == [*names, TOTAL]


def test_markers_are_lifecycle_events_inside_the_window():
    entries = [LogEntry(1, T0 + 1, "model_loaded", "model", "info", "Loaded a"),
               LogEntry(2, T0 + 2, "request_completed", "other", "info", "not a marker"),
               LogEntry(3, T0 - 50, "server_restarted", "server", "warning", "outside"),
               LogEntry(4, T0 + 3, "server_restarted", "server", "warning", "Server restarted")]
    marks = frames.marker_frame(entries, (T0, T0 + 10))
    assert marks["label"].tolist() == ["loaded: Loaded a", "server restarted: Server restarted"]
    assert marks["show"].tolist() == [1.0, 1.0]
    hidden = frames.marker_frame([], (T0, T0 + 10))
    assert hidden["show"].tolist() == [0.0]


def test_gaps_are_clipped_to_the_window_and_open_gaps_run_to_its_end():
    gaps = [(T0 - 50, T0 - 40), (T0 - 5, T0 + 5), (T0 + 20, T0 + 30), (T0 + 90, None)]
    view = throughput_view(_snap(empty_series(), taken_at=T0 + 100))
    chart = charts.throughput_chart(view, gaps=gaps, window=(T0, T0 + 100))
    iso = [(r["start"], r["end"]) for r in _data(chart, 0)]
    assert iso == [
        ("2027-01-15T08:00:00+00:00", "2027-01-15T08:00:05+00:00"),
        ("2027-01-15T08:00:20+00:00", "2027-01-15T08:00:30+00:00"),
        ("2027-01-15T08:01:30+00:00", "2027-01-15T08:01:40+00:00"),
    ]
    assert _data(chart, 1) == [{"time": "2027-01-15T08:00:00+00:00"},
                               {"time": "2027-01-15T08:01:40+00:00"}]


def test_times_are_utc_data_and_the_axis_names_the_zone():
    view = throughput_view(_snap(_series([1.0]), window_s=5.0))
    chart = charts.throughput_chart(view, axis=chart_parts.TimeAxis(zone="Europe/Berlin"))
    spec = _structure(chart)
    assert spec["layer"][3]["encoding"]["x"]["title"] == "local time (Europe/Berlin)"
    text = json.dumps(spec).lower()
    assert "utc" not in text  # no utc scale / time unit: the browser shows local time
    assert _data(chart, 3)[0]["time"].endswith("+00:00")


def test_long_windows_put_dates_on_the_axis():
    short, long = chart_parts.TimeAxis.for_window(3600.0), chart_parts.TimeAxis.for_window(86400.0)
    assert "%d %b" not in short.x("time").to_dict()["axis"]["labelExpr"]
    assert "%d %b" in long.x("time").to_dict()["axis"]["labelExpr"]


def test_an_idle_axis_has_no_decimal_ticks():
    line = charts.throughput_chart(throughput_view(_snap(_series([0.0]), 5.0))).to_dict()
    axis = line["layer"][3]["encoding"]["y"]["axis"]
    assert axis["format"] == "~s" and axis["tickMinStep"] == 1


def test_theme_is_transparent_and_readable():
    view = throughput_view(_snap(empty_series(), taken_at=T0))
    config = charts.throughput_chart(view).to_dict()["config"]
    assert config["background"] == "transparent"
    assert config["axis"]["labelColor"] == charts.PALETTE["muted"]
    assert config["legend"]["labelColor"] == charts.PALETTE["text"]


# --- memory ---------------------------------------------------------------


def test_memory_chart_threshold_and_constant_structure():
    used, total = _series([20.0, 30.0]), _series([64.0, 128.0])
    full = charts.memory_chart(frames.memory_frame(used, total), threshold_pct=75.0,
                               gaps=[(T0, T0 + 1)], window=(T0, T0 + 2))
    bare = charts.memory_chart(frames.memory_frame(empty_series(), empty_series()),
                               threshold_pct=None, gaps=[])
    assert _structure(full) == _structure(bare)
    assert _data(full, 5) == [{"threshold_gb": 96.0, "show": 1.0}]  # 75 % of the latest total
    assert _data(bare, 5) == [{"threshold_gb": 0.0, "show": 0.0}]  # hidden placeholder
    layers = full.to_dict()["layer"]
    assert layers[5]["mark"]["strokeDash"] == [6, 4]
    assert [layers[i]["encoding"]["y"]["field"] for i in (3, 4)] == ["used_gb", "total_gb"]
    assert layers[3]["encoding"]["y"]["scale"] == {"zero": True, "nice": True}
    assert [t["field"] for t in layers[3]["encoding"]["tooltip"]] == [
        "time", "used_gb", "total_gb"]


def test_memory_threshold_needs_a_total():
    frame = frames.memory_frame(_series([1.0]), empty_series())
    chart = charts.memory_chart(frame, threshold_pct=90.0, gaps=[])
    assert [r["show"] for r in _data(chart, 5)] == [0.0]


def test_per_model_memory_chart_runs_to_total_with_values_and_the_unattributed_rest():
    models = [ModelInfo("small", memory_gb=4.5), ModelInfo("org/big", memory_gb=10.0),
              ModelInfo("unknown")]
    chart = cards.per_model_memory_chart(models, used_gb=17.0, total_gb=23.5)
    assert _data(chart, 0) == [
        {"model_id": "org/big", "memory_gb": 10.0, "label": "10.0 GB", "kind": "model"},
        {"model_id": "small", "memory_gb": 4.5, "label": "4.5 GB", "kind": "model"},
        {"model_id": cards.UNATTRIBUTED, "memory_gb": 2.5, "label": "2.5 GB", "kind": "other"}]
    bars, values = chart.to_dict()["layer"]
    assert bars["mark"]["type"] == "bar" and values["mark"]["type"] == "text"
    assert bars["encoding"]["x"]["scale"] == {"domain": [0, 23.5]}
    assert bars["encoding"]["x"]["axis"]["tickMinStep"] == 1
    same_rows = [ModelInfo("x", memory_gb=1.0), ModelInfo("y", memory_gb=2.0)]
    assert _structure(chart) == _structure(cards.per_model_memory_chart(same_rows, 5.0, 23.5))
    # what the models account for in full leaves no "unattributed" row
    assert len(_data(cards.per_model_memory_chart(models, 14.5, 23.5), 0)) == 2


# --- gauge ------------------------------------------------------------------


def test_gauge_bands_bar_and_threshold():
    chart = cards.gauge_chart(30.0, 64.0, 85.0)
    assert _data(chart, 0) == [
        {"start": 0.0, "end": 38.4, "level": "normal", "row": "memory"},
        {"start": 38.4, "end": 51.2, "level": "high", "row": "memory"},
        {"start": 51.2, "end": 64.0, "level": "critical", "row": "memory"},
    ]
    assert _data(chart, 1) == [{"start": 0.0, "end": 30.0, "row": "memory"}]
    assert _data(chart, 2) == [{"threshold_gb": 54.4, "show": 1.0, "row": "memory"}]
    assert _data(chart, 3) == []
    layers = chart.to_dict()["layer"]
    colors = layers[0]["encoding"]["color"]["scale"]["range"]
    assert colors == [charts.PALETTE["green"], charts.PALETTE["amber"], charts.PALETTE["red"]]
    assert layers[0]["encoding"]["y"]["field"] == "row"  # bands fill the view's height
    assert layers[1]["mark"]["height"] == {"band": 0.4}  # the used bar sits inside them
    assert "y" not in layers[2]["encoding"]  # the threshold rule spans the whole height


@pytest.mark.parametrize("args", [(None, None, None), (12.0, None, 80.0), (None, 0.0, None),
                                  (float("nan"), 64.0, float("nan"))])
def test_gauge_empty_state_keeps_structure(args):
    empty = cards.gauge_chart(*args)
    assert _structure(empty) == _structure(cards.gauge_chart(30.0, 64.0, 85.0))
    assert _data(empty, 3) == [{"text": "no memory figures yet", "row": "memory"}]
    assert [r["show"] for r in _data(empty, 2)] == [0.0]


def test_sparkline_has_no_axes():
    view = throughput_view(_snap(_series([1.0, 3.0]), 5.0))
    chart = cards.sparkline(view.lines)
    enc = chart.to_dict()["encoding"]
    assert enc["x"]["axis"] is None and enc["y"]["axis"] is None
    assert enc["detail"]["field"] == "segment"


# --- numbers ----------------------------------------------------------------


def test_chart_specs_are_valid_vega_lite():
    # to_dict validates against the bundled Vega-Lite schema and raises if not.
    for chart in (
        charts.throughput_chart(throughput_view(_snap(_series([1.0, 2.0], model=[0, 1],
                                                              names=("a", "b")), 5.0)),
                                gaps=[(T0, None)], window=(T0, T0 + 5)),
        charts.memory_chart(frames.memory_frame(_series([1.0]), _series([2.0])),
                            threshold_pct=50.0, gaps=[]),
        cards.per_model_memory_chart([ModelInfo("m", 1.0)], 2.0, 4.0),
        cards.gauge_chart(1.0, 2.0, 50.0),
        cards.sparkline(throughput_view(_snap(empty_series(), taken_at=T0)).lines),
    ):
        assert chart.to_dict(validate=True)


def test_memory_chart_names_the_total_line_and_the_threshold() -> None:
    from opta_stream.charts.frames import memory_labels, threshold_gb

    frame = pd.DataFrame({"time": pd.to_datetime([0.0, 1.0], unit="s", utc=True),
                          "used_gb": [5.0, 6.0], "total_gb": [24.0, 24.0], "segment": [0, 0]})
    limit = threshold_gb(frame, 90)
    labels = memory_labels(frame, 90, limit, (0.0, 10.0))
    assert labels["label"].tolist() == ["total 24.0 GB", "threshold 90 %"]
    assert labels["gb"].tolist() == [24.0, pytest.approx(21.6)]
    assert memory_labels(frame.iloc[:0], None, None, (0.0, 10.0)).empty


# --- the rate definition, against a plain loop -------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(hst.lists(hst.tuples(hst.floats(0, 120), hst.floats(0, 500), hst.integers(0, 2)),
                 max_size=80),
       hst.sampled_from([(1.0, 10.0), (2.0, 10.0), (5.0, 60.0), (15.0, 60.0), (60.0, 60.0)]))
def test_rate_grid_is_each_models_mean_over_its_window_summed(samples, step_over):
    from opta_stream.figures.tokens import rate_grid

    step, over = step_over
    samples.sort()
    s = _series([v for _, v, _ in samples], ts=np.array([t for t, _, _ in samples]),
                model=[m for _, _, m in samples], names=("a", "b", "c"))
    grid = rate_grid(s, 0.0, 120.0, step_s=step, over_s=over)
    for i, at in enumerate(grid.t):
        per = {}
        for t, v, m in samples:
            if at - over < t <= at:
                per.setdefault(m, []).append(v)
        want = sum(sum(vs) / len(vs) for vs in per.values()) if per else None
        if want is None:
            assert np.isnan(grid.total[i])
        else:
            assert grid.total[i] == pytest.approx(want, rel=1e-9, abs=1e-9)
