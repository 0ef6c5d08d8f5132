"""Reconnect delays: base · 2^attempt · (1 + U[0, 0.5)), capped.

Pure and deterministic given its random source, so tests check the exact
schedule without sleeping.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Exponential backoff with jitter; ``reset()`` after a healthy connection."""

    def __init__(
        self, base: float = 0.5, cap: float = 30.0, rng: Callable[[], float] = random.random
    ) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng

    def next_delay(self, retry_ms: int | None = None) -> float:
        """The next delay in seconds; a server ``retry:`` replaces the base."""
        base = retry_ms / 1000.0 if retry_ms is not None else self.base
        delay = base * (2.0**self.attempt) * (1.0 + 0.5 * self._rng())
        self.attempt += 1
        return min(self.cap, delay)

    def reset(self) -> None:
        """Start again from the base delay."""
        self.attempt = 0
