"""Tokens per second from a cumulative counter, without inventing negative rates.

A counter that goes down means the server restarted: the tracker reports a
reset so the caller starts a new segment instead of plotting a bogus rate.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelRates", "RateStep"]


@dataclass(frozen=True, slots=True)
class RateStep:
    """One update: ``rate`` is None on the first sample, a reset or no time step."""

    rate: float | None
    reset: bool = False


class ModelRates:
    """Per-model rates from a ``{model: cumulative count}`` map read each poll.

    A model the previous reading lacked starts from zero: the server creates
    its counter at its first request, already counted. Any count lower than
    before is a reset (the server restarted).
    """

    def __init__(self) -> None:
        self._last: tuple[float, dict[str | None, float]] | None = None

    def update(self, ts: float,
               counts: dict[str | None, float]) -> RateStep | dict[str | None, float]:
        """Rates since the previous reading, or a ``RateStep`` (first reading, reset, no time)."""
        last, self._last = self._last, (ts, dict(counts))
        if last is None:
            return RateStep(None)
        last_ts, before = last
        if any(c < before[m] for m, c in counts.items() if m in before):
            return RateStep(None, reset=True)
        if ts <= last_ts:
            self._last = last
            return RateStep(None)
        return {m: (c - before.get(m, 0.0)) / (ts - last_ts) for m, c in counts.items()}

    def forget(self) -> None:
        """Drop the previous reading (after a failed poll, or a restart)."""
        self._last = None
