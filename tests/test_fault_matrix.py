"""The fault matrix: every failure a live dashboard meets, over real loopback HTTP.

One table, one row per fault (``ROWS``), one parametrised test. Each row drives
a real demo server into a failure (its in-process fault hooks, or a child
process really killed) and declares what must hold:

* the feed state the fault leads to (``ConnState``);
* the message a person reads: a connection message, an event-log line, or the
  text of the error an action raised; it must be words, not a traceback;
* the data check: every throughput sample recorded before the fault is still
  in the store afterwards, and where the feed went down a gap is recorded;
* the retry schedule: every reconnect waits exactly
  ``min(cap, base * 2**attempt * (1 + 0.5 * u))`` with ``u`` drawn from an
  injected fixed sequence, read off ``Connection.next_retry_at`` minus the
  clock reading the feed took at that transition (an injected clock that
  remembers its last reading per thread makes the check exact).

Tests wait on conditions (``wait_for``), never on bare sleeps.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from support import DemoProcess, free_port, wait_for

from opta_stream.demo.server import DemoServer
from opta_stream.errors import ServerRefused
from opta_stream.feed.feed import STOPPING, Feed
from opta_stream.snapshot import ConnState, Health, Snapshot
from opta_stream.store.core import Store
from opta_stream.store.health import HEALTH_WORDS

KEY = "sk-opta-FAULTS-4d1c9b7e20aa"
BASE, CAP = 0.05, 0.3  # attempt 3 (0.4 s and more) is already capped
JITTER = (0.8, 0.2, 0.6, 0.0, 0.4, 0.99)
BOM = b"\xef\xbb\xbf"
WINDOW = 3600.0
JARGON = ("Traceback", "object at 0x", "HTTPConnectionPool", "Max retries", "urllib3",
          "[Errno", "NoneType", "b'")
PROCESS_ARGS = ("--mode", "rich", "--rate", "50", "--heartbeat", "0.3")
LMX_PROCESS_ARGS = ("--mode", "lmx", "--heartbeat", "0.3")  # SIGTERM drains with no limit
OPEN, RECONNECTING, AUTH = ConnState.OPEN, ConnState.RECONNECTING, ConnState.AUTH_REJECTED


# -- injected clock and random source ------------------------------------------


class FixedRng:
    """A fixed, cycling sequence of U[0, 1) draws; remembers every draw in order."""

    def __init__(self, values: tuple[float, ...]) -> None:
        self._values = values
        self._lock = threading.Lock()
        self.draws: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            value = self._values[len(self.draws) % len(self._values)]
            self.draws.append(value)
            return value


class RecordingClock:
    """Wall time that remembers, per thread, the last reading it handed out."""

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self) -> float:
        now = time.time()
        self._local.last = now
        return now

    def last(self) -> float | None:
        return getattr(self._local, "last", None)


@dataclass(frozen=True)
class Transition:
    """One ``set_connection`` call, with the clock reading that preceded it."""

    state: ConnState
    message: str
    next_retry_at: float | None
    attempt: int
    read_at: float | None


# -- the rig: a server, a fast feed, and what the feed did ----------------------


class Rig:
    """One row's world: a demo server (in-process or a child process) and a feed."""

    def __init__(self, kind: str, read_timeout: float) -> None:
        self.kind = kind
        self.read_timeout = read_timeout
        self.clock = RecordingClock()
        self.rng = FixedRng(JITTER)
        self.store = Store("fault-matrix", clock=self.clock)
        self.transitions: list[Transition] = []
        self.server: DemoServer | None = None
        self.proc: DemoProcess | None = None
        self.feed: Feed | None = None
        self._record_transitions()

    def _record_transitions(self) -> None:
        original = self.store.set_connection

        def recording(state: ConnState, message: str = "", *, next_retry_at: float | None = None,
                      attempt: int = 0) -> None:
            self.transitions.append(Transition(state, message, next_retry_at, attempt,
                                               self.clock.last()))
            original(state, message, next_retry_at=next_retry_at, attempt=attempt)

        self.store.set_connection = recording  # type: ignore[method-assign]

    # servers ---------------------------------------------------------------
    def start_server(self, port: int = 0) -> None:
        if self.kind in ("process", "lmx-process"):
            args = PROCESS_ARGS if self.kind == "process" else LMX_PROCESS_ARGS
            self.proc = DemoProcess(port or free_port(), *args, admin_key=KEY).start()
        elif self.kind == "lmx":
            self.server = DemoServer(admin_key=KEY, mode="lmx", heartbeat_s=2.0, seed=2,
                                     port=port).start()
        else:
            self.server = DemoServer(admin_key=KEY, mode="rich", heartbeat_s=0.3, rate_hz=50.0,
                                     seed=1, port=port).start()

    @property
    def url(self) -> str:
        return self.proc.url if self.proc else self.server.url  # type: ignore[union-attr]

    @property
    def faults(self):  # noqa: ANN201 - the demo's Faults
        assert self.server is not None, "fault hooks exist on in-process servers only"
        return self.server.faults

    # feeds -----------------------------------------------------------------
    def start_feed(self, url: str | None = None, key: str | None = KEY) -> Feed:
        self.feed = Feed(url or self.url, key, store=self.store, clock=self.clock, rng=self.rng,
                         poll_interval=0.1, read_timeout=self.read_timeout, connect_timeout=2.0,
                         backoff_base=BASE, backoff_cap=CAP).start()
        return self.feed

    def swap_feed(self, url: str, key: str | None = KEY) -> None:
        """Stop the feed and start another on ``url`` that shares the same store."""
        assert self.feed is not None
        self.feed.stop()
        self.start_feed(url, key)

    def stop(self) -> None:
        if self.feed is not None:
            self.feed.stop()
        if self.server is not None:
            self.server.stop()
        if self.proc is not None:
            self.proc.terminate()

    # observations ----------------------------------------------------------
    def snap(self, window: float = WINDOW) -> Snapshot:
        return self.store.snapshot(window)

    def state(self) -> ConnState:
        return self.snap(60).connection.state

    def ts(self) -> set[float]:
        return set(self.snap().throughput.ts.tolist())

    def retries(self, since: int = 0, until: int | None = None) -> list[Transition]:
        return [t for t in self.transitions[since:until] if t.state is RECONNECTING]

    def wait_retries(self, n: int, since: int, timeout: float = 15.0) -> None:
        wait_for(lambda: len(self.retries(since)) >= n, timeout, f"{n} reconnect attempts",
                 store=self.feed.store)

    def wait_log(self, text: str, timeout: float = 10.0) -> str:
        return wait_for(lambda: next((e.summary for e in self.snap(60).events
                                      if text in e.summary), None), timeout, f"log '{text}'",
                        store=self.feed.store)

    def events_requests(self) -> int:
        assert self.server is not None
        return sum(r.path.startswith("/admin/events") for r in self.server.requests_seen())

    def warm_up(self) -> set[float]:
        """Wait for an open feed with samples; return the sample times held now."""
        need = 2 if self.kind == "lmx" else 10
        wait_for(lambda: self.state() is OPEN, 20, "the feed to open", store=self.feed.store)
        wait_for(lambda: len(self.ts()) >= need, 20, f"{need} samples before the fault",
                 store=self.feed.store)
        return self.ts()

    def wait_fresh(self, before: set[float]) -> None:
        """The feed is open again and new samples arrive (nothing is wedged)."""
        need = 2 if self.kind in ("lmx", "lmx-process") else 5
        wait_for(lambda: self.state() is OPEN, 20, "the feed to be open again",
                 store=self.feed.store)
        wait_for(lambda: len(self.ts() - before) >= need, 20, f"{need} fresh samples",
                 store=self.feed.store)


