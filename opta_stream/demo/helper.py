"""The rich demo's helper node: an embedding server on the LAN that goes away now and then.

Opta LMX sends embedding calls to a helper node through a circuit breaker:
three failures in a row open it, and from then on calls fail at once (and
count as failures) until 60 s after the last failure, when it reads
``half_open`` and lets one call through; a success closes it, a failure opens
it again. A health check every 30 s, and every ``GET /admin/helpers``, asks
the node's ``/health`` and sets ``healthy`` without touching the breaker.

Here the node is down for a minute or two every few minutes (times drawn
from the injected random source), so the breaker goes through all three
states. Time is the simulation's clock, so a test can drive it.
"""

from __future__ import annotations

import math
import random
from collections import deque

__all__ = ["HelperNode"]

URL = "http://192.168.1.40:1234"
MODEL = "nomic-embed-text-v1.5"
_FAILURES_TO_OPEN = 3
_RESET_S = 60.0
_CHECK_EVERY_S = 30.0
_CONNECT_TIMEOUT_S = 5.0
_WINDOW = 100  # latencies kept for the average and p95
_CALLS_PER_S = 0.8
DOWN_ERROR = "timed out"  # what the HTTP client says when the node does not answer


class HelperNode:
    """One helper (``embedding``): its outages, breaker and the statistics the server keeps."""

    def __init__(self, rng: random.Random, now: float) -> None:
        self._rng = rng
        self.healthy = True
        self.total = self.successes = self.failures = 0
        self.latencies: deque[float] = deque(maxlen=_WINDOW)
        self.last_check_at = 0.0
        self.last_error: str | None = None
        self._state = "closed"
        self._streak = 0
        self._last_failure = -math.inf
        self._next_check = now + _CHECK_EVERY_S
        self._down_from = now + rng.uniform(50.0, 90.0)
        self._down_until = self._down_from + rng.uniform(75.0, 140.0)

    # --- time -----------------------------------------------------------

    def advance(self, now: float, dt: float) -> None:
        """Calls that arrived during ``dt``, the periodic health check, the next outage."""
        while now >= self._down_until:
            self._down_from = self._down_until + self._rng.uniform(150.0, 300.0)
            self._down_until = self._down_from + self._rng.uniform(75.0, 140.0)
        calls = sum(1 for _ in range(8) if self._rng.random() < 1.0 - math.exp(
            -_CALLS_PER_S * dt / 8))
        for _ in range(calls):
            self._call(now)
        if now >= self._next_check:
            self._next_check = now + _CHECK_EVERY_S
            self.check(now)

    def down(self, now: float) -> bool:
        return self._down_from <= now < self._down_until

    def _call(self, now: float) -> None:
        self.total += 1
        if self.circuit(now) == "open":  # short-circuited: a failure, no latency
            self.failures += 1
            return
        if self.down(now):
            self.healthy = False
            self.failures += 1
            self.last_error = DOWN_ERROR
            self.latencies.append(_CONNECT_TIMEOUT_S)
            self._streak += 1
            self._last_failure = now
            if self._state == "half_open" or self._streak >= _FAILURES_TO_OPEN:
                self._state = "open"
            return
        self.healthy = True
        self.successes += 1
        self.latencies.append(max(0.008, self._rng.gauss(0.038, 0.009)))
        self._streak = 0
        self._state = "closed"

    def check(self, now: float) -> bool:
        """A ``GET /health`` on the node: sets ``healthy`` (and ``last_error`` when down)."""
        self.last_check_at = now
        self.healthy = not self.down(now)
        if not self.healthy:
            self.last_error = DOWN_ERROR
        return self.healthy

    # --- reads ----------------------------------------------------------

    def circuit(self, now: float) -> str:
        """``closed``, ``open`` or ``half_open`` (an open breaker half-opens after 60 s)."""
        if self._state == "open" and now - self._last_failure >= _RESET_S:
            self._state = "half_open"
        return self._state

    def stats(self, now: float) -> dict:
        """One row of ``GET /admin/helpers``' ``helpers``, as the server computes it."""
        window = sorted(self.latencies)
        mean = sum(window) / len(window) if window else 0.0
        p95 = window[min(int(len(window) * 0.95), len(window) - 1)] if len(window) >= 2 else mean
        rate = 100.0 * self.successes / self.total if self.total else 100.0
        return {"url": URL, "model": MODEL, "healthy": self.healthy, "fallback": "local",
                "total_requests": self.total, "successes": self.successes,
                "failures": self.failures, "success_rate_pct": round(rate, 1),
                "avg_latency_ms": round(mean * 1000.0, 1),
                "p95_latency_ms": round(p95 * 1000.0, 1), "last_check_at": self.last_check_at,
                "last_error": self.last_error, "circuit_state": self.circuit(now)}

    def stack_row(self, now: float) -> dict:
        """Its row under ``GET /admin/stack``'s ``helper_nodes``."""
        return {"url": URL, "model": MODEL, "healthy": self.healthy, "fallback": "local",
                "circuit_state": self.circuit(now)}

    def health_row(self) -> dict:
        """Its row under ``GET /admin/health``'s ``helpers``."""
        return {"url": URL, "healthy": self.healthy}
