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

The frame builders used to live here; they are re-exported so that
``from opta_stream.charts import throughput_frame`` keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import altair as alt
import numpy as np
import pandas as pd

from .frames import (
    Window,
    memory_frame,
    memory_labels,
    snapshot_window,
    summary_stats,
    threshold_gb,
    throughput_frame,
    utc_times,
)
from .snapshot import ModelInfo

__all__ = [
    "MODEL_COLORS",
    "NO_MODEL",
    "PALETTE",
    "gauge_chart",
    "memory_chart",
    "per_model_memory_chart",
    "sparkline",
    "throughput_chart",
    # re-exported so older imports keep working: new code imports them from frames
    "memory_frame",
    "snapshot_window",
    "summary_stats",
    "throughput_frame",
]

PALETTE = {
    "background": "#09090b", "surface": "#18181b", "primary": "#8b5cf6",
    "text": "#fafafa", "muted": "#a1a1aa", "grid": "#27272a", "border": "#3f3f46",
    "green": "#22c55e", "amber": "#f59e0b", "red": "#ef4444",
}
MODEL_COLORS = ("#8b5cf6", "#22d3ee", "#f472b6", "#60a5fa", "#a3e635", "#fb923c", "#2dd4bf")
NO_MODEL = "(no model id)"
_LEVELS = ("normal", "high", "critical")  # capacity bands: <60 %, 60-80 %, >80 %

Gaps = Iterable[tuple[float, float | None]]


# --- layer data -----------------------------------------------------------


def _gap_frame(gaps: Gaps, window: Window | None) -> pd.DataFrame:
    """Gap intervals clipped to the window; an open gap runs to its end."""
    lo, hi = window if window is not None else (-np.inf, np.inf)
    rows = []
    for start, end in gaps:
        stop = hi if end is None else end
        a, b = max(start, lo), min(stop, hi)
        if np.isfinite(a) and np.isfinite(b) and b > a:
            rows.append((a, b))
    arr = np.array(rows, dtype=np.float64).reshape(-1, 2)
    return pd.DataFrame({"start": utc_times(arr[:, 0]), "end": utc_times(arr[:, 1])})


def _window_frame(window: Window | None) -> pd.DataFrame:
    """Two invisible anchors that pin the x axis to the whole window."""
    return pd.DataFrame({"time": utc_times(np.array(window if window else [], dtype=np.float64))})


def _one(name: str, value: float | None) -> pd.DataFrame:
    """A one-row frame, or an empty one so the layer stays in the spec."""
    return pd.DataFrame({name: np.array([value] if _finite(value) else [], dtype=np.float64)})


def _finite(v: float | None) -> bool:
    return v is not None and bool(np.isfinite(v))


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


def _layered(layers: list[alt.Chart], frames: list[pd.DataFrame], height: int) -> alt.LayerChart:
    """Assemble data-less layers, then attach each layer's frame.

    Data goes in last on purpose: LayerChart's constructor hashes its layers
    (through ``repr``), and a repr of every DataFrame would cost more than
    everything else here put together.
    """
    chart = alt.LayerChart(layer=layers, height=height, config=_CONFIG)
    for layer, frame in zip(chart.layer, frames, strict=True):
        layer.data = frame
    return chart


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


def throughput_chart(
    frame: pd.DataFrame, *, average: float | None, gaps: Gaps, per_model: bool,
    window: Window | None = None, height: int = 260,
) -> alt.LayerChart:
    """Tokens/s lines (one path per segment), dashed average, shaded gaps.

    ``window`` (unix seconds) pins the x axis and ends open gaps; pages pass
    ``snapshot_window(snap)``.
    """
    enc = {"x": _x("time"), "detail": _seg(),
           "y": alt.Y(field="tokens_per_second", type="quantitative", title="tokens/s")}
    mark: dict[str, object] = {"strokeWidth": 1.5}
    if per_model:
        frame = frame.assign(model_id=_model_labels(frame))
        enc["color"] = alt.Color(field="model_id", type="nominal", title=None,
                                 scale=alt.Scale(range=list(MODEL_COLORS)))
    else:
        mark["color"] = PALETTE["primary"]
    line = alt.Chart().mark_line(**mark).encode(**enc)
    avg = _rule("average", "average tokens/s", "tokens/s", PALETTE["muted"])
    frames = [_gap_frame(gaps, window), _window_frame(window), frame, _one("average", average)]
    return _layered([_gap_layer(), _anchor_layer(), line, avg], frames, height)


