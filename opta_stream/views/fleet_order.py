"""The Fleet page's order: servers in trouble first, and in words why.

A card's facts are a few numbers from its server's snapshot; ``order`` sorts
by how bad things are and keeps the configured order among equals, so cards
do not swap places while nothing changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from opta_stream.snapshot import Health

__all__ = ["CardFacts", "order", "rank", "trouble"]

_BROKEN = (Health.DOWN, Health.KEY_REJECTED, Health.INTERNAL_ERROR, Health.STOPPED)


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What ranks a server: its health and the figures that can be in trouble."""

    name: str
    state: Health
    memory_pct: float | None = None
    threshold_pct: float | None = None
    error_ratio: float | None = None  # failed over finished, on the card's window
    queued: float | None = None
    alerts_firing: int = 0  # the server's firing alerts (its snapshot's board)


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def trouble(f: CardFacts) -> list[str]:
    """Why this server needs attention, worst first (empty: it does not)."""
    out = []
    if f.state in _BROKEN:
        out.append("unreachable" if f.state is Health.DOWN else f.state.value.replace("_", " "))
    elif f.state is Health.DEGRADED:
        out.append("degraded")
    if (_known(f.memory_pct) and _known(f.threshold_pct)
            and f.memory_pct >= f.threshold_pct):  # type: ignore[operator]
        out.append(f"memory at {f.memory_pct:.0f} % (threshold {f.threshold_pct:.0f} %)")
    if _known(f.error_ratio) and f.error_ratio > 0:  # type: ignore[operator]
        out.append(f"{100.0 * f.error_ratio:.1f} % errors")  # type: ignore[operator]
    if _known(f.queued) and f.queued > 0:  # type: ignore[operator]
        out.append(f"{f.queued:.0f} queued")
    if f.alerts_firing:
        out.append(f"{f.alerts_firing} alert{'s' if f.alerts_firing > 1 else ''} firing")
    return out


def rank(f: CardFacts) -> int:
    """0 broken, 1 degraded, 2 memory over its threshold, 3 errors or a queue, 4 waiting
    for its first answer, 5 fine."""
    reasons = trouble(f)
    if f.state in _BROKEN:
        return 0
    if f.state is Health.DEGRADED:
        return 1
    if reasons and reasons[0].startswith("memory"):
        return 2
    if reasons:
        return 3
    return 4 if f.state is Health.CONNECTING else 5


def order(facts: Sequence[CardFacts]) -> list[int]:
    """Indices of ``facts``, trouble first; equals keep their configured order."""
    return sorted(range(len(facts)), key=lambda i: (rank(facts[i]), i))
