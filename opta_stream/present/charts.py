"""Pure builders: the DataFrames from ``frames`` → Altair charts.

Pages call these inside a fragment that reruns twice a second, so two rules
shape everything here:

- **Cheap.** Series are downsampled on the way in (by ``frames``, about
  1,000 rows per chart) and encodings use channel objects, not shorthand
  strings: Altair parses a shorthand through its schema on every call,
  which alone costs more than the whole budget of a tick.
- **Constant structure.** The same layers and encodings come out whatever
  the data: a layer with nothing to show (no gap, no average yet) gets an
  empty DataFrame instead of being dropped. Only the data changes between
  reruns, so Streamlit updates the chart in place instead of remounting it.

Times are tz-aware UTC timestamps. Vega-Lite draws temporal fields in the
viewer's local time unless a ``utc`` scale or time unit asks otherwise, so
none is used: the browser shows local time and the data stays UTC.

The DataFrames themselves (each layer's data) are built in ``frames``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from opta_stream.present.chart_specs import ChartPlan
from opta_stream.present.frames import (
    NO_MODEL,
    Gaps,
    Window,
    finite,
    gauge_bands,
    gauge_note,
    gauge_used,
    memory_data,
    one,
    throughput_data,
)
from opta_stream.snapshot import ModelInfo

__all__ = [
    "MODEL_COLORS",
    "NO_MODEL",
    "PALETTE",
    "gauge_chart",
    "memory_chart",
    "memory_layers",
    "memory_plan",
    "per_model_memory_chart",
    "per_model_memory_plan",
    "sparkline",
    "sparkline_plan",
    "throughput_chart",
    "throughput_layers",
    "throughput_plan",
]

PALETTE = {
    "background": "#09090b", "surface": "#18181b", "primary": "#8b5cf6",
    "text": "#fafafa", "muted": "#a1a1aa", "grid": "#27272a", "border": "#3f3f46",
    "green": "#22c55e", "amber": "#f59e0b", "red": "#ef4444",
}
MODEL_COLORS = ("#8b5cf6", "#22d3ee", "#f472b6", "#60a5fa", "#a3e635", "#fb923c", "#2dd4bf")
_LEVELS = ("normal", "high", "critical")  # capacity bands: <60 %, 60-80 %, >80 %

# --- shared layers ----------------------------------------------------------

_CONFIG = alt.Config(
    background="transparent",  # let the app's dark theme show through
    axis=alt.AxisConfig(labelColor=PALETTE["muted"], titleColor=PALETTE["muted"],
                        gridColor=PALETTE["grid"], domainColor=PALETTE["border"],
                        tickColor=PALETTE["border"]),
    legend=alt.LegendConfig(labelColor=PALETTE["text"], titleColor=PALETTE["muted"],
                            orient="bottom"),
    view=alt.ViewConfig(stroke=None),
)


def _layered(layers: list[alt.Chart], height: int) -> alt.LayerChart:
    """A data-less layer chart: data is attached per tick (``ChartPlan.chart``)."""
    return alt.LayerChart(layer=layers, height=height, config=_CONFIG)


# 24-hour labels in the viewer's local time; seconds only where a tick has them.
# Vega's default multi-format uses 12-hour labels with no AM/PM ("03:20").
_TIME_LABELS = (
    "timeFormat(datum.value, seconds(datum.value) ? '%H:%M:%S' : '%H:%M')"
)


def _x(field: str) -> alt.X:
    return alt.X(field=field, type="temporal", title=None, axis=alt.Axis(labelExpr=_TIME_LABELS))


def _seg() -> alt.Detail:
    return alt.Detail(field="segment", type="nominal")


def _gap_layer() -> alt.Chart:
    tips = [alt.Tooltip(field=f, type="temporal", title=t, format="%H:%M:%S")
            for f, t in (("start", "feed down from"), ("end", "until"))]
    return alt.Chart().mark_rect(color=PALETTE["muted"], opacity=0.18).encode(
        x=_x("start"), x2=alt.X2(field="end"), tooltip=tips)


def _anchor_layer() -> alt.Chart:
    return alt.Chart().mark_point(opacity=0).encode(x=_x("time"))


def _rule(field: str, tip_title: str, axis_title: str, color: str) -> alt.Chart:
    """A dashed horizontal rule; same axis title as its chart so none is merged in."""
    tip = alt.Tooltip(field=field, type="quantitative", title=tip_title, format=".1f")
    return alt.Chart().mark_rule(color=color, strokeDash=[6, 4], strokeWidth=1.5).encode(
        y=alt.Y(field=field, type="quantitative", title=axis_title), tooltip=[tip])


# --- charts -----------------------------------------------------------------


def throughput_layers(*, per_model: bool, height: int = 260) -> alt.LayerChart:
    """The throughput chart's structure, without data (see ``throughput_data``)."""
    enc = {"x": _x("time"), "detail": _seg(),
           "y": alt.Y(field="tokens_per_second", type="quantitative", title="tokens/s")}
    mark: dict[str, Any] = {"strokeWidth": 1.5}
    if per_model:
        enc["color"] = alt.Color(field="model_id", type="nominal", title=None,
                                 scale=alt.Scale(range=list(MODEL_COLORS)))
    else:
        mark["color"] = PALETTE["primary"]
    line = alt.Chart().mark_line(**mark).encode(**enc)
    avg = _rule("average", "average tokens/s", "tokens/s", PALETTE["muted"])
    return _layered([_gap_layer(), _anchor_layer(), line, avg], height)


