"""The usage ledger by the viewer's local day: the Usage page's figures and table rows.

A bucket belongs to the local date its start falls on in the viewer's zone
(buckets are quarter hours, so every zone's days are whole buckets; a DST
change only makes that day 23 or 25 hours long).
"""

from __future__ import annotations

from datetime import tzinfo

import numpy as np
import pandas as pd

from opta_stream.snapshot import ALL_MODELS, USAGE_VALUES, Usage

__all__ = ["ALL_LABEL", "COLUMNS", "COUNTS", "HEADINGS", "daily", "per_model", "readable",
           "totals"]

COLUMNS = ("date", "day_start", "model_id", *USAGE_VALUES)
COUNTS = ("requests", "errors", "prompt_tokens", "completion_tokens")
ALL_LABEL = "(all models)"  # the server-wide row (ledger.ALL_MODELS) in a table


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """For a table: counts as whole numbers (the ledger sums floats; a count the server does
    not report stays empty), busy time to 0.1 s, the server-wide row named, and the
    columns named in words (``HEADINGS``)."""
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
    return out.rename(columns=HEADINGS)


# What a table calls each column (the CSV keeps the names a program reads).
HEADINGS = {"date": "Day", "model_id": "Model", "requests": "Requests", "errors": "Errors",
            "prompt_tokens": "Prompt tokens", "completion_tokens": "Completion tokens",
            "busy_s": "Busy (s)"}


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
