"""Test-only fault hooks of the demo server (``DemoServer.faults``).

The fault-matrix tests drive a real HTTP peer into every failure a dashboard
meets in the field: a connection cut mid-event, a stall with no heartbeats,
garbage bytes, a proxy's HTML error page, a server that drops slow
subscribers, failing polled endpoints, a trickling link, a skewed clock, and
any GET route answering a body of the test's choosing (``answer``: a
diagnosis route with a real server's values, a 403, a 404, a slow answer).

Every setter is thread-safe and takes effect on open streams at once (they
are woken). ``clear()`` removes every fault. The getters below the setters are
what the server reads; tests need not call them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Canned", "Faults", "Override"]


class _Streams(Protocol):
    def wake_all(self) -> None: ...
    def inject(self, raw: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Canned:
    """A canned answer for ``GET /admin/events`` (see ``Faults.respond``)."""

    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Override:
    """What a GET route answers instead of its own body (see ``Faults.answer``)."""

    status: int
    body: bytes
    delay_s: float = 0.0
    content_type: str = "application/json"


class Faults:
    """Switches that make the demo server misbehave on purpose."""

    def __init__(self, streams: _Streams, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._streams = streams
        self._mono = monotonic
        self._lock = threading.Lock()
        self._generation = 0
        self._stalled = threading.Event()  # a stream has stopped writing for a stall
        self._stream_bytes = 0  # event-stream body bytes written, every stream
        self._set_defaults()

    def _set_defaults(self) -> None:
        self._stall_until = 0.0
        self._on_connect = b""
        self._canned: Canned | None = None
        self._canned_left: int | None = None
        self._close_after: int | None = None
        self._fail_status: int | None = None
        self._fail_paths: frozenset[str] | None = None
        self._trickle: float | None = None
        self._offset = 0.0
        self._answers: dict[str, Override] = {}

    def _changed(self) -> None:
        self._streams.wake_all()

    # --- setters (the hooks tests call) ---------------------------------

    def drop_mid_event(self) -> None:
        """Every open stream writes half a frame, then its socket is shut down.

        No chunk terminator is sent, so the client sees a truncated transfer
        (like a server killed with SIGKILL). Streams opened later are unaffected.
        """
        with self._lock:
            self._generation += 1
        self._changed()

    def stall(self, seconds: float | None) -> None:
        """Streams write nothing at all (no heartbeats) for ``seconds``; None = until resume()."""
        with self._lock:
            self._stall_until = math.inf if seconds is None else self._mono() + seconds
            self._stalled.clear()
        self._changed()

    def wait_stalled(self, timeout: float) -> bool:
        """True once a stream has entered the stall: it writes nothing after that."""
        return self._stalled.wait(timeout)

    def stream_bytes(self) -> int:
        """Event-stream body bytes written so far, over every stream."""
        with self._lock:
            return self._stream_bytes

    def resume(self) -> None:
        """End a stall now."""
        with self._lock:
            self._stall_until = 0.0
        self._changed()

    def inject(self, raw: bytes) -> None:
        """Write these exact bytes into every open stream (malformed JSON, BOM, CR, ...)."""
        self._streams.inject(bytes(raw))

    def inject_on_connect(self, raw: bytes) -> None:
        """Send these bytes first on every new stream, until clear()."""
        with self._lock:
            self._on_connect = bytes(raw)

    def respond(self, status: int, content_type: str, body: bytes,
                times: int | None = None) -> None:
        """The next ``times`` requests to /admin/events (None: all, until clear()) get this
        canned answer instead of the stream, before any auth check (like a proxy)."""
        with self._lock:
            live = times is None or times > 0
            self._canned = Canned(status, content_type, bytes(body)) if live else None
            self._canned_left = times

    def close_after(self, n_events: int | None) -> None:
        """Each stream is closed cleanly once it has sent ``n_events`` events (None: off)."""
        with self._lock:
            self._close_after = n_events
        self._changed()

    def fail_status(self, status: int | None, paths: frozenset[str] | None = None) -> None:
        """The polled endpoints (or only ``paths``) answer ``status`` with an OpenAI error
        envelope while the feed keeps working (None: off)."""
        with self._lock:
            self._fail_status = status
            self._fail_paths = paths

    def trickle(self, delay_s: float | None) -> None:
        """Streams write one byte per chunk, ``delay_s`` apart (None: off)."""
        with self._lock:
            self._trickle = delay_s
        self._changed()

    def answer(self, path: str, status: int, body: bytes, *, delay_s: float = 0.0) -> None:
        """``GET path`` (without its query) answers ``status`` and these JSON bytes, after
        ``delay_s``, until clear() or ``forget(path)``; the key is still checked, and load
        shedding still comes first."""
        with self._lock:
            self._answers[path] = Override(status, bytes(body), delay_s)

    def forget(self, path: str) -> None:
        """``path`` answers with its own body again."""
        with self._lock:
            self._answers.pop(path, None)

    def clock_offset(self, seconds: float) -> None:
        """Add ``seconds`` to every timestamp the server emits from now on."""
        with self._lock:
            self._offset = float(seconds)

    def clear(self) -> None:
        """Remove every fault (an ongoing stall ends)."""
        with self._lock:
            self._set_defaults()
        self._changed()

    # --- getters (what the server reads) --------------------------------

    def drop_generation(self) -> int:
        """Bumped by each drop_mid_event(); a stream drops when it changes."""
        with self._lock:
            return self._generation

    def stall_remaining(self) -> float:
        """Seconds of stall left (inf until resume, 0 when not stalled)."""
        with self._lock:
            return max(self._stall_until - self._mono(), 0.0)

    def note_stalled(self) -> None:
        """A stream calls this when it stops writing for a stall."""
        self._stalled.set()

    def note_sent(self, n: int) -> None:
        """A stream calls this after writing ``n`` body bytes."""
        with self._lock:
            self._stream_bytes += n

    def connect_bytes(self) -> bytes:
        with self._lock:
            return self._on_connect

    def take_canned(self) -> Canned | None:
        """The canned answer for this request, if any (counts one use)."""
        with self._lock:
            canned = self._canned
            if canned is not None and self._canned_left is not None:
                self._canned_left -= 1
                if self._canned_left <= 0:
                    self._canned = None
            return canned

    def close_after_n(self) -> int | None:
        with self._lock:
            return self._close_after

    def failing_status(self, path: str) -> int | None:
        """The status ``path`` must answer with, if it is made to fail."""
        with self._lock:
            if self._fail_paths is not None and path not in self._fail_paths:
                return None
            return self._fail_status

    def answer_for(self, path: str) -> Override | None:
        """The body ``GET path`` must answer with instead of its own, if any."""
        with self._lock:
            return self._answers.get(path)

    def trickle_delay(self) -> float | None:
        with self._lock:
            return self._trickle

    def offset(self) -> float:
        with self._lock:
            return self._offset
