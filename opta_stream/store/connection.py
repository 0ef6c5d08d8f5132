"""Connection health: the stream's state, each poll's answer, bugs, gaps, signs of life.

Leaving OPEN opens a gap and entering OPEN closes it; the caller breaks the
series' lines (``set_state`` says when). Every change is re-assessed into
the health verdict (``store.health``), and a changed verdict becomes a line
in the event log, through the log's own API (the one part this one is
given). Not thread-safe: the Store calls it under its lock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import replace

from opta_stream.snapshot import Connection, ConnState, PollStatus, ServerHealth
from opta_stream.store.bounds import clip
from opta_stream.store.eventlog import EventLog
from opta_stream.store.health import HEALTH_WORDS, SAMPLER, STREAM, HealthTracker
from opta_stream.store.rings import EventRate

__all__ = ["MAX_GAPS", "ConnectionHealth", "Gap"]

MAX_GAPS = 1000
Gap = tuple[float, float | None]  # (start, end or None while it lasts)


class ConnectionHealth:
    """Where the feed stands, the outages (gaps) and the health verdict."""

    def __init__(self, now: float, log: EventLog) -> None:
        self._log = log
        self._conn = Connection(since=now)
        self._health = HealthTracker(now)
        self._gaps: deque[Gap] = deque(maxlen=MAX_GAPS)
        self._last_event_at: float | None = None
        self._rate = EventRate(10)

    # -- writes ---------------------------------------------------------------
    def set_state(self, state: ConnState, message: str, now: float, *,
                  next_retry_at: float | None = None, attempt: int = 0) -> bool:
        """Move the feed's state; True when it left OPEN (the series' lines break there)."""
        old = self._conn
        left_open = old.state is ConnState.OPEN and state is not ConnState.OPEN
        if left_open:
            self._gaps.append((now, None))
        elif state is ConnState.OPEN and old.state is not ConnState.OPEN:
            if self._gaps and self._gaps[-1][1] is None:
                self._gaps[-1] = (self._gaps[-1][0], now)
        since = old.since if state is old.state else now
        self._conn = Connection(state, clip(message, 1000), since, next_retry_at,
                                attempt=attempt)
        if state is ConnState.OPEN:
            self._health.internal.pop(STREAM, None)
        self._reassess(now)
        return left_open

    def set_poll(self, endpoint: str, ok: bool, message: str, now: float, *,
                 auth_rejected: bool = False, kind: str = "") -> None:
        """The latest answer of one polled endpoint; ``kind`` what a failure was."""
        self._health.set_poll(PollStatus(clip(endpoint, 100), ok, clip(message, 500), now,
                                         auth_rejected=auth_rejected, kind=kind))
        if ok:
            self._health.internal.pop(SAMPLER, None)
        self._reassess(now)

    def set_internal_error(self, role: str, message: str, now: float) -> None:
        """A bug in Opta Stream's ``role`` thread, until that thread next succeeds."""
        self._health.internal[role] = clip(message, 500)
        self._reassess(now)

    def clear_internal_error(self, role: str, now: float) -> None:
        """``role``'s thread works again: its internal error is over."""
        if self._health.internal.pop(role, None) is not None:
            self._reassess(now)

    def _reassess(self, now: float) -> None:
        changed = self._health.update(self._conn, now)
        if changed is not None:
            label, severity = HEALTH_WORDS[changed.state]
            self._log.append("feed_health", f"{label}: {changed.message}", "feed", severity,
                             "", now)

    def heard(self, now: float, n: int) -> None:
        """``n`` events arrived: a sign of life, and the events-per-second rate."""
        self._rate.add(now, n)
        self._last_event_at = now

    # -- reads ----------------------------------------------------------------
    def connection(self) -> Connection:
        return replace(self._conn, last_event_at=self._last_event_at)

    def health(self) -> ServerHealth:
        return self._health.verdict(self._last_event_at)

    def polls(self) -> tuple[PollStatus, ...]:
        return self._health.snapshot()

    def events_per_s(self, now: float) -> float:
        return self._rate.rate(now)

    def gaps(self) -> tuple[Gap, ...]:
        return tuple(self._gaps)

    def nbytes(self) -> int:
        """A rough estimate of the gaps' Python objects."""
        return 120 * len(self._gaps)

    # -- history (store.handover) -------------------------------------------------
    def last_gap_start(self) -> float | None:
        return self._gaps[-1][0] if self._gaps else None

    def gaps_since(self, start: float) -> list[Gap]:
        """Gaps that start at ``start`` or later (the last one may still be open)."""
        return [g for g in self._gaps if g[0] >= start]

    def load_gaps(self, gaps: Iterable[Gap], now: float) -> None:
        """Gaps from the file; one the last run left open (it stopped, or was killed)
        ends now."""
        self._gaps.extend((a, now if b is None else b) for a, b in gaps)

    def add_gap(self, start: float, end: float) -> None:
        """An outage known after the fact (the restart: last write to now)."""
        self._gaps.append((start, end))