@contextmanager
def rig_for(row: Row) -> Iterator[Rig]:
    rig = Rig(row.server, row.read_timeout)
    try:
        rig.start_server()
        rig.start_feed()
        yield rig
    finally:
        rig.stop()


# -- the faults ------------------------------------------------------------------
# Each applies its fault, waits until it shows, and may return the text of an
# error it caught (rows whose message is an action's error).


def _after_reconnect(setup: Callable[[Rig], None], retries: int = 4) -> Callable[[Rig], None]:
    """Arm a fault for new connections, cut the current one, wait for the retries."""

    def fault(rig: Rig) -> None:
        mark = len(rig.transitions)
        setup(rig)
        rig.faults.drop_mid_event()
        rig.wait_retries(retries, mark)

    return fault


def _canned_auth(status: int, detail: str) -> Callable[[Rig], None]:
    """The next stream request is refused with FastAPI's {"detail": ...}: the feed waits.

    Nothing more is sent until the minute's re-check (or Retry): both threads
    stay alive, waiting, and the polls stop too.
    """

    def fault(rig: Rig) -> None:
        seen = rig.events_requests()
        rig.faults.respond(status, "application/json", b'{"detail": "%s"}' % detail.encode())
        rig.faults.drop_mid_event()
        wait_for(lambda: rig.state() is AUTH, what="auth rejected", store=rig.feed.store)
        assert rig.feed.waiting_for_key.wait(10), "the stream must wait for the re-check"
        assert len(rig.feed.alive_threads()) == 3, "every thread waits for the re-check"
        assert rig.events_requests() - seen <= 1, "a rejected key must not be retried"
        assert rig.snap().health.state is Health.KEY_REJECTED

    return fault


