"""The watch: every planned server recorded, and its alerts evaluated and delivered, in
the background, whether or not anyone is looking.

``Watch(plan)`` makes a Feed per server (the command line's recorder) or takes the
feeds it is given (the app's, shared with every page: one connection per server),
opens the alert journal in the history file (in memory when history is off or the file
cannot be used), and runs one named daemon thread, ``opta-alerts-monitor``, that calls
``AlertDesk.round`` every ``interval_s`` (2 s); the desk's delivery worker is the other
(``opta-alerts-delivery``). ``stop()`` is idempotent and safe from any thread.

One process notifies. Several processes may share a history file (a dashboard, a second
dashboard, the recorder); for each server, the one holding its writer lock
(``HistoryWriter.holds_lock``) evaluates and notifies, and takes over, continuing the
states it finds in the file, when that process ends. Without a journal on file, the
process notifies for every server it watches.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping

from opta_stream.alerting.delivery import BACKOFF_BASE_S, BACKOFF_CAP_S
from opta_stream.alerting.journal import AlertJournal
from opta_stream.alerting.memory_journal import MemoryJournal
from opta_stream.alerting.sending import SCRUB
from opta_stream.feed.feed import Feed
from opta_stream.history.alert_journal import SqliteAlertJournal
from opta_stream.history.files import HistoryUnavailable
from opta_stream.history.place import default_path
from opta_stream.inputs import host_label
from opta_stream.watch.alert_desk import AlertDesk
from opta_stream.watch.watch_plan import WatchPlan

__all__ = ["INTERVAL_S", "MONITOR_THREAD", "Watch", "open_journal"]

log = logging.getLogger(__name__)
MONITOR_THREAD = "opta-alerts-monitor"
# Rules are evaluated on every server every 2 s: a round reads each server's 5-minute
# snapshot, 0.5-0.7 ms each, so 20 servers cost 10-15 ms a round; once a second that
# would be 1-1.5 % of a core, every 2 s it is within the 1 % budget (bench/alert_bench.py).
INTERVAL_S = 2.0


def open_journal(plan: WatchPlan) -> tuple[AlertJournal, bool, str]:
    """The journal (in the history file when history is on and the file can be used),
    whether it is on file, and why not in words ("" when it is)."""
    if not plan.history.enabled:
        return MemoryJournal(), False, ""
    path = plan.history.path or default_path()
    try:
        return SqliteAlertJournal.open(path), True, ""
    except HistoryUnavailable as exc:
        return MemoryJournal(), False, (
            f"Alert states cannot be kept in {path} ({exc}): they are kept in memory, and "
            "this process notifies for every server it watches.")


class Watch:
    """Feeds, the alert desk and its thread for every server of ``plan``."""

    def __init__(self, plan: WatchPlan, feeds: Mapping[str, Feed] | None = None, *,
                 clock: Callable[[], float] = time.time, interval_s: float = INTERVAL_S,
                 backoff: tuple[float, float] = (BACKOFF_BASE_S, BACKOFF_CAP_S)) -> None:
        self.plan = plan
        self._own_feeds = feeds is None
        self.feeds: dict[str, Feed] = dict(feeds) if feeds is not None else {
            t.name: Feed(t.url, t.admin_key, history=plan.history, identity=t.identity)
            for t in plan.targets}
        self._clock, self._interval_s, self._backoff = clock, interval_s, backoff
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._journal: AlertJournal | None = None
        self._on_file = False
        self.desk: AlertDesk | None = None

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> Watch:
        """Feeds (if this watch made them), the journal, the desk and the thread; once."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return self
            if self._own_feeds:
                for feed in self.feeds.values():
                    feed.start()
            journal, self._on_file, note = open_journal(self.plan)
            self._journal = journal
            if note:
                log.warning("alerts: %s", note)
            notes = self.plan.notes + ((note,) if note else ())
            self.desk = AlertDesk(
                self.plan.config, {n: f.store for n, f in self.feeds.items()}, journal,
                instances={n: host_label(f.url) for n, f in self.feeds.items()},
                owns=self.owns, clock=self._clock, notes=notes,
                external_url=self.plan.external_url, backoff=self._backoff,
                builtins=self.plan.builtins, every_s=self._interval_s,
                others_name="another process that records this server into the same "
                            "history file").start()
            self._thread = threading.Thread(target=self._loop, name=MONITOR_THREAD,
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Idempotent, from any thread: the monitor thread, the delivery worker, the
        journal, then the feeds this watch made."""
        with self._lock:
            first = not self._stop.is_set()
            self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if not first:
            return
        if self.desk is not None:
            self.desk.stop(timeout)
        if isinstance(self._journal, SqliteAlertJournal):
            self._journal.close()
        if self._own_feeds:
            for feed in self.feeds.values():
                feed.stop(timeout)

    @property
    def alive(self) -> bool:
        """Running, and every feed it watches too (a stopped feed makes it stale)."""
        thread = self._thread
        return (thread is not None and thread.is_alive() and not self._stop.is_set()
                and all(f.healthy for f in self.feeds.values()))

    def owns(self, server: str) -> bool:
        """Whether this process notifies for ``server``: it writes the server's history
        (its writer lock), or no journal is shared on file."""
        feed = self.feeds.get(server)
        if feed is None:
            return False
        return not self._on_file or feed.history is None or feed.history.holds_lock

    # -- the thread -------------------------------------------------------------------
    def _loop(self) -> None:
        next_at = self._clock()
        while not self._stop.is_set():
            try:
                if self.desk is not None:
                    self.desk.round()
            except Exception as exc:  # noqa: BLE001 - a bug must not end alerting
                text = SCRUB("".join(traceback.format_exception(exc)))
                log.error("alerts: a round failed; the next one runs as usual\n%s", text)
            next_at += self._interval_s
            now = self._clock()
            if next_at < now:  # fell behind (a slow disk): no burst of rounds to catch up
                next_at = now
            self._stop.wait(next_at - now)

    # -- the pages' controls ----------------------------------------------------------
    def silence(self, rule: str, server: str, duration_s: float) -> None:
        if self.desk is not None:
            self.desk.silence(rule, server, duration_s)

    def unsilence(self, rule: str, server: str) -> None:
        if self.desk is not None:
            self.desk.unsilence(rule, server)

    def send_test(self) -> list[str]:
        return self.desk.send_test() if self.desk is not None else []

    def receivers(self) -> list[str]:
        return [r.label for r in self.plan.config.receivers]
