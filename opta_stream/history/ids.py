"""Small lookups shared by reading and writing: server ids, name ids, runs."""

from __future__ import annotations

import sqlite3

__all__ = ["NameIds", "find_server", "new_run", "server_id"]


def server_id(conn: sqlite3.Connection, identity: str) -> int:
    """The id of ``identity`` (a URL, or "demo"), made on first use."""
    conn.execute("INSERT OR IGNORE INTO servers (identity) VALUES (?)", (identity,))
    return int(conn.execute("SELECT id FROM servers WHERE identity = ?",
                            (identity,)).fetchone()[0])


def find_server(conn: sqlite3.Connection, identity: str) -> int | None:
    row = conn.execute("SELECT id FROM servers WHERE identity = ?", (identity,)).fetchone()
    return None if row is None else int(row[0])


def new_run(conn: sqlite3.Connection, server: int, now: float) -> int:
    cur = conn.execute("INSERT INTO runs (server, started_at, last_at) VALUES (?, ?, ?)",
                       (server, now, now))
    assert cur.lastrowid is not None
    return int(cur.lastrowid)


class NameIds:
    """Text (model ids, serving keys, bucket bounds) ↔ small ints, cached per connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._ids: dict[str, int] = {}
        self._names: dict[int, str] = {}

    def id(self, name: str) -> int:
        got = self._ids.get(name)
        if got is None:
            self._conn.execute("INSERT OR IGNORE INTO names (name) VALUES (?)", (name,))
            got = int(self._conn.execute("SELECT id FROM names WHERE name = ?",
                                         (name,)).fetchone()[0])
            self._ids[name], self._names[got] = got, name
        return got

    def name(self, ident: int) -> str:
        got = self._names.get(ident)
        if got is None:
            row = self._conn.execute("SELECT name FROM names WHERE id = ?", (ident,)).fetchone()
            got = "" if row is None else str(row[0])
            self._names[ident], self._ids[got] = got, ident
        return got

    def forget(self) -> None:
        """After a rolled-back batch: ids made in it may not exist."""
        self._ids.clear()
        self._names.clear()
