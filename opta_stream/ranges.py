"""Long windows from a source other than the feed (a user's Prometheus): lines, or why not.

A chart over an hour or more may be drawn from Prometheus's range queries
instead of this dashboard's own recording. What it got is a ``RangeAnswer``:
one ``RangeLine`` per series it asked for, or the sentence that says why
there is none, so the chart can name its source or its fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CHARTS", "LONG_WINDOW_S", "PENDING", "RangeAnswer", "RangeLine", "answer_key"]

LONG_WINDOW_S = 3600.0  # windows this long or longer may come from Prometheus
PENDING = "pending"

# The series each chart asks for (``wire.promql.QUERIES`` holds their PromQL).
CHARTS: dict[str, tuple[str, ...]] = {
    "throughput": ("tokens_per_s",),
    "latency": ("p95_s",),
    "memory": ("memory_used_gb", "memory_total_gb"),
}


@dataclass(frozen=True, slots=True)
class RangeLine:
    """One line: unix-second times on a grid, values (NaN where there is no point)."""

    t: np.ndarray
    values: np.ndarray
    step_s: float
    query: str


@dataclass(frozen=True, slots=True, eq=False)
class RangeAnswer:
    """What one chart got for one server and window.

    ``status`` is "ok" (``lines`` has every series), "pending" (not asked
    yet), or why not: "down", "slow", "error" or "missing", with ``problem``
    the sentence to show (an "error" is also a bug reading an answer).
    ``asked_at`` is when the answer arrived (0: never).
    """

    source: str
    status: str
    lines: Mapping[str, RangeLine] = field(default_factory=dict)
    problem: str | None = None
    asked_at: float = 0.0
    selects: str = ""  # the series it asked for, in words: "instance = 'studio:1234'"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def _identity(self) -> tuple[object, ...]:
        lines = tuple((k, line.query, line.step_s) for k, line in self.lines.items())
        return (self.source, self.selects, self.status, self.asked_at, self.problem, lines)

    def __eq__(self, other: object) -> bool:
        """Two answers are the same when they answer the same queries from the same
        arrival (their points are then the same): pages key their ticks on it."""
        return isinstance(other, RangeAnswer) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


def answer_key(answer: RangeAnswer | None) -> tuple[str, float] | None:
    """What tells two answers apart in a page's tick key: a new answer is drawn at once."""
    return None if answer is None else (answer.status, answer.asked_at)