def _drop_mid_event(rig: Rig) -> None:
    mark = len(rig.transitions)
    rig.faults.drop_mid_event()
    rig.wait_retries(1, mark)
    wait_for(lambda: rig.state() is OPEN, what="reopened", store=rig.feed.store)


def _sigterm(rig: Rig) -> None:
    """A clean stop ends the stream properly; then the port refuses until restart. (A poll
    refused in the instant before the stream's end is read closes it first: both say so.)"""
    mark = len(rig.transitions)
    rig.proc.terminate(signal.SIGTERM)  # rich mode: no grace, a clean stop at once
    rig.wait_retries(4, mark)
    assert rig.retries(mark)[0].message in ("The server closed the event stream.", STOPPING)


def _sigkill(rig: Rig) -> None:
    mark = len(rig.transitions)
    rig.proc.kill()
    rig.wait_retries(4, mark)


def _restart_process(rig: Rig) -> None:
    rig.start_server(rig.proc.port)


def _sigterm_draining(rig: Rig) -> None:
    """Opta LMX on SIGTERM refuses new connections and waits, with no limit, for its open
    event streams, which keep beating. A refused poll makes the feed close its stream, so
    the server exits: a bounded wait for the exit, not a timing."""
    assert rig.proc is not None and rig.proc.proc is not None
    mark = len(rig.transitions)
    rig.proc.proc.send_signal(signal.SIGTERM)
    try:
        code = rig.proc.proc.wait(3)
    except subprocess.TimeoutExpired:
        pytest.fail("the server did not exit within 3 s of SIGTERM: the feed kept its "
                    "beating stream open")
    assert code == 0
    rig.wait_retries(3, mark)  # polling goes on; the stream tries again, refused
    assert rig.wait_log("Closed the event stream: a poll was refused")


def _shedding(rig: Rig) -> None:
    """Memory at 95 % or more: every route but /admin/health answers 503 ``overloaded``.
    That is load shedding, not a shutdown: the stream stays open and keeps delivering."""
    assert rig.server is not None
    rig.server.sim.hold_memory(96.0)
    wait_for(lambda: "shedding load" in rig.snap(1).health.message, 10, "shedding",
             store=rig.feed.store)
    events = rig.snap(1).counters.events
    wait_for(lambda: rig.snap(1).counters.events > events + 5, 10,
             "events on the open stream while shedding", store=rig.feed.store)
    snap = rig.snap(60)
    assert rig.state() is OPEN and snap.health.state is Health.DEGRADED
    status = next(p for p in snap.polls if p.endpoint == "/admin/status")
    assert not status.ok and status.kind == "shedding"
    said = snap.report.health.value
    assert said is not None and (said.memory_usage_percent or 0) >= 95.0


def _shedding_ends(rig: Rig) -> None:
    assert rig.server is not None
    rig.server.sim.hold_memory(None)
    wait_for(lambda: rig.snap(1).health.state is Health.LIVE, 10, "live again",
             store=rig.feed.store)


