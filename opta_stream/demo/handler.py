"""HTTP side of the demo server: routing, auth, request validation, the SSE response.

Answers with the same status codes and bodies as the real FastAPI server:
``{"detail": ...}`` for routing, auth and validation errors, the OpenAI
envelope for refusals. The key is compared in constant time and only read
from the ``X-Admin-Key`` header; ``?admin_key=`` is deliberately ignored.
As on the real server, memory at 95 % sheds every request but the health
checks (503) before routing and auth; the diagnosis GETs are ``inspection``'s.
"""

from __future__ import annotations

import re
import select
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Protocol, cast
from urllib.parse import parse_qs, urlsplit

from opta_stream.demo import inspection, views
from opta_stream.demo.faults import Faults
from opta_stream.demo.hub import Hub
from opta_stream.demo.model import Reply, envelope
from opta_stream.demo.pressure import OVERLOADED_BODY, sheds
from opta_stream.demo.sim import Simulation
from opta_stream.demo.stream import StreamConfig, StreamWriter
from opta_stream.demo.validation import bool_field, dict_field, parse_body, string_field

__all__ = ["AUTH_FAILED", "Handler"]

AUTH_FAILED = {"detail": "Invalid or missing admin key"}
TOO_MANY_STREAMS = envelope(
    "Too many event stream subscribers (limit 50). Share one connection per server "
    "between viewers, or close another dashboard, then retry.",
    type_="server_error", code="too_many_subscribers")
_PROGRESS = re.compile(r"^/admin/models/download/([^/]+)/progress$")
_MAX_BODY = 1 << 20
_FAILABLE = {"/admin/status", "/admin/metrics/json", "/admin/metrics", "/admin/models"}


class App(Protocol):
    """What the handler needs from ``DemoServer``."""

    sim: Simulation
    hub: Hub
    faults: Faults
    stop_event: threading.Event
    stream_config: StreamConfig

    def authorized(self, key: str | None) -> bool: ...
    def record(self, method: str, path: str, headers: dict[str, str]) -> None: ...
    def publish_all(self, events: tuple[tuple[str, dict], ...]) -> None: ...
    def offset(self) -> float: ...


def _failure(status: int) -> dict:
    """The envelope a failing polled endpoint answers with (``fail_status`` fault)."""
    if status == 500:
        return envelope("Internal server error", type_="internal_server_error",
                        code="internal_error")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Simulated failure"
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return envelope(phrase, type_=kind, code=phrase.lower().replace(" ", "_"))


