"""The health model: one verdict per server from both sources, the stream and the polls.

A stream that beats while every poll is refused is a server shutting down
(Opta LMX keeps open streams alive after SIGTERM), not a live one; polls that
answer while the stream is down mean the server is up and the stream will be
back. ``assess`` is the pure rule; ``HealthTracker`` keeps its inputs (the
latest poll of each endpoint, internal errors by thread) and the time the
verdict last changed. The Store runs it under its own lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from opta_stream.snapshot import Connection, ConnState, Health, PollStatus, ServerHealth

__all__ = ["HEALTH_WORDS", "SAMPLER", "STREAM", "HealthTracker", "assess"]

# The feed's threads, as internal errors name them; each clears its own on success.
STREAM, SAMPLER = "event stream", "sampler"

# state → (label a person reads, log severity); "Live" is the live state's alone.
HEALTH_WORDS: dict[Health, tuple[str, str]] = {
    Health.CONNECTING: ("Connecting", "info"), Health.LIVE: ("Live", "info"),
    Health.DEGRADED: ("Degraded", "warning"), Health.DOWN: ("Down", "warning"),
    Health.KEY_REJECTED: ("Admin key rejected", "error"),
    Health.INTERNAL_ERROR: ("Internal error", "error"), Health.STOPPED: ("Stopped", "info"),
}

_SHUTTING_DOWN = "the server may be shutting down"


def assess(conn: Connection, polls: Sequence[PollStatus],
           internal: Mapping[str, str]) -> tuple[Health, str]:
    """(state, message) for a person, from the stream's state, the polls and internal errors."""
    if conn.state is ConnState.STOPPED:
        return Health.STOPPED, "The feed was stopped."
    if internal:
        role, message = next(iter(internal.items()))
        return Health.INTERNAL_ERROR, f"Internal error in Opta Stream's {role}: {message}"
    rejected = [p for p in polls if p.auth_rejected]
    if conn.state is ConnState.AUTH_REJECTED or rejected:
        return Health.KEY_REJECTED, conn.message if conn.state is ConnState.AUTH_REJECTED \
            else rejected[0].message
    failing = [p for p in polls if not p.ok]
    shedding = [p for p in failing if p.kind == "shedding"]
    if shedding:  # a 503 ``overloaded`` is memory pressure: the server is up, not down
        return Health.DEGRADED, ("The server is shedding load at ≥ 95 % memory: it refuses "
                                 "every request but its health check until memory falls "
                                 f"({shedding[0].message}).")
    stream_open = conn.state is ConnState.OPEN
    if stream_open and not failing:
        return Health.LIVE, "Event stream open and every poll answers."
    if stream_open:
        return Health.DEGRADED, _stream_only(failing, polls)
    if conn.state is ConnState.CONNECTING and not failing:
        # The first connection is still being made: polls may answer first. That is
        # connecting, not a stream that went down.
        return Health.CONNECTING, ("Polls answer; opening the event stream…" if polls
                                   else conn.message or "Connecting…")
    if polls and not failing:
        why = f" ({conn.message})" if conn.message else ""
        if max(p.at for p in polls) < conn.since:
            # Every answer predates the stream's fall (a kill, a crash): whether the
            # server is still up is not known until the next poll says.
            return Health.DEGRADED, (f"The event stream closed{why}; the next poll will "
                                     "tell whether the server is still up.")
        return Health.DEGRADED, (f"Polling works but the event stream is down{why}; "
                                 "reconnecting.")
    why = conn.message or (failing[0].message if failing else "")
    return Health.DOWN, f"The server cannot be reached: {why}".rstrip(": ")


def _stream_only(failing: Sequence[PollStatus], polls: Sequence[PollStatus]) -> str:
    """Which polls fail while the stream is open; an answer older than the failures
    (an endpoint polled less often) does not count as answering."""
    first = failing[0].message
    since = min(p.at for p in failing)
    if not any(p.ok and p.at >= since for p in polls):
        return f"Event stream open but polling fails ({first}): {_SHUTTING_DOWN}."
    names = ", ".join(p.endpoint for p in failing)
    return f"Event stream open; polling {names} fails ({first}), the rest answers."


class HealthTracker:
    """Inputs of the health model and its current verdict; not thread-safe (Store locks)."""

    def __init__(self, now: float) -> None:
        self.polls: dict[str, PollStatus] = {}
        self.internal: dict[str, str] = {}
        self.current = ServerHealth(since=now)
        self.last_seen_at: float | None = None

    def set_poll(self, status: PollStatus) -> None:
        old = self.polls.get(status.endpoint)
        last_ok = status.at if status.ok else (old.last_ok_at if old else None)
        self.polls[status.endpoint] = replace(status, last_ok_at=last_ok)
        if status.ok:
            self.last_seen_at = status.at

    def update(self, conn: Connection, now: float) -> ServerHealth | None:
        """Re-assess; the new verdict when the state changed, else None."""
        state, message = assess(conn, tuple(self.polls.values()), self.internal)
        old = self.current
        since = old.since if state is old.state else now
        self.current = ServerHealth(state, message, since, self.last_seen_at)
        return self.current if state is not old.state else None

    def verdict(self, last_event_at: float | None) -> ServerHealth:
        """The current verdict, with the last sign of life from polls or the stream."""
        seen = [t for t in (self.last_seen_at, last_event_at) if t is not None]
        return replace(self.current, last_seen_at=max(seen, default=None))

    def snapshot(self) -> tuple[PollStatus, ...]:
        return tuple(self.polls.values())