def _restart_logged(rig: Rig) -> None:
    """A kill and a restart: back at once, the restart seen from uptime, downtime logged."""
    wait_for(lambda: (rig.snap(1).gauges.uptime_s or 0) > 0, 10, "an uptime",
             store=rig.feed.store)
    assert rig.proc is not None
    mark = len(rig.transitions)
    rig.proc.kill()
    rig.wait_retries(3, mark)  # the backoff climbs while nothing answers
    rig.start_server(rig.proc.port)
    rig.wait_log("Event stream back after")
    rig.wait_log("Server restarted: uptime")
    assert rig.snap(60).counters.reconnects == 1


def _ingest_bug(rig: Rig) -> None:
    """A bug while reading one chunk: counted as ours, the stream stays open."""
    from opta_stream.feed import feed as feed_module

    real, calls = feed_module.parse_frames, {"n": 0}

    def fails_once(frames, now):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 1:
            raise AttributeError("a bug while parsing")
        return real(frames, now)

    feed_module.parse_frames = fails_once  # type: ignore[assignment]
    try:
        rig.wait_log("Internal error while reading the event stream")
    finally:
        feed_module.parse_frames = real
    assert rig.snap(60).counters.internal_errors == 1


def _stall(rig: Rig) -> None:
    mark = len(rig.transitions)
    rig.faults.stall(None)
    rig.wait_retries(3, mark)


def _policy_refusal(rig: Rig) -> str:
    """A 403 in the OpenAI envelope is a policy refusal, not a rejected key."""
    with pytest.raises(ServerRefused) as caught:
        rig.feed.client.load_model("blocked/Llama-3.1-8B-Instruct-4bit")
    assert caught.value.status == 403 and caught.value.code == "downloads_disabled"
    return str(caught.value)


def _inject(raw: bytes, shows: str, counter: str | None = None) -> Callable[[Rig], None]:
    """Write raw bytes into the open stream; wait for the log line (and the counter)."""

    def fault(rig: Rig) -> None:
        rig.faults.inject(raw)
        rig.wait_log(shows)
        if counter is not None:
            assert getattr(rig.snap(60).counters, counter) == 1

    return fault


def _huge_line(rig: Rig) -> None:
    """1 MiB in one data line: decoded, logged clipped, memory stays bounded."""
    held = rig.store.memory_bytes()
    note = b"x" * (1 << 20)
    rig.faults.inject(b'event: model_loaded\ndata: {"model_id": "huge/model", "note": "%s"}\n\n'
                      % note)
    rig.wait_log("Loaded huge/model")
    entry = next(e for e in rig.snap().events if e.summary.startswith("Loaded huge/model"))
    assert len(entry.data.encode()) <= 4096 and entry.data.endswith("…")
    assert rig.store.memory_bytes() - held < 64 * 1024, "a huge line must not be kept whole"


def _oversized_line(rig: Rig) -> None:
    """5 MiB in one line (over the decoder's 4 MiB cap): dropped, counted, logged."""
    rig.faults.inject(b"event: model_loaded\ndata: " + b"y" * (5 << 20) + b"\n\n")
    wait_for(lambda: rig.snap(60).counters.oversized_lines >= 1, what="oversized line counted",
             store=rig.feed.store)
    assert not any(e.type == "model_loaded" for e in rig.snap().events)


def _bom_on_connect(rig: Rig) -> None:
    rig.faults.inject_on_connect(BOM + b'event: model_loaded\ndata: {"model_id": '
                                 b'"bom/first-event", "memory_gb": 2.5}\n\n')
    rig.faults.drop_mid_event()
    rig.wait_log("Loaded bom/first-event")


def _close_after(rig: Rig) -> None:
    mark = len(rig.transitions)
    rig.faults.close_after(25)
    rig.wait_retries(2, mark)


def _status_failing(rig: Rig) -> None:
    rig.faults.fail_status(500, frozenset({"/admin/status"}))
    wait_for(lambda: rig.snap(60).counters.poll_errors >= 3, what="3 failed polls",
             store=rig.feed.store)
    rig.wait_log("Polling /admin/status failed")
    entry = next(e for e in rig.snap().events if e.type == "poll_failed")
    assert entry.severity == "warning" and rig.state() is OPEN
    polls = {p.endpoint: p for p in rig.snap().polls}
    assert not polls["/admin/status"].ok and polls["/admin/metrics/json"].ok, \
        "one failing endpoint must leave the others polling"
    assert rig.snap().health.state is Health.DEGRADED


