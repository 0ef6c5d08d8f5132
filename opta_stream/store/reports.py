"""What the server says about itself: each diagnosis section's newest answer, or its failure.

One entry per section of ``server_report.SECTIONS``: the newest good answer
and when it came, and the last poll's failure and when, so a page can show
an old answer with its age beside why the newest poll failed. A failure
never erases an answer. Values are the frozen ``server_report`` types the
feed parsed, so the snapshot hands them out as they are. Not thread-safe:
the Store calls it under its lock.
"""

from __future__ import annotations

from typing import Any

from opta_stream.server_report import SECTIONS, Answer, Failure, ServerReport
from opta_stream.store.bounds import clip

__all__ = ["POLLER", "Reports"]

POLLER = "report poller"  # the feed thread that writes here, as its internal errors name it


class Reports:
    """The newest answer or failure of each section of the server's self-report."""

    def __init__(self) -> None:
        self._answers: dict[str, Answer[Any]] = {}

    @staticmethod
    def _check(section: str) -> None:
        if section not in SECTIONS:
            raise ValueError(f"unknown report section {section!r}: one of {', '.join(SECTIONS)}")

    def answered(self, section: str, value: Any, now: float) -> None:
        """A good answer: it replaces the last one, and clears the last failure."""
        self._check(section)
        self._answers[section] = Answer(value, now)

    def failed(self, section: str, failure: Failure, now: float) -> None:
        """A failed poll: said beside the last good answer, which is kept."""
        self._check(section)
        old = self._answers.get(section, Answer())
        kept = Failure(failure.kind, clip(failure.message, 1000), failure.status)
        self._answers[section] = Answer(old.value, old.at, kept, now)

    def report(self) -> ServerReport:
        return ServerReport(**self._answers)

    def nbytes(self) -> int:
        """A rough estimate: the benchmark and compatibility rows dominate."""
        total = 0
        for answer in self._answers.values():
            value = answer.value
            rows = getattr(value, "rows", value)
            total += 400 * (len(rows) if isinstance(rows, tuple) else 1)
        return total