class Handler(BaseHTTPRequestHandler):
    """One connection; ``self.server.app`` is the DemoServer."""

    protocol_version = "HTTP/1.1"
    timeout = 60

    def version_string(self) -> str:
        return "uvicorn"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: request lines would go to stderr (and tests read stderr)."""

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    # --- routing --------------------------------------------------------

    @property
    def app(self) -> App:
        return self.server.app  # type: ignore[attr-defined]

    def _route(self, method: str) -> None:
        self.app.record(method, self.path, dict(self.headers.items()))
        raw = self._read_body()
        path = urlsplit(self.path).path
        if path == "/admin/events" and method == "GET":
            canned = self.app.faults.take_canned()
            if canned is not None:
                return self._send(canned.status, canned.content_type, canned.body)
        if sheds(path, self.app.sim.usage_percent()):
            return self._overloaded()
        override = self.app.faults.answer_for(path) if method == "GET" else None
        if override is not None:  # a test's body for this route (``Faults.answer``)
            if not self.app.authorized(self.headers.get("X-Admin-Key")):
                return self._json(403, AUTH_FAILED)
            if override.delay_s:
                self.app.stop_event.wait(override.delay_s)
            return self._send(override.status, override.content_type, override.body)
        methods = self._routes(path)
        if not methods:
            return self._json(404, {"detail": "Not Found"})
        if method not in methods:
            return self._json(405, {"detail": "Method Not Allowed"}, allow=", ".join(methods))
        if not self.app.authorized(self.headers.get("X-Admin-Key")):
            return self._json(403, AUTH_FAILED)
        methods[method](path, raw)

    def _routes(self, path: str) -> dict[str, Callable[[str, bytes], None]]:
        gets = {"/admin/events": self._events, "/admin/status": self._get_view,
                "/admin/memory": self._get_view, "/admin/models": self._get_view,
                "/admin/metrics/json": self._get_view, "/admin/health": self._get_view,
                "/admin/metrics": self._get_prometheus,
                "/admin/models/available": lambda *_: self._json(
                    200, self.app.sim.available_models())}
        posts = {"/admin/models/load": self._load, "/admin/models/unload": self._unload,
                 "/admin/models/load/confirm": self._confirm,
                 "/admin/config/reload": self._reload}
        if path in gets:
            return {"GET": gets[path]}
        if path in posts:
            return {"POST": posts[path]}
        if inspection.handles(path):
            return {"GET": self._inspect}
        return {"GET": self._progress} if _PROGRESS.match(path) else {}

    # --- polled endpoints -----------------------------------------------

    def _get_view(self, path: str, _raw: bytes) -> None:
        failing = self.app.faults.failing_status(path)
        if failing is not None and path in _FAILABLE:
            return self._json(failing, _failure(failing))
        view, books = self.app.sim.inspect()
        offset = self.app.offset()
        bodies = {"/admin/status": views.status, "/admin/memory": views.memory,
                  "/admin/metrics/json": views.metrics_json,
                  "/admin/health": lambda v: views.health(v, books.helper_health),
                  "/admin/models": lambda v: views.models(v, offset)}
        self._json(200, bodies[path](view))

    def _inspect(self, path: str, _raw: bytes) -> None:
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        self._reply(inspection.answer(path, query, self.app.sim, self.app.offset()))

    def _get_prometheus(self, path: str, _raw: bytes) -> None:
        failing = self.app.faults.failing_status(path)
        if failing is not None:
            return self._json(failing, _failure(failing))
        text = views.prometheus(self.app.sim.view())
        self._send(200, "text/plain; version=0.0.4; charset=utf-8", text.encode())

    def _progress(self, path: str, _raw: bytes) -> None:
        match = _PROGRESS.match(path)
        assert match is not None  # routed here only on a match
        self._reply(self.app.sim.download_progress(match.group(1)))

    # --- actions --------------------------------------------------------

    def _load(self, _path: str, raw: bytes) -> None:
        body, error = parse_body(raw)
        model_id, auto, overrides = "", False, None
        if not error:
            model_id, error = string_field(body, "model_id")
        if not error:
            auto, error = bool_field(cast(dict, body), "auto_download")  # a dict by now
        if not error:
            overrides, error = dict_field(cast(dict, body), "performance_overrides")
        if error:
            return self._json(422, error)
        self._reply(self.app.sim.load(model_id, auto_download=auto, overrides=overrides))

    def _unload(self, _path: str, raw: bytes) -> None:
        self._with_field(raw, "model_id", self.app.sim.unload)

    def _confirm(self, _path: str, raw: bytes) -> None:
        self._with_field(raw, "confirmation_token", self.app.sim.confirm)

    def _with_field(self, raw: bytes, name: str, action: Callable[[str], Reply]) -> None:
        body, error = parse_body(raw)
        value, error = string_field(body, name) if not error else ("", error)
        if error:
            return self._json(422, error)
        self._reply(action(value))

    def _reload(self, _path: str, _raw: bytes) -> None:
        data = {"routing_aliases": 3, "memory_threshold": 90, "log_level": "INFO"}
        self._reply(Reply(200, {"success": True, "updated": [
            "routing", "memory", "security", "logging", "presets"]},
            (("config_reloaded", data),)))

    def _reply(self, reply: Reply) -> None:
        """Answer, then publish (a refusal carries no events: faithful)."""
        self._json(reply.status, reply.body)
        self.app.publish_all(reply.events)

    # --- the event stream -----------------------------------------------

    def _events(self, _path: str, _raw: bytes) -> None:
        sub = self.app.hub.subscribe()
        if sub is None:
            return self._json(503, TOO_MANY_STREAMS)
        self.close_connection = True
        me = threading.current_thread()
        self.server.streaming.add(me)  # type: ignore[attr-defined]  # our _HTTPServer
        try:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            writer = StreamWriter(send=self._chunk, hub=self.app.hub, sub=sub,
                                  sim=self.app.sim, faults=self.app.faults,
                                  cfg=self.app.stream_config, stop=self.app.stop_event,
                                  peer_left=self._peer_left)
            self._end_stream(writer.run())
        finally:
            self.server.streaming.discard(me)  # type: ignore[attr-defined]
            self.app.hub.unsubscribe(sub)

    def _peer_left(self) -> bool:
        """True once the client hung up (readable socket with nothing to read)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
        except (OSError, ValueError):
            return True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%X\r\n%b\r\n" % (len(data), data))

    def _end_stream(self, outcome: str) -> None:
        try:
            if outcome == "aborted":
                self.connection.shutdown(socket.SHUT_RDWR)
            elif outcome != "gone":
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    # --- plumbing -------------------------------------------------------

    def _read_body(self) -> bytes:
        """Always consume the body, so a refused request keeps the connection in sync."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > _MAX_BODY or "chunked" in self.headers.get("Transfer-Encoding", ""):
            self.close_connection = True  # unread body bytes: the connection is out of sync
        return self.rfile.read(min(max(length, 0), _MAX_BODY)) if length else b""

    def _overloaded(self) -> None:
        """The real 503 of load shedding: written by hand there, chunked, Retry-After 30."""
        self.send_response(503)
        self.send_header("content-type", "application/json")
        self.send_header("retry-after", "30")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self._chunk(OVERLOADED_BODY)
        self.wfile.write(b"0\r\n\r\n")

    def _json(self, status: int, body: object, allow: str | None = None) -> None:
        self._send(status, "application/json", views.dumps(body), allow=allow)

    def _send(self, status: int, content_type: str, body: bytes, allow: str | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        if allow:
            self.send_header("allow", allow)
        self.end_headers()
        self.wfile.write(body)
