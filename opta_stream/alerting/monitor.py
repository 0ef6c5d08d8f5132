"""One process's alerting: each round, evaluate the rules for the servers this process
notifies for, and write the state changes with the deliveries they call for in one
journal commit. No network: the delivery worker sends what the commit put in the outbox.

Several dashboards may share a history file; the one that holds a server's writer lock
(``owns``) notifies for it. When it gains a server, it reads that server's alert states
from the journal and carries on from them (a takeover): an alert already firing stays
firing with the same episode, so its firing notice, already sent, is not sent again.

Call ``evaluate`` from a background thread (about once a second), never from a page's
render: a commit is a small SQLite transaction. ``states()`` only reads memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from opta_stream.alerting.engine import AlertKey, AlertState, Reading, State, Transition, evaluate
from opta_stream.alerting.journal import AlertJournal, Delivery, EpisodeKey, JournalError, Silence
from opta_stream.alerting.plan import plan
from opta_stream.alerting.receivers import Receiver
from opta_stream.alerting.rules import Rule

__all__ = ["AlertMonitor"]

log = logging.getLogger(__name__)
RECONCILE_S = 10.0  # how often firing alerts are checked for repeats and ended silences
PRUNE_S = 600.0
KEEP_S = 30 * 86400.0


class AlertMonitor:
    """Rules → states → planned deliveries, for the servers ``owns`` says are ours."""

    def __init__(self, rules: Sequence[Rule], receivers: Sequence[Receiver],
                 journal: AlertJournal, *, instances: Mapping[str, str] | None = None,
                 owns: Callable[[str], bool] | None = None,
                 on_deliveries: Callable[[Sequence[Delivery]], None] | None = None,
                 clock: Callable[[], float] = time.time, reconcile_s: float = RECONCILE_S,
                 keep_s: float = KEEP_S) -> None:
        self.rules = tuple(r for r in rules if r.enabled)
        self.receivers = tuple(receivers)
        self.journal = journal
        self._by_name = {r.name: r for r in self.rules}
        self._instances = dict(instances or {})
        self._owns = owns or (lambda server: True)
        self._on_deliveries = on_deliveries
        self._clock, self._reconcile_s, self._keep_s = clock, reconcile_s, keep_s
        self._lock = threading.Lock()  # guards what pages read: _states, _others, problem
        self._states: dict[AlertKey, AlertState] = {}
        self._others: list[AlertState] = []  # servers another process notifies for
        self._owned: set[str] = set()
        self._seen: set[str] = set()
        self._silences: dict[AlertKey, float] = {}
        self._reconciled_at = self._pruned_at = float("-inf")
        self.problem = ""  # why the journal cannot be written, in words ("" when fine)

    # -- a round ----------------------------------------------------------------------
    def evaluate(self, readings: Mapping[str, Reading], now: float | None = None
                 ) -> list[Transition]:
        """One round; returns the transitions it committed to the journal."""
        now = self._clock() if now is None else now
        try:
            return self._round(readings, now)
        except JournalError as exc:
            self._failed(str(exc))
            return []

    def _round(self, readings: Mapping[str, Reading], now: float) -> list[Transition]:
        self._seen.update(readings)
        gained = self._ownership(readings)
        reconcile = bool(gained) or now - self._reconciled_at >= self._reconcile_s
        if reconcile:
            self._silences = {s.key: s.until for s in self.journal.silences(now)}
        mine = {s: r for s, r in readings.items() if s in self._owned}
        ev = evaluate(self.rules, mine, self._states, now, self._silences)
        keys = {t.key for t in ev.transitions}
        if reconcile:
            keys |= {k for k, s in ev.states.items() if s.state is State.FIRING}
        alerts = [(self._by_name[k[0]], ev.states[k]) for k in keys if k[0] in self._by_name]
        wanted: list[EpisodeKey] = [(s.rule, s.server, s.episode) for _, s in alerts
                                    if s.episode > 0]
        existing = self.journal.notices(wanted) if wanted else {}
        resolving = {t.key for t in ev.transitions if t.new is State.RESOLVED}
        new = plan(alerts, self.receivers, existing, self._silences, self._instances, now,
                   resolving)
        made: list[Delivery] = []
        if ev.transitions or new:
            changed = [ev.states[k] for k in {t.key for t in ev.transitions}]
            made = self.journal.commit(changed, ev.transitions, new, now)
        if reconcile:
            self._reconciled_at = now
            self._refresh_others()
        if now - self._pruned_at >= PRUNE_S:
            self._pruned_at = now
            self.journal.prune(now - self._keep_s)
        with self._lock:
            self._states = ev.states
            if self.problem:
                log.info("alert journal: written again")
            self.problem = ""
        for t in ev.transitions:
            log.info("alert %s on %s: %s → %s", t.rule, t.server, t.old.value, t.new.value)
        if made and self._on_deliveries is not None:
            self._on_deliveries(made)
        return ev.transitions

    def _ownership(self, readings: Mapping[str, Reading]) -> set[str]:
        """Servers gained this round (their states read from the journal); servers lost
        are dropped from memory (the other process now writes them)."""
        gained, lost = set(), set()
        for server in readings:
            ours = self._owns(server)
            if ours and server not in self._owned:
                gained.add(server)
            elif not ours and server in self._owned:
                lost.add(server)
        if gained:
            loaded = self.journal.load_states(gained)
            states = {k: s for k, s in self._states.items() if k[1] not in gained}
            states.update({s.key: s for s in loaded})
            self._states = states
        if lost:
            self._states = {k: s for k, s in self._states.items() if k[1] not in lost}
        self._owned = (self._owned | gained) - lost
        return gained

    def _refresh_others(self) -> None:
        others = self._seen - self._owned
        rows = self.journal.load_states(others) if others else []
        with self._lock:
            self._others = rows

    def _failed(self, why: str) -> None:
        with self._lock:
            first = self.problem != why
            self.problem = why
        if first:
            log.warning("alert journal: %s; alert states are kept in memory and written "
                        "again next round", why)

    # -- what pages read --------------------------------------------------------------
    def states(self, server: str | None = None) -> list[AlertState]:
        """Every configured rule's state (ours from memory, the others' as last read)."""
        with self._lock:
            rows = [*self._states.values(), *self._others]
        return [s for s in rows if s.rule in self._by_name
                and (server is None or s.server == server)]

    def owned(self) -> set[str]:
        return set(self._owned)

    # -- silences ---------------------------------------------------------------------
    def silence(self, rule: str, server: str, duration_s: float,
                now: float | None = None) -> Silence:
        """Hold back this alert's notices for ``duration_s`` (1 h, 4 h or 24 h on pages:
        ``journal.SILENCE_CHOICES_S``); kept in the journal, so a restart keeps it."""
        if not duration_s > 0:
            raise ValueError("a silence lasts a positive number of seconds")
        now = self._clock() if now is None else now
        silence = Silence(rule, server, now + duration_s, now)
        self.journal.set_silence(silence)
        self._silences[silence.key] = silence.until
        self._reconciled_at = float("-inf")  # and read again at the next round
        return silence

    def unsilence(self, rule: str, server: str) -> None:
        self.journal.clear_silence(rule, server)
        self._silences.pop((rule, server), None)
        self._reconciled_at = float("-inf")  # notify at the next round if it fires
