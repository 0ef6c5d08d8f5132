"""Where pages get their data: one Feed per server for every viewer, behind one seam.

``Sources`` is the app's one test seam, injected as httpx tests hand a client
a ``MockTransport``: ``source(conf, name)`` gives the Store (and admin client)
of a server, ``ticks(slot_s)`` the memo that shares a tick's work among
viewers, and ``pace(render_s)`` how often they redraw under load. The
running app uses ``FeedSources``; a test installs its own (``use``) with
Stores it fills itself, and the app runs the very same path
as for users. Nothing in the app asks whether it is under test.

``FeedSources`` hands out ``shared_feed``s, an ``st.cache_resource``: one Feed
per server for the whole process, keyed by the URL and a salted digest of the
admin key (the key itself is passed as ``_admin_key`` so Streamlit never
hashes it into a cache key). Releasing an entry (cache clear, eviction, code
edit) stops the feed, so no thread is orphaned. ``prom_reader`` is the one
``PromReader`` per configured Prometheus, and ``long_answer`` what a
long-window chart got from it for a server.

``alerts()`` is the seam's alerting: ``FeedSources`` starts ``shared_watch`` (one
``watch.Watch`` per process, app.py asks for it on every run, so it runs from the
first session on) over the shared feeds of every configured server (or the demo),
and returns it as the pages' ``AlertControls``; a test hands in its own.
``want_reports`` tells a server's feed which parts of the server's
self-report a page shows now, so they are polled while someone looks.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import streamlit as st

from opta_stream.demo import DemoServer
from opta_stream.feed import Feed
from opta_stream.inputs import host_label
from opta_stream.settings import (
    MAX_SERVERS,
    HistorySettings,
    PromSettings,
    ServerEntry,
    Settings,
    entry_settings,
)
from opta_stream.snapshot import LONG_WINDOW_S, RangeAnswer
from opta_stream.store import Store
from opta_stream.ui import session
from opta_stream.ui.pace import BUDGET, Pace, usable_cores
from opta_stream.ui.tick_memo import SlotMemo

if TYPE_CHECKING:  # imported where used: the first page needs neither
    from opta_stream.feed.prom_reader import PromReader
    from opta_stream.watch.fleet_watch import Watch
    from opta_stream.watch.watch_plan import WatchPlan

__all__ = [
    "MAX_FEEDS", "AlertControls", "FeedSources", "Source", "Sources", "current", "demo_server",
    "fleet_sources", "install", "long_answer", "prom_reader", "shared_feed", "shared_watch",
    "shutdown", "source", "use", "want_reports",
]

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

    @property
    def key(self) -> str:
        """This Store's name in a view's spec: two Stores never share one."""
        return f"{self.store.server}@{id(self.store):x}"


class AlertControls(Protocol):
    """What the Alerts page may do to this process's alerting (``watch.Watch``)."""

    def silence(self, rule: str, server: str, duration_s: float) -> None: ...

    def unsilence(self, rule: str, server: str) -> None: ...

    def send_test(self) -> list[str]:
        """One test notification to each receiver; each result in words."""
        ...


class Sources(Protocol):
    """Where the app's data comes from (the running app: ``FeedSources``)."""

    def source(self, conf: Settings, name: str | None, *, demo: bool = False) -> Source:
        """The Source of the server ``name`` (None: the single server of ``conf``), or of
        the embedded demo when ``demo``; ``conf`` carries its URL and key."""
        ...

    def ticks(self, slot_s: float) -> SlotMemo:
        """The memo whose slots last ``slot_s``: one build per key and slot."""
        ...

    def pace(self, render_s: float) -> Pace:
        """The process's render pace for the render interval ``render_s`` (``ui.pace``)."""
        ...

    def alerts(self) -> AlertControls | None:
        """This process's alerting, started if it is not running yet (None: none)."""
        ...


def _stop(resource: Feed | DemoServer | PromReader | Watch) -> None:
    resource.stop()


def _usable(feed: Feed) -> bool:
    """A stopped feed, or one whose threads died, is replaced on the next run."""
    return feed.healthy


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
    from opta_stream.feed.prom_reader import PromReader

    return PromReader(PromSettings(url, label, timeout_s)).start()


