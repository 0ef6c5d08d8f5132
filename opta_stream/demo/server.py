"""The embedded demo server: a real HTTP server on loopback that speaks Opta LMX's admin API.

The app starts one when no server is configured, so the first run shows live
data; the tests use it as a real peer, with fault hooks (``server.faults``,
see ``faults``). Standard library only.

    server = DemoServer(admin_key="k", mode="rich", heartbeat_s=0.2).start()
    try:
        ...  # talk to server.url
    finally:
        server.stop()

Modes: ``"lmx"`` behaves like the real server (lifecycle events and heartbeats
only; the first body byte comes after one heartbeat interval; no model loaded
at start). ``"rich"`` also streams the dashboard contract's ``status`` (1 Hz)
and ``throughput`` (``rate_hz``; None = as fast as the socket takes) events.

Magic model ids for ``POST /admin/models/load``: one containing ``x86-only``
is refused 422 (unsupported architecture), one starting with ``blocked/`` 403
(downloads disabled by policy: not an auth failure), one containing ``broken``
fails its download at 40 %; the catalogue's 70B model answers 507 (memory:
the admission check's wording with an estimate, from a rich-mode preset or
the body's ``performance_overrides.memory_estimate_gb``; without one, the
reading after the load). ``server.sim.catalogue_on_disk()`` lists ids that
load at once; ``server.sim.download_bytes_per_s`` sets how fast downloads go;
``server.sim.hold_memory(96)`` drives memory past the shedding line (every
route but ``/admin/health`` answers 503 ``overloaded``).

CLI: ``python -m opta_stream.demo --port 0 [--admin-key K] [--mode rich|lmx]
[--heartbeat S] [--rate HZ|max] [--grace S] [--seed N]`` (its SIGTERM: see
``__main__``); the key may also come from
``OPTA_DEMO_ADMIN_KEY`` so it stays out of the process list. Threads are named
``opta-demo-serve <port>``, ``opta-demo-sim <port>`` and ``opta-demo-conn <port>``.
"""

from __future__ import annotations

import hmac
import logging
import random
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from http.server import ThreadingHTTPServer
from typing import NamedTuple

from opta_stream.demo.faults import Faults
from opta_stream.demo.handler import Handler
from opta_stream.demo.hub import Hub
from opta_stream.demo.sim import Simulation
from opta_stream.demo.stream import StreamConfig

__all__ = ["DemoServer", "RequestRecord"]

_log = logging.getLogger(__name__)
_TICK_S = 0.1
_RECORD_LIMIT = 10_000


