"""The Requests page's charts: a few named lines over time, with gaps and markers.

Same rules as ``charts``: the structure depends only on the chart's key
(series names, colours, axis), so ticks swap data and never remount; every
layer always has a row (placeholders are hidden), so Vega never warns.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import altair as alt
import pandas as pd

from opta_stream.charts.frames import (
    Gaps,
    Window,
    alone_rows,
    gap_frame,
    marker_frame,
    window_frame,
    with_floor,
    with_show,
)
from opta_stream.charts.parts import (
    PALETTE,
    TimeAxis,
    alone_layer,
    anchor_layer,
    gap_layer,
    layered,
    legend_color,
    line_shown,
    marker_layer,
    seg,
)
from opta_stream.charts.plans import ChartPlan
from opta_stream.charts.throughput_lines import with_alone

__all__ = ["LineSpec", "SPECS", "lines_plan"]

SOLID, DASHED = (1, 0), (5, 4)


@dataclass(frozen=True, slots=True)
class LineSpec:
    """A chart's lines: the value field, the y title with its unit, the number format, the
    series names with their colours, and their dash (solid unless said): all of the
    chart's structure, so it is part of the plan's key."""

    field: str
    title: str
    fmt: str
    names: tuple[str, ...]
    colors: tuple[str, ...]
    dashes: tuple[tuple[int, int], ...] = ()

    def dash(self) -> tuple[tuple[int, int], ...]:
        return self.dashes or tuple(SOLID for _ in self.names)


SPECS: dict[str, LineSpec] = {
    "latency": LineSpec("seconds", "latency (s)", ",.2f", ("p50", "p95", "p99"),
                        (PALETTE["green"], PALETTE["amber"], PALETTE["red"])),
    "requests": LineSpec("per_second", "requests / s", ",.2f", ("requests/s", "errors/s"),
                         (PALETTE["primary"], PALETTE["red"])),
    "tokens": LineSpec("tokens_per_second", "tokens / s", ",.1f", ("prompt", "completion"),
                       ("#22d3ee", PALETTE["primary"])),
    # The limit is a dashed grey ceiling, so in-flight (often at the limit) stays visible.
    "queue": LineSpec("requests", "requests", ",.1f", ("in flight", "queued", "limit"),
                      (PALETTE["primary"], PALETTE["amber"], PALETTE["muted"]),
                      (SOLID, SOLID, DASHED)),
    # Long windows from Prometheus, the last minutes from the live feed (charts.long_window).
    "prom_throughput": LineSpec("tokens_per_second", "tokens / s", ",.1f",
                                ("Prometheus", "live feed"), (PALETTE["primary"], PALETTE["text"])),
    "prom_latency": LineSpec("seconds", "p95 latency (s)", ",.2f",
                             ("p95 · Prometheus", "p95 · live feed"),
                             (PALETTE["amber"], PALETTE["text"])),
    "prom_memory": LineSpec("gb", "memory (GB)", ",.1f",
                            ("used · Prometheus", "total · Prometheus", "used · live feed",
                             "total · live feed"),
                            (PALETTE["primary"], PALETTE["muted"], PALETTE["text"],
                             PALETTE["border"])),
}


def _layers(spec: LineSpec, axis: TimeAxis, height: int) -> alt.LayerChart:
    tips = [alt.Tooltip(field="time", type="temporal", title="time", format="%H:%M:%S"),
            alt.Tooltip(field="series", type="nominal", title="series"),
            alt.Tooltip(field=spec.field, type="quantitative", title=spec.title,
                        format=spec.fmt)]
    y = alt.Y(field=spec.field, type="quantitative", title=spec.title,
              axis=alt.Axis(format="~s" if spec.field == "tokens_per_second" else ",.3~r"))
    color = legend_color("series", spec.names, spec.colors)
    line = alt.Chart().mark_line(point=alt.OverlayMarkDef(opacity=0, size=60)).encode(
        x=axis.x("time"), detail=seg(), tooltip=tips, strokeOpacity=line_shown(), y=y,
        # the dash merges into the colour's legend (a dashed limit reads as one there)
        color=color, strokeDash=alt.StrokeDash(
            field="series", type="nominal",
            scale=alt.Scale(domain=list(spec.names), range=[list(d) for d in spec.dash()])))
    return layered([gap_layer(axis), anchor_layer(axis), marker_layer(axis), line,
                    alone_layer(axis, y, color, tips)], height)


def lines_plan(kind: str, frame: pd.DataFrame, *, gaps: Gaps = (),
               markers: pd.DataFrame | None = None, window: Window | None = None,
               axis: TimeAxis | None = None, height: int = 300,
               spec: LineSpec | None = None) -> ChartPlan:
    """One chart of named lines (``kind`` in ``SPECS``, or ``spec`` for lines named at run
    time, such as the Fleet page's servers) as a cached structure plus this tick's data.
    ``height`` includes the axis and the legend (about 100 px of it)."""
    spec = spec or SPECS[kind]
    axis = axis or TimeAxis()
    marks = marker_frame((), window) if markers is None else markers
    start = window[0] if window else 0.0
    rows = with_floor(with_show(with_alone(frame), start), spec.field, start)
    return ChartPlan(("serving", kind, spec, axis, height), partial(_layers, spec, axis, height),
                     [gap_frame(gaps, window), window_frame(window), marks, rows,
                      alone_rows(rows, start)])
