"""Opening the history file: ours, new, or moved aside; read-only for the exporter.

A file that is no database (corrupt, truncated, a stray text file) or another
program's database is renamed to ``<name>.unreadable-<UTC time>`` (its -wal
and -shm with it) and a new file takes its place, so nothing is overwritten
and the user can look at it later. The notice says so in words.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from opta_stream.history.schema import ForeignFile, check, create, upgrade

__all__ = ["HistoryUnavailable", "open_for_reading", "open_for_writing"]

BUSY_MS = 5000


class HistoryUnavailable(Exception):
    """The file cannot be opened at all (no such directory, no permission, ...)."""


def _connect(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_MS / 1000, check_same_thread=False,
                           isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
    return conn


def _uri(path: Path, mode: str) -> str:
    return f"file:{path.as_posix()}?mode={mode}"


def _move_aside(path: Path, now: float) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    aside = path.with_name(f"{path.name}.unreadable-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.unreadable-{stamp}-{n}")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + suffix))
    os.replace(path, aside)
    return aside


def _open_ours(path: Path) -> sqlite3.Connection:
    conn = _connect(_uri(path, "rwc"))
    try:
        if not check(conn):  # before WAL: a new file's auto_vacuum only holds if set first
            create(conn)
        else:
            upgrade(conn)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        ok = conn.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise sqlite3.DatabaseError(f"the integrity check failed ({ok[:200]})")
        return conn
    except BaseException:
        conn.close()
        raise


def open_for_writing(path: str, now: float) -> tuple[sqlite3.Connection, str]:
    """The file ready to write, and a notice ("" when all was well). Raises
    HistoryUnavailable when even a new file cannot be made there."""
    p = Path(path).expanduser()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HistoryUnavailable(f"its folder cannot be made ({exc.strerror or exc})") from exc
    notice = ""
    try:
        return _open_ours(p), notice
    except (sqlite3.DatabaseError, ForeignFile) as exc:
        if isinstance(exc, sqlite3.OperationalError) and not p.exists():
            raise HistoryUnavailable(f"it cannot be created ({exc})") from exc
        if isinstance(exc, sqlite3.OperationalError):  # locked, busy, read-only, full, I/O:
            raise HistoryUnavailable(f"it cannot be written ({exc})") from exc  # not corrupt
        why = str(exc) if isinstance(exc, ForeignFile) else f"it is not readable ({exc})"
        try:
            aside = _move_aside(p, now)
        except OSError as move_exc:
            raise HistoryUnavailable(f"{why}, and it cannot be moved aside "
                                     f"({move_exc.strerror or move_exc})") from exc
        notice = (f"The history file {p} was moved aside to {aside.name}: {why}. "
                  "A new one was started.")
    try:
        return _open_ours(p), notice
    except sqlite3.DatabaseError as exc:
        raise HistoryUnavailable(f"a new file cannot be made there ({exc})") from exc


def open_for_reading(path: str) -> sqlite3.Connection:
    """For export: never creates, moves or writes. Raises HistoryUnavailable in words."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise HistoryUnavailable(f"there is no history file at {p}")
    try:
        conn = _connect(_uri(p, "ro"))
        if not check(conn):
            conn.close()
            raise HistoryUnavailable(f"the history file {p} is empty")
        return conn
    except ForeignFile as exc:
        raise HistoryUnavailable(f"{p} is not an Opta Stream history file: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise HistoryUnavailable(f"{p} cannot be read as a history file ({exc})") from exc
