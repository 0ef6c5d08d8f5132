"""One live feed per server: the SSE reader thread and the sampler thread.

The Feed is the only writer of its Store. Every viewer of the same server
shares it, so the server sees one connection however many tabs are open.
It never touches Streamlit. ``stop()`` is idempotent, closes the stream from
outside (waking a blocked read) and joins both threads with a timeout.

A rejected key ends both threads (polling with it would only loop on 403s).
Streamed samples go through ``clock.ServerClock``, so a skewed or jumping
server clock never blanks the live chart.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

import requests

from opta_stream.errors import AuthRejected, FeedError, redact
from opta_stream.events.batch import ThroughputBatch, parse_frames
from opta_stream.events.records import StatusEvent
from opta_stream.feed.clock import ServerClock
from opta_stream.feed.sampler import Sampler
from opta_stream.inputs import host_label
from opta_stream.snapshot import ConnState
from opta_stream.store.core import Store
from opta_stream.wire.backoff import Backoff
from opta_stream.wire.client import AdminClient
from opta_stream.wire.failures import describe_request_error
from opta_stream.wire.sse import SSEDecoder
from opta_stream.wire.transport import SSETransport

__all__ = ["Feed"]

log = logging.getLogger(__name__)

STREAMED_FRESH_S = 5.0


class Feed:
    """Owns the threads that keep one server's Store current."""

    def __init__(
        self,
        url: str,
        admin_key: str | None = None,
        *,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        poll_interval: float = 1.0,
        read_timeout: float = 75.0,
        connect_timeout: float = 5.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.label = host_label(self.url)
        self._key = admin_key
        self._clock = clock
        self.store = store if store is not None else Store(self.url, clock=clock)
        self.client = AdminClient(self.url, admin_key)
        self._timeouts = (connect_timeout, read_timeout)
        self._poll_interval = poll_interval
        self.backoff = Backoff(backoff_base, backoff_cap, rng)
        self._decoder = SSEDecoder()
        self._server_clock = ServerClock(self.store)
        self._stop = threading.Event()
        self._rejected = threading.Event()  # the key was refused: polling stops too
        self._lock = threading.Lock()
        self._transport: SSETransport | None = None
        self._threads: list[threading.Thread] = []
        self._started = False
        self._streamed_at: dict[str, float] = {}
        self.sampler = Sampler(self.client, self.store, clock=clock,
                               streamed_recently=self._streamed_recently)

    # lifecycle -----------------------------------------------------------
    def start(self) -> Feed:
        """Start both threads once; later calls do nothing."""
        with self._lock:
            if self._started or self._stop.is_set():
                return self
            self._started = True
            self._threads = [
                threading.Thread(target=self._guard, args=(self._run_sse,),
                                 name=f"opta-sse {self.label}", daemon=True),
                threading.Thread(target=self._guard, args=(self._run_sampler,),
                                 name=f"opta-sampler {self.label}", daemon=True),
            ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Idempotent; safe from any thread, including the feed's own."""
        with self._lock:
            self._stop.set()
            transport = self._transport
        if transport is not None:
            transport.close()
        me = threading.current_thread()
        deadline = self._clock() + timeout
        for thread in self._threads:
            if thread is not me:
                thread.join(max(0.0, deadline - self._clock()))
        self.store.set_connection(ConnState.STOPPED, "Feed stopped")

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def alive_threads(self) -> list[threading.Thread]:
        """Threads of this feed still running (for tests and diagnostics)."""
        return [t for t in self._threads if t.is_alive()]

    def _guard(self, body: Callable[[], None]) -> None:
        try:
            body()
        except Exception:  # noqa: BLE001 - a bug must show up in the log, not kill silently
            log.exception("feed thread for %s crashed", self.label)
            self.store.log("feed_crashed", "The feed thread crashed; see the server log",
                           severity="error")

    # sampler ---------------------------------------------------------------
    def _streamed_recently(self, kind: str) -> bool:
        seen = self._streamed_at.get(kind)
        return seen is not None and self._clock() - seen < STREAMED_FRESH_S

    def _run_sampler(self) -> None:
        while not (self._stop.is_set() or self._rejected.is_set()):
            self.sampler.sample_once()
            self._stop.wait(self._poll_interval)

    # SSE -------------------------------------------------------------------
    def _run_sse(self) -> None:
        self.store.set_connection(ConnState.CONNECTING, f"Connecting to {self.label}")
        while not self._stop.is_set():
            delivered, message = self._one_connection()
            if message is None or self._stop.is_set():
                return
            if delivered:
                self.backoff.reset()
            self._wait_before_retry(message)

    def _one_connection(self) -> tuple[bool, str | None]:
        """Read one connection to its end: (delivered data?, why it ended or None if fatal)."""
        transport = SSETransport(self.url, self._key, connect_timeout=self._timeouts[0],
                                 read_timeout=self._timeouts[1])
        with self._lock:
            if self._stop.is_set():
                return False, None
            self._transport = transport
        delivered = False
        try:
            transport.open(self._decoder.last_event_id)
            self._decoder.reset()
            self.store.set_connection(ConnState.OPEN, f"Connected to {self.label}")
            for chunk in transport.chunks():
                delivered = True
                self._ingest(chunk)
            return delivered, "The server closed the event stream."
        except AuthRejected as exc:
            self._rejected.set()
            self.store.set_connection(ConnState.AUTH_REJECTED, str(exc))
            self.store.log("auth_rejected", str(exc), severity="error")
            return delivered, None
        except FeedError as exc:
            return delivered, redact(str(exc), self._key)
        except (requests.RequestException, OSError, ValueError, AttributeError) as exc:
            if self._stop.is_set():
                return delivered, None
            return delivered, describe_request_error(exc, self.url, self._key)
        finally:
            transport.close()

    def _ingest(self, chunk: bytes) -> None:
        oversized = self._decoder.oversized_lines
        frames = self._decoder.feed(chunk)
        now = self._clock()
        events = parse_frames(frames, now)
        for i, event in enumerate(events):
            if isinstance(event, ThroughputBatch):
                self._streamed_at["throughput"] = now
                events[i] = self._server_clock.retime(event)
            elif isinstance(event, StatusEvent):
                self._streamed_at["status"] = now
        dropped = self._decoder.oversized_lines - oversized
        self.store.count(bytes=len(chunk), oversized_lines=dropped)
        if dropped:
            self.store.log("feed_oversized", f"Dropped {dropped} event-stream line(s) longer than "
                           f"{self._decoder.max_line_bytes / 2**20:g} MiB; the feed goes on.",
                           severity="warning")
        if events:
            self.store.apply_many(events)

    def _wait_before_retry(self, message: str) -> None:
        delay = self.backoff.next_delay(self._decoder.retry)
        retry_at = self._clock() + delay
        self.store.count(reconnects=1)
        self.store.set_connection(ConnState.RECONNECTING, message, next_retry_at=retry_at,
                                  attempt=self.backoff.attempt)
        self.store.log("feed_down", f"{message} Retrying in {delay:.1f} s.", severity="warning")
        log.info("feed %s down: %s (retry in %.1f s)", self.label, message, delay)
        self._stop.wait(delay)

