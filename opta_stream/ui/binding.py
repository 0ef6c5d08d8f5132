"""The one library module that imports Streamlit: shared feeds, the demo server, the page source.

Pages never build feeds. They call ``source()`` and get a ``Source``: the
Store to snapshot, the admin client (or None), the resolved settings and the
modes that decide what the page may offer. Behind it:

- ``shared_feed`` is an ``st.cache_resource``: one Feed per server for the whole
  process, keyed by the URL and a salted digest of the admin key (the key
  itself is passed as ``_admin_key`` so Streamlit never hashes it into a
  cache key). Releasing an entry (cache clear, eviction, code edit) stops
  the feed, so no thread is orphaned.
- ``demo_server`` starts the embedded demo server once, when nothing is
  configured, so the first run shows live data.
- Test seam: a Store put in ``st.session_state[TEST_STORE_KEY]`` is used instead
  of any feed, and ``st.session_state[TEST_CLIENT_KEY]`` stands in for the
  admin client. AppTest fills a Store deterministically this way.

What needs no Streamlit lives elsewhere: the admin-call thread in
``actions``, number and time wording in ``formatting``.
"""

from __future__ import annotations

import hmac
import os
import secrets as _secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from opta_stream.present import charts, formatting
from opta_stream.ui.actions import Action
from opta_stream.present.chart_specs import ChartPlan, to_spec
from opta_stream.config import Settings, key_digest, resolve_settings, same_origin, validate_url
from opta_stream.demo.server import DemoServer
from opta_stream.feed.feed import Feed
from opta_stream.store.core import Store

__all__ = [
    "ACTION_KEY", "DEEP_LINK_KEY", "PANEL_KEY", "STATIC_CSV_ROWS", "TEST_CLIENT_KEY",
    "TEST_STORE_KEY", "UNLOCK_KEY", "WINDOWS", "Source", "clear_action", "clock_time",
    "chart", "connect", "csv_button", "current_action", "demo_server", "frame", "gauge_spec",
    "key_matches_origin", "page_source", "settings", "shared_feed", "show_verbatim",
    "shutdown", "source", "start_action", "take_deep_link", "unlock", "viewer_tz",
    "window_selector",
]

TEST_STORE_KEY = "opta_test_store"
TEST_CLIENT_KEY = "opta_test_client"
PANEL_KEY = "opta_panel"
UNLOCK_KEY = "opta_unlocked"
ACTION_KEY = "opta_action"
MAX_FEEDS = 8

_SALT = _secrets.token_bytes(16)  # per process: digests are useless outside it


@dataclass(frozen=True, slots=True)
class Source:
    """What a page renders from. ``client`` is None when actions are impossible."""

    store: Store
    client: Any
    settings: Settings
    is_demo: bool
    read_only: bool
    feed: Feed | None = None


# -- cached resources ---------------------------------------------------------


def _stop(resource: Feed | DemoServer) -> None:
    resource.stop()


@st.cache_resource(on_release=_stop, max_entries=MAX_FEEDS, show_spinner=False,
                   validate=lambda feed: not feed.stopped)
def shared_feed(url: str, key_digest_hex: str, _admin_key: str | None) -> Feed:
    """The one Feed for this server and key, shared by every viewer."""
    return Feed(url, _admin_key).start()


@st.cache_resource(on_release=_stop, max_entries=1, show_spinner=False)
def demo_server() -> DemoServer:
    """The embedded demo server (simulated load), started on first use."""
    return DemoServer(mode="rich").start()


def shutdown() -> None:
    """Stop every shared feed and the demo server (tests, and a clean exit)."""
    shared_feed.clear()
    demo_server.clear()


# -- configuration ------------------------------------------------------------


def settings() -> Settings:
    """secrets → environment → the sidebar panel (see config.resolve_settings).

    ``st.secrets`` goes in as is: config reads a missing secrets file as empty.
    """
    return resolve_settings(st.secrets, os.environ, st.session_state.get(PANEL_KEY))


def connect(url: str, admin_key: str) -> Mapping[str, Any]:
    """Validate the panel's entries and keep them for this session only.

    Raises ConfigError for a URL that is not http(s). A blank key keeps the
    key entered before only if the new URL has the same origin: a key is
    never sent to another host without being entered again.
    """
    clean = validate_url(url)
    key = admin_key.strip() or None
    old = st.session_state.get(PANEL_KEY) or {}
    if key is None and key_matches_origin(old, clean):
        key = old.get("admin_key")
    panel = {"url": clean, "admin_key": key, "key_origin": clean if key else None}
    st.session_state[PANEL_KEY] = panel
    return panel


def key_matches_origin(panel: Mapping[str, Any] | None, url: str) -> bool:
    """Whether the panel's key was entered for ``url``'s origin."""
    return bool(panel) and same_origin(str(panel.get("key_origin") or ""), url)


# -- the page source ------------------------------------------------------------


_frame = threading.local()
DEEP_LINK_KEY = "opta_deep_link"
REDIRECTED_KEY = "opta_deep_link_redirected"


@contextmanager
def frame() -> Iterator[None]:
    """app.py runs the chosen page inside this, so a page knows app.py ran first."""
    _frame.active = True
    try:
        yield
    finally:
        _frame.active = False


