"""The alert journal in memory: for a dashboard that keeps no history file, and for tests.

Same contract as the SQLite journal (``history.alert_journal``), without surviving a
restart. Bounded: the newest ``KEEP_FINISHED`` finished deliveries and transitions.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from opta_stream.alerting.engine import AlertKey, AlertState, Transition
from opta_stream.alerting.journal import (
    PENDING,
    Delivery,
    DeliveryUpdate,
    EpisodeKey,
    NewDelivery,
    Silence,
)

if TYPE_CHECKING:
    from opta_stream.alerting.journal import AlertJournal

__all__ = ["KEEP_FINISHED", "MemoryJournal"]

KEEP_FINISHED = 2000


class MemoryJournal:
    """The journal in memory: for a dashboard without a history file, and for tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[AlertKey, AlertState] = {}
        self._transitions: list[Transition] = []
        self._outbox: dict[int, Delivery] = {}
        self._unique: set[tuple[str, str, int, str, str, int]] = set()
        self._silences: dict[AlertKey, Silence] = {}
        self._ids = itertools.count(1)

    def load_states(self, servers: Collection[str] | None = None) -> list[AlertState]:
        with self._lock:
            return [s for s in self._states.values() if servers is None or s.server in servers]

    def commit(self, states: Sequence[AlertState], transitions: Sequence[Transition],
               deliveries: Sequence[NewDelivery], now: float) -> list[Delivery]:
        with self._lock:
            for s in states:
                self._states[s.key] = s
            self._transitions.extend(transitions)
            del self._transitions[:-KEEP_FINISHED]
            made = []
            for d in deliveries:
                if d.unique in self._unique:
                    continue
                self._unique.add(d.unique)
                row = Delivery(next(self._ids), d.receiver, d.kind, d.n, d.episode, d.notice,
                               PENDING, now, d.due_at)
                self._outbox[row.id] = row
                made.append(row)
            self._bound()
            return made

    def _bound(self) -> None:
        finished = self._droppable()
        for i in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            self._drop(i)

    def _droppable(self, before: float | None = None) -> list[int]:
        """Finished deliveries, oldest first, but never the newest of an episode and
        receiver: the planner counts from it, so a pruned firing is never sent again."""
        newest: dict[tuple[str, str, int, str], int] = {}
        for i, d in self._outbox.items():
            newest[(d.rule, d.server, d.episode, d.receiver)] = i
        keep = set(newest.values())
        return [i for i, d in self._outbox.items() if d.status != PENDING and i not in keep
                and (before is None or d.created_at < before)]

    def _drop(self, i: int) -> None:
        d = self._outbox.pop(i)
        self._unique.discard((d.rule, d.server, d.episode, d.receiver, d.kind, d.n))

    def notices(self, keys: Collection[EpisodeKey]) -> dict[EpisodeKey, list[Delivery]]:
        wanted = set(keys)
        out: dict[EpisodeKey, list[Delivery]] = {}
        with self._lock:
            for d in self._outbox.values():
                if d.episode_key in wanted:
                    out.setdefault(d.episode_key, []).append(d)
        return out

    def pending(self, servers: Collection[str] | None, limit: int) -> list[Delivery]:
        with self._lock:
            rows = [d for d in self._outbox.values() if d.status == PENDING
                    and (servers is None or d.server in servers)]
        return rows[:limit]

    def pending_servers(self) -> set[str]:
        with self._lock:
            return {d.server for d in self._outbox.values() if d.status == PENDING}

    def update(self, delivery_id: int, update: DeliveryUpdate) -> None:
        with self._lock:
            row = self._outbox.get(delivery_id)
            if row is not None:
                self._outbox[delivery_id] = replace(
                    row, status=update.status, attempts=update.attempts, due_at=update.due_at,
                    sent_at=update.sent_at, http_status=update.http_status, error=update.error)

    def transitions(self, server: str | None = None, limit: int = 100) -> list[Transition]:
        with self._lock:
            rows = [t for t in reversed(self._transitions) if server is None or t.server == server]
        return rows[:limit]

    def deliveries(self, server: str | None = None, limit: int = 100) -> list[Delivery]:
        with self._lock:
            rows = [d for d in reversed(self._outbox.values())
                    if server is None or d.server == server]
        return rows[:limit]

    def set_silence(self, silence: Silence) -> None:
        with self._lock:
            self._silences[silence.key] = silence

    def clear_silence(self, rule: str, server: str) -> None:
        with self._lock:
            self._silences.pop((rule, server), None)

    def silences(self, now: float) -> list[Silence]:
        with self._lock:
            return [s for s in self._silences.values() if s.until > now]

    def prune(self, before: float) -> None:
        with self._lock:
            self._transitions = [t for t in self._transitions if t.at >= before]
            for i in self._droppable(before):
                self._drop(i)
            self._silences = {k: s for k, s in self._silences.items() if s.until >= before}


if TYPE_CHECKING:
    def _conforms(journal: MemoryJournal) -> AlertJournal:  # mypy checks the interface
        return journal
