"""A lock whose writers wake waiters: the Store's one lock and its ``wait_for``.

Tests and tools wait on what the feed records; with this they wait for the
write that makes their condition true instead of polling on a timer. The
Store owns one (it is not a base class): readers hold ``lock``, writers go
through ``write()``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["Notifier"]

T = TypeVar("T")


class Notifier:
    """``lock`` for readers, ``write()`` for writers; every write bumps a version."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self._version = 0

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the lock for one write, then wake whoever waits in ``wait_for``."""
        with self.lock:
            try:
                yield
            finally:
                self._version += 1
                self.lock.notify_all()

    def wait_for(self, predicate: Callable[[], T], timeout: float) -> T:
        """Block until ``predicate()`` is truthy, re-checking after each write; its last value.

        For tests and tools that wait on what the feed records: no polling, the
        wait ends with the write that makes the predicate true (or at ``timeout``,
        returning the falsy value). Call it without holding the store's lock.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                seen = self._version
            value = predicate()
            remaining = deadline - time.monotonic()
            if value or remaining <= 0:
                return value
            with self.lock:
                if self._version == seen:  # else a write came in meanwhile: check again
                    self.lock.wait(remaining)
