"""Usage: per model and per local day, what finished on the server, over 7 or 30 days.

Answers "how many tokens did each model generate this week": requests, errors,
prompt and completion tokens and busy time (the seconds requests took, summed)
from the usage ledger, which history keeps across restarts. Counts move when a
request finishes, as the server counts them. The CSV holds one row per day and
model, in the viewer's zone, and the whole server's row (``*``), which alone has
the prompt tokens: Opta LMX does not count them per model.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

import pandas as pd

from opta_stream.charts.usage_chart import colors, usage_chart
from opta_stream.export.csv_files import export_filename, usage_csv
from opta_stream.figures.usage_days import daily, per_model, readable, totals
from opta_stream.snapshot import Snapshot
from opta_stream.units import count, duration, zone
from opta_stream.views.csv_buttons import csv_button
from opta_stream.views.recording import Column, Recording
from opta_stream.views.specs import UsageSpec
from opta_stream.views.verdict import banner

__all__ = ["USAGE_COLUMNS", "build", "first_day"]

# Counts with thousands separators, as the cards and the other tables write them; the day
# and the model pinned, so a phone keeps them beside the figures it scrolls to.
_COUNT = Column("number", format="localized")
USAGE_COLUMNS = {"Day": Column(width="small", pinned=True),
                 "Model": Column(width="medium", pinned=True), "Requests": _COUNT,
                 "Errors": _COUNT, "Prompt tokens": _COUNT, "Completion tokens": _COUNT,
                 "Busy (s)": Column("number", format="localized")}


def first_day(now: float, days: int, tz: tzinfo) -> float:
    """Local midnight ``days - 1`` days before today: the range's first whole day."""
    today = datetime.fromtimestamp(now, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return (today - timedelta(days=days - 1)).timestamp()


def _columns(table: pd.DataFrame) -> dict[str, Column]:
    """``USAGE_COLUMNS`` for the columns this table has; a count column that holds words
    ("—" where the server does not report it) keeps its text."""
    return {name: c for name, c in USAGE_COLUMNS.items() if name in table
            and (c.kind != "number" or pd.api.types.is_numeric_dtype(table[name]))}


def build(spec: UsageSpec, snap: Snapshot) -> Recording:
    tz = zone(spec.tz)
    out = Recording()
    banner(out, snap)
    now = snap.taken_at
    start = first_day(now, spec.days, tz)
    usage = snap.usage
    assert usage is not None, "the Usage view needs the ledger in its snapshot"
    frame = daily(usage, tz)
    frame = frame[frame["day_start"] >= start].reset_index(drop=True)
    models = per_model(frame)
    cols = out.columns(4)
    sums = totals(frame)
    cols[0].metric("Completion tokens", count(sums["completion_tokens"]))
    cols[1].metric("Prompt tokens", count(sums["prompt_tokens"]),
                   help="The server counts prompt tokens for all models together.")
    cols[2].metric("Requests", count(sums["requests"]))
    cols[3].metric("Busy time", duration(sums["busy_s"]),
                   help="The seconds requests took, summed: two at once count twice.")
    if frame.empty:
        out.caption("No request has finished in this range yet. Counts appear when a "
                    "request finishes, as the server counts them.")
    else:
        dates = [(datetime.fromtimestamp(start, tz) + timedelta(days=i)).strftime("%Y-%m-%d")
                 for i in range(spec.days)]
        out.chart(usage_chart(frame, spec.tz, colors(usage), dates), key="usage_chart")
        out.subheader("Per model")
        table = readable(models)
        out.table(table, columns=_columns(table))
        out.caption("Opta LMX counts prompt tokens for all models together, so a model's "
                    "prompt tokens are empty; the per-day table has the server's own row.")
        out.subheader("Per day")
        table = readable(frame.drop(columns=["day_start"]).iloc[::-1])
        out.table(table, columns=_columns(table))
    h = snap.history
    kept = ("History is off: only what this process saw since it started is counted."
            if h.state == "off" else
            f"History reaches back {duration(now - h.since)}." if h.since else "")
    out.caption(f"Days are local dates in {spec.tz}. {kept}")
    csv_button(out, lambda: usage_csv(frame), len(frame),
               file_name=export_filename(snap.server, "usage", start, now),
               key="usage_csv", help="One row per day and model, in your time zone.")
    return out
