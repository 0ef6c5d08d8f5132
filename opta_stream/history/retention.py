"""Keeping the file bounded: by age (``days``; the fine tiers a day) and by size.

Past the size bound the oldest rows of every table go, a tenth of the time
span at a time, until the file fits; incremental vacuum then gives the pages
back to the disk. Runs in the writer's thread, in its own transactions.
"""

from __future__ import annotations

import sqlite3

from opta_stream.history.write import rollback

__all__ = ["file_bytes", "prune"]

DAY_S = 86_400.0
FINE_SERIES = (1, 2, 4, 6)  # the 1 s and 10 s tiers: a day is all a Store loads
_TABLES = (("tiers", "ts"), ("serving", "ts"), ("usage", "bucket"), ("events", "ts"),
           ("gaps", "start"))


def file_bytes(conn: sqlite3.Connection) -> int:
    """Pages in use (the freelist is space retention already gave up)."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def _delete_before(conn: sqlite3.Connection, cutoff: float) -> int:
    n = 0
    for table, column in _TABLES:
        n += conn.execute(f'DELETE FROM {table} WHERE "{column}" < ?', (cutoff,)).rowcount
    return n


def prune(conn: sqlite3.Connection, now: float, days: float, max_bytes: int) -> int:
    """Delete what is too old or too much (every server's rows); returns rows deleted."""
    deleted = 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        marks = ",".join("?" * len(FINE_SERIES))
        deleted += conn.execute(f"DELETE FROM tiers WHERE series IN ({marks}) AND ts < ?",
                                (*FINE_SERIES, now - DAY_S)).rowcount
        deleted += _delete_before(conn, now - days * DAY_S)
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise
    for _ in range(20):  # bounded: each round drops a tenth of what is left
        if file_bytes(conn) <= max_bytes:
            break
        oldest = conn.execute("SELECT min(ts) FROM tiers").fetchone()[0]
        if oldest is None:
            break
        cutoff = oldest + max(60.0, (now - oldest) / 10)
        conn.execute("BEGIN IMMEDIATE")
        try:
            deleted += _delete_before(conn, cutoff)
            conn.execute("COMMIT")
        except BaseException:
            rollback(conn)
            raise
    # through execute() this frees nothing (Python 3.11); as a script it frees every page
    conn.executescript("PRAGMA incremental_vacuum;")
    return deleted
