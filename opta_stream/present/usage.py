"""The usage ledger by the viewer's local day: the Usage page's table, chart and CSV.

A bucket belongs to the local date its start falls on in the viewer's zone
(buckets are quarter hours, so every zone's days are whole buckets; a DST
change only makes that day 23 or 25 hours long).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo

import altair as alt
import numpy as np
import pandas as pd

from opta_stream.ledger import ALL_MODELS, USAGE_VALUES, Usage
from opta_stream.present.chart_parts import CONFIG, PALETTE, legend_color, model_color
from opta_stream.present.export import _csv, _iso, _numbers, _text

__all__ = ["ALL_LABEL", "COLUMNS", "COUNTS", "colors", "daily", "per_model", "readable",
           "totals", "usage_chart", "usage_csv"]

COLUMNS = ("date", "day_start", "model_id", *USAGE_VALUES)
COUNTS = ("requests", "errors", "prompt_tokens", "completion_tokens")
ALL_LABEL = "(all models)"  # the server-wide row (ledger.ALL_MODELS) in a table


def colors(usage: Usage) -> dict[str, str]:
    """Each model's colour on every page: from its code in the Store's interner."""
    return {n: model_color(c) for n, c in zip(usage.names, usage.codes, strict=True)}


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """For a table: counts as whole numbers (the ledger sums floats; a count the server does
    not report stays empty), busy time to 0.1 s, the server-wide row named."""
    out = frame.astype({c: "Int64" for c in COUNTS if c in frame.columns})
    for c in COUNTS:  # a table draws a missing count as "None": drop it, or write "—"
        if c in out.columns and out[c].isna().all():
            out = out.drop(columns=c)
        elif c in out.columns and out[c].isna().any():
            out[c] = ["—" if v is pd.NA else f"{v:,}" for v in out[c]]
    if "model_id" in out.columns:
        out["model_id"] = out["model_id"].replace(ALL_MODELS, ALL_LABEL)
    if "busy_s" in out.columns:
        out["busy_s"] = out["busy_s"].round(1)
    return out


def daily(usage: Usage, tz: tzinfo) -> pd.DataFrame:
    """One row per local date and model, oldest day first; ``day_start`` is unix seconds."""
    if not len(usage):
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("date", "model_id")
                                          else float) for c in COLUMNS})
    local = pd.to_datetime(np.asarray(usage.ts), unit="s", utc=True).tz_convert(tz)
    start = local.normalize()
    names = np.array(usage.names, dtype=object)
    frame = pd.DataFrame(np.asarray(usage.values), columns=list(USAGE_VALUES))
    frame["day"] = start
    frame["model_id"] = names[np.asarray(usage.model)]
    out = frame.groupby(["day", "model_id"], sort=True).sum(min_count=1).reset_index()
    out.insert(0, "date", out["day"].dt.strftime("%Y-%m-%d"))
    out.insert(1, "day_start", out.pop("day").map(lambda d: d.timestamp()).astype(float))
    return out[list(COLUMNS)]


def per_model(days: pd.DataFrame) -> pd.DataFrame:
    """The range's totals per model, most completion tokens first."""
    models = days[days["model_id"] != ALL_MODELS]
    if models.empty:
        return pd.DataFrame(columns=["model_id", *USAGE_VALUES])
    sums = models.groupby("model_id")[list(USAGE_VALUES)].sum(min_count=1).reset_index()
    return sums.sort_values("completion_tokens", ascending=False, kind="stable")


def totals(days: pd.DataFrame) -> dict[str, float]:
    """The whole server's sums: each day's own server row where the ledger has one (it
    alone has the prompt tokens), else that day's model rows added up (history recorded
    before the server row existed)."""
    own = days["model_id"] == ALL_MODELS
    has_own = days["date"].isin(days.loc[own, "date"])
    rows = days[own | ~has_own]  # per day: the server's row, or its models' rows
    return {c: float(rows[c].sum(min_count=1)) if not rows.empty else 0.0
            for c in USAGE_VALUES}


def usage_csv(days: pd.DataFrame) -> bytes:
    """``date,timestamp_utc,unix_s,model_id,requests,errors,prompt_tokens,
    completion_tokens,busy_s``: one row per local day and model, and the whole server's
    row with model_id ``*``; the times are the local day's start. A count the server
    does not report (a model's prompt tokens) is empty."""
    start = days["day_start"].to_numpy(np.float64)
    cols = [[_text(d) for d in days["date"]], _iso(start), _numbers(start),
            [_text(m) for m in days["model_id"]],
            *[_numbers(days[c].to_numpy(np.float64)) for c in USAGE_VALUES]]
    return _csv(("date", "timestamp_utc", "unix_s", "model_id", *USAGE_VALUES), cols)


def usage_chart(days: pd.DataFrame, zone: str, palette: Mapping[str, str]) -> dict:
    """Completion tokens per local day, stacked by model, as a Vega-Lite spec; ``palette``
    is each model's colour (``colors``), the same as on the other pages."""
    days = days[days["model_id"] != ALL_MODELS]
    names = sorted(days["model_id"].unique().tolist()) if not days.empty else []
    hues = [palette.get(n, PALETTE["muted"]) for n in names]
    data = days[["date", "model_id", "completion_tokens", "requests"]]
    chart = alt.Chart(data, config=CONFIG).mark_bar().encode(
        x=alt.X("date:O", title=f"day ({zone})", axis=alt.Axis(labelAngle=0, labelOverlap=True)),
        y=alt.Y("completion_tokens:Q", title="completion tokens", stack="zero",
                axis=alt.Axis(format="~s")),
        color=legend_color("model_id", names, hues, symbol="square", columns=1),
        tooltip=[alt.Tooltip("date:O", title="day"), alt.Tooltip("model_id:N", title="model"),
                 alt.Tooltip("completion_tokens:Q", title="completion tokens", format=",.0f"),
                 alt.Tooltip("requests:Q", title="requests", format=",.0f")],
    ).properties(height=260)
    return chart.to_dict()
