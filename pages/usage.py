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

import streamlit as st

from opta_stream.charts.usage_chart import colors, usage_chart
from opta_stream.export import csv_files as export
from opta_stream.export.csv_files import usage_csv
from opta_stream.figures.usage_days import daily, per_model, readable, totals
from opta_stream.store import Store
from opta_stream.ui import routing, shared, widgets
from opta_stream.units import count, duration
from opta_stream.views.recording import Recorder

src = routing.page_source(__file__)
RANGES = {"7 days": 7, "30 days": 30}
RANGE_KEY = "opta_usage_range"
REDRAW_S = 5.0  # the ledger moves when a request finishes; no need for 2 Hz here


def first_day(now: float, days: int, tz: tzinfo) -> float:
    """Local midnight ``days - 1`` days before today: the range's first whole day."""
    today = datetime.fromtimestamp(now, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return (today - timedelta(days=days - 1)).timestamp()


def build(store: Store, days: int, tz: tzinfo) -> Recorder:
    out = Recorder()
    snap = store.snapshot(1.0)
    now = snap.taken_at
    start = first_day(now, days, tz)
    usage = store.usage(start, now)
    frame = daily(usage, tz)
    models = per_model(frame)
    cols = out.columns(4)
    sums = totals(frame)
    cols[0].metric("Completion tokens", count(sums["completion_tokens"]), border=True)
    cols[1].metric("Prompt tokens", count(sums["prompt_tokens"]), border=True,
                   help="The server counts prompt tokens for all models together.")
    cols[2].metric("Requests", count(sums["requests"]), border=True)
    cols[3].metric("Busy time", duration(sums["busy_s"]), border=True,
                   help="The seconds requests took, summed: two at once count twice.")
    zone = widgets.tz_name(tz)
    if frame.empty:
        out.caption("No request has finished in this range yet. Counts appear when a "
                    "request finishes, as the server counts them.")
    else:
        shared.chart(out, usage_chart(frame, zone, colors(usage)), key="usage_chart")
        out.subheader("Per model")
        shared.table(out, readable(models), hide_index=True, width="stretch")
        out.caption("Opta LMX counts prompt tokens for all models together, so a model's "
                    "prompt tokens are empty; the per-day table has the server's own row.")
        out.subheader("Per day")
        shared.table(out, readable(frame.drop(columns=["day_start"]).iloc[::-1]),
                     hide_index=True, width="stretch")
    h = snap.history
    kept = ("History is off: only what this process saw since it started is counted."
            if h.state == "off" else
            f"History reaches back {duration(now - h.since)}." if h.since else "")
    out.caption(f"Days are local dates in {zone}. {kept}")
    widgets.csv_button(lambda: usage_csv(frame), len(frame),
                       file_name=export.export_filename(snap.server, "usage", start, now),
                       key="usage_csv", help="One row per day and model, in your time zone.",
                       out=out)
    return out


@st.fragment(run_every=max(src.settings.render_s, REDRAW_S))
def live(days: int) -> None:
    shared.draw(src, shared.page(src, "usage", float(days),
                                 lambda store, tz: build(store, days, tz)))


st.header("Usage")
remembered = st.session_state.get(RANGE_KEY, "7 days")
choice = st.segmented_control("Range", list(RANGES), default=remembered, key="usage_range",
                              required=True) or remembered
st.session_state[RANGE_KEY] = choice
live(RANGES[choice])
