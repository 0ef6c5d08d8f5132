"""The Store's connection and health writers: the stream's state, each poll's answer, bugs.

A mixin of ``Store`` (like ``apply``): it works on the Store's state under its
lock. Leaving OPEN opens a gap and a new segment; every change is re-assessed
into the health verdict, and a changed verdict is logged.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from opta_stream.snapshot import Connection, ConnState, PollStatus
from opta_stream.store.bounds import clip
from opta_stream.store.health import HEALTH_WORDS, SAMPLER, STREAM, HealthTracker
from opta_stream.store.notify import Notifier

__all__ = ["ConnectionState"]


class ConnectionState(Notifier):
    _clock: Callable[[], float]
    _conn: Connection
    _health: HealthTracker
    _gaps: deque[tuple[float, float | None]]
    _seg: int
    _counters: dict[str, int]

    if TYPE_CHECKING:  # defined by Store
        def _append_log(self, type_: str, summary: str, category: str, severity: str,
                        data: str, ts: float) -> None: ...

    def set_connection(self, state: ConnState, message: str = "", *,
                       next_retry_at: float | None = None, attempt: int = 0) -> None:
        """Move the feed's state; leaving OPEN opens a gap, entering OPEN closes it."""
        with self._write():
            now, old = self._clock(), self._conn
            if old.state is ConnState.OPEN and state is not ConnState.OPEN:
                self._gaps.append((now, None))
                self._seg += 1
            elif state is ConnState.OPEN and old.state is not ConnState.OPEN:
                if self._gaps and self._gaps[-1][1] is None:
                    self._gaps[-1] = (self._gaps[-1][0], now)
            since = old.since if state is old.state else now
            self._conn = Connection(state, clip(message, 1000), since, next_retry_at,
                                    attempt=attempt)
            if state is ConnState.OPEN:
                self._health.internal.pop(STREAM, None)
            self._reassess(now)

    def set_poll(self, endpoint: str, ok: bool, message: str = "", *,
                 auth_rejected: bool = False) -> None:
        """The latest answer of one polled endpoint (each is polled and reported on its own)."""
        with self._write():
            now = self._clock()
            self._health.set_poll(PollStatus(clip(endpoint, 100), ok, clip(message, 500), now,
                                             auth_rejected=auth_rejected))
            if ok:
                self._health.internal.pop(SAMPLER, None)
            self._reassess(now)

    def set_internal_error(self, role: str, message: str) -> None:
        """A bug in Opta Stream's ``role`` thread; cleared by that thread's next success."""
        with self._write():
            self._counters["internal_errors"] += 1
            self._health.internal[role] = clip(message, 500)
            self._reassess(self._clock())

    def _reassess(self, now: float) -> None:
        changed = self._health.update(self._conn, now)
        if changed is not None:
            label, severity = HEALTH_WORDS[changed.state]
            self._append_log("feed_health", f"{label}: {changed.message}", "feed", severity,
                             "", now)

