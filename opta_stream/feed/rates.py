"""Tokens per second from a cumulative counter, without inventing negative rates.

A counter that goes down means the server restarted: the tracker reports a
reset so the caller starts a new segment instead of plotting a bogus rate.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CounterRate", "RateStep"]


@dataclass(frozen=True, slots=True)
class RateStep:
    """One update: ``rate`` is None on the first sample, a reset or no time step."""

    rate: float | None
    reset: bool = False


class CounterRate:
    """Turns successive (time, total) samples into rates."""

    def __init__(self) -> None:
        self._last: tuple[float, float] | None = None

    def update(self, ts: float, total: float) -> RateStep:
        """Feed the next sample; returns the rate since the previous one."""
        last, self._last = self._last, (ts, total)
        if last is None:
            return RateStep(None)
        last_ts, last_total = last
        if total < last_total:
            return RateStep(None, reset=True)
        if ts <= last_ts:
            self._last = last
            return RateStep(None)
        return RateStep((total - last_total) / (ts - last_ts))

    def forget(self) -> None:
        """Drop the previous sample (after a failed poll the delta would span a gap)."""
        self._last = None
