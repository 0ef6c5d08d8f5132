"""One batch of ``HistoryRows`` into the file, in one transaction.

Every row has a key, and a row sent again replaces its copy: the open bucket
and the open minute are re-sent until they close, the usage buckets whole.
Nothing here encodes secrets: servers are named by URL (which may not hold a
user or password) or "demo", and the rows are numbers, model ids and the log.
"""

from __future__ import annotations

import json
import sqlite3
import zlib

import numpy as np

from opta_stream.history.ids import NameIds
from opta_stream.history.schema import SERIES
from opta_stream.snapshot import USAGE_VALUES
from opta_stream.store.history_rows import HistoryRows

__all__ = ["key_name", "rollback", "write_batch"]


def key_name(kind: str, name: str) -> str:
    return f"{kind}:{name}"


def bounds_name(bounds: tuple[float, ...]) -> str:
    return "bounds:" + json.dumps([float(b) for b in bounds])


def rollback(conn: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already: on a full disk or an I/O
    error it rolls back by itself, and a second ROLLBACK would raise and hide why."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def write_batch(conn: sqlite3.Connection, names: NameIds, server: int, run: int,
                rows: HistoryRows, now: float) -> None:
    """Commit ``rows`` or nothing (the caller keeps its marks when this raises)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        _write(conn, names, server, run, rows, now)
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        names.forget()
        raise


def _model_id(names: NameIds, model: str | None) -> int | None:
    return None if model is None else names.id("model:" + model)


def _write(conn: sqlite3.Connection, names: NameIds, server: int, run: int,
           rows: HistoryRows, now: float) -> None:
    for t in rows.tiers:
        series = SERIES.get((t.series, t.width))
        if series is None:
            continue
        c = t.cols
        models = [_model_id(names, m) for m in t.models]
        conn.executemany(
            "INSERT OR REPLACE INTO tiers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            zip([server] * len(t), [series] * len(t), [run] * len(t),
                range(t.first, t.first + len(t)), c["ts"].tolist(), c["sum"].tolist(),
                c["lo"].tolist(), c["hi"].tolist(), c["count"].tolist(), c["seg"].tolist(),
                models, strict=True))
    s = rows.serving
    if s is not None and len(s):
        ends = (s.rows[:, 0] if s.ends is None else s.ends).tolist()
        conn.executemany(
            "INSERT OR REPLACE INTO serving VALUES (?, ?, ?, ?, ?, ?)",
            [(server, run, end, names.id(key_name(*key)),
              names.id(bounds_name(b)) if b else None,
              zlib.compress(np.ascontiguousarray(row, np.float64).tobytes(), 1))
             for row, end, key, b in zip(s.rows, ends, s.keys, s.bounds, strict=True)])
    if rows.usage:
        conn.executemany(
            f"INSERT OR REPLACE INTO usage VALUES (?, ?, ?{', ?' * len(USAGE_VALUES)})",
            [(server, _model_id(names, model), bucket, *values)
             for bucket, model, values in rows.usage])
    if rows.events:
        conn.executemany(
            "INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(server, run, e.seq, e.ts, e.type, e.category, e.severity, e.summary, e.data,
              e.updates, e.first_ts) for e in rows.events])
    if rows.removed:
        conn.executemany("DELETE FROM events WHERE server = ? AND run = ? AND seq = ?",
                         [(server, run, seq) for seq in rows.removed])
    if rows.gaps:
        conn.executemany("INSERT OR REPLACE INTO gaps VALUES (?, ?, ?)",
                         [(server, start, end) for start, end in rows.gaps])
    conn.execute("UPDATE runs SET last_at = ? WHERE id = ?", (now, run))
