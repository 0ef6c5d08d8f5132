"""The Store's side of history: hand out what is new since the marks, take back a file's rows.

``Handover`` is handed the parts history reads and fills (series, serving
history, usage ledger, event log, connection health for the gaps, the
model-id interner) and works only through their APIs; the Store calls it
under its lock. Loading puts the file's rows in front of anything recorded
since, moves every series to a new segment, draws the restart as a gap (from
the last run's last write to now), and marks the raw rings as complete only
from now, so a window reaching back reads the loaded buckets instead.
"""

from __future__ import annotations

from opta_stream.store.bounds import Interner
from opta_stream.store.connection import ConnectionHealth
from opta_stream.store.eventlog import EventLog
from opta_stream.store.history_rows import HistoryRows, Marks, ServingRows
from opta_stream.store.series import SeriesSet
from opta_stream.store.serving import ServingHistory
from opta_stream.store.usage import UsageLedger

__all__ = ["Handover"]


class Handover:
    """Hand-out and take-back of history rows (see the module docstring)."""

    def __init__(self, series: SeriesSet, serving: ServingHistory, usage: UsageLedger,
                 log: EventLog, link: ConnectionHealth, names: Interner) -> None:
        self._series = series
        self._serving = serving
        self._usage = usage
        self._log = log
        self._link = link
        self._names = names

    def marks(self) -> Marks:
        """How far everything held goes now."""
        last_gap = self._link.last_gap_start()
        return Marks(self._series.marks(), self._serving.minutes_total, self._log.seq,
                     float("-inf") if last_gap is None else last_gap)

    def delta(self, marks: Marks) -> tuple[HistoryRows, Marks]:
        """Everything new since ``marks`` (open buckets and the open minute again), and
        the marks after it."""
        out = HistoryRows()
        out.tiers, tier_marks = self._series.rows_since(marks.tiers, self._names.names)
        rows, ends, minutes = self._serving.minutes_since(marks.minutes)
        out.serving = ServingRows(rows, *self._serving.decode(rows), ends=ends)
        out.usage = self._usage.take_changed()
        out.events = self._log.since(marks.seq)
        out.removed = self._log.take_removed()
        out.gaps = self._link.gaps_since(marks.gap_from)
        last_gap = self._link.last_gap_start()
        gap_from = marks.gap_from if last_gap is None else last_gap
        return out, Marks(tier_marks, minutes, self._log.seq, gap_from)

    def load(self, rows: HistoryRows, now: float) -> Marks:
        """Put a file's rows in place (before anything new); the marks after them."""
        segs = [self._series.load(rows.tiers, rows.complete_from, self._names)]
        if rows.serving is not None:
            s = rows.serving
            segs.append(self._serving.load(s.rows, s.keys, s.bounds, now))
        self._usage.load(rows.usage)
        self._log.load(rows.events)
        self._link.load_gaps(rows.gaps, now)
        if len(rows):
            self._series.after_load(now, max((s for s in segs if s is not None), default=None))
            if rows.last_at is not None and rows.last_at < now:
                self._link.add_gap(rows.last_at, now)
        return self.marks()
