"""The Store's counters (``snapshot.Counters``) by name, checked once where they are added.

Several parts have something to count (the feed's bytes and reconnects, bad
events, bugs), so the counts are one small part of their own that each is
handed, rather than a dict they all write into. Not thread-safe: the Store
calls it under its lock.
"""

from __future__ import annotations

from dataclasses import fields

from opta_stream.snapshot import Counters

__all__ = ["COUNTER_NAMES", "Tally"]

COUNTER_NAMES = frozenset(f.name for f in fields(Counters))


class Tally:
    """Cumulative counts since the Store was made."""

    def __init__(self) -> None:
        self._counts = dict.fromkeys(COUNTER_NAMES, 0)

    def add(self, **deltas: int) -> None:
        """Add to counters by name, e.g. ``add(bytes=512, oversized_lines=1)``."""
        unknown = set(deltas) - COUNTER_NAMES
        if unknown:
            raise TypeError(f"unknown counter(s): {', '.join(sorted(unknown))}")
        for name, delta in deltas.items():
            self._counts[name] += int(delta)

    def counters(self, log_dropped: int = 0) -> Counters:
        """The counts now; ``log_dropped`` is the event log's own count, added in."""
        counts = dict(self._counts)
        counts["log_dropped"] += log_dropped
        return Counters(**counts)
