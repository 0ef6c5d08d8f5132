"""Reading a server's history back: what a starting feed loads, and what export reads.

What is loaded on start follows what the Store's rings can hold: the 1 s
buckets of the last two hours, the 10 s ones of a day, the 60 s ones and the
usage ledger of ``days``, a day of serving minutes, the newest 2,000 log lines.
Where older rows exist than were loaded, the tier is marked complete only from
its cutoff, so a longer window reads a coarser tier instead of a short one.
"""

from __future__ import annotations

import json
import math
import sqlite3
import zlib
from collections.abc import Mapping

import numpy as np

from opta_stream.history.ids import NameIds
from opta_stream.history.schema import SERIES
from opta_stream.snapshot import LogEntry
from opta_stream.store.history_rows import TIER_COLUMNS, HistoryRows, ServingRows, TierRows
from opta_stream.store.serving import ROW_WIDTH

__all__ = ["DAY_S", "LOAD_S", "LOG_ROWS", "SERVING_LOAD_S", "load", "servers"]

DAY_S = 86_400.0
LOAD_S: Mapping[float, float] = {1.0: 7_200.0, 10.0: DAY_S}  # 60 s: ``days``
SERVING_LOAD_S = DAY_S
LOG_ROWS = 2_000


def _counts(values: list) -> tuple[float, ...]:
    """A ledger row; NULL is a count the server does not report (NaN in the Store)."""
    return tuple(math.nan if v is None else float(v) for v in values)


def servers(conn: sqlite3.Connection) -> list[tuple[str, float | None]]:
    """Every server in the file, with when it was last written."""
    return [(str(identity), last) for identity, last in conn.execute(
        "SELECT s.identity, max(r.last_at) FROM servers s LEFT JOIN runs r ON r.server = s.id "
        "GROUP BY s.id ORDER BY s.identity")]


def load(conn: sqlite3.Connection, server: int, now: float, days: float,
         span_s: float | None = None, log_rows: int | None = LOG_ROWS) -> HistoryRows:
    """The rows a Store should start from. ``span_s`` (export) reads every tier and the
    serving minutes that far back instead; ``log_rows`` None reads every log line."""
    names = NameIds(conn)
    out = HistoryRows()
    conn.execute("BEGIN")  # one consistent view while a writer goes on
    try:
        for (series, width), code in SERIES.items():
            reach = span_s if span_s is not None else LOAD_S.get(width, days * DAY_S)
            cutoff = now - reach
            rows = conn.execute(
                "SELECT ts, sum, lo, hi, count, seg, model FROM tiers WHERE server = ? AND "
                "series = ? AND ts >= ? ORDER BY run, idx", (server, code, cutoff)).fetchall()
            if rows:
                out.tiers.append(_tier(series, width, rows, names))
            if conn.execute("SELECT 1 FROM tiers WHERE server = ? AND series = ? AND ts < ? "
                            "LIMIT 1", (server, code, cutoff)).fetchone():
                out.complete_from[(series, width)] = cutoff
        out.serving = _serving(conn, names, server, now - (span_s or SERVING_LOAD_S))
        out.usage = [(float(b), _model(names, m) or "", _counts(values))
                     for b, m, *values in conn.execute(
                         "SELECT bucket, model, requests, errors, prompt_tokens, "
                         "completion_tokens, busy_s FROM usage WHERE server = ? AND "
                         "bucket >= ? ORDER BY bucket", (server, now - days * DAY_S))]
        out.events = _events(conn, server, now - max(span_s or 0.0, days * DAY_S), log_rows)
        out.gaps = [(float(a), None if b is None else float(b)) for a, b in conn.execute(
            'SELECT start, "end" FROM gaps WHERE server = ? AND start >= ? ORDER BY start',
            (server, now - days * DAY_S))]
        last = conn.execute("SELECT max(last_at) FROM runs WHERE server = ?",
                            (server,)).fetchone()[0]
        out.last_at = None if last is None else float(last)
    finally:
        conn.execute("COMMIT")
    return out


def _model(names: NameIds, ident: int | None) -> str | None:
    if ident is None:
        return None
    return names.name(int(ident)).removeprefix("model:")


def _tier(series: str, width: float, rows: list[tuple], names: NameIds) -> TierRows:
    arr = list(zip(*rows, strict=True))
    dtypes = (np.float64, np.float64, np.float64, np.float64, np.int64, np.int64)
    cols = {name: np.array(arr[i], dtype=dt)
            for i, (name, dt) in enumerate(zip(TIER_COLUMNS, dtypes, strict=True))}
    return TierRows(series, width, 0, cols, [_model(names, m) for m in arr[6]])


def _serving(conn: sqlite3.Connection, names: NameIds, server: int,
             since: float) -> ServingRows:
    rows, keys, bounds = [], [], []
    for key, bound, blob in conn.execute(
            "SELECT key, bounds, row FROM serving WHERE server = ? AND ts >= ? "
            "ORDER BY run, ts", (server, since)):
        try:
            row = np.frombuffer(zlib.decompress(blob), np.float64)
        except zlib.error:
            continue  # a damaged row is skipped; the rest still load
        if row.shape[0] != ROW_WIDTH:
            continue
        kind, _, name = names.name(int(key)).partition(":")
        rows.append(row)
        keys.append((kind, name))
        bounds.append(tuple(json.loads(names.name(int(bound)).removeprefix("bounds:")))
                      if bound is not None else ())
    block = np.vstack(rows) if rows else np.empty((0, ROW_WIDTH))
    return ServingRows(block, keys, bounds)


def _events(conn: sqlite3.Connection, server: int, since: float,
            limit: int | None) -> list[LogEntry]:
    rows = conn.execute(
        "SELECT seq, ts, type, category, severity, summary, data, updates, first_ts "
        "FROM events WHERE server = ? AND ts >= ? ORDER BY run DESC, seq DESC LIMIT ?",
        (server, since, -1 if limit is None else limit)).fetchall()
    return [LogEntry(int(seq), float(ts), str(t), str(c), str(s), str(summary), str(d or ""),
                     int(u or 1), None if f is None else float(f))
            for seq, ts, t, c, s, summary, d, u, f in reversed(rows)]