class RequestRecord(NamedTuple):
    """One request as the server saw it (``path`` includes the query string)."""

    method: str
    path: str
    headers: dict[str, str]


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with named, tracked connection threads (so stop() can end them)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: DemoServer) -> None:
        super().__init__(address, Handler)
        self.app = app
        self._conn_lock = threading.Lock()
        self._conns: dict[threading.Thread, socket.socket] = {}
        self.streaming: set[threading.Thread] = set()  # connections serving /admin/events

    def process_request(self, request: socket.socket | tuple[bytes, socket.socket],
                        client_address: object) -> None:
        assert isinstance(request, socket.socket)  # a TCP server: never a datagram pair
        name = f"opta-demo-conn {self.server_address[1]}"
        thread = threading.Thread(target=self._serve_one, args=(request, client_address),
                                  name=name, daemon=True)
        with self._conn_lock:
            self._conns[thread] = request
        thread.start()

    def _serve_one(self, request: socket.socket, client_address: object) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._conns.pop(threading.current_thread(), None)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up is normal here; anything else is logged."""
        if not isinstance(sys.exc_info()[1], OSError):
            _log.exception("demo server: request handler failed")

    def cut_connections(self, keep_streams: bool = False) -> None:
        """Shut down every open client socket (unblocks idle keep-alive reads)."""
        with self._conn_lock:
            sockets = [s for t, s in self._conns.items()
                       if not (keep_streams and t in self.streaming)]
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def join_connections(self, deadline: float) -> None:
        with self._conn_lock:
            threads = list(self._conns)
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))


class DemoServer:
    """A simulated Opta LMX on ``host:port`` (port 0: any free port)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, admin_key: str | None = None,
        mode: str = "rich", heartbeat_s: float = 30.0, rate_hz: float | None = 10.0,
        seed: int = 0, clock: Callable[[], float] = time.time,
    ) -> None:
        if mode not in ("rich", "lmx"):
            raise ValueError(f"mode must be 'rich' or 'lmx', not {mode!r}")
        if rate_hz is not None and rate_hz <= 0:
            raise ValueError("rate_hz must be positive, or None for as fast as possible")
        self.host, self.port, self.mode = host, port, mode
        self.url = f"http://{host}:{port}"
        self._key = admin_key.encode() if admin_key else None
        self._clock = clock
        self.sim = Simulation(mode, rng=random.Random(seed), clock=clock,
                              side_rng=random.Random(f"opta-demo-side-{seed}"))
        self.hub = Hub()
        self.faults = Faults(self.hub)
        self.stop_event = threading.Event()
        self.stream_config = StreamConfig(rich=mode == "rich", heartbeat_s=heartbeat_s,
                                          rate_hz=rate_hz, wall=self.wall)
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=_RECORD_LIMIT)
        self._httpd: _HTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._state = "new"

    # --- lifecycle ------------------------------------------------------

    def start(self) -> DemoServer:
        """Bind, start serving, start the simulation; returns once connections are accepted."""
        with self._lock:
            if self._state != "new":
                raise RuntimeError("a DemoServer starts once")
            self._state = "running"
            httpd = self._httpd = _HTTPServer((self.host, self.port), self)
            self.port = httpd.server_address[1]
            self.url = f"http://{self.host}:{self.port}"
            self._spawn("serve", lambda: httpd.serve_forever(poll_interval=0.05))
            self._spawn("sim", self._tick_loop)
        return self

    def _spawn(self, role: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"opta-demo-{role} {self.port}",
                                  daemon=True)
        self._threads.append(thread)
        thread.start()

    def _tick_loop(self) -> None:
        while not self.stop_event.wait(_TICK_S):
            self.publish_all(tuple(self.sim.step(self._clock())))

    def stop(self, timeout: float = 5.0) -> None:
        """Close every stream and connection, stop serving, join threads. Idempotent.

        Never call it from a request handler thread (it waits for those).
        """
        with self._lock:
            if self._state not in ("running", "draining"):
                self._state = "stopped"
                return
            draining, self._state = self._state == "draining", "stopped"
        deadline = time.monotonic() + timeout
        self.stop_event.set()
        self.hub.wake_all()
        httpd = self._httpd
        assert httpd is not None
        if not draining:
            httpd.shutdown()
            httpd.server_close()
        self.hub.wait_empty(min(0.5, timeout))
        httpd.cut_connections()
        httpd.join_connections(deadline)
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))

    def begin_shutdown(self) -> None:
        """What Opta LMX does on SIGTERM: refuse new connections and close idle ones,
        while event streams already open keep their heartbeats until ``stop()``."""
        with self._lock:
            if self._state != "running":
                return
            self._state = "draining"
        httpd = self._httpd
        assert httpd is not None
        httpd.shutdown()
        httpd.server_close()
        httpd.cut_connections(keep_streams=True)

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what the handler and tests use ---------------------------------

    def wall(self) -> float:
        """Unix time as the server emits it (clock plus the clock_offset fault)."""
        return self._clock() + self.faults.offset()

    def offset(self) -> float:
        return self.faults.offset()

    def authorized(self, key: str | None) -> bool:
        """Constant-time check of the X-Admin-Key header (no key configured: open)."""
        if self._key is None:
            return True
        return key is not None and hmac.compare_digest(key.encode(), self._key)

    def record(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._records.append(RequestRecord(method, path, headers))

    def requests_seen(self) -> list[RequestRecord]:
        """A copy of every request so far (the newest 10,000)."""
        with self._lock:
            return list(self._records)

    def open_streams(self) -> int:
        """Current /admin/events subscribers."""
        return self.hub.count()

    def emit(self, event_type: str, data: dict) -> None:
        """Publish a lifecycle event to every subscriber."""
        self.hub.publish(event_type, data)

    def publish_all(self, events: Sequence[tuple[str, dict]]) -> None:
        for event_type, data in events:
            self.hub.publish(event_type, data)


# --- CLI ------------------------------------------------------------------
