"""One event-log line per download or quantize job, instead of one per progress tick.

A job's first event appends a line that names the job (``LogEntry.job``). Each
later tick rewrites that line where it stands: the latest time, severity,
summary and data, one more in ``updates``, and ``first_ts`` kept. The job's
outcome (completed, failed, cancelled) takes the line out of its place and
appends it as the newest entry, so an outcome reads like any new event (the
Overview's latest events, chart markers) and a later job with the same key
starts a line of its own. Nothing is dropped: the per-type counts still count
every tick, and a line evicted from the full log is simply started again.
Runs under ``Store._lock``, as a mixin of ``EventHandlers``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING

from opta_stream.events.records import LmxEvent
from opta_stream.events.text import classify_event, summarize
from opta_stream.snapshot import LogEntry
from opta_stream.store.bounds import clip, clip_bytes

__all__ = ["JobLines", "find_job_line"]


def find_job_line(log: deque[LogEntry], key: str) -> int | None:
    """Where the running job ``key`` has its line (newest first: a job is usually recent)."""
    for back, entry in enumerate(reversed(log)):
        if entry.job == key:
            return len(log) - 1 - back
    return None


class JobLines:
    """``_log_job``: a job's tick updates its line; its outcome moves the line to the end."""

    _log: deque[LogEntry]
    _log_removed: list[int]

    if TYPE_CHECKING:  # defined by Store
        def _append_log(self, type_: str, summary: str, category: str, severity: str,
                        data: str, ts: float) -> None: ...

    def _log_job(self, key: str, e: LmxEvent, done: bool) -> None:
        category, severity = classify_event(e)
        summary = summarize(e)
        at = find_job_line(self._log, key)
        old = None if at is None else self._log[at]
        if at is not None and old is not None and not done:
            self._log[at] = replace(old, ts=e.received_at, type=clip(e.type, 64),
                                    severity=severity, summary=clip(summary, 500),
                                    data=clip_bytes(e.raw), updates=old.updates + 1,
                                    first_ts=_first(old))
            return
        if at is not None:
            self._log_removed.append(self._log[at].seq)
            if len(self._log_removed) > 4096:  # nobody collects them (history off): bounded
                del self._log_removed[:2048]
            del self._log[at]
        self._append_log(e.type, summary, category, severity, e.raw, e.received_at)
        if old is not None or not done:
            self._log[-1] = replace(self._log[-1], job="" if done else key,
                                    updates=1 if old is None else old.updates + 1,
                                    first_ts=None if old is None else _first(old))


def _first(line: LogEntry) -> float:
    return line.ts if line.first_ts is None else line.first_ts
