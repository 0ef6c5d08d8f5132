"""One live feed per server: the SSE reader, the sampler, the report poller, the history writer.

The Feed is the only writer of its Store; every viewer of the server shares
it, so the server sees one connection however many tabs are open. It never
touches Streamlit. ``stop()`` is idempotent, closes the stream from outside
and joins the threads with a timeout. Recovery is fast and quiet: while the
stream is down, the first poll that reaches the server makes it reconnect at
once. A rejected key is re-checked every ``key_recheck_s`` (or on
``retry_now()``). Each thread runs ``supervise.supervised``: a bug is logged,
reported and the thread restarted. Streamed samples go through
``clock.ServerClock``, so a skewed server clock never blanks the live chart.
With ``history`` on, the file loads in the writer's thread while the feed
already records (``history.writer``): the first poll goes out at once.

Heartbeats are no proof of life: Opta LMX, once told to stop, refuses new
connections but keeps an open event stream beating, and waits for its
client to close it before it shuts down. So when a poll is refused while the
stream is open, the Feed closes the stream at once (the sampler polls every
second), lets the server finish, keeps polling, and reconnects as usual when
it is back. A 503 ``overloaded`` (load shedding) is not that: the stream stays.
The server's self-report (``report_poll``) has a thread of its own, since
``/admin/helpers`` can take seconds to answer.
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
from opta_stream.feed.report_poll import ReportPoller
from opta_stream.feed.sampler import Sampler
from opta_stream.feed.supervise import crash_text, supervised
from opta_stream.history.writer import HistoryWriter
from opta_stream.inputs import host_label, validate_admin_key
from opta_stream.settings import HistorySettings
from opta_stream.snapshot import ConnState
from opta_stream.store.core import Store
from opta_stream.store.health import SAMPLER, STREAM
from opta_stream.store.reports import POLLER
from opta_stream.units import duration
from opta_stream.wire.backoff import Backoff
from opta_stream.wire.client import AdminClient
from opta_stream.wire.failures import describe_request_error
from opta_stream.wire.sse import SSEDecoder
from opta_stream.wire.transport import SSETransport

__all__ = ["Feed"]

log = logging.getLogger(__name__)

STREAMED_FRESH_S = 5.0
KEY_RECHECK_S = 60.0  # a rejected key is tried again this often (or on retry_now())
ROLES = (STREAM, SAMPLER, POLLER)  # the feed's threads, by the role their errors name
STOPPING = ("The server refuses new connections while its event stream still beats: it is "
            "shutting down and waits for open streams to close, so the dashboard closed its "
            "stream to let it stop. Polling goes on; the stream reconnects when the server "
            "is back.")


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
        key_recheck_s: float = KEY_RECHECK_S,
        history: HistorySettings | None = None,
        identity: str | None = None,
    ) -> None:
        validate_admin_key(admin_key)  # a key a header cannot carry is never sent
        self.url = url.rstrip("/")
        self.label = host_label(self.url)
        self._key = admin_key
        self._clock = clock
        self.store = store if store is not None else Store(self.url, clock=clock)
        self.client = AdminClient(self.url, admin_key)
        self._timeouts = (connect_timeout, read_timeout)
        self._poll_interval = poll_interval
        self.backoff = Backoff(backoff_base, backoff_cap, rng)
        self._restarts = {role: Backoff(1.0, backoff_cap, rng) for role in ROLES}
        self._key_recheck_s = key_recheck_s
        self._decoder = SSEDecoder()
        self._server_clock = ServerClock(self.store)
        self._stop = threading.Event()
        self._rejected = threading.Event()  # the stream's key was refused: polling waits too
        self._retry_now = threading.Event()  # ends the stream's wait: server seen, Retry, stop
        self._poll_retry = threading.Event()  # ends the sampler's key wait: Retry, stop
        self.waiting_for_key = threading.Event()  # set while the stream waits to re-check
        self._stream_open = False
        self._closing: str | None = None  # why the feed closed the open stream itself
        self._down_since: float | None = None  # when the stream last went down
        self._woken = False  # this outage already had its early reconnect
        self._lock = threading.Lock()
        self._transport: SSETransport | None = None
        self._threads: list[threading.Thread] = []
        self._started = False
        self._streamed_at: dict[str, float] = {}
        self.sampler = Sampler(self.client, self.store, clock=clock,
                               streamed_recently=self._streamed_recently,
                               on_refused=self._polls_refused)
        self.reports = ReportPoller(self.client, self.store, clock=clock,
                                    loaded=lambda: self.sampler.loaded)
        self.history = (HistoryWriter(self.store, history, identity or self.url, clock=clock,
                        label=self.label) if history is not None and history.enabled else None)

    # lifecycle -----------------------------------------------------------
    def start(self) -> Feed:
        """Start the threads once; later calls do nothing."""
        with self._lock:
            if self._started or self._stop.is_set():
                return self
            self._started = True
            if self.history is not None:  # first: the file loads in its thread, and the
                self.history.start()  # Store keeps what the threads below record meanwhile
            self._threads = [
                threading.Thread(target=self._supervise, args=(role, body),
                                 name=f"opta-{name} {self.label}", daemon=True)
                for role, name, body in ((STREAM, "sse", self._run_sse),
                                         (SAMPLER, "sampler", self._run_sampler),
                                         (POLLER, "reports", self._run_reports))]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Idempotent; safe from any thread, including the feed's own."""
        with self._lock:
            self._stop.set()
            transport = self._transport
        self._retry_now.set()
        self._poll_retry.set()
        self.reports.wake()
        if transport is not None:
            transport.close()
        me = threading.current_thread()
        deadline = self._clock() + timeout
        for thread in self._threads:
            if thread is not me:
                thread.join(max(0.0, deadline - self._clock()))
        self.store.set_connection(ConnState.STOPPED, "Feed stopped")
        if self.history is not None:
            self.history.stop(max(0.0, deadline - self._clock()) + 1.0)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def alive_threads(self) -> list[threading.Thread]:
        """Threads of this feed still running (for tests and diagnostics)."""
        return [t for t in self._threads if t.is_alive()]

    @property
    def healthy(self) -> bool:
        """Not stopped, and every thread still runs (else the app replaces this feed)."""
        return not self.stopped and len(self.alive_threads()) == len(ROLES)

    def retry_now(self) -> None:
        """Try again at once: a rejected key (the Retry button) or a stream waiting to reconnect."""
        self._retry_now.set()
        self._poll_retry.set()

    def _supervise(self, role: str, body: Callable[[], None]) -> None:
        supervised(body, role=role, label=self.label, store=self.store, stop=self._stop,
                   backoff=self._restarts[role], secret=self._key)

    # sampler ---------------------------------------------------------------
    def _streamed_recently(self, kind: str) -> bool:
        seen = self._streamed_at.get(kind)
        return seen is not None and self._clock() - seen < STREAMED_FRESH_S

    def _run_sampler(self) -> None:
        while not self._stop.is_set():
            if self._rejected.is_set():  # the stream re-checks the key; polls would only 403
                self._wait(self._poll_retry, self._poll_interval)
                continue
            answered = self.sampler.sample_once()
            self._restarts[SAMPLER].reset()
            if self.sampler.key_rejected:
                self._wait(self._poll_retry, self._key_recheck_s)
                continue
            self._saw_server(answered)
            self._stop.wait(self._poll_interval)

    def _saw_server(self, answered: bool) -> None:
        """A poll reached the server: a stream that is down reconnects at once, once per outage."""
        with self._lock:
            if not answered:
                self._woken = False  # no sign of life: the next answer is news again
                return
            if self._stream_open or self._woken:
                return
            self._woken = True
        self._retry_now.set()

    def _polls_refused(self, why: str) -> None:
        """A poll was refused: if the stream is open and still beating, the server is
        stopping and waits for it. Close it now (the sampler's thread calls this)."""
        with self._lock:
            transport = self._transport if self._stream_open and self._closing is None \
                else None
            if transport is None:
                return
            self._closing = STOPPING
        log.info("feed %s: polls refused while the stream is open; closing it", self.label)
        self.store.log("feed_closed", f"Closed the event stream: a poll was refused ({why}) "
                       "while the stream still beat, so the server is stopping and waits "
                       "for it.", severity="warning")
        transport.close()

    # report poller -----------------------------------------------------------
    def _run_reports(self) -> None:
        self.reports.run(self._stop, paused=self._rejected.is_set)

    def _wait(self, event: threading.Event, timeout: float) -> None:
        event.wait(timeout)
        event.clear()

    # SSE -------------------------------------------------------------------
    def _run_sse(self) -> None:
        self.store.set_connection(ConnState.CONNECTING, f"Connecting to {self.label}")
        while not self._stop.is_set():
            delivered, message = self._one_connection()
            self._closed()
            if self._stop.is_set():
                return
            if message is None:  # key rejected: re-check it later, or on retry_now()
                self.waiting_for_key.set()
                self._wait(self._retry_now, self._key_recheck_s)
                self.waiting_for_key.clear()
                continue
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
            self._closing = None
        delivered = False
        try:
            transport.open(self._decoder.last_event_id)
            self._decoder.reset()
            self._opened()
            for chunk in transport.chunks():
                delivered = True
                self._ingest_safely(chunk)
            return delivered, self._ended("The server closed the event stream.")
        except AuthRejected as exc:
            self._rejected.set()
            self.store.set_connection(ConnState.AUTH_REJECTED, str(exc))
            self.store.log("auth_rejected", str(exc), severity="error")
            return delivered, None
        except FeedError as exc:
            return delivered, self._ended(redact(str(exc), self._key))
        except (requests.RequestException, OSError, ValueError, AttributeError) as exc:
            if self._stop.is_set():
                return delivered, None
            return delivered, self._ended(describe_request_error(exc, self.url, self._key))
        finally:
            transport.close()

    def _ended(self, why: str) -> str:
        """Why the connection ended: the feed's own reason when it closed the stream."""
        with self._lock:
            return self._closing or why

    def _opened(self) -> None:
        now = self._clock()
        with self._lock:
            down_since, self._down_since = self._down_since, None
            self._stream_open, self._woken = True, False
        self._rejected.clear()
        self._restarts[STREAM].reset()
        if down_since is not None:  # logged first: whoever sees OPEN sees why too
            self.store.count(reconnects=1)
            self.store.log("feed_up", f"Event stream back after {duration(now - down_since)}.",
                           severity="info")
        self.store.set_connection(ConnState.OPEN, f"Connected to {self.label}")

    def _closed(self) -> None:
        with self._lock:
            self._stream_open = False
            if self._down_since is None:
                self._down_since = self._clock()

    def _ingest_safely(self, chunk: bytes) -> None:
        """A bug here is ours: count it, log it, keep reading (it is no network error)."""
        try:
            self._ingest(chunk)
        except Exception as exc:  # noqa: BLE001 - one bad chunk must not cost the stream
            text = crash_text(exc, self._key)
            log.error("feed %s: internal error reading a chunk: %s", self.label, text,
                      exc_info=not isinstance(exc, UnicodeError))
            self.store.count(internal_errors=1)
            self.store.log("feed_internal_error", f"Internal error while reading the event "
                           f"stream ({text}); the feed goes on.", severity="error")

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
        self.store.count(reconnect_attempts=1)
        self.store.set_connection(ConnState.RECONNECTING, message, next_retry_at=retry_at,
                                  attempt=self.backoff.attempt)
        self.store.log("feed_down", f"{message} Retrying in {delay:.1f} s.", severity="warning")
        log.info("feed %s down: %s (retry in %.1f s)", self.label, message, delay)
        self._wait(self._retry_now, delay)

