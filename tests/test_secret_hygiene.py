"""Secret hygiene: a canary admin key, searched for in everything the app produces.

A distinctive key, new for every test run, drives the real app against a real
demo server, in AppTest and in ``streamlit run`` under headless Chromium.
Everything the app produces is collected and searched for it, plain and
base64'd. In AppTest: every element of the page tree (values and serialised
protos), exception texts, every log record of every logger at DEBUG, the CSV
downloads, the resource cache's keys, the session's widget state, the feed's
store, thread names, the paths and headers the server saw, and every byte of the
history file, its WAL and lock (where the key's salted digest is a leak too). In
the browser: each page's HTML and text, every requested URL, every websocket
frame both ways, the CSV and the Streamlit process's output. The key may appear only as
the ``X-Admin-Key`` header of requests to the server it was given for (and in
the panel's own session entry, which is where Connect keeps it by design).

Other hosts: a viewer who points the panel elsewhere does not take the
configured key along, and a server that redirects ``/admin/*`` (302/307) to
another origin is never followed: the other origin gets no request at all.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import streamlit_internals as compat
from support import (
    CHROMIUM_ARGS,
    free_port,
    require_chromium,
    stop_process,
    wait_for,
    wait_for_streamlit,
)

from opta_stream.demo.server import DemoServer
from opta_stream.errors import ServerRefused
from opta_stream.feed.feed import Feed
from opta_stream.settings import key_digest
from opta_stream.snapshot import ConnState
from opta_stream.ui import actions, session, sources
from opta_stream.wire.client import AdminClient

KEY = "sk-opta-CANARY-" + secrets.token_hex(8)  # new every run: nothing can hard-code it
ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGES = ("overview", "throughput", "memory", "models", "events")
MODEL = "mlx-community/Llama-3.2-3B-Instruct-4bit"  # loaded when the demo starts
Hay = list[tuple[str, str | bytes]]  # (where, what) pairs to search


# -- the search ----------------------------------------------------------------


def needles(key: str) -> tuple[bytes, ...]:
    """The key as bytes, and base64'd (standard and URL-safe) at all three alignments."""
    raw = key.encode()
    cores = [raw[s:s + 3 * ((len(raw) - s) // 3)] for s in range(3)]
    encoded = {enc(c) for c in cores for enc in (base64.b64encode, base64.urlsafe_b64encode)}
    return (raw, *sorted(encoded))


NEEDLES = needles(KEY)


def leaked(hay: Hay) -> list[str]:
    """Where the key was found: names only, so a failure never prints the key."""
    found = []
    for where, what in hay:
        blob = what if isinstance(what, bytes) else str(what).encode("utf-8", "replace")
        if any(n in blob for n in NEEDLES):
            found.append(where)
    return found


def assert_clean(hay: Hay) -> None:
    assert len(hay) > 20, "too little was collected for the search to mean anything"
    found = leaked(hay)  # not inside the assert: pytest would print what it searched
    assert not found, f"the admin key leaked into: {found}"


def test_the_search_finds_what_it_looks_for() -> None:
    inner = base64.b64encode(b"xx" + KEY.encode() + b"y").decode()
    hay: Hay = [("plain", f"a{KEY}b"), ("b64", inner), ("bytes", KEY.encode()), ("no", "k")]
    assert leaked(hay) == ["plain", "b64", "bytes"]


# -- what the app produced ---------------------------------------------------------


def tree(node: Any, where: str) -> Iterator[tuple[str, str | bytes]]:
    """Every element's value, label, help and serialised proto, depth first."""
    proto = getattr(node, "proto", None)
    if proto is not None and hasattr(proto, "SerializeToString"):
        yield f"{where}:proto", proto.SerializeToString()
    for attr in ("value", "label", "help", "placeholder", "body"):
        try:
            value = getattr(node, attr, None)
        except Exception:  # noqa: BLE001 - some elements have no readable value
            continue
        if value is not None:
            yield f"{where}.{attr}", value.to_csv() if hasattr(value, "to_csv") else repr(value)
    for i, child in getattr(node, "children", {}).items():
        yield from tree(child, f"{where}/{i}")


def app_output(at: Any, label: str) -> Hay:
    """The page tree, exceptions and this session's admin action, after a run."""
    hay: Hay = [*tree(at.main, f"{label}:main"), *tree(at.sidebar, f"{label}:sidebar")]
    for i, exc in enumerate(at.exception):
        hay.append((f"{label}:exception[{i}]", f"{exc.value}\n{exc.message}\n{exc.stack_trace}"))
    action = at.session_state.get(actions.ACTION_KEY)
    if action is not None and action.error is not None:
        lines = "".join(traceback.format_exception(action.error))
        hay.append((f"{label}:action error", f"{action.error!r}\n{lines}"))
    return hay


def session_internals(at: Any, label: str) -> Hay:
    """All Streamlit keeps for the session (widget states too), but the panel's entry."""
    hay: Hay = []
    for name, value in compat.session_fields(at).items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != session.PANEL_KEY}
        hay.append((f"{label} session {name}", repr(value)))
    return hay


def downloads(media: dict[str, Any]) -> Hay:
    return [(f"download {fid}", data() if callable(data) else data)
            for fid, data in media.items()]


def cached_feeds() -> dict[str, Feed]:
    """value key → Feed, from the cache behind ``sources.shared_feed``."""
    return compat.cached_values(sources.shared_feed)


def feed_for(url: str) -> Feed:
    return wait_for(lambda: next((f for f in cached_feeds().values()
                                  if f.url == url and not f.stopped), None),
                    10, f"the shared feed for {url}")


def cache_keys() -> Hay:
    """Only the URL and a salted digest are hashed: ``_admin_key`` is left out entirely."""
    feeds = cached_feeds()
    assert any(f._key == KEY for f in feeds.values()), "no feed was built with the key"
    for value_key, feed in feeds.items():
        digest = key_digest(feed._key, session.SALT)
        assert digest != hashlib.sha256(KEY.encode()).hexdigest()
        for stand_in in (None, "something-else"):  # any _admin_key gives the same key
            path = feed.history.path if feed.history is not None else ""
            args = (feed.url, digest, stand_in, path, 30.0, 200.0, None)
            assert compat.resource_value_key(sources.shared_feed, args) == value_key
    return [*((f"cache value key {k}", k) for k in feeds),
            ("cache function key", sources.shared_feed._function_key)]


def feed_state(feed: Feed, label: str) -> Hay:
    snap = feed.store.snapshot(3600.0)
    hay: Hay = [(f"{label} connection", repr(snap.connection)),
                (f"{label} counters", repr(snap.counters))]
    hay += [(f"{label} log {e.type}", f"{e.summary}\n{e.data}") for e in snap.events]
    return hay + [(f"{label} job", repr(j)) for j in snap.jobs]


def server_saw(server: DemoServer, label: str) -> Hay:
    """Every admin request carried exactly the key; returns the rest of each request."""
    seen = server.requests_seen()
    admin = [r for r in seen if r.path.startswith("/admin")]
    assert admin, f"{label} saw no admin request"
    assert all(r.headers.get("X-Admin-Key") == KEY for r in admin), \
        f"{label}: an admin request went without the key (or with another one)"
    return [(f"{label} {r.method} {i}",
             f"{r.path}\n{[(k, v) for k, v in r.headers.items() if k != 'X-Admin-Key']}")
            for i, r in enumerate(seen)]


# -- logs: every logger at DEBUG ------------------------------------------------------


class LogRecorder(logging.Handler):
    """Every record with its traceback (caplog's handler is replaced per test phase)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append((record.name, f"{self.format(record)}\n{record.args!r}"))
        except Exception:  # noqa: BLE001 - a handler never raises into the logging call
            self.handleError(record)

    def hay(self) -> Hay:
        names = {name.split(".")[0] for name, _ in self.lines}
        assert {"streamlit", "urllib3"} <= names, names
        return [(f"log[{i}] {name}", line) for i, (name, line) in enumerate(self.lines)]


@pytest.fixture
def all_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[LogRecorder]:
    """Every logger at DEBUG, Streamlit's too: they do not propagate, so each gets the handler."""
    import streamlit.logger as st_logger

    recorder = LogRecorder()
    saved: dict[logging.Logger, int] = {}

    def hooked(lg: logging.Logger, level: int) -> logging.Logger:
        saved.setdefault(lg, level)
        lg.setLevel(logging.DEBUG)
        if (lg is logging.root or not lg.propagate) and recorder not in lg.handlers:
            lg.addHandler(recorder)
        return lg

    default, made = st_logger._global_log_level, st_logger.get_logger
    monkeypatch.setattr(st_logger, "get_logger", lambda name: hooked(made(name), default))
    monkeypatch.setattr(st_logger, "_global_log_level", logging.DEBUG)
    for lg in [logging.root, *map(logging.getLogger, list(logging.root.manager.loggerDict))]:
        hooked(lg, lg.level)
    try:
        yield recorder
    finally:
        for lg, level in saved.items():
            lg.setLevel(level)
            lg.removeHandler(recorder)


# -- servers and AppTest ------------------------------------------------------------


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in test_app_pages: AppTest acts like a server that has run st.navigation."""
    compat.use_navigation_mode(monkeypatch)


def demo(seed: int) -> DemoServer:
    return DemoServer(admin_key=KEY, mode="rich", heartbeat_s=0.3, rate_hz=20, seed=seed)


@pytest.fixture
def server(app_shutdown: None, clean_env: None, monkeypatch: pytest.MonkeyPatch,
           tmp_path: Path) -> Iterator[DemoServer]:
    """The configured server, given to the app through the environment; history is on,
    into a file of this test's own."""
    srv = demo(7).start()
    monkeypatch.setenv("OPTA_LMX_URL", srv.url)
    monkeypatch.setenv("OPTA_LMX_ADMIN_KEY", KEY)
    monkeypatch.setenv("OPTA_STREAM_HISTORY", str(tmp_path / "history" / "h.sqlite3"))
    try:
        yield srv
    finally:
        sources.shutdown()  # the feeds first, so none reconnects to a stopped server
        srv.stop()


@pytest.fixture
def other_server(server: DemoServer) -> Iterator[DemoServer]:
    srv = demo(8).start()
    try:
        yield srv
    finally:
        sources.shutdown()
        srv.stop()


def new_app(read_only: bool = False) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=20)
    at.secrets["read_only"] = read_only  # secrets set, so no real secrets file is read
    return at


def visit(at: Any, page: str) -> Any:
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def connect(at: Any, url: str, key: str = "") -> Any:
    at.sidebar.text_input(key="opta_url_input").input(url)
    at.sidebar.text_input(key="opta_key_input").input(key)
    return at.sidebar.button(key="FormSubmitter:connect-Connect").click().run()


def finish_action(at: Any) -> Any:
    assert at.session_state[actions.ACTION_KEY].wait(10), "the admin action did not finish"
    return at.run()


def live(feed: Feed) -> None:
    """Wait until the feed has streamed samples and both loaded models."""
    wait_for(lambda: (s := feed.store.snapshot(60)).connection.state is ConnState.OPEN
             and len(s.throughput) >= 10 and len(s.models) >= 2, 15, "a live feed",
             store=feed.store)


def quiet(server: DemoServer, feed: Feed) -> None:
    """Stall the stream and wait until the feed holds every byte the server wrote.

    The server says when its stream has entered the stall (it writes nothing
    after that); the feed's byte count then reaching the server's is the end.
    """
    server.faults.stall(None)
    assert server.faults.wait_stalled(10), "the stream never entered the stall"
    sent = server.faults.stream_bytes()
    wait_for(lambda: feed.store.snapshot(1.0).counters.bytes >= sent, 10,
             "the last streamed bytes", store=feed.store)


def failing_load(at: Any) -> Hay:
    """A load the server refuses (422): the error path shows the server's words."""
    at.text_input(key="load_model_id").input("x86-only/canary-model")
    finish_action(at.button(key="load_submit").click().run())
    assert "HTTP 422" in at.error[0].value, [e.value for e in at.error]
    return app_output(at, "failed load")


def failing_unload(at: Any, server: DemoServer, feed: Feed) -> Hay:
    """Unload a model the page lists but the server no longer has (404).

    With the stream stalled and the polled endpoints failing, nothing tells the
    page that the server unloaded the model behind its back.
    """
    server.faults.fail_status(503)
    quiet(server, feed)
    AdminClient(server.url, KEY).unload_model(MODEL)
    assert MODEL in {m.model_id for m in feed.store.snapshot(60).models}
    at.button(key=f"unload::{MODEL}").click().run()
    if at.button(key=f"unload::{MODEL}").label == "Unload anyway":  # requests in flight
        at.button(key=f"unload::{MODEL}").click().run()
    finish_action(at)
    assert "does not exist or is not loaded" in " ".join(c.value for c in at.code)
    hay = app_output(at, "failed unload")
    server.faults.clear()
    return hay


def history_files(feed: Feed) -> Hay:
    """Every byte of the history folder (file, WAL, shared memory, lock), after a batch;
    the key's salted digest counts as a leak there too."""
    assert feed.history is not None and feed.history.flush(), "history was not written"
    folder = Path(feed.history.path).parent
    hay: Hay = [(f"history {p.name}", p.read_bytes()) for p in sorted(folder.iterdir())]
    assert any(name.endswith("-wal") for name, _ in hay) and len(hay) >= 3, hay
    salted = session.digest(KEY).encode()
    assert not [name for name, data in hay if salted in data], "the key digest is in history"
    with_events = [data for name, data in hay if b"model_unloaded" in data]
    assert with_events, "the event log did not reach the history file"
    return hay


def everything_else(logs: LogRecorder, media: dict[str, Any],
                    servers: dict[str, DemoServer]) -> Hay:
    hay = [*logs.hay(), *downloads(media), *cache_keys()]
    hay += [(f"thread {t.ident}", t.name) for t in threading.enumerate()]
    for label, srv in servers.items():
        hay += server_saw(srv, label) + feed_state(feed_for(srv.url), f"feed {label}")
    return hay


# -- AppTest: configured through the environment, the panel, the unlock field ------


def test_pages_errors_and_exports_never_show_the_key(server, all_logs, media_files):
    at = new_app()
    at.run()
    feed = feed_for(server.url)
    live(feed)
    visit(at, "models")
    hay = [*failing_load(at), *failing_unload(at, server, feed)]
    wait_for(lambda: any(e.type == "model_unloaded" for e in feed.store.snapshot(60).events),
             10, "the unload in the event log", store=feed.store)
    for page in PAGES:
        hay += app_output(visit(at, page), page)
    csvs = downloads(media_files)
    assert any(b"model_unloaded" in data for _, data in csvs), "no events CSV with rows"
    hay += everything_else(all_logs, media_files, {"server": server})
    hay += history_files(feed)
    assert_clean(hay)


def test_a_key_typed_in_the_panel_is_cleared_and_kept_for_the_session_only(
        server, other_server, all_logs, media_files):
    at = new_app()
    connect(at.run(), other_server.url, KEY)
    assert at.sidebar.text_input(key="opta_key_input").value == ""  # as app.py claims
    assert dict(at.session_state[session.PANEL_KEY]) == {
        "url": other_server.url, "admin_key": KEY, "key_origin": other_server.url}
    live(feed_for(other_server.url))
    hay: Hay = []
    for page in PAGES:
        hay += app_output(visit(at, page), f"panel {page}")
    hay += session_internals(at, "panel")
    hay += everything_else(all_logs, media_files, {"server": server, "other": other_server})
    assert_clean(hay)


def test_the_read_only_unlock_field_keeps_nothing(server, all_logs, media_files):
    at = new_app(read_only=True)
    visit(at.run(), "models")
    assert at.button(key="load_submit").disabled
    live(feed_for(server.url))  # so that only the lock can keep the form disabled
    at.text_input(key="unlock_key").input("not-the-key")
    at.button(key="unlock_submit").click().run()
    assert "not the admin key" in at.error[0].value
    at.text_input(key="unlock_key").input(KEY)
    at.button(key="unlock_submit").click().run()
    assert not at.button(key="load_submit").disabled
    assert not [t for t in at.text_input if t.key == "unlock_key"]  # unlocked: form gone
    assert session.UNLOCK_KEY in at.session_state  # a salted digest, not the key
    hay = [*app_output(at, "unlocked"), *session_internals(at, "unlock")]
    for page in PAGES:
        hay += app_output(visit(at, page), f"read-only {page}")
    hay += everything_else(all_logs, media_files, {"server": server})
    assert_clean(hay)


# -- other hosts and redirects ----------------------------------------------------------


class Recorder:
    """A tiny HTTP server on 127.0.0.1 (port 0) that records every request it gets."""

    def __init__(self, answer: Callable[[str], tuple[int, dict[str, str]]]) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen.append((self.command, self.path, dict(self.headers.items())))
                status, headers = answer(self.path)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": "0"}.items():
                    self.send_header(name, value)
                self.end_headers()

            do_GET = do_POST = _any

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                """Quiet: stderr is not for request lines."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name="secret-test-http", daemon=True)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()

    def count(self, path: str) -> int:
        return sum(1 for _, p, _ in list(self.seen) if p == path)

    def keyed(self) -> list[str]:
        return [p for _, p, h in list(self.seen) if any(k.lower() == "x-admin-key" for k in h)]


def test_the_configured_key_is_not_sent_to_a_host_the_viewer_types(server, all_logs):
    """A viewer points the panel at another origin and leaves the key blank."""
    with Recorder(lambda path: (404, {})) as stranger:
        try:
            at = connect(new_app().run(), stranger.url)
            wait_for(lambda: stranger.count("/admin/events") and stranger.count("/admin/status"),
                     10, "the feed to reach the other host")
            hay = [*app_output(at.run(), "stranger"), *all_logs.hay()]
        finally:
            sources.shutdown()  # the feed to the stranger first, then the stranger
    assert stranger.keyed() == [], "the configured key went to a host the viewer typed"
    assert at.session_state[session.PANEL_KEY]["admin_key"] is None
    assert_clean(hay + [(f"stranger saw {p}", f"{p} {h}") for _, p, h in stranger.seen])


def most_attempts(elapsed: float, base: float, cap: float) -> int:
    """The most connection attempts a backoff schedule allows in ``elapsed`` seconds."""
    attempts, waited = 1, 0.0
    while attempts < 1000 and waited + min(cap, base * 2 ** (attempts - 1)) <= elapsed:
        waited += min(cap, base * 2 ** (attempts - 1))
        attempts += 1
    return attempts


def retrying(feed: Feed, first: Recorder) -> Any:
    """The feed's snapshot once it has retried the stream and seen a poll fail."""
    snap = feed.store.snapshot(60)
    return (first.count("/admin/events") >= 3
            and snap.connection.state is ConnState.RECONNECTING
            and any(e.type == "poll_failed" for e in snap.events) and snap)


def refusals(client: AdminClient) -> list[ServerRefused]:
    """A polled GET and a load, both answered with a redirect."""
    out = []
    for call in (lambda: client.get_json("/admin/status"),
                 lambda: client.load_model("org/model")):
        with pytest.raises(ServerRefused) as refused:
            call()
        out.append(refused.value)
    return out


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_to_another_origin_is_refused_and_gets_nothing(status):
    base, cap, poll = 0.1, 0.4, 0.1
    with Recorder(lambda path: (200, {})) as other, \
            Recorder(lambda path: (status, {"Location": other.url + path})) as first:
        feed = Feed(first.url, KEY, poll_interval=poll, backoff_base=base, backoff_cap=cap,
                    read_timeout=3.0, connect_timeout=2.0, rng=lambda: 0.0)
        began = time.monotonic()
        try:
            feed.start()
            snap = wait_for(lambda: retrying(feed, first), 10, "the feed to retry")
            refused = refusals(AdminClient(first.url, KEY))
        finally:
            feed.stop()
            elapsed = time.monotonic() - began  # an upper bound on how long anything was sent
    assert other.seen == [], "a request followed the redirect to another origin"
    assert first.count("/admin/events") <= most_attempts(elapsed, base, cap), "retry storm"
    assert first.count("/admin/status") <= 2 + elapsed / poll + len(refused), "poll storm"
    said = [snap.connection.message, *(e.summary for e in feed.store.snapshot(60).events
                                        if e.type in ("feed_down", "poll_failed"))]
    assert "redirects are not followed" in said[0], said[0]  # what the badge shows
    assert any("never leaves the configured server" in s for s in said[1:]), said
    assert all(r.status == status and "never leaves the configured server" in r.message
               for r in refused)
    assert len(first.keyed()) == len(first.seen)  # the configured server: in the header
    hay: Hay = [(f"first {m} {p}", f"{p} {[v for k, v in h.items() if k != 'X-Admin-Key']}")
                for m, p, h in first.seen]
    hay += [(f"refusal {i}", f"{r!r} {r.message}") for i, r in enumerate(refused)]
    hay += feed_state(feed, "redirected feed") + [(f"said {i}", t) for i, t in enumerate(said)]
    found = leaked(hay)
    assert not found, f"the admin key leaked into: {found}"


# -- the browser: streamlit run app.py in headless Chromium --------------------------


def start_streamlit(server_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """The app configured through its environment, logging at DEBUG into ``log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTA_")}
    env.update(OPTA_LMX_URL=server_url, OPTA_LMX_ADMIN_KEY=KEY, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
           "--logger.level", "debug", "--secrets.files", str(log.with_name("none.toml"))]
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def record_traffic(tab: Any, hay: Hay) -> None:
    """Every URL the browser asks for and every websocket frame, both ways."""
    def frames(ws: Any) -> None:
        ws.on("framereceived", lambda data: hay.append(("websocket received", data)))
        ws.on("framesent", lambda data: hay.append(("websocket sent", data)))

    tab.on("request", lambda request: hay.append(("browser request", request.url)))
    tab.on("websocket", frames)


def browse(tab: Any, url: str, hay: Hay) -> None:
    """Every page's HTML and text; a refused load; the Throughput CSV."""
    main = tab.locator('[data-testid="stMain"]')
    for page in PAGES:
        tab.goto(url if page == "overview" else f"{url}/{page}")
        tab.get_by_role("heading", name=page.capitalize(), exact=True).wait_for()
        wait_for(lambda: "Live" in main.inner_text(), 15, "the live verdict")
        tab.locator('[data-testid="stMetric"], [data-testid="stDataFrame"], '
                    '[data-testid="stButton"]').first.wait_for()
        if page == "models":
            tab.get_by_label("Model id").fill("x86-only/canary-model")
            tab.get_by_role("button", name="Load", exact=True).click()
            tab.get_by_text("HTTP 422", exact=False).first.wait_for()
        if page == "throughput":
            with tab.expect_download() as info:
                tab.get_by_role("button", name="Download the samples (CSV)").click()
            hay.append(("browser CSV", Path(info.value.path()).read_bytes()))
        hay += [(f"browser {page} html", tab.content()),
                (f"browser {page} text", tab.inner_text("body"))]


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_the_browser_never_gets_the_key(tmp_path):
    from playwright.sync_api import sync_playwright

    path = require_chromium()
    server = demo(9).start()
    port = free_port()
    url, log = f"http://127.0.0.1:{port}", tmp_path / "streamlit.log"
    proc = start_streamlit(server.url, port, log)
    hay: Hay = []
    try:
        wait_for_streamlit(proc, url)
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=path, headless=True,
                                         args=CHROMIUM_ARGS)
            try:
                tab = chromium.new_context(viewport={"width": 1280, "height": 800},
                                           accept_downloads=True).new_page()
                tab.set_default_timeout(20_000)
                record_traffic(tab, hay)
                browse(tab, url, hay)
            finally:
                chromium.close()
    finally:
        stop_process(proc)
        server.stop()
    hay.append(("streamlit log", log.read_bytes()))
    assert sum(1 for where, _ in hay if where.startswith("websocket")) > 10
    assert_clean(hay + server_saw(server, "server"))