def page_source(page_file: str) -> Source:
    """What every page calls first: its Source, once app.py's frame is in place.

    With a ``pages/`` folder, Streamlit runs a deep link (``/throughput``) that
    reaches a fresh server before any run called ``st.navigation`` as a bare
    page: no sidebar, no settings panel, no banner. Such a run restarts
    through app.py, which then opens the page that was asked for.
    """
    if not getattr(_frame, "active", False) and not st.session_state.get(REDIRECTED_KEY):
        st.session_state[REDIRECTED_KEY] = True  # once per session: never a loop
        st.session_state[DEEP_LINK_KEY] = f"pages/{Path(page_file).name}"
        st.switch_page("app.py")
    return source()


def take_deep_link() -> str | None:
    """The page a bare run asked for, once (see ``page_source``)."""
    return st.session_state.pop(DEEP_LINK_KEY, None)


def source() -> Source:
    """The Store and client for this session: test store, configured server or demo."""
    conf = settings()
    injected = st.session_state.get(TEST_STORE_KEY)
    if isinstance(injected, Store):
        client = st.session_state.get(TEST_CLIENT_KEY)
        return Source(injected, client, conf, False, _read_only(conf))
    if not conf.url:
        server = demo_server()
        feed = shared_feed(server.url, key_digest(None, _SALT), None)
        return Source(feed.store, feed.client, conf, True, _read_only(conf), feed)
    feed = shared_feed(conf.url, key_digest(conf.admin_key, _SALT), conf.admin_key)
    return Source(feed.store, feed.client, conf, False, _read_only(conf), feed)


def _read_only(conf: Settings) -> bool:
    """Read-only unless this session unlocked it with the admin key."""
    if not conf.read_only:
        return False
    unlocked = st.session_state.get(UNLOCK_KEY)
    return unlocked is None or unlocked != key_digest(conf.admin_key, _SALT)


def unlock(entry: str) -> bool:
    """Unlock actions for this session only, if ``entry`` is the configured admin key.

    Compared in constant time; only a salted digest stays in the session.
    """
    key = settings().admin_key
    if not key or not hmac.compare_digest(entry.encode(), key.encode()):
        return False
    st.session_state[UNLOCK_KEY] = key_digest(key, _SALT)
    return True


# -- admin actions --------------------------------------------------------------


def start_action(label: str, call: Any) -> Action:
    """Run one admin call in its own thread; the page shows it until the next one."""
    action = Action(label, call).start()
    st.session_state[ACTION_KEY] = action
    return action


def current_action() -> Action | None:
    """The last admin action of this session (running or finished), if any."""
    action = st.session_state.get(ACTION_KEY)
    return action if isinstance(action, Action) else None


def clear_action() -> None:
    st.session_state.pop(ACTION_KEY, None)


# -- page helpers (the controls several pages share) -----------------------------

WINDOWS: dict[str, float] = {"1 min": 60.0, "5 min": 300.0, "15 min": 900.0,
                             "1 h": 3600.0, "24 h": 86400.0}
WINDOW_KEY = "opta_window"


def window_selector(key: str) -> float:
    """The window control (outside any fragment); the choice follows the viewer across pages."""
    remembered = st.session_state.get(WINDOW_KEY, "5 min")
    label = st.segmented_control("Window", list(WINDOWS), default=remembered, key=key,
                                 required=True) or remembered
    st.session_state[WINDOW_KEY] = label
    return WINDOWS[label]


def viewer_tz() -> tzinfo:
    """The viewer's time zone as the browser reports it; UTC when unknown."""
    name = getattr(st.context, "timezone", None)
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def clock_time(ts: float | None, tz: tzinfo | None = None) -> str:
    """HH:MM:SS in the viewer's time zone (see ``formatting.clock_time``)."""
    return formatting.clock_time(ts, tz or viewer_tz())


def show_verbatim(heading: str, message: str) -> None:
    """An error in our words, then the server's own message as plain text (never markdown)."""
    st.error(heading, icon=":material/error:")
    st.code(message, language=None, wrap_lines=True)


@st.cache_data(max_entries=256, show_spinner=False)
def gauge_spec(used_gb: float | None, total_gb: float | None,
               threshold_pct: float | None) -> dict[str, Any]:
    """The memory gauge as a Vega-Lite spec, built once per reading for every viewer.

    Building and validating it costs ~25 ms; the reading changes about once a
    second while each viewer redraws twice a second. Round the inputs first.
    """
    return charts.gauge_chart(used_gb, total_gb, threshold_pct).to_dict()


def chart(plan: ChartPlan, key: str) -> None:
    """Draw a chart from its cached structure and this tick's data (see chart_specs)."""
    st.vega_lite_chart(spec=to_spec(plan), key=key, width="stretch")


STATIC_CSV_ROWS = 10_000


def csv_button(build: Callable[[], bytes], rows: int, *, file_name: str, key: str,
               help: str) -> None:
    """The CSV download of what a fragment shows, built from the snapshot it holds.

    Small exports are built on every rerun: Streamlit keeps the previous file
    for one more run, so a click that races a rerun still gets a file. Large
    ones (an hour of 10 Hz samples is ~50 ms and 2 MB) are built only on click.
    """
    data: bytes | Callable[[], bytes] = build() if rows <= STATIC_CSV_ROWS else build
    st.download_button("Download CSV", data, file_name=file_name, mime="text/csv",
                       on_click="ignore", icon=":material/download:", key=key, help=help)
