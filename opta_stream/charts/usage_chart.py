"""The Usage page's chart: completion tokens per local day, stacked by model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from opta_stream.charts.parts import CONFIG, PALETTE, legend_color, model_color
from opta_stream.snapshot import ALL_MODELS, Usage

__all__ = ["colors", "usage_chart"]


def colors(usage: Usage) -> dict[str, str]:
    """Each model's colour on every page: from its code in the Store's interner."""
    return {n: model_color(c) for n, c in zip(usage.names, usage.codes, strict=True)}


def usage_chart(days: pd.DataFrame, zone: str, palette: Mapping[str, str],
                dates: Sequence[str] = ()) -> dict:
    """Completion tokens per local day, stacked by model, as a Vega-Lite spec; ``palette``
    is each model's colour (``colors``), the same as on the other pages."""
    days = days[days["model_id"] != ALL_MODELS]
    names = sorted(days["model_id"].unique().tolist()) if not days.empty else []
    hues = [palette.get(n, PALETTE["muted"]) for n in names]
    data = days[["date", "model_id", "completion_tokens", "requests"]]
    chart = alt.Chart(data, config=CONFIG).mark_bar().encode(
        # every day of the range has its place, so one day of data is one bar, not a wall
        x=alt.X("date:O", title=f"day ({zone})", axis=alt.Axis(labelAngle=0, labelOverlap=True),
                scale=alt.Scale(domain=list(dates)) if dates else alt.Undefined),
        y=alt.Y("completion_tokens:Q", title="completion tokens", stack="zero",
                axis=alt.Axis(format="~s")),
        color=legend_color("model_id", names, hues, symbol="square", columns=1),
        tooltip=[alt.Tooltip("date:O", title="day"), alt.Tooltip("model_id:N", title="model"),
                 alt.Tooltip("completion_tokens:Q", title="completion tokens", format=",.0f"),
                 alt.Tooltip("requests:Q", title="requests", format=",.0f")],
    ).properties(height=260)
    return chart.to_dict()
