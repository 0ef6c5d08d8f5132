"""One process's alerting over a set of Stores: read each server once, evaluate, deliver,
and write what pages show back into each server's Store.

A round (``round``, every 2 s from the watch's thread; never from a page):

1. each server's Store snapshot over the last 5 minutes, read once, turned into a
   reading (``figures.alert_reading``: the figures the pages show, so an alert and a
   tile never disagree);
2. ``AlertMonitor.evaluate``: the servers this process notifies for (``owns``: it
   holds their history writer lock) are evaluated, their changes and the notices those
   call for committed to the journal in one transaction; the delivery worker is woken;
3. each firing and each resolving becomes an event-log line (``alert_firing``,
   ``alert_resolved``) in that server's Store, which the time charts mark and history
   keeps; a server another process notifies for gets the same lines when its states,
   read from the shared file, change;
4. each server's board (``snapshot.AlertBoard``) is written into its Store when
   something changed, and every ``board_s`` seconds (deliveries move on their own).

The cost does not grow with viewers: pages only read the boards from their snapshots.
Silences and the test notification are the pages' and the command line's controls.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING

import requests

from opta_stream.alerting.delivery import BACKOFF_BASE_S, BACKOFF_CAP_S, DeliveryWorker
from opta_stream.alerting.engine import AlertKey, AlertState, State, Transition
from opta_stream.alerting.journal import (
    AlertJournal,
    Delivery,
    DeliveryUpdate,
    EpisodeKey,
    JournalError,
    NewDelivery,
    Silence,
)
from opta_stream.alerting.monitor import AlertMonitor
from opta_stream.alerting.plan import condition_words, figure
from opta_stream.alerting.rules import AlertConfig, Rule, builtin_rules
from opta_stream.alerting.sending import send_test
from opta_stream.figures.alert_reading import reading
from opta_stream.figures.headline import RECENT_S
from opta_stream.snapshot import AlertChange
from opta_stream.store.core import Store
from opta_stream.watch.alert_boards import board, changes, rule_infos
from opta_stream.wire.sessions import new_session

__all__ = ["BOARD_S", "CHANGES_KEPT", "AlertDesk", "CountedJournal"]

log = logging.getLogger(__name__)
BOARD_S = 4.0  # boards are rewritten at least this often: deliveries move between rounds
CHANGES_KEPT = 200  # the newest changes per server a board carries (the page's history)
DELIVERIES_READ = 200
_LEVEL = {"critical": "error", "warning": "warning", "info": "info"}


class CountedJournal:
    """A journal that counts its writes, so the boards re-read the rows of the servers
    this process notifies for only after something was written (only this process
    writes them); every call goes to ``inner``."""

    def __init__(self, inner: AlertJournal) -> None:
        self.inner = inner
        self.writes = 0
        self._count = threading.Lock()  # the monitor, the worker and pages all write

    def _wrote(self) -> None:
        with self._count:
            self.writes += 1

    def load_states(self, servers: Collection[str] | None = None) -> list[AlertState]:
        return self.inner.load_states(servers)

    def commit(self, states: Sequence[AlertState], transitions: Sequence[Transition],
               deliveries: Sequence[NewDelivery], now: float) -> list[Delivery]:
        self._wrote()
        return self.inner.commit(states, transitions, deliveries, now)

    def notices(self, keys: Collection[EpisodeKey]) -> dict[EpisodeKey, list[Delivery]]:
        return self.inner.notices(keys)

    def pending(self, servers: Collection[str] | None, limit: int) -> list[Delivery]:
        return self.inner.pending(servers, limit)

    def pending_servers(self) -> set[str]:
        return self.inner.pending_servers()

    def update(self, delivery_id: int, update: DeliveryUpdate) -> None:
        self._wrote()
        self.inner.update(delivery_id, update)

    def transitions(self, server: str | None = None, limit: int = 100) -> list[Transition]:
        return self.inner.transitions(server, limit)

    def deliveries(self, server: str | None = None, limit: int = 100) -> list[Delivery]:
        return self.inner.deliveries(server, limit)

    def set_silence(self, silence: Silence) -> None:
        self._wrote()
        self.inner.set_silence(silence)

    def clear_silence(self, rule: str, server: str) -> None:
        self._wrote()
        self.inner.clear_silence(rule, server)

    def silences(self, now: float) -> list[Silence]:
        return self.inner.silences(now)

    def prune(self, before: float) -> None:
        self._wrote()
        self.inner.prune(before)


class AlertDesk:
    """The monitor, the journal, the delivery worker and the boards, over ``stores``
    (server name → Store). Thread-safe where pages call it: ``silence``, ``unsilence``,
    ``send_test``."""

    def __init__(self, config: AlertConfig, stores: Mapping[str, Store],
                 journal: AlertJournal, *, instances: Mapping[str, str] | None = None,
                 owns: Callable[[str], bool] | None = None,
                 clock: Callable[[], float] = time.time,
                 rng: Callable[[], float] = random.random, notes: Sequence[str] = (),
                 external_url: str = "",
                 backoff: tuple[float, float] = (BACKOFF_BASE_S, BACKOFF_CAP_S),
                 session_factory: Callable[[], requests.Session] = new_session,
                 board_s: float = BOARD_S, others_name: str = "another process",
                 builtins: Sequence[Rule] | None = None, every_s: float = 0.0) -> None:
        self.config = config
        self.journal = CountedJournal(journal)
        journal = self.journal  # the monitor and the worker write through it: all counted
        self._stores = dict(stores)
        self._instances = dict(instances or {})
        self._clock, self._board_s = clock, board_s
        self._external_url = external_url
        self.worker = DeliveryWorker(journal, config.receivers, owns=owns, clock=clock, rng=rng,
                                     backoff_base_s=backoff[0], backoff_cap_s=backoff[1],
                                     session_factory=session_factory,
                                     external_url=external_url)
        self.monitor = AlertMonitor(config.rules, config.receivers, journal,
                                    instances=self._instances, owns=owns,
                                    on_deliveries=self.worker.offer, clock=clock)
        self._rules: dict[str, Rule] = {r.name: r for r in config.rules}
        self._metrics = {r.name: r.metric for r in config.rules}
        self._words = {r.name: condition_words(r) for r in config.rules}
        self._labels = {r.key: r.label for r in config.receivers}
        shipped = builtin_rules() if builtins is None else builtins
        self._infos = rule_infos(config.rules, {r.name: r for r in shipped})
        self._notes = tuple(config.errors) + tuple(notes)
        self._others_name = others_name
        self._every_s = every_s  # how often rounds run (the boards say so)
        self._others: dict[AlertKey, tuple[State, int]] = {}  # last seen, servers not ours
        self._looked: set[str] = set()  # servers not ours whose states were read
        self._other_states: list[AlertState] = []
        self._boards_at = float("-inf")
        # per server: the journal's write count when its rows were read, the rows, and
        # its changes made from them
        self._rows: dict[str, tuple[int, list[Delivery], tuple[AlertChange, ...]]] = {}
        self.rounds = 0

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> AlertDesk:
        self.worker.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Idempotent: the delivery worker ends (a post in flight at its timeout)."""
        self.worker.stop(timeout)

    @property
    def servers(self) -> list[str]:
        return list(self._stores)

    # -- a round ----------------------------------------------------------------------
    def round(self, now: float | None = None) -> list[Transition]:
        """Read every server once, evaluate, log the changes, refresh the boards."""
        now = self._clock() if now is None else now
        readings = {name: reading(store.snapshot(RECENT_S))
                    for name, store in self._stores.items()}
        transitions = self.monitor.evaluate(readings, now)
        changed = {t.server for t in transitions}
        for t in transitions:
            self._log(t.server, t.rule, t.new, t.value, t.severity.value)
        changed |= self._others_changed()
        if now - self._boards_at >= self._board_s:
            self._boards_at = now
            changed = set(self._stores)
        self.publish(changed, now)
        self.rounds += 1
        return transitions

    def _log(self, server: str, rule_name: str, new: State, value: float | None,
             severity: str) -> None:
        """A firing or a resolving as an event-log line of that server: the time charts
        mark it (``charts.frames.MARKERS``) and history keeps it."""
        store = self._stores.get(server)
        rule = self._rules.get(rule_name)
        if store is None or new not in (State.FIRING, State.RESOLVED):
            return
        shown = figure(rule.metric if rule else "", value)
        if new is State.FIRING:
            words = f" ({self._words[rule_name]})" if rule is not None else ""
            store.log("alert_firing", f"{rule_name}: {shown}{words}",
                      severity=_LEVEL.get(severity, "warning"))
        else:
            store.log("alert_resolved", f"{rule_name}: back to {shown}", severity="info")

    def _others_changed(self) -> set[str]:
        """Servers another process notifies for: their states, read from the journal each
        round, and a line for each of their alerts that fired or resolved since the last
        look (so this process's charts mark them too). The first look at a server (at
        start, or when this process stops notifying for it) only remembers."""
        mine = self.monitor.owned()
        others = [s for s in self._stores if s not in mine]
        if not others:
            self._others, self._looked, self._other_states = {}, set(), []
            return set()
        try:
            states = self.journal.load_states(others)
        except JournalError:
            return set()  # the monitor's own round says what is wrong
        changed: set[str] = set()
        seen: dict[AlertKey, tuple[State, int]] = {}
        for s in states:
            now = (s.state, s.episode)
            seen[s.key] = now
            before = self._others.get(s.key, (State.INACTIVE, 0))
            if s.server in self._looked and before != now:
                changed.add(s.server)
                self._log(s.server, s.rule, s.state, s.value, s.severity.value)
        self._others, self._looked, self._other_states = seen, set(others), states
        return changed

    # -- boards -----------------------------------------------------------------------
    def publish(self, servers: set[str] | None = None, now: float | None = None) -> None:
        """Write these servers' boards (all, by default) into their Stores."""
        now = self._clock() if now is None else now
        names = list(self._stores) if servers is None else [s for s in self._stores
                                                            if s in servers]
        if not names:
            return
        problem = ""
        try:
            silences = {s.key: s.until for s in self.journal.silences(now)}
        except JournalError as exc:
            silences, problem = {}, str(exc)
        mine = self.monitor.owned()
        states = [s for s in self.monitor.states() if s.server in mine]
        states += [s for s in self._other_states if s.server not in mine
                   and s.rule in self._rules]
        for name in names:
            read_at, deliveries, changed = self._rows.get(name, (-1, [], ()))
            # another process writes the rows of a server it notifies for: read them again
            if read_at != self.journal.writes or name not in mine:
                try:
                    writes = self.journal.writes
                    transitions = self.journal.transitions(name, CHANGES_KEPT)
                    deliveries = self.journal.deliveries(name, DELIVERIES_READ)
                    changed = changes(transitions, self._metrics, CHANGES_KEPT)
                    self._rows[name] = (writes, deliveries, changed)
                except JournalError as exc:  # keep what was read last
                    problem = str(exc)
            notifier = "this process" if name in mine else self._others_name
            self._stores[name].set_alerts(board(
                [s for s in states if s.server == name], self._rules, self._words, changed,
                deliveries, silences, self._labels, infos=self._infos,
                problems=self._notes + self._trouble(problem), notifier=notifier, now=now,
                changes_kept=CHANGES_KEPT, every_s=self._every_s))

    def _trouble(self, read_problem: str) -> tuple[str, ...]:
        out = []
        if self.monitor.problem:
            out.append(f"Alert states cannot be written to the history file "
                       f"({self.monitor.problem}); they are kept in memory and written "
                       "again at the next round.")
        if read_problem:
            out.append(f"The alert history cannot be read from the history file "
                       f"({read_problem}); this page shows what it read before.")
        return tuple(out)

    # -- controls ---------------------------------------------------------------------
    def silence(self, rule: str, server: str, duration_s: float) -> Silence:
        """Hold back this alert's notices (its state goes on), kept in the journal."""
        silence = self.monitor.silence(rule, server, duration_s)
        self.publish({server})
        return silence

    def unsilence(self, rule: str, server: str) -> None:
        self.monitor.unsilence(rule, server)
        self.publish({server})

    def send_test(self) -> list[str]:
        """One test notification to each receiver, each result in words."""
        return [str(o) for o in send_test(self.config.receivers,
                                          external_url=self._external_url)]

    def states(self, server: str | None = None) -> list[AlertState]:
        return self.monitor.states(server)


if TYPE_CHECKING:
    def _conforms(journal: CountedJournal) -> AlertJournal:  # mypy checks the interface
        return journal