def throughput_chart(
    frame: pd.DataFrame, *, average: float | None, gaps: Gaps, per_model: bool,
    window: Window | None = None, height: int = 260,
) -> alt.TopLevelMixin:
    """Tokens/s lines (one path per segment), dashed average, shaded gaps.

    ``window`` (unix seconds) pins the x axis and ends open gaps; pages pass
    ``snapshot_window(snap)``.
    """
    return throughput_plan(frame, average=average, gaps=gaps, per_model=per_model,
                           window=window, height=height).chart()


def throughput_plan(
    frame: pd.DataFrame, *, average: float | None, gaps: Gaps, per_model: bool,
    window: Window | None = None, height: int = 260,
) -> ChartPlan:
    """What a tick needs: the structure's key and builder, and this tick's data."""
    return ChartPlan(("throughput", per_model, height),
                     partial(throughput_layers, per_model=per_model, height=height),
                     throughput_data(frame, average=average, gaps=gaps,
                                     per_model=per_model, window=window))


def memory_layers(*, height: int = 220) -> alt.LayerChart:
    """Used GB (area), total GB (line), the server's threshold (dashed rule), labels."""
    used = alt.Chart().mark_area(
        color=PALETTE["primary"], fillOpacity=0.2,
        line=alt.OverlayMarkDef(color=PALETTE["primary"], strokeWidth=1.5),
    ).encode(x=_x("time"), detail=_seg(),
             y=alt.Y(field="used_gb", type="quantitative", title="GB", stack=None))
    total = alt.Chart().mark_line(color=PALETTE["muted"], strokeWidth=1).encode(
        x=_x("time"), y=alt.Y(field="total_gb", type="quantitative", title="GB"), detail=_seg())
    limit = _rule("threshold_gb", "threshold GB", "GB", PALETTE["red"])
    layers = [_gap_layer(), _anchor_layer(), used, total, limit, _label_layer()]
    return _layered(layers, height)


def memory_chart(
    frame: pd.DataFrame, *, threshold_pct: float | None, gaps: Gaps,
    window: Window | None = None, height: int = 220,
) -> alt.TopLevelMixin:
    """Used against total memory over the window, threshold marked, gaps shaded."""
    return memory_plan(frame, threshold_pct=threshold_pct, gaps=gaps, window=window,
                       height=height).chart()


def memory_plan(
    frame: pd.DataFrame, *, threshold_pct: float | None, gaps: Gaps,
    window: Window | None = None, height: int = 220,
) -> ChartPlan:
    """The memory chart as a cached structure plus this tick's data."""
    return ChartPlan(("memory", height), partial(memory_layers, height=height),
                     memory_data(frame, threshold_pct=threshold_pct, gaps=gaps, window=window))


def _label_layer() -> alt.Chart:
    """Names the total line and the threshold rule at the right edge."""
    return alt.Chart().mark_text(
        align="right", baseline="bottom", dy=-3, fontSize=11, color=PALETTE["muted"],
    ).encode(x=_x("time"), y=alt.Y(field="gb", type="quantitative", title="GB"),
             text=alt.Text(field="label", type="nominal"))


def per_model_memory_plan(models: Sequence[ModelInfo]) -> ChartPlan:
    """The per-model bars as a cached structure plus this tick's data."""
    frame = _model_memory_frame(models)
    return ChartPlan(("per_model_memory",), partial(_model_bars, frame.iloc[:0]), [frame])


