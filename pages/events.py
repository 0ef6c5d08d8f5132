"""Events: the server's event log, filtered and searchable, with counts and CSV.

Categories and severities come from the event name, as the server's own
schema groups them. Everything from the server is shown as plain text in a
table, never as markdown or HTML, so event data cannot inject anything.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from opta_stream.events.text import classify
from opta_stream.present import export
from opta_stream.present.formatting import clock_time
from opta_stream.snapshot import LogEntry, Snapshot
from opta_stream.ui import routing, widgets

CATEGORIES = ("model", "download", "quantize", "config", "memory", "request",
              "metrics", "system", "feed", "other")
SEVERITIES = ("debug", "info", "warning", "error")
TABLE_HEIGHT = 420
ROW_PX = 35
COLUMNS = {  # widths, so the summary gets the room; every cell stays plain text
    "time": st.column_config.TextColumn(width=70),
    "event": st.column_config.TextColumn(width=170),
    "category": st.column_config.TextColumn(width=80),
    "severity": st.column_config.TextColumn(width=70),
    "summary": st.column_config.TextColumn(width="large"),
    "data": st.column_config.TextColumn(width="medium"),
}

src = routing.page_source(__file__)
store = src.store


def matches(entry: LogEntry, categories: Sequence[str], severities: Sequence[str],
            needle: str) -> bool:
    """The filters: category and severity sets, and a case-insensitive search."""
    if entry.category not in categories and not (
            "other" in categories and entry.category not in CATEGORIES):
        return False
    if entry.severity not in severities:
        return False
    return not needle or needle in f"{entry.type}\n{entry.summary}\n{entry.data}".lower()


def log_frame(entries: Sequence[LogEntry]) -> pd.DataFrame:
    """Newest first; every cell is text or a number, shown as such."""
    tz = widgets.viewer_tz()
    rows = [(clock_time(e.ts, tz), e.type, e.category, e.severity, e.summary, e.data)
            for e in reversed(entries)]
    cols = ["time", "event", "category", "severity", "summary", "data"]
    return pd.DataFrame(rows, columns=cols, dtype=object)


def type_matches(event_type: str, categories: Sequence[str], severities: Sequence[str],
                 needle: str) -> bool:
    """The same filters for a count: by the type's own category and usual severity."""
    category, severity = classify(event_type)
    return matches(LogEntry(0, 0.0, event_type, category, severity, ""), categories, severities,
                   needle)


def counts_frame(snap: Snapshot, categories: Sequence[str], severities: Sequence[str],
                 needle: str) -> pd.DataFrame:
    items = sorted(((k, v) for k, v in snap.event_counts.items()
                    if type_matches(k, categories, severities, needle)),
                   key=lambda kv: (-kv[1], kv[0]))
    return pd.DataFrame(items, columns=["event", "count"]).astype({"event": object})


def table(entries: Sequence[LogEntry], total: int) -> None:
    st.caption(f"{len(entries)} of {total} logged events match. The log keeps the newest "
               "lines; heartbeats are counted but not logged.")
    if not entries:
        st.caption("Nothing to show: no event matches these filters yet." if total else
                   "No events yet — they appear here as the server sends them.")
        return
    height = min(TABLE_HEIGHT, ROW_PX * (len(entries) + 1) + 3)
    st.dataframe(log_frame(entries), hide_index=True, width="stretch", height=height,
                 key="events_table", column_config=COLUMNS)


def download(snap: Snapshot, entries: Sequence[LogEntry]) -> None:
    start = entries[0].ts if entries else snap.taken_at
    end = entries[-1].ts if entries else snap.taken_at
    widgets.csv_button(
        lambda: export.events_csv(entries), len(entries),
        file_name=export.export_filename(snap.server, "events", start, end),
        key="events_csv",
        help="The events matching the filters, oldest first, with UTC timestamps.")


@st.fragment(run_every=0.5)
def live(categories: Sequence[str], severities: Sequence[str], needle: str) -> None:
    snap = store.snapshot(60.0)
    entries = [e for e in snap.events if matches(e, categories, severities, needle)]
    main, side = st.columns([7, 3])
    with main:
        table(entries, len(snap.events))
        download(snap, entries)
    with side:
        st.markdown("**Counts per type**")
        counts = counts_frame(snap, categories, severities, needle)
        st.caption("Every event the server sent since the dashboard started, heartbeats "
                   "included (choose severity debug to see them), with the same filters.")
        if len(counts):
            st.dataframe(counts, hide_index=True, width="stretch", key="events_counts")
        else:
            st.caption("No event type matches these filters.")


st.header("Events")
chosen_categories = st.pills("Category", CATEGORIES, selection_mode="multi", default=CATEGORIES,
                             key="events_categories")
left, right = st.columns([2, 3], vertical_alignment="bottom")
chosen_severities = left.pills("Severity", SEVERITIES, selection_mode="multi",
                               default=("info", "warning", "error"), key="events_severities")
search = right.text_input("Search", key="events_search", placeholder="model id, error …")
live(chosen_categories, chosen_severities, search.strip().lower())