def _status_recovers(rig: Rig) -> None:
    errors = rig.snap(60).counters.poll_errors
    rig.faults.clear()
    rig.wait_log("Polling /admin/status works again")
    assert rig.snap(60).counters.poll_errors - errors <= 2, "polls must succeed again"


def _swap_to(url: Callable[[], str]) -> Callable[[Rig], None]:
    """The user points the dashboard at a bad address (same store, new feed)."""

    def fault(rig: Rig) -> None:
        mark = len(rig.transitions)
        rig.swap_feed(url())
        rig.wait_retries(4, mark)

    return fault


def _swap_back(rig: Rig) -> None:
    rig.swap_feed(rig.url)


def _trickle(rig: Rig) -> None:
    """One byte per 50 ms, so every byte (and both halves of 'é') is its own read."""
    rig.faults.trickle(0.05)
    rig.faults.inject('event: model_loaded\ndata: {"model_id": "trické/slow"}\n\n'.encode())
    rig.wait_log("Loaded trické/slow", timeout=15)


def _clock_jump(offset: float) -> Callable[[Rig], None]:
    def fault(rig: Rig) -> None:
        before = rig.ts()
        rig.faults.clock_offset(offset)
        rig.wait_log("clock jumped")
        wait_for(lambda: len(rig.ts() - before) >= 5, what="samples after the jump, on view",
                 store=rig.feed.store)

    return fault


def _clock_restored(rig: Rig) -> None:
    rig.faults.clear()
    rig.wait_log("in step with this computer again")


def _clear(rig: Rig) -> None:
    rig.faults.clear()


# -- the table ---------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One fault and everything a person and the data must see."""

    id: str
    fault: Callable[[Rig], str | None]
    state: ConnState  # the state the fault leads to
    message: tuple[str, ...]  # all in one text a person reads
    where: str = "connection"  # "connection" | "log" | "health" | "error"
    retries: str = "none"  # "none" | "fatal" | "climb" (1, 2, 3, ...) | "ones"
    gap: bool = False  # the feed went down: a gap must be recorded
    breaks: bool = False  # later samples must start a new line segment
    recover: Callable[[Rig], None] | None = _clear
    server: str = "rich"  # "rich" | "lmx" (in-process) | "process" | "lmx-process" (children)
    read_timeout: float = 3.0
    malformed: bool = False  # the row sends malformed events on purpose


def _bad(event: str, data: bytes) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


