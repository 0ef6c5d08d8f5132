"""Pure builders: the DataFrames from ``frames`` / ``throughput`` → time-series charts.

Pages call these inside a fragment that reruns twice a second, so two rules
shape everything here:

- **Cheap.** Series are reduced on the way in (about 1,000 points per chart)
  and encodings use channel objects, not shorthand strings: Altair parses a
  shorthand through its schema on every call.
- **Constant structure.** The same layers and encodings come out whatever
  the data: a layer with nothing to show gets an invisible placeholder row
  (an empty layer makes Vega warn about an infinite extent several times a
  second). Only the data changes between reruns, so Streamlit updates the
  chart in place instead of remounting it.

Times are tz-aware UTC timestamps; the browser shows local time and the axis
title names the viewer's zone. Small charts (gauge, bars, sparkline) are in
``cards``.
"""

from __future__ import annotations

from functools import partial

import altair as alt
import pandas as pd

from opta_stream.charts.frames import (
    NO_MODEL,
    Gaps,
    Window,
    alone_rows,
    gap_frame,
    marker_frame,
    memory_data,
    window_frame,
    with_floor,
    with_show,
)
from opta_stream.charts.parts import (
    MODEL_COLORS,
    PALETTE,
    TimeAxis,
    alone_layer,
    anchor_layer,
    gap_layer,
    layered,
    legend_color,
    line_shown,
    marker_layer,
    rule,
    seg,
    shown,
)
from opta_stream.charts.plans import ChartPlan
from opta_stream.charts.throughput_lines import ThroughputView, average_label

__all__ = [
    "MODEL_COLORS",
    "NO_MODEL",
    "PALETTE",
    "memory_chart",
    "memory_layers",
    "memory_plan",
    "throughput_chart",
    "throughput_layers",
    "throughput_plan",
]

PLAIN_AXIS = TimeAxis()  # short window, untitled (tests, exports)
_TIME_TIP = alt.Tooltip(field="time", type="temporal", title="time", format="%H:%M:%S")


def throughput_layers(view_key: tuple[tuple[str, ...], tuple[str, ...], tuple[float, ...]],
                      axis: TimeAxis, *, height: int = 340) -> alt.LayerChart:
    """Gaps, markers, one line per model plus the total, and the labelled average."""
    names, colors, widths = view_key
    y = alt.Y(field="tokens_per_second", type="quantitative", title="tokens/s",
              axis=alt.Axis(format="~s", tickMinStep=1))
    tips = [_TIME_TIP, alt.Tooltip(field="series", type="nominal", title="series"),
            alt.Tooltip(field="tokens_per_second", type="quantitative", title="tokens/s",
                        format=",.1f")]
    line = alt.Chart().mark_line(
        point=alt.OverlayMarkDef(opacity=0, size=60),  # invisible points carry the tooltip
    ).encode(x=axis.x("time"), y=y, detail=seg(), tooltip=tips, strokeOpacity=line_shown(),
             color=legend_color("series", names, colors, columns=1),  # ids: one column fits a phone
             # ordinal in the legend's order (Vega warns of a width on an unsorted field);
             # no legend of its own, as the colour's: the two legends merge
             strokeWidth=alt.StrokeWidth(field="series", type="ordinal", sort=list(names),
                                         scale=alt.Scale(domain=list(names),
                                                         range=list(widths))))
    dots = alone_layer(axis, y, legend_color("series", names, colors, columns=1), tips)
    avg = rule("average", "average tokens/s", "tokens/s", PALETTE["muted"])

    # The words sit over the lines on a narrow chart: a halo in the page's background
    # colour under them keeps them readable where a line crosses (hidden from screen
    # readers, which would otherwise read the words twice).
    halo, label = (alt.Chart().mark_text(
        align="left", baseline="bottom", dx=4, dy=-3, fontSize=11, color=PALETTE["muted"],
        stroke=stroke, strokeWidth=width, strokeJoin="round", aria=aria).encode(
            x=alt.XValue(0), y=alt.Y(field="average", type="quantitative", title="tokens/s"),
            text=alt.Text(field="label", type="nominal"), opacity=shown())
        for stroke, width, aria in ((PALETTE["background"], 4, False),
                                    (PALETTE["muted"], 0, True)))
    return layered([gap_layer(axis), anchor_layer(axis), marker_layer(axis), line, dots, avg,
                    halo, label], height)