def _watch_usable(watch: Watch) -> bool:
    """A watch whose thread ended, or one of whose feeds was stopped (evicted from
    ``shared_feed``), is stopped here and made again on the next run."""
    if watch.alive:
        return True
    watch.stop()
    return False


@st.cache_resource(on_release=_stop, max_entries=1, show_spinner=False,
                   validate=_watch_usable)
def shared_watch(digest: str, _plan: WatchPlan) -> Watch:
    """The process's one watch: every planned server's shared feed (the same one pages
    read) with the alert monitor and delivery threads. Keyed by ``plan.digest``: a change
    of servers, rules or receivers replaces it (the old one is stopped)."""
    from opta_stream.watch.fleet_watch import Watch

    h = _plan.history
    feeds = {t.name: shared_feed(t.url, session.digest(t.admin_key), t.admin_key, h.path,
                                 h.days, h.max_mb, t.identity) for t in _plan.targets}
    return Watch(_plan, feeds).start()


class FeedSources:
    """The running app: each server's shared Feed, and slots on the monotonic clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._memos: dict[float, SlotMemo] = {}
        self._paces: dict[float, Pace] = {}
        self._lock = threading.Lock()

    def source(self, conf: Settings, name: str | None, *, demo: bool = False) -> Source:
        read_only = session.read_only(conf)
        if demo:  # the demo's port changes with every start; its history is "demo"
            feed = _feed(demo_server().url, None, conf, DEMO_IDENTITY)
            return Source(feed.store, feed.client, conf, True, read_only, feed)
        assert conf.url is not None
        feed = _feed(conf.url, conf.admin_key, conf)
        return Source(feed.store, feed.client, conf, False, read_only, feed)

    def ticks(self, slot_s: float) -> SlotMemo:
        with self._lock:
            memo = self._memos.get(slot_s)
            if memo is None:
                memo = self._memos[slot_s] = SlotMemo(slot_s, max_keys=256, clock=self._clock)
            return memo

    def pace(self, render_s: float) -> Pace:
        with self._lock:
            pace = self._paces.get(render_s)
            if pace is None:
                budget = BUDGET * min(1.0, usable_cores())  # one core at most: the GIL
                pace = self._paces[render_s] = Pace(render_s, budget, clock=self._clock)
            return pace

    def alerts(self) -> Watch:
        """The watch over the configured servers (secrets, then environment; never a
        viewer's sidebar), or over the embedded demo when none is configured. Imported
        here: app.py asks for it after the page, which does not need the alerting."""
        from opta_stream.watch.watch_plan import plan_watch

        plan = plan_watch(st.secrets, os.environ, demo=lambda: demo_server().url)
        return shared_watch(plan.digest(session.SALT), plan)


_current: Sources = FeedSources()


def current() -> Sources:
    """The Sources in use (the running app's, unless a test installed its own)."""
    return _current


def install(sources: Sources) -> Sources:
    """Run the app on ``sources`` from now on (tests); returns the ones in use before."""
    global _current
    before, _current = _current, sources
    return before


@contextmanager
def use(sources: Sources) -> Iterator[Sources]:
    """Run the app on ``sources`` inside the ``with`` (tests)."""
    before = install(sources)
    try:
        yield sources
    finally:
        install(before)


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


def want_reports(src: Source, sections: Iterable[str]) -> None:
    """This page shows these sections of the server's self-report now: its feed polls them
    while pages keep asking (never waits; a Source without a feed has nothing to poll)."""
    if src.feed is not None:
        src.feed.reports.want(sections)


def shutdown() -> None:
    """Stop the watch, every shared feed, reader and the demo server (tests, and a clean
    exit); the watch first, so it reads no stopped feed."""
    shared_watch.clear()
    shared_feed.clear()
    prom_reader.clear()
    demo_server.clear()


def fleet_sources() -> list[tuple[ServerEntry, Source]]:
    """Every watched server with its Source, in the configured order."""
    base = session.base_settings()
    found = session.fleet(base)
    return [(entry, _current.source(entry_settings(entry, base) if found.listed else base,
                                    entry.name))
            for entry in found.servers]


def source() -> Source:
    """The Store and client for this session: the chosen server, or the demo."""
    conf = session.settings()
    chosen = session.selected(session.fleet())
    return _current.source(conf, chosen.name if chosen else None, demo=not conf.url)
