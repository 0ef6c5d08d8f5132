"""The Events page's table: filters, the time window, rows and severity colours.

Pure: entries in, a DataFrame out. Every cell is text (the severity a one-item
list, so the table can show it as a coloured chip); nothing from the server is
ever rendered as markdown or HTML. A job's line (downloads, quantize) says how
many events it folds and since when, so a row that changes in place is never
mistaken for one event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

import pandas as pd

from opta_stream.events.text import classify
from opta_stream.snapshot import LogEntry
from opta_stream.units import clock_time

__all__ = [
    "CATEGORIES", "COLUMNS", "SEVERITIES", "SEVERITY_COLORS", "counts_frame", "in_window",
    "data_words", "event_words", "log_frame", "matches", "oldest", "row_lines",
]

CATEGORIES = ("model", "download", "quantize", "config", "memory", "request",
              "metrics", "system", "feed", "alert", "other")
SEVERITIES = ("debug", "info", "warning", "error")
# error red, warning amber, info neutral, debug muted (readable on the dark theme)
SEVERITY_COLORS: Mapping[str, str] = {"debug": "#3f3f46", "info": "#a1a1aa",
                                      "warning": "#f59e0b", "error": "#ef4444"}
COLUMNS = ("Time", "Severity", "Summary", "Event", "Details")
SUMMARY_CHARS_PER_LINE = 50  # a 400 px column, allowing for words that do not fit a line


def matches(entry: LogEntry, categories: Sequence[str], severities: Sequence[str],
            needle: str) -> bool:
    """The filters: category and severity sets, and a case-insensitive search."""
    if entry.category not in categories and not (
            "other" in categories and entry.category not in CATEGORIES):
        return False
    if entry.severity not in severities:
        return False
    return not needle or needle in f"{entry.type}\n{entry.summary}\n{entry.data}".lower()


def in_window(entries: Sequence[LogEntry], start: float) -> list[LogEntry]:
    """The lines whose latest event is at or after ``start`` (a job still updating counts)."""
    return [e for e in entries if e.ts >= start]


def oldest(entries: Sequence[LogEntry]) -> float | None:
    """The time of the oldest event the lines hold, or None for no lines."""
    return min((e.ts if e.first_ts is None else e.first_ts for e in entries), default=None)


def _when(ts: float, tz: tzinfo, dated: bool) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%b %d %H:%M:%S") if dated \
        else clock_time(ts, tz)


def summary_text(entry: LogEntry, tz: tzinfo) -> str:
    """The summary, and for a job's line how many events it stands for, since when."""
    if entry.updates <= 1:
        return entry.summary
    since = clock_time(entry.ts if entry.first_ts is None else entry.first_ts, tz)
    return f"{entry.summary} · {entry.updates} events since {since}"


def log_frame(entries: Sequence[LogEntry], tz: tzinfo, *, dated: bool = False) -> pd.DataFrame:
    """Newest first (by place in the log); the severity cell is a one-item list. ``dated``
    (windows longer than an hour) puts the day before the time."""
    rows = [(_when(e.ts, tz, dated), [e.severity], summary_text(e, tz), event_words(e.type),
             data_words(e.data)) for e in reversed(entries)]
    return pd.DataFrame(rows, columns=list(COLUMNS), dtype=object)


def data_words(data: str) -> str:
    """An event's data as "key: value · key: value" (the server sends JSON); text that is
    not a JSON object stays as it came."""
    try:
        value = json.loads(data) if data.lstrip().startswith("{") else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        return data
    return " · ".join(f"{k}: {_plain_value(v)}" for k, v in value.items())


def _plain_value(v: object) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        return f"{v:.0f}"
    return json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else str(v)


def row_lines(entries: Sequence[LogEntry], tz: tzinfo, least: int = 3, most: int = 6) -> int:
    """Lines per row so the longest summary shown fits whole (a longer one shows whole when
    its cell is double-clicked). Streamlit wraps text only in rows taller than 64 px."""
    longest = max((len(summary_text(e, tz)) for e in entries), default=0)
    return max(least, min(most, -(-longest // SUMMARY_CHARS_PER_LINE)))


def counts_frame(counts: Mapping[tuple[str, str], int], categories: Sequence[str],
                 severities: Sequence[str], needle: str) -> pd.DataFrame:
    """Events per type (every one received, ticks and heartbeats included, and the
    dashboard's own notes), most first, through the table's own filters: each count is of
    one (type, severity), so a warning readiness change counts as a warning."""
    totals: dict[str, int] = {}
    for (event_type, severity), n in counts.items():
        category, _ = classify(event_type)
        if matches(LogEntry(0, 0.0, event_type, category, severity, ""), categories,
                   severities, needle):
            totals[event_type] = totals.get(event_type, 0) + n
    items = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return pd.DataFrame([(event_words(t), n) for t, n in items],
                        columns=["Event", "Count"]).astype({"Event": object})


def event_words(event_type: str) -> str:
    """An event's name as words ("model readiness changed"): it wraps between words."""
    return event_type.replace("_", " ")
