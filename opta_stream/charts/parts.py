"""The pieces every time-series chart shares: theme, time axis, gaps, markers, colours.

Channel objects, not shorthand strings: Altair parses a shorthand through its
schema on every call. Times are tz-aware UTC; Vega-Lite draws them in the
viewer's local time (no ``utc`` scale), and the axis title names that zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import altair as alt

__all__ = [
    "CONFIG",
    "MODEL_COLORS",
    "PALETTE",
    "TimeAxis",
    "alone_layer",
    "anchor_layer",
    "gap_layer",
    "layered",
    "legend_color",
    "marker_layer",
    "model_color",
    "rule",
    "seg",
    "shown",
]

PALETTE = {
    "background": "#09090b", "surface": "#18181b", "primary": "#8b5cf6",
    "text": "#fafafa", "muted": "#a1a1aa", "grid": "#27272a", "border": "#3f3f46",
    "green": "#22c55e", "amber": "#f59e0b", "red": "#ef4444",
}
MODEL_COLORS = ("#8b5cf6", "#22d3ee", "#f472b6", "#60a5fa", "#a3e635", "#fb923c", "#2dd4bf")
LONG_AXIS_S = 6 * 3600.0  # windows this long show dates on the axis
LEGEND_CHARS = 30

CONFIG = alt.Config(
    background="transparent",  # let the app's dark theme show through
    axis=alt.AxisConfig(labelColor=PALETTE["muted"], titleColor=PALETTE["muted"],
                        gridColor=PALETTE["grid"], domainColor=PALETTE["border"],
                        tickColor=PALETTE["border"]),
    legend=alt.LegendConfig(labelColor=PALETTE["text"], titleColor=PALETTE["muted"],
                            orient="bottom"),
    view=alt.ViewConfig(stroke=None),
)

# 24-hour labels in the viewer's local time; seconds only where a tick has them.
# Vega's default multi-format uses 12-hour labels with no AM/PM ("03:20").
_TIME_LABELS = "timeFormat(datum.value, seconds(datum.value) ? '%H:%M:%S' : '%H:%M')"
# Long windows: the date at midnight, the hour elsewhere.
_DATE_LABELS = ("timeFormat(datum.value, hours(datum.value) || minutes(datum.value) "
                "? '%H:%M' : '%a %d %b')")


def layered(layers: list[alt.Chart], height: int) -> alt.LayerChart:
    """A data-less layer chart: data is attached per tick (``ChartPlan.chart``)."""
    return alt.LayerChart(layer=layers, height=height, config=CONFIG)


@dataclass(frozen=True, slots=True)
class TimeAxis:
    """How a chart's time axis reads: dates on long windows, the viewer's zone as title.

    Hashable, so it can be part of a chart's structure key.
    """

    long: bool = False
    zone: str | None = None

    @classmethod
    def for_window(cls, window_s: float, zone: str | None = None) -> TimeAxis:
        return cls(long=window_s >= LONG_AXIS_S, zone=zone)

    def x(self, field: str, *, titled: bool = True) -> alt.X:
        title = f"local time ({self.zone})" if titled and self.zone else None
        return alt.X(field=field, type="temporal", title=title,
                     axis=alt.Axis(labelExpr=_DATE_LABELS if self.long else _TIME_LABELS,
                                   labelOverlap=True))


def seg() -> alt.Detail:
    return alt.Detail(field="segment", type="nominal")


def gap_layer(axis: TimeAxis) -> alt.Chart:
    """Shaded spans where the feed was down; tooltips say from when until when."""
    tips = [alt.Tooltip(field=f, type="temporal", title=t, format="%H:%M:%S")
            for f, t in (("start", "feed down from"), ("end", "until"))]
    return alt.Chart().mark_rect(color=PALETTE["muted"], opacity=0.18).encode(
        x=axis.x("start"), x2=alt.X2(field="end"), tooltip=tips)


def anchor_layer(axis: TimeAxis) -> alt.Chart:
    """Two invisible points that pin the x axis to the whole window."""
    return alt.Chart().mark_point(opacity=0).encode(x=axis.x("time"))


def marker_layer(axis: TimeAxis) -> alt.Chart:
    """Lifecycle markers (load, unload, download done, reload, restart): a thin rule each."""
    tips = [alt.Tooltip(field="time", type="temporal", title="at", format="%H:%M:%S"),
            alt.Tooltip(field="label", type="nominal", title="event")]
    return alt.Chart().mark_rule(color=PALETTE["amber"], strokeDash=[2, 3], strokeWidth=1,
                                 strokeOpacity=0.8).encode(
        x=axis.x("time"), tooltip=tips, opacity=shown())


def alone_layer(axis: TimeAxis, y: alt.Y, color: alt.Color, tips: list[alt.Tooltip]
                ) -> alt.Chart:
    """A dot for each point with no neighbour in its line (the ``alone`` column): a line
    of one point draws nothing, so a young recording's only point would not show."""
    return alt.Chart().mark_point(filled=True, size=45).encode(
        x=axis.x("time"), y=y, color=color, tooltip=tips,
        opacity=alt.Opacity(field="alone", type="quantitative",
                            scale=alt.Scale(domain=[0, 1], range=[0, 1]), legend=None))


def shown() -> alt.Opacity:
    """Opacity from the ``show`` column: a placeholder row (show 0) draws nothing.

    Layers share the opacity scale, so it is the same 0…1 everywhere.
    """
    return alt.Opacity(field="show", type="quantitative",
                       scale=alt.Scale(domain=[0, 1], range=[0, 1]), legend=None)


def line_shown() -> alt.StrokeOpacity:
    """``shown`` for lines: through the stroke, so their invisible tooltip points stay so."""
    return alt.StrokeOpacity(field="show", type="quantitative",
                             scale=alt.Scale(domain=[0, 1], range=[0, 1]), legend=None)


def rule(field: str, tip_title: str, axis_title: str, color: str) -> alt.Chart:
    """A dashed horizontal rule; same axis title as its chart so none is merged in."""
    tip = alt.Tooltip(field=field, type="quantitative", title=tip_title, format=".1f")
    return alt.Chart().mark_rule(color=color, strokeDash=[6, 4], strokeWidth=1.5).encode(
        y=alt.Y(field=field, type="quantitative", title=axis_title), tooltip=[tip],
        opacity=shown())


def model_color(code: int) -> str:
    """One colour per model for the whole process: its code in the store's interner."""
    return MODEL_COLORS[code % len(MODEL_COLORS)] if code >= 0 else PALETTE["muted"]


def legend_color(field: str, names: Sequence[str], colors: Sequence[str],
                 symbol: str = "stroke", columns: int = 2) -> alt.Color:
    """A colour channel with a fixed name → colour map; labels keep the end of long ids.

    Ids share prefixes (``mlx-community/``), so the distinguishing part is the end.
    """
    label = (f"length(datum.label) > {LEGEND_CHARS} ? '…' + "
             f"slice(datum.label, -{LEGEND_CHARS - 1}) : datum.label")
    return alt.Color(field=field, type="nominal", title=None,
                     scale=alt.Scale(domain=list(names), range=list(colors)),
                     legend=alt.Legend(labelExpr=label, labelLimit=0, columns=columns,
                                       symbolType=symbol))
