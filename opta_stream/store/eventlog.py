"""The event log: bounded lines with sequence numbers, one line per job, counts per type.

Lines are numbered (``seq``) so the history writer can ask for what is new.
A download or quantize job has one line instead of one per progress tick: its
first event appends a line that names the job (``LogEntry.job``); each later
tick rewrites that line where it stands (the latest time, severity, summary
and data, one more in ``updates``, ``first_ts`` kept); its outcome takes the
line out of its place and appends it as the newest, so an outcome reads like
any new event (the Overview's latest events, chart markers) and a later job
with the same key starts a line of its own. The seq of a line moved that way
is kept for history (``take_removed``), whose copy must go. Nothing is
dropped silently: the counts per type count every tick, and a line pushed
out of the full log is counted in ``dropped``. Server text is clipped here.
Not thread-safe: the Store calls it under its lock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import replace

from opta_stream.events.records import LmxEvent
from opta_stream.events.text import classify_event, summarize
from opta_stream.snapshot import LogEntry
from opta_stream.store.bounds import OTHER, clip, clip_bytes

__all__ = ["MAX_EVENT_TYPES", "EventLog"]

MAX_EVENT_TYPES = 200
_MAX_REMOVED = 4096  # nobody collects them when history is off: bounded


class EventLog:
    """At most ``capacity`` lines, newest last; the per-type counts; job lines."""

    def __init__(self, capacity: int) -> None:
        self._lines: deque[LogEntry] = deque(maxlen=capacity)
        self._seq = 0
        self._dropped = 0
        self._type_counts: dict[str, int] = {}
        self._kind_counts: dict[tuple[str, str], int] = {}  # (type, severity)
        self._removed: list[int] = []  # seqs of job lines that moved to the end

    # -- writes ---------------------------------------------------------------
    def append(self, type_: str, summary: str, category: str, severity: str, data: str,
               ts: float, *, server: bool = False) -> None:
        """A new line at the end (the oldest goes when the log is full, and is counted).
        A line of the dashboard's own (not ``server``) is counted by type and severity
        here; a server event was counted when it arrived."""
        if len(self._lines) == self._lines.maxlen:
            self._dropped += 1
        if not server:
            kind = (clip(type_, 64), severity)
            self._kind_counts[kind] = self._kind_counts.get(kind, 0) + 1
        self._seq += 1
        self._lines.append(LogEntry(self._seq, ts, clip(type_, 64), category, severity,
                                    clip(summary, 500), clip_bytes(data)))

    def add_event(self, e: LmxEvent) -> None:
        """A server event as a line, in the log's words."""
        category, severity = classify_event(e)
        self.append(e.type, summarize(e), category, severity, e.raw, e.received_at,
                    server=True)

    def add_job(self, key: str, e: LmxEvent, done: bool) -> None:
        """A job's tick updates its line; its outcome (``done``) moves the line to the end."""
        category, severity = classify_event(e)
        summary = summarize(e)
        at = self._job_line(key)
        old = None if at is None else self._lines[at]
        if at is not None and old is not None and not done:
            self._lines[at] = replace(old, ts=e.received_at, type=clip(e.type, 64),
                                      severity=severity, summary=clip(summary, 500),
                                      data=clip_bytes(e.raw), updates=old.updates + 1,
                                      first_ts=_first(old))
            return
        if at is not None:
            self._removed.append(self._lines[at].seq)
            if len(self._removed) > _MAX_REMOVED:
                del self._removed[:_MAX_REMOVED // 2]
            del self._lines[at]
        self.append(e.type, summary, category, severity, e.raw, e.received_at, server=True)
        if old is not None or not done:
            self._lines[-1] = replace(self._lines[-1], job="" if done else key,
                                      updates=1 if old is None else old.updates + 1,
                                      first_ts=None if old is None else _first(old))

    def _job_line(self, key: str) -> int | None:
        """Where the running job ``key`` has its line (newest first: a job is usually recent)."""
        for back, entry in enumerate(reversed(self._lines)):
            if entry.job == key:
                return len(self._lines) - 1 - back
        return None

    def count_type(self, event_type: str, n: int = 1, severity: str = "") -> None:
        """Count ``n`` events of a type (and by type and severity, as the log shows them, so
        the Events page can filter counts exactly as it filters lines); past
        ``MAX_EVENT_TYPES`` types, as OTHER."""
        key = clip(event_type, 64)
        if key not in self._type_counts and len(self._type_counts) >= MAX_EVENT_TYPES:
            key = OTHER
        self._type_counts[key] = self._type_counts.get(key, 0) + n
        if severity:
            kind = (key, severity)
            self._kind_counts[kind] = self._kind_counts.get(kind, 0) + n

    # -- reads ----------------------------------------------------------------
    def newest(self, n: int) -> tuple[LogEntry, ...]:
        """The newest ``n`` lines, oldest first."""
        return tuple(self._lines)[-n:] if n > 0 else ()

    def cut(self, n: int) -> bool:
        """Would ``newest(n)`` leave lines out, or did the log already drop some?"""
        return len(self._lines) > n or self._dropped > 0

    @property
    def dropped(self) -> int:
        """Lines pushed out of the full log."""
        return self._dropped

    def type_counts(self) -> dict[str, int]:
        return dict(self._type_counts)

    def kind_counts(self) -> dict[tuple[str, str], int]:
        """Counts by (type, severity)."""
        return dict(self._kind_counts)

    def nbytes(self) -> int:
        """A rough estimate: the lines' text plus a fixed cost per line and per type."""
        lines = sum(300 + len(e.data) + len(e.summary) + len(e.type) for e in self._lines)
        return lines + 120 * (len(self._type_counts) + len(self._kind_counts))

    # -- history (store.handover) -------------------------------------------------
    @property
    def seq(self) -> int:
        """The newest line's number."""
        return self._seq

    def since(self, seq: int) -> list[LogEntry]:
        """Lines newer than ``seq``, and every running job's line (it may have changed)."""
        return [e for e in self._lines if e.seq > seq or e.job]

    def take_removed(self) -> list[int]:
        """Seqs of lines no longer in the log since the last call (their copies must go)."""
        removed, self._removed = self._removed, []
        return removed

    def load(self, entries: Iterable[LogEntry]) -> None:
        """Lines read back from history, oldest first, numbered anew; none is a running
        job's line any more."""
        for e in entries:
            self._seq += 1
            self._lines.append(replace(e, seq=self._seq, job=""))


def _first(line: LogEntry) -> float:
    return line.ts if line.first_ts is None else line.first_ts
