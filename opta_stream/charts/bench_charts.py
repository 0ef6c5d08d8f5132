"""The Server page's benchmark charts: each model's stored results over time.

One chart per measure (tokens/s, time to first token): a line per model
through each result's p50, a thin band from p50 to p95 at each result, and
the p95, the run count and the coherence flag in the tooltip. A result whose
output the server flagged (repetitive, truncated, garbled) is a hollow
diamond; a model's newest result when it regressed is ringed in red. The
structure depends only on the models (their colours) and the measure, so a
tick swaps data, never the chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial

import altair as alt
import pandas as pd

from opta_stream.charts.parts import CONFIG, MODEL_COLORS, PALETTE, legend_color
from opta_stream.charts.plans import ChartPlan
from opta_stream.server_report import BenchmarkRun

__all__ = ["MEASURES", "bench_frame", "bench_plan"]

# measure → (p50 field, p95 field, axis title, number format). Titles stay short: Streamlit
# fits the whole chart, titles and legend included, into its height.
MEASURES = {
    "tokens": ("tokens_per_s_p50", "tokens_per_s_p95", "tokens/s", ",.1f"),
    "ttft": ("ttft_p50_s", "ttft_p95_s", "first token (s)", ",.3f"),
}
COLUMNS = ["time", "model", "p50", "p95", "flag", "runs", "regressed", "flagged", "clean"]


def bench_frame(runs: Sequence[BenchmarkRun], measure: str,
                regressed: frozenset[tuple[str, float]] = frozenset()) -> pd.DataFrame:
    """One row per result: its time (UTC), model, p50 and p95 of ``measure``, its flag.
    ``regressed`` holds (model, time) of the results to ring."""
    p50, p95, _, _ = MEASURES[measure]
    rows = [(datetime.fromtimestamp(r.at or 0.0, UTC), r.model_id, getattr(r, p50),
             getattr(r, p95), r.coherence_flag or "ok", r.runs_completed,
             int((r.model_id, r.at) in regressed), int((r.coherence_flag or "ok") != "ok"),
             int((r.coherence_flag or "ok") == "ok"))
            for r in runs]
    return pd.DataFrame(rows, columns=COLUMNS)


def _shown(field: str) -> alt.Opacity:
    return alt.Opacity(field=field, type="quantitative", legend=None,
                       scale=alt.Scale(domain=[0, 1], range=[0, 1]))


def _layers(measure: str, models: tuple[str, ...], zone: str | None, height: int
            ) -> alt.LayerChart:
    _, _, title, fmt = MEASURES[measure]
    colors = [MODEL_COLORS[i % len(MODEL_COLORS)] for i in range(len(models))]
    # Results are days apart: dates on the axis, in the viewer's zone (named in the title).
    x = alt.X(field="time", type="temporal", title=f"run (local time, {zone})" if zone else None,
              axis=alt.Axis(format="%d %b", labelOverlap=True,
                            tickCount=alt.TimeIntervalStep(interval="day", step=1)))
    y = alt.Y(field="p50", type="quantitative", title=title,
              axis=alt.Axis(format=",.3~r"), scale=alt.Scale(zero=False))
    color = legend_color("model", models, colors, columns=1)  # one column fits a phone
    tips = [alt.Tooltip(field="time", type="temporal", title="run", format="%Y-%m-%d %H:%M"),
            alt.Tooltip(field="model", type="nominal", title="model"),
            alt.Tooltip(field="p50", type="quantitative", title="p50", format=fmt),
            alt.Tooltip(field="p95", type="quantitative", title="p95", format=fmt),
            alt.Tooltip(field="runs", type="quantitative", title="measured runs"),
            alt.Tooltip(field="flag", type="nominal", title="coherence")]
    band = alt.Chart().mark_rule(strokeWidth=5, opacity=0.35).encode(
        x=x, y=y, y2=alt.Y2(field="p95"), color=color, tooltip=tips)
    line = alt.Chart().mark_line(strokeWidth=1.5).encode(x=x, y=y, color=color)
    # Filled circles for clean output, hollow diamonds for flagged output, a red ring on a
    # regression: each layer shows only its rows, through a 0/1 column on one shared opacity
    # scale (layers share a channel's scale, so they cannot each have their own range).
    clean = alt.Chart().mark_point(size=70, filled=True).encode(
        x=x, y=y, color=color, tooltip=tips, opacity=_shown("clean"))
    flagged = alt.Chart().mark_point(size=110, filled=False, shape="diamond",
                                     strokeWidth=2).encode(
        x=x, y=y, color=color, tooltip=tips, opacity=_shown("flagged"))
    ring = alt.Chart().mark_point(size=260, strokeWidth=2, color=PALETTE["red"]).encode(
        x=x, y=y, tooltip=tips, opacity=_shown("regressed"))
    return alt.LayerChart(layer=[band, line, clean, flagged, ring], height=height,
                          config=CONFIG)


def bench_plan(frame: pd.DataFrame, measure: str, models: Sequence[str], *,
               zone: str | None = None, height: int = 300) -> ChartPlan:
    """The chart of ``measure`` ("tokens" or "ttft"); ``models`` fixes the colours."""
    names = tuple(models)
    return ChartPlan(("bench", measure, names, zone, height),
                     partial(_layers, measure, names, zone, height), [frame] * 5)
