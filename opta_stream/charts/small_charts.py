"""Small charts that are not time series: the memory gauge, sparklines, per-model bars.

Same rules as ``charts``: channel objects, constant structure, data attached
per tick through a ``ChartPlan``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import altair as alt
import numpy as np
import pandas as pd

from opta_stream.charts.frames import finite, gauge_bands, gauge_note, gauge_used, one, with_show
from opta_stream.charts.parts import CONFIG, PALETTE, layered, line_shown, seg, shown
from opta_stream.charts.plans import ChartPlan
from opta_stream.snapshot import ModelInfo

__all__ = [
    "UNATTRIBUTED",
    "bars_height",
    "gauge_chart",
    "gauge_plan",
    "model_memory_frame",
    "per_model_memory_chart",
    "per_model_memory_plan",
    "sparkline",
    "sparkline_plan",
]

_LEVELS = ("normal", "high", "critical")  # capacity bands: <60 %, 60-80 %, >80 %
UNATTRIBUTED = "not attributed to a model"


def model_memory_frame(models: Sequence[ModelInfo], used_gb: float | None) -> pd.DataFrame:
    """One row per model with a figure, largest first, then what no model accounts for."""
    rows = sorted(((m.model_id, float(m.memory_gb)) for m in models if finite(m.memory_gb)),
                  key=lambda r: -r[1])
    if finite(used_gb):
        rest = used_gb - sum(r[1] for r in rows)
        if rest > 0.005:
            rows.append((UNATTRIBUTED, rest))
    return pd.DataFrame({
        "model_id": pd.Series([r[0] for r in rows], dtype=object),
        "memory_gb": np.array([r[1] for r in rows], dtype=np.float64),
        "label": pd.Series([f"{r[1]:.1f} GB" for r in rows], dtype=object),
        "kind": pd.Series(["other" if r[0] == UNATTRIBUTED else "model" for r in rows],
                          dtype=object)})


def _total_scale(total_gb: float | None) -> float | None:
    """The bars' scale end: total memory, rounded so a tiny drift keeps the structure."""
    return round(total_gb, 1) if finite(total_gb) and total_gb > 0 else None


def bars_height(rows: int) -> int:
    """The per-model chart's height in pixels, axis included: 30 px a bar."""
    return 30 * max(rows, 1) + 50


def per_model_memory_plan(models: Sequence[ModelInfo], used_gb: float | None = None,
                          total_gb: float | None = None) -> ChartPlan:
    """The per-model bars, on a 0…total scale, as a cached structure plus this tick's data."""
    frame = model_memory_frame(models, used_gb)
    total = _total_scale(total_gb)
    # A fixed height per bar count: Streamlit cannot fit a step-sized chart (Vega warns).
    height = bars_height(len(frame))
    return ChartPlan(("per_model_memory", total, height), partial(_model_bars, total, height),
                     [frame, frame])


def per_model_memory_chart(models: Sequence[ModelInfo], used_gb: float | None = None,
                           total_gb: float | None = None) -> alt.TopLevelMixin:
    """One bar per loaded model and one for memory no model accounts for, values beside."""
    return per_model_memory_plan(models, used_gb, total_gb).chart()


def _model_bars(total_gb: float | None, height: int = 64) -> alt.LayerChart:
    tips = [alt.Tooltip(field="model_id", type="nominal", title="model"),
            alt.Tooltip(field="memory_gb", type="quantitative", title="GB", format=".2f")]
    scale = alt.Scale(domain=[0, total_gb]) if total_gb else alt.Scale(zero=True)
    title = f"GB of {total_gb:g} GB total" if total_gb else "GB"
    x = alt.X(field="memory_gb", type="quantitative", title=title, scale=scale,
              axis=alt.Axis(format="~g", tickMinStep=1))
    y = alt.Y(field="model_id", type="nominal", title=None, sort=None,
              axis=alt.Axis(labelLimit=260))
    bars = alt.Chart().mark_bar(cornerRadiusEnd=3).encode(
        x=x, y=y, tooltip=tips,
        color=alt.Color(field="kind", type="nominal", legend=None, scale=alt.Scale(
            domain=["model", "other"], range=[PALETTE["primary"], PALETTE["border"]])))
    values = alt.Chart().mark_text(align="left", dx=4, color=PALETTE["text"]).encode(
        x=x, y=y, text=alt.Text(field="label", type="nominal"))
    return alt.LayerChart(layer=[bars, values], height=height, config=CONFIG)


def gauge_plan(
    used_gb: float | None, total_gb: float | None, threshold_pct: float | None,
    *, height: int = 72,
) -> ChartPlan:
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
    limit = total * threshold_pct / 100.0 if total and finite(threshold_pct) else None
    frames = [gauge_bands(total, _LEVELS), gauge_used(used), one("threshold_gb", limit),
              gauge_note(used, total)]
    return ChartPlan(("gauge", height), partial(_gauge_layers, height),
                     [f.assign(row="memory") for f in frames])


def gauge_chart(used_gb: float | None, total_gb: float | None, threshold_pct: float | None,
                *, height: int = 72) -> alt.TopLevelMixin:
    """The gauge as an Altair chart with its data (tests and exports)."""
    return gauge_plan(used_gb, total_gb, threshold_pct, height=height).chart()


def _gauge_layers(height: int) -> alt.LayerChart:
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
        x=alt.X(field="threshold_gb", type="quantitative"), opacity=shown(),
        tooltip=[alt.Tooltip(field="threshold_gb", type="quantitative",
                             title="threshold GB", format=".1f")])
    note = alt.Chart().mark_text(align="left", dx=4, color=PALETTE["muted"]).encode(
        text=alt.Text(field="text", type="nominal"), x=alt.XValue(0), y=y)
    return layered([bands, bar, tick, note], height)


def sparkline_plan(frame: pd.DataFrame, *, height: int = 48) -> ChartPlan:
    """The sparkline as a cached structure plus this tick's data."""
    rows = with_show(frame, 0.0)
    return ChartPlan(("sparkline", height), partial(sparkline, rows.iloc[:0], height=height),
                     [rows])


def sparkline(frame: pd.DataFrame, *, height: int = 48,
              field: str = "tokens_per_second") -> alt.Chart:
    """A small line with no axes, for the overview cards."""
    return alt.Chart(frame, height=height, config=CONFIG).mark_line(
        color=PALETTE["primary"], strokeWidth=1.5,
    ).encode(
        x=alt.X(field="time", type="temporal", axis=None),
        y=alt.Y(field=field, type="quantitative", axis=None),
        detail=seg(), strokeOpacity=line_shown(),
    )
