"""Chart builders: frames, constant structure, layers, theme, summary numbers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from opta_stream.present import charts, frames
from opta_stream.snapshot import ModelInfo, Series, Snapshot, empty_series, frozen_array

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
    return spec["datasets"][holder["data"]["name"]]


# --- frames ---------------------------------------------------------------


def test_throughput_frame_columns_and_types():
    frame = frames.throughput_frame(_series([1.0, 2.5, 4.0], seg=[0, 0, 1]))
    assert list(frame.columns) == ["time", "tokens_per_second", "segment"]
    assert isinstance(frame["time"].dtype, pd.DatetimeTZDtype)
    assert str(frame["time"].dt.tz) == "UTC"
    assert frame["time"].iloc[0] == pd.Timestamp(T0, unit="s", tz="UTC")
    assert frame["tokens_per_second"].tolist() == [1.0, 2.5, 4.0]
    assert frame["segment"].tolist() == [0, 0, 1]


def test_throughput_frame_model_ids():
    s = _series([1, 2, 3, 4], model=[0, 1, -1, 7], names=("a", "b"))
    frame = frames.throughput_frame(s)
    assert list(frame.columns) == ["time", "tokens_per_second", "segment", "model_id"]
    ids = [None if pd.isna(v) else v for v in frame["model_id"]]
    assert ids == ["a", "b", None, None]


def test_throughput_frame_is_downsampled_across_models():
    n = 20_000
    s = _series(np.random.default_rng(0).random(n), model=np.arange(n) % 3,
                names=("a", "b", "c"))
    frame = frames.throughput_frame(s, max_points=500)
    assert len(frame) <= 500
    assert set(frame["model_id"]) == {"a", "b", "c"}


def test_aggregated_frame_plots_the_mean_but_keeps_the_peak_bucket():
    n = 3_000
    value = np.full(n, 10.0)
    hi = value.copy()
    hi[1_500] = 999.0
    frame = frames.throughput_frame(_series(value, hi=hi, resolution_s=10.0), max_points=100)
    peak_time = pd.Timestamp(T0 + 1_500, unit="s", tz="UTC")
    assert peak_time in set(frame["time"])
    assert frame["tokens_per_second"].max() == 10.0


def test_empty_series_gives_empty_typed_frame():
    frame = frames.throughput_frame(empty_series())
    assert len(frame) == 0
    assert list(frame.columns) == ["time", "tokens_per_second", "segment"]
    assert isinstance(frame["time"].dtype, pd.DatetimeTZDtype)


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
    assert frames.snapshot_window(snap) == (T0, T0 + 300.0)


# --- throughput chart ----------------------------------------------------


@pytest.mark.parametrize("per_model", [False, True])
def test_throughput_structure_is_constant_between_reruns(per_model):
    busy = _series(np.arange(2_000.0), seg=np.repeat([0, 1], 1_000),
                   model=np.arange(2_000) % 2, names=("a", "b"))
    a = charts.throughput_chart(frames.throughput_frame(busy), average=12.5,
                                gaps=[(T0 + 10, T0 + 20), (T0 + 1_990, None)],
                                per_model=per_model, window=(T0, T0 + 2_000))
    b = charts.throughput_chart(frames.throughput_frame(empty_series()), average=None,
                                gaps=(), per_model=per_model, window=None)
    assert _structure(a) == _structure(b)
    assert _data(b, 3) == [] and _data(b, 0) == [] and _data(b, 1) == []


def test_throughput_layers():
    chart = charts.throughput_chart(frames.throughput_frame(_series([1.0, 2.0])),
                                    average=1.5, gaps=[], per_model=False)
    gap, anchor, line, avg = chart.to_dict()["layer"]
    assert gap["mark"]["type"] == "rect"
    assert gap["encoding"]["x"]["field"] == "start" and gap["encoding"]["x2"]["field"] == "end"
    assert anchor["mark"]["opacity"] == 0
    assert line["mark"]["type"] == "line"
    assert line["mark"]["color"] == charts.PALETTE["primary"]
    assert line["encoding"]["detail"] == {"field": "segment", "type": "nominal"}
    assert line["encoding"]["x"]["type"] == "temporal"
    assert "color" not in line["encoding"]
    assert avg["mark"]["type"] == "rule" and avg["mark"]["strokeDash"] == [6, 4]
    assert _data(chart, 3) == [{"average": 1.5}]


def test_throughput_per_model_colors_and_labels_missing_ids():
    s = _series([1.0, 2.0, 3.0], model=[0, -1, 1], names=("a", "b"))
    chart = charts.throughput_chart(frames.throughput_frame(s), average=None, gaps=[],
                                    per_model=True)
    line = chart.to_dict()["layer"][2]
    assert line["encoding"]["color"]["field"] == "model_id"
    assert line["encoding"]["color"]["scale"]["range"] == list(charts.MODEL_COLORS)
    assert [r["model_id"] for r in _data(chart, 2)] == ["a", charts.NO_MODEL, "b"]
    no_ids = charts.throughput_chart(frames.throughput_frame(_series([1.0])), average=None,
                                     gaps=[], per_model=True)
    assert [r["model_id"] for r in _data(no_ids, 2)] == [charts.NO_MODEL]


def test_gaps_are_clipped_to_the_window_and_open_gaps_run_to_its_end():
    gaps = [(T0 - 50, T0 - 40), (T0 - 5, T0 + 5), (T0 + 20, T0 + 30), (T0 + 90, None)]
    chart = charts.throughput_chart(frames.throughput_frame(empty_series()), average=None,
                                    gaps=gaps, per_model=False, window=(T0, T0 + 100))
    iso = [(r["start"], r["end"]) for r in _data(chart, 0)]
    assert iso == [
        ("2027-01-15T08:00:00+00:00", "2027-01-15T08:00:05+00:00"),
        ("2027-01-15T08:00:20+00:00", "2027-01-15T08:00:30+00:00"),
        ("2027-01-15T08:01:30+00:00", "2027-01-15T08:01:40+00:00"),
    ]
    assert _data(chart, 1) == [{"time": "2027-01-15T08:00:00+00:00"},
                               {"time": "2027-01-15T08:01:40+00:00"}]


def test_times_are_utc_data_and_no_utc_scale_is_used():
    chart = charts.throughput_chart(frames.throughput_frame(_series([1.0])), average=None,
                                    gaps=[], per_model=False)
    text = json.dumps(_structure(chart)).lower()
    assert "utc" not in text  # no utc scale / time unit: the browser shows local time
    assert _data(chart, 2)[0]["time"].endswith("+00:00")


def test_theme_is_transparent_and_readable():
    config = charts.throughput_chart(frames.throughput_frame(empty_series()), average=None,
                                     gaps=[], per_model=False).to_dict()["config"]
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
    assert _data(full, 4) == [{"threshold_gb": 96.0}]  # 75 % of the latest total
    assert _data(bare, 4) == []
    layers = full.to_dict()["layer"]
    assert layers[4]["mark"]["strokeDash"] == [6, 4]
    assert [layers[i]["encoding"]["y"]["field"] for i in (2, 3)] == ["used_gb", "total_gb"]


def test_memory_threshold_needs_a_total():
    frame = frames.memory_frame(_series([1.0]), empty_series())
    chart = charts.memory_chart(frame, threshold_pct=90.0, gaps=[])
    assert _data(chart, 4) == []


def test_per_model_memory_chart():
    models = [ModelInfo("org/big", memory_gb=40.0), ModelInfo("small", memory_gb=4.5),
              ModelInfo("unknown")]
    chart = charts.per_model_memory_chart(models)
    assert _data(chart) == [{"model_id": "org/big", "memory_gb": 40.0},
                            {"model_id": "small", "memory_gb": 4.5}]
    assert _structure(chart) == _structure(charts.per_model_memory_chart([]))
    spec = chart.to_dict()
    assert spec["mark"]["type"] == "bar"
    assert spec["encoding"]["y"]["sort"] == "-x"


# --- gauge ------------------------------------------------------------------


def test_gauge_bands_bar_and_threshold():
    chart = charts.gauge_chart(30.0, 64.0, 85.0)
    assert _data(chart, 0) == [
        {"start": 0.0, "end": 38.4, "level": "normal", "row": "memory"},
        {"start": 38.4, "end": 51.2, "level": "high", "row": "memory"},
        {"start": 51.2, "end": 64.0, "level": "critical", "row": "memory"},
    ]
    assert _data(chart, 1) == [{"start": 0.0, "end": 30.0, "row": "memory"}]
    assert _data(chart, 2) == [{"threshold_gb": 54.4, "row": "memory"}]
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
    empty = charts.gauge_chart(*args)
    assert _structure(empty) == _structure(charts.gauge_chart(30.0, 64.0, 85.0))
    assert _data(empty, 3) == [{"text": "no memory figures yet", "row": "memory"}]
    assert _data(empty, 2) == []


def test_sparkline_has_no_axes():
    chart = charts.sparkline(frames.throughput_frame(_series([1.0, 3.0])))
    enc = chart.to_dict()["encoding"]
    assert enc["x"]["axis"] is None and enc["y"]["axis"] is None
    assert enc["detail"]["field"] == "segment"


# --- numbers ----------------------------------------------------------------


def test_summary_stats_exact():
    stats = frames.summary_stats(_series(np.arange(1.0, 101.0)))
    assert stats == {"p50": 50.5, "p95": pytest.approx(95.05), "max": 100.0,
                     "mean": 50.5, "latest": 100.0}


def test_summary_stats_empty_and_nan():
    assert frames.summary_stats(empty_series()) == dict.fromkeys(
        ["p50", "p95", "max", "mean", "latest"])
    stats = frames.summary_stats(_series([2.0, np.nan, 4.0, np.nan]))
    assert stats["mean"] == 3.0 and stats["latest"] == 4.0 and stats["max"] == 4.0
    assert frames.summary_stats(_series([np.nan]))["p50"] is None


def test_summary_stats_aggregated_max_comes_from_hi():
    stats = frames.summary_stats(_series([10.0, 20.0], hi=[15.0, 80.0], resolution_s=10.0))
    assert stats["max"] == 80.0 and stats["mean"] == 15.0


def test_chart_specs_are_valid_vega_lite():
    # to_dict validates against the bundled Vega-Lite schema and raises if not.
    for chart in (
        charts.throughput_chart(frames.throughput_frame(_series([1.0])), average=1.0,
                                gaps=[(T0, None)], per_model=True, window=(T0, T0 + 5)),
        charts.memory_chart(frames.memory_frame(_series([1.0]), _series([2.0])),
                            threshold_pct=50.0, gaps=[]),
        charts.per_model_memory_chart([ModelInfo("m", 1.0)]),
        charts.gauge_chart(1.0, 2.0, 50.0),
        charts.sparkline(frames.throughput_frame(empty_series())),
    ):
        assert chart.to_dict(validate=True)


def test_memory_chart_names_the_total_line_and_the_threshold() -> None:
    from opta_stream.present.frames import memory_labels, threshold_gb

    frame = pd.DataFrame({"time": pd.to_datetime([0.0, 1.0], unit="s", utc=True),
                          "used_gb": [5.0, 6.0], "total_gb": [24.0, 24.0], "segment": [0, 0]})
    limit = threshold_gb(frame, 90)
    labels = memory_labels(frame, 90, limit, (0.0, 10.0))
    assert labels["label"].tolist() == ["total 24.0 GB", "threshold 90 %"]
    assert labels["gb"].tolist() == [24.0, pytest.approx(21.6)]
    assert memory_labels(frame.iloc[:0], None, None, (0.0, 10.0)).empty
