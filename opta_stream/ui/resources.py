"""What every viewer shares: one Feed per server and the embedded demo server.

``shared_feed`` is an ``st.cache_resource``: one Feed per server for the whole
process, keyed by the URL and a salted digest of the admin key (the key itself
is passed as ``_admin_key`` so Streamlit never hashes it into a cache key).
Releasing an entry (cache clear, eviction, code edit) stops the feed, so no
thread is orphaned. ``source()`` hands a page its ``Source``.

``prom_reader`` is the one ``PromReader`` per configured Prometheus, and
``long_answer`` what a long-window chart got from it for the page's server.

``fleet_sources()`` hands the Fleet page one Source per watched server, each
from its own shared feed: a dead server's feed reconnects in its own threads
and costs the others nothing.

Test seam: a Store put in ``st.session_state[TEST_STORE_KEY]`` is used instead
of any feed (a mapping of server name to Store stands in for a fleet's feeds),
and ``st.session_state[TEST_CLIENT_KEY]`` stands in for the admin
client. AppTest fills a Store deterministically this way; such a Source does
not share ticks between viewers (``ui.shared``) unless
``st.session_state[TEST_SHARE_KEY]`` is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from opta_stream.config import HistorySettings, Settings
from opta_stream.demo import DemoServer
from opta_stream.feed import Feed
from opta_stream.feed.prom_reader import PromReader
from opta_stream.inputs import host_label
from opta_stream.ranges import LONG_WINDOW_S, RangeAnswer
from opta_stream.servers import MAX_SERVERS, PromSettings, ServerEntry, entry_settings
from opta_stream.store import Store
from opta_stream.ui import session

__all__ = [
    "MAX_FEEDS", "TEST_CLIENT_KEY", "TEST_SHARE_KEY", "TEST_STORE_KEY", "Source", "demo_server",
    "fleet_sources", "long_answer", "prom_reader", "shared_feed", "shutdown", "source",
]

TEST_STORE_KEY = "opta_test_store"
TEST_CLIENT_KEY = "opta_test_client"
TEST_SHARE_KEY = "opta_test_share"
# A whole fleet, and room for viewers' own servers and panel URLs besides: past this the
# least recently used feed is stopped (and restarted when a page asks for it again).
MAX_FEEDS = MAX_SERVERS + 8
DEMO_IDENTITY = "demo"


@dataclass(frozen=True, slots=True)
class Source:
    """What a page renders from. ``client`` is None when actions are impossible."""

    store: Store
    client: Any
    settings: Settings
    is_demo: bool
    read_only: bool
    feed: Feed | None = None
    share: bool = True  # per-tick work shared between viewers (ui.shared)


def _stop(resource: Feed | DemoServer | PromReader) -> None:
    resource.stop()


def _usable(feed: Feed) -> bool:
    """A stopped feed, or one whose threads died, is replaced on the next run."""
    return not feed.stopped and len(feed.alive_threads()) == 2


@st.cache_resource(on_release=_stop, max_entries=MAX_FEEDS, show_spinner=False,
                   validate=_usable)
def shared_feed(url: str, key_digest_hex: str, _admin_key: str | None,
                history_path: str | None = "", history_days: float = 30.0,
                history_max_mb: float = 200.0, identity: str | None = None) -> Feed:
    """The one Feed for this server and key, shared by every viewer; with history on
    it starts from what the file kept under ``identity`` (the URL, or "demo")."""
    history = HistorySettings(history_path, history_days, history_max_mb)
    return Feed(url, _admin_key, history=history, identity=identity).start()


def _feed(url: str, key: str | None, conf: Settings, identity: str | None = None) -> Feed:
    h = conf.history
    return shared_feed(url, session.digest(key), key, h.path, h.days, h.max_mb, identity)


@st.cache_resource(on_release=_stop, max_entries=1, show_spinner=False)
def demo_server() -> DemoServer:
    """The embedded demo server (simulated load), started on first use."""
    return DemoServer(mode="rich").start()


@st.cache_resource(on_release=_stop, max_entries=4, show_spinner=False,
                   validate=lambda reader: reader.alive)
def prom_reader(url: str, label: str, timeout_s: float) -> PromReader:
    """The one reader of this Prometheus for every viewer and server (its own thread)."""
    return PromReader(PromSettings(url, label, timeout_s)).start()


def long_answer(src: Source, chart: str, window_s: float,
                entry: ServerEntry | None = None) -> RangeAnswer | None:
    """What Prometheus gave ``chart`` for ``entry`` (default: the page's server) without
    waiting: None when no ``prometheus_url`` is set or the window is under an hour."""
    found = session.fleet()
    prom = found.prometheus
    if prom is None or window_s < LONG_WINDOW_S:
        return None
    entry = entry or session.selected(found)
    instance = entry.instance if entry is not None else host_label(
        src.feed.url if src.feed is not None else src.store.server)
    return prom_reader(prom.url, prom.label, prom.timeout_s).answer(instance, chart, window_s)


def shutdown() -> None:
    """Stop every shared feed, reader and the demo server (tests, and a clean exit)."""
    shared_feed.clear()
    prom_reader.clear()
    demo_server.clear()


def _injected(conf: Settings, name: str | None) -> Source | None:
    injected = st.session_state.get(TEST_STORE_KEY)
    if isinstance(injected, Mapping):
        injected = injected.get(name)
    if not isinstance(injected, Store):
        return None
    client = st.session_state.get(TEST_CLIENT_KEY)
    return Source(injected, client, conf, False, session.read_only(conf),
                  share=bool(st.session_state.get(TEST_SHARE_KEY)))


def fleet_sources() -> list[tuple[ServerEntry, Source]]:
    """Every watched server with its Source, in the configured order."""
    base = session.base_settings()
    found = session.fleet(base)
    out = []
    for entry in found.servers:
        conf = entry_settings(entry, base) if found.listed else base
        src = _injected(conf, entry.name)
        if src is None:
            feed = _feed(entry.url, entry.admin_key, conf)
            src = Source(feed.store, feed.client, conf, False, session.read_only(conf), feed)
        out.append((entry, src))
    return out


def source() -> Source:
    """The Store and client for this session: test store, configured server or demo."""
    conf = session.settings()
    found = session.fleet()
    chosen = session.selected(found)
    injected = _injected(conf, chosen.name if chosen else None)
    if injected is not None:
        return injected
    if not conf.url:  # the demo's port changes with every start; its history is "demo"
        feed = _feed(demo_server().url, None, conf, DEMO_IDENTITY)
        return Source(feed.store, feed.client, conf, True, session.read_only(conf), feed)
    feed = _feed(conf.url, conf.admin_key, conf)
    return Source(feed.store, feed.client, conf, False, session.read_only(conf), feed)
