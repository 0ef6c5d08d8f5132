"""The history file's layout, and how a file proves it is one of ours.

SQLite from the standard library, in WAL mode: one writer and any number of
readers at once, and an app killed mid-write leaves the last committed batch
intact (the WAL is replayed or ignored, never half applied). ``synchronous =
NORMAL`` keeps that guarantee for a killed process; only a power cut can lose
the last batches. DuckDB was not chosen: its single-process write lock would
stop a second dashboard from even reading the file, and its strength (scans
over millions of rows) is not this load, which is a few hundred small rows
every 5 s and one read on start.

The file is ours when its ``application_id`` is ``APPLICATION_ID``; a new
file has 0 and no tables. Anything else (another program's database, a
newer layout) is foreign and is moved aside, never written into. An older
layout of ours is brought up to date in place (``upgrade``): each version
only adds tables, so nothing already kept is touched.

Layout versions: 1, the history; 2, the alert tables (``ALERTS_DDL``: states,
transitions, the delivery outbox, silences; see ``history.alert_journal``).
"""

from __future__ import annotations

import contextlib
import sqlite3

__all__ = ["ALERTS_DDL", "APPLICATION_ID", "SCHEMA_VERSION", "SERIES", "ForeignFile", "check",
           "create", "upgrade"]

APPLICATION_ID = 0x4F505453  # "OPTS"
SCHEMA_VERSION = 2
# (series, bucket width) → its code in ``tiers.series``
SERIES: dict[tuple[str, float], int] = {
    ("throughput", 1.0): 1, ("throughput", 10.0): 2, ("throughput", 60.0): 3,
    ("memory_used", 10.0): 4, ("memory_used", 60.0): 5,
    ("memory_total", 10.0): 6, ("memory_total", 60.0): 7,
}

_DDL = """
CREATE TABLE IF NOT EXISTS servers (id INTEGER PRIMARY KEY, identity TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, server INTEGER NOT NULL,
    started_at REAL NOT NULL, last_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS tiers (server INTEGER NOT NULL, series INTEGER NOT NULL,
    run INTEGER NOT NULL, idx INTEGER NOT NULL, ts REAL NOT NULL, sum REAL, lo REAL, hi REAL,
    count INTEGER, seg INTEGER, model INTEGER,
    PRIMARY KEY (server, series, run, idx)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tiers_ts ON tiers (server, series, ts);
CREATE TABLE IF NOT EXISTS serving (server INTEGER NOT NULL, run INTEGER NOT NULL,
    ts REAL NOT NULL, key INTEGER NOT NULL, bounds INTEGER, row BLOB NOT NULL,
    PRIMARY KEY (server, run, ts, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS serving_ts ON serving (server, ts);
CREATE TABLE IF NOT EXISTS usage (server INTEGER NOT NULL, model INTEGER NOT NULL,
    bucket REAL NOT NULL, requests REAL, errors REAL, prompt_tokens REAL,
    completion_tokens REAL, busy_s REAL, PRIMARY KEY (server, model, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (server INTEGER NOT NULL, run INTEGER NOT NULL,
    seq INTEGER NOT NULL, ts REAL NOT NULL, type TEXT, category TEXT, severity TEXT,
    summary TEXT, data TEXT, updates INTEGER, first_ts REAL,
    PRIMARY KEY (server, run, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_ts ON events (server, ts);
CREATE TABLE IF NOT EXISTS gaps (server INTEGER NOT NULL, start REAL NOT NULL, "end" REAL,
    PRIMARY KEY (server, start)) WITHOUT ROWID;
"""

# Layout 2. Servers are named as the rules name them; a receiver by its position, kind
# and host (``Receiver.key``), never by its URL (the URL carries its token).
ALERTS_DDL = """
CREATE TABLE IF NOT EXISTS alert_states (
    server TEXT NOT NULL, rule TEXT NOT NULL, state TEXT NOT NULL, since REAL NOT NULL,
    active_since REAL, episode INTEGER NOT NULL, fired_at REAL, resolved_at REAL,
    value REAL, threshold REAL, severity TEXT NOT NULL,
    PRIMARY KEY (server, rule)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_transitions (
    id INTEGER PRIMARY KEY, server TEXT NOT NULL, rule TEXT NOT NULL, at REAL NOT NULL,
    old TEXT NOT NULL, new TEXT NOT NULL, episode INTEGER NOT NULL, value REAL,
    threshold REAL, severity TEXT NOT NULL, silenced INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS alert_transitions_at ON alert_transitions (server, at);
CREATE TABLE IF NOT EXISTS alert_outbox (
    id INTEGER PRIMARY KEY, server TEXT NOT NULL, rule TEXT NOT NULL,
    episode INTEGER NOT NULL, receiver TEXT NOT NULL, kind TEXT NOT NULL, n INTEGER NOT NULL,
    notice TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL, due_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, sent_at REAL, http_status INTEGER, error TEXT,
    UNIQUE (server, rule, episode, receiver, kind, n));
CREATE INDEX IF NOT EXISTS alert_outbox_pending ON alert_outbox (server, id)
    WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS alert_silences (
    server TEXT NOT NULL, rule TEXT NOT NULL, until REAL NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (server, rule)) WITHOUT ROWID;
"""


class ForeignFile(Exception):
    """The file is a database, but not an Opta Stream history (or a newer one)."""


def check(conn: sqlite3.Connection) -> bool:
    """True when the file is ours; False when it is new and empty. Raises ForeignFile
    for another database, sqlite3.DatabaseError for a file that is no database.

    The three reads are one read transaction: read one by one, another connection's
    ``create`` could commit between them, and a new file of ours would read as
    "application id 0 but tables", another program's, and be moved aside while the
    other connection writes into it (the history writer and the alert journal open a
    new file at the same moment).
    """
    conn.execute("BEGIN")
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    finally:  # a read transaction: ending it never hides why a read failed
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise ForeignFile(f"it was written by a newer Opta Stream (layout {version}, "
                              f"this one reads {SCHEMA_VERSION})")
        return True
    if app_id == 0 and tables == 0:
        return False
    raise ForeignFile("it is a database of another program")


def create(conn: sqlite3.Connection) -> None:
    """Lay out a new file (incremental vacuum lets retention shrink it). Two connections
    that both found the file new (the history writer and the alert journal, or two
    processes, starting at once) both succeed: the second waits for the first's
    transaction and then finds every table made."""
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.executescript(f"BEGIN IMMEDIATE; {_DDL} {ALERTS_DDL} "
                       f"PRAGMA application_id = {APPLICATION_ID}; "
                       f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")


def upgrade(conn: sqlite3.Connection) -> None:
    """Bring a file of an older layout of ours up to this one, in one transaction; the
    tables are made only if missing, so two processes upgrading at once do no harm."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    conn.executescript(f"BEGIN IMMEDIATE; {ALERTS_DDL} "
                       f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
