"""Wrong-guess throttling for the read-only unlock: no endless guessing of the admin key.

After ``free`` wrong entries every further try must wait, twice as long each
time (``base`` · 2^(n - free) seconds, capped), counted per browser session
and for the whole process, so opening new tabs does not reset it. Pure: the
clock is injected and nothing about the entry is kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Throttle"]


class Throttle:
    """Counts wrong entries; ``wait_s()`` says how long until the next try is heard."""

    def __init__(self, free: int = 5, base: float = 2.0, cap: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.base, self.cap = free, base, cap
        self._clock = clock
        self._lock = threading.Lock()
        self.wrong = 0
        self._last = 0.0

    def wait_s(self) -> float:
        """Seconds before another entry is checked (0: now)."""
        with self._lock:
            if self.wrong < self.free:
                return 0.0
            delay = min(self.cap, self.base * 2.0 ** (self.wrong - self.free))
            return max(0.0, self._last + delay - self._clock())

    def failed(self) -> None:
        with self._lock:
            self.wrong += 1
            self._last = self._clock()

    def succeeded(self) -> None:
        with self._lock:
            self.wrong = 0
