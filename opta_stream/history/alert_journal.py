"""The alert journal in the history file: states, transitions, the delivery outbox and
silences survive a restart of the dashboard, and several processes sharing the file
see one truth (the one holding a server's writer lock notifies for it).

A state change and the deliveries it calls for go in one transaction (``commit``), and
the outbox's UNIQUE key (rule, server, episode, receiver, kind, n) stores a delivery
once however often, or by whichever process, it is planned: that and "mark sent only
after a 2xx" are what make delivery exactly-once (``alerting.delivery`` says where it
is only at-least-once).

No receiver URL is written here. A receiver is ``Receiver.key``: its position in
``[[notify]]``, its kind and its host. Not a hash of the URL: a webhook URL's secret is
often short and guessable (an ntfy topic is a word or two), so an unsalted digest could
be confirmed offline by anyone with the file, and a salt kept beside it would not help.
Position, kind and host say nothing about the token. The cost: reordering ``[[notify]]``
between restarts makes an old pending delivery go to whatever is now at that position
of that kind and host, or fail as "no longer configured".
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opta_stream.alerting.engine import AlertState, State, Transition
from opta_stream.alerting.fields import Severity
from opta_stream.alerting.journal import (
    PENDING,
    Delivery,
    DeliveryUpdate,
    EpisodeKey,
    JournalError,
    NewDelivery,
    Notice,
    Silence,
)
from opta_stream.history.files import open_for_writing

if TYPE_CHECKING:
    from opta_stream.alerting.journal import AlertJournal

__all__ = ["KEEP_TRANSITIONS", "SqliteAlertJournal"]

KEEP_TRANSITIONS = 50_000  # newest transitions kept whatever their age (a flapping rule)
_DELIVERY = ("id, receiver, kind, n, episode, notice, status, created_at, due_at, attempts, "
             "sent_at, http_status, error")
_STATE = ("rule, server, state, since, active_since, episode, fired_at, resolved_at, value, "
          "threshold, severity")
_TRANSITION = "rule, server, at, old, new, episode, value, threshold, severity, silenced"


def _words(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "full" in text:
        return "the disk is full"
    if "readonly" in text:
        return "the history file is read-only"
    if "locked" in text or "busy" in text:
        return "the history file is busy (another process holds it too long)"
    return f"the history file cannot be used ({text})"


class SqliteAlertJournal:
    """``alerting.journal.AlertJournal`` on the history file. Thread-safe (one lock around
    one connection); every failure is a ``JournalError`` in words."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str, now: float | None = None) -> SqliteAlertJournal:
        """Open (or make, or bring up to layout 2) the history file at ``path``; raises
        ``history.files.HistoryUnavailable`` in words when it cannot be used."""
        conn, _ = open_for_writing(path, time.time() if now is None else now)
        return cls(conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise JournalError(_words(exc)) from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                    self._conn.execute("COMMIT")
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise JournalError(_words(exc)) from None

    # -- states and transitions -------------------------------------------------------
    def load_states(self, servers: Collection[str] | None = None) -> list[AlertState]:
        sql, args = f"SELECT {_STATE} FROM alert_states", []
        if servers is not None:
            names = list(servers)
            sql += f" WHERE server IN ({','.join('?' * len(names))})"
            args = names
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [AlertState(r[0], r[1], State(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                           Severity(r[10])) for r in rows]

    def commit(self, states: Sequence[AlertState], transitions: Sequence[Transition],
               deliveries: Sequence[NewDelivery], now: float) -> list[Delivery]:
        made: list[Delivery] = []
        with self._write() as conn:
            conn.executemany(
                f"INSERT OR REPLACE INTO alert_states ({_STATE}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(s.rule, s.server, s.state.value, s.since, s.active_since, s.episode,
                  s.fired_at, s.resolved_at, s.value, s.threshold, s.severity.value)
                 for s in states])
            conn.executemany(
                f"INSERT INTO alert_transitions ({_TRANSITION}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(t.rule, t.server, t.at, t.old.value, t.new.value, t.episode, t.value,
                  t.threshold, t.severity.value, int(t.silenced)) for t in transitions])
            for d in deliveries:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO alert_outbox (server, rule, episode, receiver, kind, "
                    "n, notice, status, created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (d.notice.server, d.notice.rule, d.episode, d.receiver, d.kind, d.n,
                     d.notice.to_json(), PENDING, now, d.due_at))
                if cur.rowcount == 1 and cur.lastrowid is not None:
                    made.append(Delivery(cur.lastrowid, d.receiver, d.kind, d.n, d.episode,
                                         d.notice, PENDING, now, d.due_at))
        return made

    def transitions(self, server: str | None = None, limit: int = 100) -> list[Transition]:
        where, args = ("WHERE server = ?", [server]) if server is not None else ("", [])
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_TRANSITION} FROM alert_transitions {where} "
                                "ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        return [Transition(r[0], r[1], r[2], State(r[3]), State(r[4]), r[5], r[6], r[7],
                           Severity(r[8]), bool(r[9])) for r in rows]

    # -- the outbox -------------------------------------------------------------------
    @staticmethod
    def _delivery(r: tuple[Any, ...]) -> Delivery:
        return Delivery(r[0], r[1], r[2], r[3], r[4], Notice.from_json(r[5]), r[6], r[7], r[8],
                        r[9], r[10], r[11], r[12] or "")

    def notices(self, keys: Collection[EpisodeKey]) -> dict[EpisodeKey, list[Delivery]]:
        out: dict[EpisodeKey, list[Delivery]] = {}
        with self._read() as conn:
            for rule, server, episode in keys:
                rows = conn.execute(f"SELECT {_DELIVERY} FROM alert_outbox WHERE server = ? "
                                    "AND rule = ? AND episode = ? ORDER BY id",
                                    (server, rule, episode)).fetchall()
                if rows:
                    out[(rule, server, episode)] = [self._delivery(r) for r in rows]
        return out

    def pending(self, servers: Collection[str] | None, limit: int) -> list[Delivery]:
        sql, args = f"SELECT {_DELIVERY} FROM alert_outbox WHERE status = 'pending'", []
        if servers is not None:
            names = list(servers)
            sql += f" AND server IN ({','.join('?' * len(names))})"
            args = names
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY id LIMIT ?", [*args, limit]).fetchall()
        return [self._delivery(r) for r in rows]

    def pending_servers(self) -> set[str]:
        with self._read() as conn:
            rows = conn.execute("SELECT DISTINCT server FROM alert_outbox "
                                "WHERE status = 'pending'").fetchall()
        return {r[0] for r in rows}

    def update(self, delivery_id: int, update: DeliveryUpdate) -> None:
        with self._write() as conn:
            conn.execute("UPDATE alert_outbox SET status = ?, attempts = ?, due_at = ?, "
                         "sent_at = ?, http_status = ?, error = ? WHERE id = ?",
                         (update.status, update.attempts, update.due_at, update.sent_at,
                          update.http_status, update.error, delivery_id))

    def deliveries(self, server: str | None = None, limit: int = 100) -> list[Delivery]:
        where, args = ("WHERE server = ?", [server]) if server is not None else ("", [])
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_DELIVERY} FROM alert_outbox {where} "
                                "ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        return [self._delivery(r) for r in rows]

    # -- silences ---------------------------------------------------------------------
    def set_silence(self, silence: Silence) -> None:
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO alert_silences (server, rule, until, "
                         "created_at) VALUES (?, ?, ?, ?)",
                         (silence.server, silence.rule, silence.until, silence.created_at))

    def clear_silence(self, rule: str, server: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM alert_silences WHERE server = ? AND rule = ?",
                         (server, rule))

    def silences(self, now: float) -> list[Silence]:
        with self._read() as conn:
            rows = conn.execute("SELECT rule, server, until, created_at FROM alert_silences "
                                "WHERE until > ?", (now,)).fetchall()
        return [Silence(*r) for r in rows]

    # -- bounds -----------------------------------------------------------------------
    def prune(self, before: float) -> None:
        """Finished deliveries, transitions and silences older than ``before`` go, except
        the newest delivery of each episode and receiver (the planner counts from it)."""
        with self._write() as conn:
            conn.execute("DELETE FROM alert_transitions WHERE at < ? OR id <= "
                         "(SELECT max(id) FROM alert_transitions) - ?",
                         (before, KEEP_TRANSITIONS))
            conn.execute("DELETE FROM alert_outbox WHERE status != 'pending' AND created_at < ? "
                         "AND id NOT IN (SELECT max(id) FROM alert_outbox "
                         "GROUP BY server, rule, episode, receiver)", (before,))
            conn.execute("DELETE FROM alert_silences WHERE until < ?", (before,))


if TYPE_CHECKING:
    def _conforms(journal: SqliteAlertJournal) -> AlertJournal:  # mypy checks the interface
        return journal