ROWS = [
    Row("server-restart-clean", _sigterm, RECONNECTING, ("Connection refused by",),
        retries="climb", gap=True, breaks=True, recover=_restart_process, server="process"),
    Row("drop-mid-event", _drop_mid_event, RECONNECTING,
        ("connection to", "was cut", "server stopped or the network dropped"),
        retries="ones", gap=True, breaks=True),
    Row("sigkill-mid-stream", _sigkill, RECONNECTING, ("was cut",), retries="climb",
        gap=True, breaks=True, recover=_restart_process, server="process"),
    Row("stall-no-heartbeat", _stall, RECONNECTING, ("No data for 0.5 s", "reconnecting"),
        retries="climb", gap=True, breaks=True, read_timeout=0.5),
    Row("403-detail", _canned_auth(403, "Invalid or missing admin key"), AUTH,
        ("Admin key rejected", "403", "Invalid or missing admin key"), retries="fatal",
        gap=True, recover=None),
    Row("401-detail", _canned_auth(401, "Not authenticated"), AUTH,
        ("Admin key rejected", "401"), retries="fatal", gap=True, recover=None),
    Row("403-policy-on-load", _policy_refusal, OPEN, ("403", "disabled by policy"),
        where="error"),
    Row("html-502-page", _after_reconnect(lambda r: r.faults.respond(
        502, "text/html; charset=utf-8", b"<html><body><h1>502 Bad Gateway</h1></body></html>")),
        RECONNECTING, ("Expected an event stream", "502", "text/html"), retries="climb",
        gap=True, breaks=True),
    Row("text-plain", _after_reconnect(lambda r: r.faults.respond(
        200, "text/plain", b"hello from a captive portal")),
        RECONNECTING, ("Expected an event stream", "text/plain"), retries="climb", gap=True,
        breaks=True),
    Row("404-on-events", _after_reconnect(lambda r: r.faults.respond(
        404, "application/json", b'{"detail": "Not Found"}')),
        RECONNECTING, ("HTTP 404", "Not Found", "Is this the address of an Opta LMX server"),
        retries="climb", gap=True, breaks=True),
    Row("malformed-json", _inject(_bad("model_loaded", b"{not json"), "Malformed", "malformed"),
        OPEN, ("Malformed 'model_loaded' event", "invalid JSON"), where="log", malformed=True),
    Row("unknown-event-type",
        _inject(_bad("gpu_fan_changed", b'{"rpm": 2400}'), "Unknown", "unknown"), OPEN,
        ("Unknown event type 'gpu_fan_changed'",), where="log"),
    # big lines take a while on a loaded machine: a longer read timeout, so no stall is seen
    Row("1-mib-data-line", _huge_line, OPEN, ("Loaded huge/model",), where="log",
        read_timeout=15.0),
    Row("5-mib-line-oversized", _oversized_line, OPEN, ("longer than 4 MiB",), where="log",
        read_timeout=15.0),
    Row("invalid-utf8", _inject(_bad("model_loaded", b'{"model_id": "bad-\xff\xfe-model", '
                                     b'"memory_gb": 1.5, "duration_sec": 2}'), "Loaded bad-"),
        OPEN, ("Loaded bad-\ufffd\ufffd-model",), where="log"),
    Row("bom-at-stream-start", _bom_on_connect, OPEN, ("Loaded bom/first-event",),
        where="log", retries="ones", gap=True, breaks=True),
    Row("cr-only-line-ends", _inject(b'event: model_loaded\rdata: {"model_id": "cr/only", '
                                     b'"memory_gb": 3.0}\r\r', "Loaded cr/only"),
        OPEN, ("Loaded cr/only",), where="log"),
    Row("subscriber-dropped", _close_after, RECONNECTING, ("server closed the event stream",),
        retries="ones", gap=True, breaks=True),
    Row("status-endpoint-failing", _status_failing, OPEN,
        ("Polling /admin/status failed", "Internal server error"), where="log", breaks=True,
        recover=_status_recovers),
    Row("dns-failure", _swap_to(lambda: "http://nonexistent.invalid:8080"), RECONNECTING,
        ("Cannot resolve the host", "nonexistent.invalid"), retries="climb", gap=True,
        breaks=True, recover=_swap_back),
    Row("closed-port", _swap_to(lambda: f"http://127.0.0.1:{free_port()}"), RECONNECTING,
        ("Connection refused by 127.0.0.1",), retries="climb", gap=True, breaks=True,
        recover=_swap_back),
    Row("slow-trickle", _trickle, OPEN, ("Loaded trické/slow",), where="log", server="lmx"),
    Row("sigterm-lmx-draining", _sigterm_draining, RECONNECTING,
        ("refuses new connections while its event stream still beats", "shutting down",
         "closed its stream"), retries="climb", gap=True, breaks=True,
        recover=_restart_process, server="lmx-process"),
    Row("load-shedding-503", _shedding, OPEN,
        ("Degraded", "shedding load at ≥ 95 % memory", "HTTP 503",
         "/admin/health says: Memory at"), where="health", breaks=True,
        recover=_shedding_ends),
    Row("restart-seen-and-logged", _restart_logged, OPEN, ("Server restarted: uptime",),
        where="log", retries="climb", gap=True, breaks=True, recover=lambda rig: None,
        server="lmx-process"),
    Row("ingest-bug", _ingest_bug, OPEN, ("Internal error while reading the event stream",
                                          "AttributeError", "the feed goes on"), where="log"),
    Row("clock-jump-back", _clock_jump(-3600), OPEN,
        ("clock jumped back by 3600 s", "3600 s behind"), where="log", breaks=True,
        recover=_clock_restored),
    Row("clock-jump-forward", _clock_jump(+3600), OPEN,
        ("clock jumped forward by 3600 s", "3600 s ahead of"), where="log", breaks=True,
        recover=_clock_restored),
]


# -- the checks ----------------------------------------------------------------------


