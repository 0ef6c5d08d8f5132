"""Events: the server's event log over a chosen window, filtered and searchable, with
counts and CSV.

Categories and severities come from the event name (and a readiness change's
new state), as the server's own schema groups them; the severity shows as a
coloured chip. Summaries wrap, and a double-click on a cell shows it whole. A
download or quantize job is one line that its ticks update in place. Everything
from the server is shown as plain text in a table, never as markdown or HTML,
so event data cannot inject anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

import streamlit as st

from opta_stream.export import csv_files as export
from opta_stream.snapshot import LogEntry, Snapshot
from opta_stream.store.core import SNAPSHOT_EVENTS as SHOWN
from opta_stream.ui import routing, shared, widgets
from opta_stream.units import clock_time
from opta_stream.views.event_rows import (
    CATEGORIES,
    SEVERITIES,
    SEVERITY_COLORS,
    counts_frame,
    in_window,
    log_frame,
    matches,
    oldest,
    row_lines,
)
from opta_stream.views.recording import Block, Recorder

TABLE_HEIGHT = 600
LINE_PX, PAD_PX, HEADER_PX = 18.5, 11, 38
COLUMNS = {  # 820 px, the page's width at 1280 px: the summary gets the room; all plain text
    "time": st.column_config.TextColumn(width=70),
    "severity": st.column_config.MultiselectColumn(
        width=90, options=SEVERITIES, color=[SEVERITY_COLORS[s] for s in SEVERITIES]),
    "summary": st.column_config.TextColumn(width=400),
    "event": st.column_config.TextColumn(width=130),
    "data": st.column_config.TextColumn(width=130),
}

src = routing.page_source(__file__)
store = src.store


def window_label(window_s: float) -> str:
    return next((k for k, v in widgets.WINDOWS.items() if v == window_s), f"{window_s:.0f} s")


def table(out: Block, entries: Sequence[LogEntry], in_view: int, snap: Snapshot,
          window_s: float, tz: tzinfo) -> None:
    start = snap.taken_at - window_s
    first, cut = oldest(snap.events), snap.counters.log_dropped or len(snap.events) >= SHOWN
    reach = (f" The log reaches back to {clock_time(first, tz)}; older lines are no longer "
             "kept." if first is not None and first > start and cut else "")
    out.caption(f"{len(entries)} of {in_view} logged events in the last "
               f"{window_label(window_s)} match. Heartbeats are counted but not "
               "logged; a download or quantize job is one line, updated in place. Double-click "
               f"a cell to read it whole.{reach}")
    if not entries:
        out.caption("Nothing to show: no event matches these filters yet." if in_view else
                    "No events yet — they appear here as the server sends them.")
        return
    row_px = round(LINE_PX * row_lines(entries, tz) + PAD_PX)
    dated = window_s > 3600.0
    config = {**COLUMNS, "time": st.column_config.TextColumn(width=115)} if dated else COLUMNS
    shared.table(out, log_frame(entries, tz, dated=dated), hide_index=True, width="stretch",
                 height=min(TABLE_HEIGHT, row_px * len(entries) + HEADER_PX),
                 row_height=row_px, key="events_table", column_config=config)


def download(out: Block, snap: Snapshot, entries: Sequence[LogEntry], start: float) -> None:
    widgets.csv_button(
        lambda: export.events_csv(entries), len(entries),
        file_name=export.export_filename(snap.server, "events", start, snap.taken_at),
        key="events_csv",
        help="The events in the window that match the filters, oldest first, with UTC "
             "timestamps; a job's line says how many events it folds.", out=out)


def counts(out: Block, snap: Snapshot, categories: Sequence[str], severities: Sequence[str],
           needle: str) -> None:
    out.markdown("**Counts per type**")
    out.caption("Every event the server sent since the dashboard started, each progress tick "
               "and heartbeat included (choose severity debug to see heartbeats), with the "
               "same filters.")
    frame = counts_frame(snap.event_counts, categories, severities, needle)
    if len(frame):
        shared.table(out, frame, hide_index=True, width="stretch", key="events_counts")
    else:
        out.caption("No event type matches these filters.")


def build(snap: Snapshot, tz: tzinfo, window_s: float, categories: Sequence[str],
          severities: Sequence[str], needle: str) -> Recorder:
    """The live part's elements for one tick and set of filters, shared by its viewers."""
    out = Recorder()
    start = snap.taken_at - window_s
    shown = in_window(snap.events, start)
    entries = [e for e in shown if matches(e, categories, severities, needle)]
    table(out, entries, len(shown), snap, window_s, tz)
    download(out, snap, entries, start)
    left, _ = out.columns([3, 2])
    with left:
        counts(out, snap, categories, severities, needle)
    return out


@st.fragment(run_every=src.settings.render_s)
def live(window_s: float, categories: Sequence[str], severities: Sequence[str],
         needle: str) -> None:
    filters = (tuple(categories), tuple(severities), needle)
    shared.draw(src, shared.page(
        src, "events", window_s,
        lambda store, tz: build(store.snapshot(60.0), tz, window_s, *filters), filters))


st.header("Events")
window = widgets.window_selector("events_window")
chosen_categories = st.pills("Category", CATEGORIES, selection_mode="multi", default=CATEGORIES,
                             key="events_categories")
left, right = st.columns([2, 3], vertical_alignment="bottom")
chosen_severities = left.pills("Severity", SEVERITIES, selection_mode="multi",
                               default=("info", "warning", "error"), key="events_severities")
search = right.text_input("Search", key="events_search", placeholder="model id, error …")
live(window, chosen_categories, chosen_severities, search.strip().lower())
