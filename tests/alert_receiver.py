"""A real HTTP receiver on 127.0.0.1 for alert notifications: webhook (Alertmanager JSON),
ntfy, slack and discord posts all land here, told apart by path.

It can be told to misbehave, to test delivery against the failures it must survive:

- ``answer(status, times=n, body=..., headers=...)``: the next n requests (all, without
  n) get that status; ``{path}`` in the body is replaced by the request's path, as some receivers
  echo it (which is how a token could leak into an error message);
- ``slow(seconds)``: each request is recorded (status None), held (bounded, released
  by ``stop``) and dropped unanswered, past the client's timeout: a receiver that hung;
- ``down()`` / ``up()``: the listening socket is closed (connection refused) and opened
  again on the same port.

``accepted`` holds the posts answered 2xx, ``arrived`` every request that came in;
``wait_for`` waits on a condition that each request notifies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

T = TypeVar("T")
SLOW_MAX_S = 5.0  # a slow request is never held longer, whatever a test asks


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None  # None: dropped unanswered (slow mode)

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class _Plan:
    status: int = 200
    times: int | None = None  # None: every request
    body: str = "ok"
    slow_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class AlertReceiver:
    host: str = "127.0.0.1"
    arrived: list[Post] = field(default_factory=list)
    _plan: _Plan = field(default_factory=_Plan)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.up()

    # -- control ----------------------------------------------------------------------
    def up(self) -> AlertReceiver:
        """Listen (again, on the same port once it has one)."""
        if self._server is None:
            server = ThreadingHTTPServer((self.host, self.port), self._handler())
            server.daemon_threads = True
            self.port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(target=server.serve_forever, args=(0.02,),
                                            daemon=True,
                                            name=f"test-receiver-{self.port}")
            self._thread.start()
        return self

    def down(self) -> None:
        """Close the listening socket: connections are refused until ``up()``."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def stop(self) -> None:
        self._release.set()
        self.down()

    def answer(self, status: int, times: int | None = None, body: str = "",
               headers: dict[str, str] | None = None) -> None:
        with self._cond:
            self._plan = _Plan(status, times, body or f"status {status}", 0.0, headers or {})

    def slow(self, seconds: float) -> None:
        with self._cond:
            self._plan = _Plan(slow_s=min(seconds, SLOW_MAX_S))

    def ok(self) -> None:
        with self._cond:
            self._plan = _Plan()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    # -- what came in -----------------------------------------------------------------
    @property
    def accepted(self) -> list[Post]:
        with self._cond:
            return [p for p in self.arrived if p.status is not None and 200 <= p.status < 300]

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0,
                 what: str = "condition") -> T:
        """Wait until ``predicate()`` is truthy; each request that arrives re-checks it."""
        with self._cond:
            got = self._cond.wait_for(predicate, timeout)
        assert got, f"timed out after {timeout} s waiting for {what}; arrived: " + repr(
            [(p.path, p.status) for p in self.arrived])
        return got

    # -- the handler ------------------------------------------------------------------
    def _decide(self) -> _Plan:
        with self._cond:
            plan = self._plan
            if plan.times is not None:
                plan.times -= 1
                if plan.times <= 0:
                    self._plan = _Plan()
            return plan

    def _record(self, post: Post) -> None:
        with self._cond:
            self.arrived.append(post)
            self._cond.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # quiet: the test reads ``arrived``

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                plan = receiver._decide()
                headers = {k: v for k, v in self.headers.items()}
                if plan.slow_s > 0:  # recorded on arrival, then held past the client's timeout
                    receiver._record(Post(self.path, headers, b"", None))
                    receiver._release.wait(plan.slow_s)
                    self.close_connection = True
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                text = plan.body.replace("{path}", self.path).encode()
                # recorded before the answer: a client that got it finds it recorded
                receiver._record(Post(self.path, headers, body, plan.status))
                self.send_response(plan.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                for name, value in plan.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(text)

        return Handler
