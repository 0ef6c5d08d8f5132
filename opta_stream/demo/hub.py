"""The demo server's event bus, like the real server's: bounded queues, capped subscribers.

Each subscriber has a bounded queue (100 events); at most 50 subscribe at
once, and a subscriber whose queue is full is dropped, as the real server does.
"""

from __future__ import annotations

import json
import threading
from collections import deque

__all__ = ["MAX_SUBSCRIBERS", "QUEUE_LIMIT", "Hub", "Subscriber", "frame"]

QUEUE_LIMIT = 100
MAX_SUBSCRIBERS = 50


def frame(event_type: str, data: dict) -> bytes:
    """One SSE frame, byte-for-byte like the real server (``json.dumps`` defaults)."""
    return f"event: {event_type}\ndata: {json.dumps(data)}\n\n".encode()


class Subscriber:
    """One stream's queue: ``(is_event, bytes)`` items in arrival order."""

    __slots__ = ("dropped", "events", "items", "wake")

    def __init__(self) -> None:
        self.items: deque[tuple[bool, bytes]] = deque()
        self.events = 0
        self.dropped = False
        self.wake = threading.Event()


class Hub:
    """Fan-out of lifecycle events to every open stream; one lock."""

    def __init__(self, limit: int = MAX_SUBSCRIBERS, queue_limit: int = QUEUE_LIMIT) -> None:
        self._cond = threading.Condition()
        self._subs: list[Subscriber] = []
        self.limit = limit
        self.queue_limit = queue_limit

    def subscribe(self) -> Subscriber | None:
        """A new subscriber, or None when the cap is reached (the caller answers 503)."""
        with self._cond:
            if len(self._subs) >= self.limit:
                return None
            sub = Subscriber()
            self._subs.append(sub)
            return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._cond:
            if sub in self._subs:
                self._subs.remove(sub)
            self._cond.notify_all()

    def publish(self, event_type: str, data: dict) -> int:
        """Queue one event for everyone; a full queue drops that subscriber."""
        payload = frame(event_type, data)
        with self._cond:
            for sub in list(self._subs):
                if sub.events >= self.queue_limit:
                    sub.dropped = True
                    self._subs.remove(sub)
                    self._cond.notify_all()
                else:
                    sub.items.append((True, payload))
                    sub.events += 1
                sub.wake.set()
            return len(self._subs)

    def inject(self, raw: bytes) -> None:
        """Raw bytes for every open stream (fault hook; bypasses the event cap)."""
        with self._cond:
            for sub in self._subs:
                sub.items.append((False, raw))
                sub.wake.set()

    def drain(self, sub: Subscriber) -> list[tuple[bool, bytes]]:
        with self._cond:
            items = list(sub.items)
            sub.items.clear()
            sub.events = 0
            return items

    def wake_all(self) -> None:
        with self._cond:
            for sub in self._subs:
                sub.wake.set()

    def count(self) -> int:
        with self._cond:
            return len(self._subs)

    def wait_empty(self, timeout: float) -> bool:
        """Wait until no stream is open; True if that happened in time."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._subs, timeout)
