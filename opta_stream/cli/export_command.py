"""``export``: a kind of recorded history as CSV on standard output, the page's columns.

The file is opened read-only (a running dashboard may be writing it), the
server's rows are loaded into a Store exactly as a starting feed would, and
the page's own CSV functions write the rows, so a column never differs.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from datetime import tzinfo
from typing import BinaryIO

from opta_stream.cli.args import CliError
from opta_stream.export import csv_files as export
from opta_stream.export.csv_files import serving_csv, usage_csv
from opta_stream.figures.usage_days import daily
from opta_stream.figures.windows import snapshot_window
from opta_stream.history import read
from opta_stream.history.files import HistoryUnavailable, open_for_reading
from opta_stream.history.ids import find_server
from opta_stream.store import Store

__all__ = ["KINDS", "run_export"]

KINDS = ("throughput", "memory", "requests", "events", "usage")


def _pick(conn: sqlite3.Connection, path: str, wanted: str | None,
          configured: str | None) -> str:
    known = [identity for identity, _ in read.servers(conn)]
    if not known:
        raise CliError(f"The history file {path} holds no server yet.")
    listed = ", ".join(known)
    if wanted is not None:
        match = next((k for k in known if k.rstrip("/") == wanted.rstrip("/")), None)
        if match is None:
            raise CliError(f"{wanted} is not in {path}; it holds: {listed}.")
        return match
    if configured and configured.rstrip("/") in known:
        return configured.rstrip("/")
    if len(known) == 1:
        return known[0]
    raise CliError(f"{path} holds several servers; choose one with --server: {listed}.")


def run_export(kind: str, since_s: float, path: str, server: str | None,
               configured: str | None, tz: tzinfo, out: BinaryIO = sys.stdout.buffer,
               now: float | None = None) -> int:
    try:
        conn = open_for_reading(path)
    except HistoryUnavailable as exc:
        raise CliError(f"Cannot export: {exc}.") from None
    try:
        identity = _pick(conn, path, server, configured)
        sid = find_server(conn, identity)
        assert sid is not None
        now = time.time() if now is None else now
        rows = read.load(conn, sid, now, since_s / read.DAY_S, span_s=since_s, log_rows=None)
    except sqlite3.Error as exc:
        raise CliError(f"Cannot export: {path} cannot be read ({exc}).") from None
    finally:
        conn.close()
    store = Store(identity, clock=lambda: now)
    store.load_history(rows, now)
    snap = store.snapshot(since_s)
    start, end = snapshot_window(snap)
    if kind == "throughput":
        data = export.throughput_csv(snap.throughput, start, end)
    elif kind == "memory":
        data = export.memory_csv(snap.memory_used, snap.memory_total, start, end)
    elif kind == "requests":
        data = serving_csv(snap.serving, start, end)
    elif kind == "events":  # every line of the span, not only what a Store keeps
        data = export.events_csv(e for e in rows.events if start <= e.ts <= end)
    else:
        data = usage_csv(daily(store.usage(start, end), tz))
    out.write(data)
    out.flush()
    lines = data.count(b"\n") - 1
    if lines <= 0:
        print(f"opta_stream export: no {kind} rows for {identity} in that span.",
              file=sys.stderr)
    return 0
