"""How old each shown value is, and what a page may offer while the server is not reachable.

Every figure on a page comes from one source: the status poll (memory,
requests, uptime, version), the model table, or the throughput samples. Each
knows when it last arrived; older than ``STALE_AFTER_S`` it is marked
"as of 13:41:46, 2 min ago". A value that never arrived is unknown ("—"),
never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from opta_stream.snapshot import Health, Snapshot
from opta_stream.units import clock_time, duration

__all__ = ["STALE_AFTER_S", "Age", "actions_blocked", "age_of", "models_age", "status_age"]

STALE_AFTER_S = 5.0  # a few poll intervals (1 s each)


@dataclass(frozen=True, slots=True)
class Age:
    """When a value last arrived (None: never) and how long ago, at the snapshot's time."""

    at: float | None
    now: float

    @property
    def known(self) -> bool:
        return self.at is not None

    @property
    def stale(self) -> bool:
        return self.at is not None and self.now - self.at > STALE_AFTER_S

    def note(self, tz: tzinfo, what: str = "") -> str:
        """'' when fresh; 'as of 13:41:46, 2 min ago' when stale; why it is unknown."""
        if self.at is None:
            return f"{what} not received yet".strip().capitalize()
        if not self.stale:
            return ""
        return f"As of {clock_time(self.at, tz)}, {duration(self.now - self.at)} ago"


def age_of(at: float | None, snap: Snapshot) -> Age:
    return Age(at, snap.taken_at)


def status_age(snap: Snapshot) -> Age:
    """Memory, requests, uptime and version: the status poll or a streamed status."""
    return age_of(snap.gauges.updated_at, snap)


def models_age(snap: Snapshot) -> Age:
    return age_of(snap.models_at, snap)


_BLOCKED = {
    Health.DOWN: "The server cannot be reached, so nothing can be sent to it.",
    Health.KEY_REJECTED: "The server rejects the admin key: fix the key, then retry.",
    Health.STOPPED: "The feed is stopped: reconnect first.",
    Health.CONNECTING: "Not connected to the server yet.",
}


def actions_blocked(snap: Snapshot) -> str | None:
    """Why load and unload cannot be offered now, or None when they can.

    Degraded with every poll refused is a server refusing new connections
    (shutting down): an action would be refused too. So is one shedding load.
    """
    if any(p.kind == "shedding" and not p.ok for p in snap.polls):
        return ("The server is shedding load at ≥ 95 % memory: it refuses loads and unloads "
                "(503) until memory falls.")
    if snap.health.state is Health.DEGRADED and snap.polls and not any(p.ok for p in snap.polls):
        return "The server refuses new connections (it may be shutting down)."
    return _BLOCKED.get(snap.health.state)
