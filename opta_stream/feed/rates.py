"""Tokens per second from a cumulative counter, without inventing negative rates.

A counter that goes down means the server restarted: the tracker reports a
reset so the caller starts a new segment instead of plotting a bogus rate.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelRates", "RateStep"]


@dataclass(frozen=True, slots=True)
class RateStep:
    """One update: each model's rate since the previous reading (None on the first
    reading or when time did not advance); ``reset`` when a count went backwards."""

    rates: dict[str | None, float] | None
    reset: bool = False


class ModelRates:
    """Per-model rates from a ``{model: cumulative count}`` map read each poll.

    A model the previous reading lacked starts from zero: the server creates
    its counter at its first request, already counted. Any count lower than
    before is a restart; as Prometheus' ``rate()`` does, the new counts are
    then taken from zero, so the requests since the restart are not lost.
    """

    def __init__(self) -> None:
        self._last: tuple[float, dict[str | None, float]] | None = None

    def update(self, ts: float, counts: dict[str | None, float]) -> RateStep:
        """Rates since the previous reading."""
        last, self._last = self._last, (ts, dict(counts))
        if last is None:
            return RateStep(None)
        last_ts, before = last
        if ts <= last_ts:
            self._last = last  # a clock step back: keep the baseline
            return RateStep(None)
        reset = any(c < before[m] for m, c in counts.items() if m in before)
        base = {} if reset else before
        return RateStep({m: (c - base.get(m, 0.0)) / (ts - last_ts) for m, c in counts.items()},
                        reset)

    def restarted(self) -> None:
        """The server restarted (seen elsewhere): the next counts are taken from zero."""
        if self._last is not None:
            self._last = (self._last[0], {})

    def forget(self) -> None:
        """Drop the previous reading (after a failed poll)."""
        self._last = None
