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

from opta_stream.export.csv_files import events_csv, export_filename
from opta_stream.figures.windows import window_label
from opta_stream.snapshot import LogEntry, Snapshot
from opta_stream.units import clock_time, zone
from opta_stream.views.csv_buttons import csv_button
from opta_stream.views.event_rows import (
    SEVERITIES,
    SEVERITY_COLORS,
    counts_frame,
    in_window,
    log_frame,
    matches,
    oldest,
    row_lines,
)
from opta_stream.views.recording import Block, Column, Recording
from opta_stream.views.specs import EventsSpec
from opta_stream.views.verdict import banner

__all__ = ["build"]

TABLE_HEIGHT = 600
LINE_PX, PAD_PX, HEADER_PX = 18.5, 11, 38
COLUMNS = {  # 820 px, the page's width at 1280 px: the summary gets the room; all plain text
    "Time": Column(width=70, pinned=True),
    "Severity": Column("multiselect", width=90, options=SEVERITIES,
                       colors=tuple(SEVERITY_COLORS[s] for s in SEVERITIES)),
    "Summary": Column(width=400),
    "Event": Column(width=130),
    "Details": Column(width=130),
}


def table(out: Block, entries: Sequence[LogEntry], in_view: int, snap: Snapshot,
          window_s: float, tz: tzinfo) -> None:
    start = snap.taken_at - window_s
    first = oldest(snap.events)
    reach = (f" The log reaches back to {clock_time(first, tz)}; older lines are no longer "
             "kept." if first is not None and first > start and snap.events_cut else "")
    out.caption(f"{len(entries)} of {in_view} logged events in the last "
                f"{window_label(window_s)} match. Heartbeats are counted but not "
                "logged; a download or quantize job is one line, updated in place. "
                f"Double-click a cell to read it whole.{reach}")
    if not entries:
        out.caption("Nothing to show: no event matches these filters yet." if in_view else
                    "No events yet — they appear here as the server sends them.")
        return
    row_px = round(LINE_PX * row_lines(entries, tz) + PAD_PX)
    dated = window_s > 3600.0
    columns = {**COLUMNS, "Time": Column(width=115, pinned=True)} if dated else COLUMNS
    out.table(log_frame(entries, tz, dated=dated), key="events_table", columns=columns,
              height=min(TABLE_HEIGHT, row_px * len(entries) + HEADER_PX), row_height=row_px)


def download(out: Block, snap: Snapshot, entries: Sequence[LogEntry], start: float) -> None:
    csv_button(out, lambda: events_csv(entries), len(entries),
               file_name=export_filename(snap.server, "events", start, snap.taken_at),
               key="events_csv",
               help="The events in the window that match the filters, oldest first, with UTC "
                    "timestamps; a job's line says how many events it folds.")


def counts(out: Block, snap: Snapshot, spec: EventsSpec) -> None:
    out.markdown("**Counts per type**")
    out.caption("Every event the server sent since the dashboard started, each progress tick "
                "and heartbeat included (choose severity debug to see heartbeats), and the "
                "dashboard's own notes, through the same filters as the table.")
    frame = counts_frame(snap.kind_counts, spec.categories, spec.severities, spec.needle)
    if len(frame):
        out.table(frame, key="events_counts")
    else:
        out.caption("No event type matches these filters.")


def build(spec: EventsSpec, snap: Snapshot) -> Recording:
    """The live part's elements for one tick and set of filters, shared by its viewers."""
    tz = zone(spec.tz)
    out = Recording()
    banner(out, snap)
    start = snap.taken_at - spec.window_s
    shown = in_window(snap.events, start)
    entries = [e for e in shown if matches(e, spec.categories, spec.severities, spec.needle)]
    table(out, entries, len(shown), snap, spec.window_s, tz)
    download(out, snap, entries, start)
    left, _ = out.columns([3, 2])
    counts(left, snap, spec)
    return out