def throughput_plan(view: ThroughputView, *, gaps: Gaps = (), markers: pd.DataFrame | None = None,
                    window: Window | None = None, axis: TimeAxis = PLAIN_AXIS,
                    height: int = 340) -> ChartPlan:
    """What a tick needs: the structure's key and builder, and this tick's data."""
    key = (view.names, view.colors, view.widths)
    marks = marker_frame((), window) if markers is None else markers
    avg = average_label(view)
    start = window[0] if window else 0.0
    rows = with_floor(with_show(view.lines, start), "tokens_per_second", start)
    return ChartPlan(("throughput", key, axis, height),
                     partial(throughput_layers, key, axis, height=height),
                     [gap_frame(gaps, window), window_frame(window), marks, rows,
                      alone_rows(rows, start), avg, avg, avg])


def throughput_chart(view: ThroughputView, *, gaps: Gaps = (),
                     markers: pd.DataFrame | None = None, window: Window | None = None,
                     axis: TimeAxis = PLAIN_AXIS, height: int = 340) -> alt.TopLevelMixin:
    """The throughput chart with this view's data attached (tests and export)."""
    return throughput_plan(view, gaps=gaps, markers=markers, window=window, axis=axis,
                           height=height).chart()


def memory_layers(axis: TimeAxis, *, height: int = 300) -> alt.LayerChart:
    """Used GB (area), total GB (line), the threshold (dashed rule), labels, markers.

    The y scale is ``nice`` from zero, and the labels sit at the total and the
    threshold, so the axis always reaches past both.
    """
    ys = alt.Scale(zero=True, nice=True)
    tips = [_TIME_TIP,
            alt.Tooltip(field="used_gb", type="quantitative", title="used GB", format=".2f"),
            alt.Tooltip(field="total_gb", type="quantitative", title="total GB", format=".2f")]
    used = alt.Chart().mark_area(
        color=PALETTE["primary"], fillOpacity=0.2,
        line=alt.OverlayMarkDef(color=PALETTE["primary"], strokeWidth=1.5),
        point=alt.OverlayMarkDef(opacity=0, size=60),
    ).encode(x=axis.x("time"), detail=seg(), tooltip=tips, strokeOpacity=line_shown(),
             y=alt.Y(field="used_gb", type="quantitative", title="GB", stack=None, scale=ys))
    total = alt.Chart().mark_line(color=PALETTE["muted"], strokeWidth=1).encode(
        x=axis.x("time"), detail=seg(), strokeOpacity=line_shown(),
        y=alt.Y(field="total_gb", type="quantitative", title="GB", scale=ys))
    limit = rule("threshold_gb", "threshold GB", "GB", PALETTE["red"])
    layers = [gap_layer(axis), anchor_layer(axis), marker_layer(axis), used, total, limit,
              _label_layer(axis, below=False), _label_layer(axis, below=True)]
    return layered(layers, height)


def memory_plan(frame: pd.DataFrame, *, threshold_pct: float | None, gaps: Gaps = (),
                markers: pd.DataFrame | None = None, window: Window | None = None,
                axis: TimeAxis = PLAIN_AXIS, height: int = 300) -> ChartPlan:
    """The memory chart as a cached structure plus this tick's data."""
    marks = marker_frame((), window) if markers is None else markers
    return ChartPlan(("memory", axis, height), partial(memory_layers, axis, height=height),
                     memory_data(frame, threshold_pct=threshold_pct, gaps=gaps, markers=marks,
                                 window=window))


def memory_chart(frame: pd.DataFrame, *, threshold_pct: float | None, gaps: Gaps = (),
                 markers: pd.DataFrame | None = None, window: Window | None = None,
                 axis: TimeAxis = PLAIN_AXIS, height: int = 300) -> alt.TopLevelMixin:
    """Used against total memory over the window, threshold marked, gaps shaded."""
    return memory_plan(frame, threshold_pct=threshold_pct, gaps=gaps, markers=markers,
                       window=window, axis=axis, height=height).chart()


def _label_layer(axis: TimeAxis, *, below: bool) -> alt.Chart:
    """Names the total line (above it) or the threshold rule (below it) at the right edge:
    a threshold close under the total never writes over the total's label."""
    return alt.Chart().mark_text(
        align="right", baseline="top" if below else "bottom", dy=3 if below else -3,
        fontSize=11, color=PALETTE["muted"],
    ).transform_filter(f"datum.below == {1 if below else 0}").encode(
        x=axis.x("time"), y=alt.Y(field="gb", type="quantitative", title="GB"),
        text=alt.Text(field="label", type="nominal"), opacity=shown())