def per_model_memory_chart(models: Sequence[ModelInfo]) -> alt.Chart:
    """One horizontal bar per loaded model; models without a figure are left out."""
    return _model_bars(_model_memory_frame(models))


def _model_memory_frame(models: Sequence[ModelInfo]) -> pd.DataFrame:
    rows = [(m.model_id, float(m.memory_gb)) for m in models if finite(m.memory_gb)]
    return pd.DataFrame({"model_id": pd.Series([r[0] for r in rows], dtype=object),
                         "memory_gb": np.array([r[1] for r in rows], dtype=np.float64)})


def _model_bars(frame: pd.DataFrame) -> alt.Chart:
    tips = [alt.Tooltip(field="model_id", type="nominal", title="model"),
            alt.Tooltip(field="memory_gb", type="quantitative", title="GB", format=".2f")]
    return alt.Chart(frame, height=alt.Step(22), config=_CONFIG).mark_bar(
        color=PALETTE["primary"], cornerRadiusEnd=3,
    ).encode(
        x=alt.X(field="memory_gb", type="quantitative", title="GB"),
        y=alt.Y(field="model_id", type="nominal", title=None, sort="-x",
                axis=alt.Axis(labelLimit=260)),
        tooltip=tips,
    )


def gauge_chart(
    used_gb: float | None, total_gb: float | None, threshold_pct: float | None,
    *, height: int = 72,
) -> alt.TopLevelMixin:
    """Bullet gauge: green/amber/red bands (60/80 % of capacity), used bar,
    threshold tick; a note instead when the server reported no figures.

    The layers share one nominal ``row`` on y, so the bands fill the view
    and the bar takes 40 % of it; the threshold rule has no y, so it spans
    the view. ``height`` includes the axis (Streamlit fits the spec into
    it), hence no axis title: the page's label says what the gauge measures.
    No mark may overflow the view, or fitting shrinks the plot to a sliver.
    """
    total = float(total_gb) if finite(total_gb) and total_gb > 0 else None
    used = float(used_gb) if finite(used_gb) else None
    y = alt.Y(field="row", type="nominal", axis=None, scale=alt.Scale(padding=0))
    x = alt.X(field="start", type="quantitative", title=None, axis=alt.Axis(format="~g"))
    bands = alt.Chart().mark_rect(opacity=0.35).encode(
        x=x, x2=alt.X2(field="end"), y=y,
        color=alt.Color(field="level", type="nominal", legend=None, scale=alt.Scale(
            domain=list(_LEVELS), range=[PALETTE["green"], PALETTE["amber"], PALETTE["red"]])))
    bar = alt.Chart().mark_bar(color=PALETTE["text"], height=alt.RelativeBandSize(band=0.4)).encode(
        x=x, x2=alt.X2(field="end"), y=y,
        tooltip=[alt.Tooltip(field="end", type="quantitative", title="used GB", format=".2f")])
    tick = alt.Chart().mark_rule(color=PALETTE["red"], strokeWidth=3).encode(
        x=alt.X(field="threshold_gb", type="quantitative"),
        tooltip=[alt.Tooltip(field="threshold_gb", type="quantitative",
                             title="threshold GB", format=".1f")])
    note = alt.Chart().mark_text(align="left", dx=4, color=PALETTE["muted"]).encode(
        text=alt.Text(field="text", type="nominal"), x=alt.XValue(0), y=y)
    limit = total * threshold_pct / 100.0 if total and finite(threshold_pct) else None
    frames = [gauge_bands(total, _LEVELS), gauge_used(used), one("threshold_gb", limit),
              gauge_note(used, total)]
    return ChartPlan(("gauge", height), lambda: _layered([bands, bar, tick, note], height),
                     [f.assign(row="memory") for f in frames]).chart()


def sparkline_plan(frame: pd.DataFrame, *, height: int = 48) -> ChartPlan:
    """The sparkline as a cached structure plus this tick's data."""
    return ChartPlan(("sparkline", height), partial(sparkline, frame.iloc[:0], height=height),
                     [frame])


def sparkline(frame: pd.DataFrame, *, height: int = 48) -> alt.Chart:
    """A small tokens/s line with no axes, for the overview cards."""
    return alt.Chart(frame, height=height, config=_CONFIG).mark_line(
        color=PALETTE["primary"], strokeWidth=1.5,
    ).encode(
        x=alt.X(field="time", type="temporal", axis=None),
        y=alt.Y(field="tokens_per_second", type="quantitative", axis=None),
        detail=_seg(),
    )
