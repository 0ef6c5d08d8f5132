"""The Requests page's charts: a few named lines over time, with gaps and markers.

Same rules as ``charts``: the structure depends only on the chart's key
(series names, colours, axis), so ticks swap data and never remount; every
layer always has a row (placeholders are hidden), so Vega never warns.
"""

from __future__ import annotations

from functools import partial

import altair as alt
import pandas as pd

from opta_stream.charts.frames import (
    Gaps,
    Window,
    gap_frame,
    marker_frame,
    window_frame,
    with_show,
)
from opta_stream.charts.parts import (
    PALETTE,
    TimeAxis,
    anchor_layer,
    gap_layer,
    layered,
    legend_color,
    line_shown,
    marker_layer,
    seg,
)
from opta_stream.charts.plans import ChartPlan

__all__ = ["LineSpec", "SPECS", "lines_plan"]

# field, axis title, number format, series names, their colours
LineSpec = tuple[str, str, str, tuple[str, ...], tuple[str, ...]]

SPECS: dict[str, LineSpec] = {
    "latency": ("seconds", "latency (s)", ",.2f", ("p50", "p95", "p99"),
                (PALETTE["green"], PALETTE["amber"], PALETTE["red"])),
    "requests": ("per_second", "per second", ",.2f", ("requests/s", "errors/s"),
                 (PALETTE["primary"], PALETTE["red"])),
    "tokens": ("tokens_per_second", "tokens/s", ",.1f", ("prompt", "completion"),
               ("#22d3ee", PALETTE["primary"])),
    "queue": ("requests", "requests", ",.1f", ("in flight", "queued", "limit"),
              (PALETTE["primary"], PALETTE["amber"], PALETTE["muted"])),
    # Long windows from Prometheus, the last minutes from the live feed (charts.long_window).
    "prom_throughput": ("tokens_per_second", "tokens/s", ",.1f", ("Prometheus", "live feed"),
                        (PALETTE["primary"], PALETTE["text"])),
    "prom_latency": ("seconds", "p95 latency (s)", ",.2f",
                     ("p95 · Prometheus", "p95 · live feed"), (PALETTE["amber"], PALETTE["text"])),
    "prom_memory": ("gb", "GB", ",.1f", ("used · Prometheus", "total · Prometheus",
                                         "used · live feed", "total · live feed"),
                    (PALETTE["primary"], PALETTE["muted"], PALETTE["text"], PALETTE["border"])),
}


def _layers(spec: LineSpec, axis: TimeAxis, height: int) -> alt.LayerChart:
    field, title, fmt, names, colors = spec
    tips = [alt.Tooltip(field="time", type="temporal", title="time", format="%H:%M:%S"),
            alt.Tooltip(field="series", type="nominal", title="series"),
            alt.Tooltip(field=field, type="quantitative", title=title, format=fmt)]
    line = alt.Chart().mark_line(point=alt.OverlayMarkDef(opacity=0, size=60)).encode(
        x=axis.x("time"), detail=seg(), tooltip=tips, strokeOpacity=line_shown(),
        y=alt.Y(field=field, type="quantitative", title=title,
                axis=alt.Axis(format="~s" if field == "tokens_per_second" else ",.3~r")),
        color=legend_color("series", names, colors))
    return layered([gap_layer(axis), anchor_layer(axis), marker_layer(axis), line], height)


def lines_plan(kind: str, frame: pd.DataFrame, *, gaps: Gaps = (),
               markers: pd.DataFrame | None = None, window: Window | None = None,
               axis: TimeAxis | None = None, height: int = 200,
               spec: LineSpec | None = None) -> ChartPlan:
    """One chart of named lines (``kind`` in ``SPECS``, or ``spec`` for lines named at run
    time, such as the Fleet page's servers) as a cached structure plus this tick's data."""
    spec = spec or SPECS[kind]
    axis = axis or TimeAxis()
    marks = marker_frame((), window) if markers is None else markers
    return ChartPlan(("serving", kind, spec, axis, height), partial(_layers, spec, axis, height),
                     [gap_frame(gaps, window), window_frame(window), marks,
                      with_show(frame, window[0] if window else 0.0)])