def assert_readable(text: str) -> None:
    """Words a person understands: a sentence, no internals, never the key."""
    assert len(text.split()) >= 2, f"too terse to act on: {text!r}"
    assert not any(j in text for j in JARGON), f"internals leak into the message: {text!r}"
    assert KEY not in text


def check_state_and_message(row: Row, rig: Rig, mark: int, said: str | None) -> None:
    during = rig.transitions[mark:]
    if row.state is OPEN:
        assert rig.state() is OPEN
    else:
        assert any(t.state is row.state for t in during), f"never reached {row.state}"
    if row.where == "connection":
        texts = [t.message for t in during if t.state is row.state]
    elif row.where == "log":
        texts = [e.summary for e in rig.snap().events]
    elif row.where == "health":  # the verdict now, as the badge and banner show it
        health = rig.snap().health
        texts = [f"{HEALTH_WORDS[health.state][0]}: {health.message}"]
    else:
        texts = [said or ""]
    text = next((t for t in texts if all(m in t for m in row.message)), None)
    assert text is not None, f"no message with {row.message} in {texts[-5:]}"
    assert_readable(text)


def check_retries(row: Row, rig: Rig, mark: int, end: int) -> None:
    """The exact backoff formula for every reconnect, and the row's pattern."""
    log = [e.summary for e in rig.snap().events if e.type == "feed_down"]
    for k, t in enumerate(rig.retries()):
        expected = min(CAP, BASE * 2.0 ** (t.attempt - 1) * (1.0 + 0.5 * rig.rng.draws[k]))
        assert _delay(t) == pytest.approx(expected, abs=1e-6), f"retry {k}: {t}"
        assert f"{t.message} Retrying in {expected:.1f} s." in log
    during = rig.retries(mark, end)
    attempts = [t.attempt for t in during]
    if row.retries == "none":
        assert attempts == [], f"unexpected reconnects {attempts}"
    elif row.retries == "fatal":  # the cut that led to the refusal may retry once; then never
        states = [t.state for t in rig.transitions[mark:]]
        assert states[-1] is AUTH and states.count(AUTH) == 1, f"retried after a refusal: {states}"
        assert attempts in ([], [1]), f"unexpected reconnects {attempts}"
    elif row.retries == "ones":
        assert attempts and set(attempts) == {1}, "a connection that delivered resets backoff"
    else:
        assert len(attempts) >= 3 and attempts == list(range(1, len(attempts) + 1)), \
            f"backoff must climb while nothing gets through: {attempts}"
        assert all(_delay(t) == pytest.approx(CAP) for t in during[3:]), "the cap must hold"


def _delay(t: Transition) -> float:
    assert t.next_retry_at is not None and t.read_at is not None
    return t.next_retry_at - t.read_at


def check_data(row: Row, rig: Rig, before: set[float], t_fault: float) -> None:
    snap = rig.snap()
    after = set(snap.throughput.ts.tolist())
    assert before <= after, f"{len(before - after)} samples recorded before the fault were lost"
    gaps = [g for g in snap.gaps if g[0] >= t_fault]
    if row.gap:
        assert gaps, "the feed went down but no gap was recorded"
        if row.recover is not None:
            assert all(end is not None and end >= start for start, end in gaps)
    else:
        assert not gaps, f"no outage, yet gaps were recorded: {gaps}"
    if row.breaks:
        seg = dict(zip(snap.throughput.ts.tolist(), snap.throughput.seg.tolist(), strict=True))
        old = max(seg[t] for t in before)
        assert max(s for t, s in seg.items() if t not in before) > old, "no new line segment"
    if not row.malformed:
        assert snap.counters.malformed == 0, "a truncated or bad event was dispatched"
    assert not any(e.type == "feed_crashed" for e in snap.events)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_fault_matrix(row: Row, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with rig_for(row) as rig:
        before = rig.warm_up()
        mark, t_fault = len(rig.transitions), rig.clock()
        said = row.fault(rig)
        check_state_and_message(row, rig, mark, said)
        end = len(rig.transitions)
        if row.recover is not None:
            row.recover(rig)
            rig.wait_fresh(before)
        check_data(row, rig, before, t_fault)
        check_retries(row, rig, mark, end)
    for record in caplog.records:
        assert KEY not in record.getMessage(), "the admin key leaked into a log line"
