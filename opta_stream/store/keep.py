"""The Store's side of history: hand out what is new since the marks, take back a file's rows.

A mixin of ``Store`` (like ``apply``): it works on the Store's state under its
lock. Loading puts the file's rows in front of anything recorded since, moves
every series to a new segment, draws the restart as a gap (from the last run's
last write to now), and marks the raw rings as complete only from now, so a
window reaching back reads the loaded buckets instead.
"""

from __future__ import annotations

from collections import deque

from opta_stream.snapshot import LogEntry
from opta_stream.store.bounds import Interner
from opta_stream.store.kept import HistoryRows, Marks, ServingRows, TierRows
from opta_stream.store.notify import Notifier
from opta_stream.store.serving import ServingHistory
from opta_stream.store.tiers import TieredSeries
from opta_stream.store.usage import UsageLedger

__all__ = ["Keep"]


class Keep(Notifier):
    """Hand-out and take-back of history rows (see the module docstring)."""

    _tp: TieredSeries
    _mem_used: TieredSeries
    _mem_total: TieredSeries
    _names: Interner
    _serving: ServingHistory
    _usage: UsageLedger
    _log: deque[LogEntry]
    _log_removed: list[int]
    _gaps: deque[tuple[float, float | None]]
    _seg: int
    _seq: int
    _models: dict
    _jobs: dict
    _type_counts: dict[str, int]

    def _series_by_name(self) -> dict[str, TieredSeries]:
        return {"throughput": self._tp, "memory_used": self._mem_used,
                "memory_total": self._mem_total}

    def _marks(self) -> Marks:
        tiers = {(name, t.width): t.ring.total
                 for name, s in self._series_by_name().items() for t in s.tiers}
        return Marks(tiers, self._serving.minutes_total, self._seq,
                     self._gaps[-1][0] if self._gaps else float("-inf"))

    def history_delta(self, marks: Marks) -> tuple[HistoryRows, Marks]:
        """Everything new since ``marks`` (open buckets and the open minute again), and
        the marks after it."""
        with self._lock:
            names = self._names.names
            out, tier_marks = HistoryRows(), {}
            for name, series in self._series_by_name().items():
                for tier in series.tiers:
                    cols, first, nxt = tier.rows_since(marks.tiers.get((name, tier.width), 0))
                    tier_marks[(name, tier.width)] = nxt
                    if cols["ts"].shape[0]:
                        codes = cols.pop("model").tolist()
                        out.tiers.append(TierRows(name, tier.width, first, cols, [
                            names[c] if 0 <= c < len(names) else None for c in codes]))
            rows, ends, minutes = self._serving.minutes_since(marks.minutes)
            out.serving = ServingRows(rows, *self._serving.decode(rows), ends=ends)
            out.usage = self._usage.take_changed()
            out.events = [e for e in self._log if e.seq > marks.seq or e.job]
            out.removed, self._log_removed = self._log_removed, []
            out.gaps = [g for g in self._gaps if g[0] >= marks.gap_from]
            gap_from = self._gaps[-1][0] if self._gaps else marks.gap_from
            return out, Marks(tier_marks, minutes, self._seq, gap_from)

    def load_history(self, rows: HistoryRows, now: float) -> Marks:
        """Put a file's rows in place (before anything new); returns the marks after them."""
        with self._write():
            series = self._series_by_name()
            segs = [self._seg - 1]
            for t in rows.tiers:
                tier = next((x for x in series[t.series].tiers if x.width == t.width), None)
                if tier is None or not len(t):
                    continue
                tier.load({**t.cols, "model": self._names.codes(t.models, len(t))})
                tier.ring.complete_from = rows.complete_from.get((t.series, t.width))
                segs.append(int(t.cols["seg"].max()))
            if rows.serving is not None and len(rows.serving):
                s = rows.serving
                self._serving.load(s.rows, s.keys, s.bounds, now)
                segs.append(int(s.rows[:, 2].max()))
            self._usage.load(rows.usage)
            for e in rows.events:
                self._seq += 1
                self._log.append(LogEntry(self._seq, e.ts, e.type, e.category, e.severity,
                                          e.summary, e.data, e.updates, e.first_ts))
            # a gap the last run left open (it stopped, or was killed) ends now
            self._gaps.extend((a, now if b is None else b) for a, b in rows.gaps)
            if len(rows):
                for s_ in series.values():
                    s_.raw.complete_from = now
                self._seg = max(segs) + 2  # past every loaded segment, and a break
                if rows.last_at is not None and rows.last_at < now:
                    self._gaps.append((rows.last_at, now))
            return self._marks()

    def memory_bytes(self) -> int:
        """numpy buffers exactly, plus a rough estimate of the Python objects."""
        with self._lock:
            arrays = sum(s.nbytes for s in self._series_by_name().values())
            arrays += self._serving.nbytes()
            log = sum(300 + len(e.data) + len(e.summary) + len(e.type) for e in self._log)
            tables = 400 * (len(self._models) + len(self._jobs))
            small = 120 * (len(self._gaps) + len(self._type_counts) + len(self._names.names))
            small += 100 * len(self._usage)
        return arrays + log + tables + small