def _model_labels(frame: pd.DataFrame) -> pd.Series:
    if "model_id" not in frame:
        return pd.Series(NO_MODEL, index=frame.index, dtype=object)
    return frame["model_id"].astype(object).where(frame["model_id"].notna(), NO_MODEL)


def memory_chart(
    frame: pd.DataFrame, *, threshold_pct: float | None, gaps: Gaps,
    window: Window | None = None, height: int = 220,
) -> alt.LayerChart:
    """Used GB (area), total GB (line), the server's threshold (dashed rule)."""
    used = alt.Chart().mark_area(
        color=PALETTE["primary"], fillOpacity=0.2,
        line=alt.OverlayMarkDef(color=PALETTE["primary"], strokeWidth=1.5),
    ).encode(x=_x("time"), detail=_seg(),
             y=alt.Y(field="used_gb", type="quantitative", title="GB", stack=None))
    total = alt.Chart().mark_line(color=PALETTE["muted"], strokeWidth=1).encode(
        x=_x("time"), y=alt.Y(field="total_gb", type="quantitative", title="GB"), detail=_seg())
    limit = _rule("threshold_gb", "threshold GB", "GB", PALETTE["red"])
    limit_gb = threshold_gb(frame, threshold_pct)
    frames = [_gap_frame(gaps, window), _window_frame(window), frame, frame,
              _one("threshold_gb", limit_gb),
              memory_labels(frame, threshold_pct, limit_gb, window)]
    layers = [_gap_layer(), _anchor_layer(), used, total, limit, _label_layer()]
    return _layered(layers, frames, height)


def _label_layer() -> alt.Chart:
    """Names the total line and the threshold rule at the right edge."""
    return alt.Chart().mark_text(
        align="right", baseline="bottom", dy=-3, fontSize=11, color=PALETTE["muted"],
    ).encode(x=_x("time"), y=alt.Y(field="gb", type="quantitative", title="GB"),
             text=alt.Text(field="label", type="nominal"))


def per_model_memory_chart(models: Sequence[ModelInfo]) -> alt.Chart:
    """One horizontal bar per loaded model; models without a figure are left out."""
    rows = [(m.model_id, float(m.memory_gb)) for m in models if _finite(m.memory_gb)]
    frame = pd.DataFrame({"model_id": pd.Series([r[0] for r in rows], dtype=object),
                          "memory_gb": np.array([r[1] for r in rows], dtype=np.float64)})
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
) -> alt.LayerChart:
    """Bullet gauge: green/amber/red bands (60/80 % of capacity), used bar,
    threshold tick; a note instead when the server reported no figures.

    The layers share one nominal ``row`` on y, so the bands fill the view
    and the bar takes 40 % of it; the threshold rule has no y, so it spans
    the view. ``height`` includes the axis (Streamlit fits the spec into
    it), hence no axis title: the page's label says what the gauge measures.
    No mark may overflow the view, or fitting shrinks the plot to a sliver.
    """
    total = float(total_gb) if _finite(total_gb) and total_gb > 0 else None
    used = float(used_gb) if _finite(used_gb) else None
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
    limit = total * threshold_pct / 100.0 if total and _finite(threshold_pct) else None
    frames = [_bands(total), _used_frame(used), _one("threshold_gb", limit),
              _empty_note(used, total)]
    return _layered([bands, bar, tick, note], [f.assign(row="memory") for f in frames], height)


def _bands(total: float | None) -> pd.DataFrame:
    edges = np.array([0.0, 0.6, 0.8, 1.0]) * total if total else np.zeros(1)
    return pd.DataFrame({"start": edges[:-1], "end": edges[1:],
                         "level": pd.Series(_LEVELS[: edges.size - 1], dtype=object)})


def _used_frame(used: float | None) -> pd.DataFrame:
    end = np.array([used] if used is not None else [], dtype=np.float64)
    return pd.DataFrame({"start": np.zeros(end.size), "end": end})


def _empty_note(used: float | None, total: float | None) -> pd.DataFrame:
    text = [] if used is not None and total is not None else ["no memory figures yet"]
    return pd.DataFrame({"text": pd.Series(text, dtype=object)})


def sparkline(frame: pd.DataFrame, *, height: int = 48) -> alt.Chart:
    """A small tokens/s line with no axes, for the overview cards."""
    return alt.Chart(frame, height=height, config=_CONFIG).mark_line(
        color=PALETTE["primary"], strokeWidth=1.5,
    ).encode(
        x=alt.X(field="time", type="temporal", axis=None),
        y=alt.Y(field="tokens_per_second", type="quantitative", axis=None),
        detail=_seg(),
    )
