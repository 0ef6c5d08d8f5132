"""The history writer: loads a server's history into its Store on start, then writes
what is new every ``batch_s`` seconds (and on stop), in a named daemon thread.

Pages never wait on the disk: they read the Store; only this thread touches
the file. ``start()`` opens and loads the file in that thread while the feed
already records: the Store keeps what comes in meanwhile and puts it behind
the file's rows when they arrive (``Store.expect_history``), so the first
page shows live figures at once and the history a moment later, with
nothing lost. (``open_and_load()`` before ``start()`` loads first, in the
caller's thread: the command line and tests.) Failures degrade, never crash:

- the file cannot be opened or made (read-only folder, no such place): the
  feed records in memory only and the page says why;
- a write fails (disk full, I/O error): the batch is rolled back, nothing
  recorded is dropped (the marks stay, so the next batch carries it), the
  page warns, and each later batch tries again;
- another process records this server into the same file (``lock``): this
  one loaded what was there and only reads, taking over when that one ends;
- a corrupt or foreign file is moved aside (``files``) and the log says so.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

from opta_stream.history.files import HistoryUnavailable, open_for_writing
from opta_stream.history.ids import NameIds, new_run, server_id
from opta_stream.history.lock import WriterLock
from opta_stream.history.place import default_path, ephemeral_disk
from opta_stream.history.read import load
from opta_stream.history.retention import file_bytes, prune
from opta_stream.history.write import write_batch
from opta_stream.settings import HistorySettings
from opta_stream.snapshot import HistoryState
from opta_stream.store.core import Store
from opta_stream.store.history_rows import HistoryRows, Marks

__all__ = ["HistoryWriter"]

log = logging.getLogger(__name__)
PRUNE_S = 600.0


class HistoryWriter:
    def __init__(self, store: Store, settings: HistorySettings, identity: str, *,
                 clock: Callable[[], float] = time.time, label: str = "",
                 max_pages: int | None = None) -> None:
        self.store, self.identity, self.label = store, identity, label or identity
        self.path = settings.path if settings.path else default_path()
        self._settings, self._clock, self._max_pages = settings, clock, max_pages
        self._conn: sqlite3.Connection | None = None
        self._names: NameIds | None = None
        self._server = self._run = 0
        self._marks = Marks()
        self._carry = HistoryRows()  # usage and removals of a batch that failed
        self._lock = WriterLock(self.path, identity)
        self._stop = threading.Event()
        self._io = threading.Lock()  # one flush at a time (the thread, or stop())
        self._thread: threading.Thread | None = None
        self._since: float | None = None
        self._failing = ""
        self._pruned_at = 0.0
        self._ephemeral = ephemeral_disk()
        self._opened = False  # open_and_load ran (or runs now)
        self._began: float | None = None  # when start() began recording ahead of the load
        self.batches = 0

    # -- start ----------------------------------------------------------------
    def open_and_load(self) -> None:
        """Open the file and put its rows in the Store, in front of whatever it recorded
        since ``start()`` (which runs this in its thread); or call it first, before the
        feed's threads."""
        self._opened = True
        now = self._clock() if self._began is None else self._began
        try:
            conn, notice = open_for_writing(self.path, now)
        except HistoryUnavailable as exc:
            self.store.no_history()
            self._state("memory", f"History cannot be kept at {self.path}: {exc}. "
                                  "Recording in memory only.")
            return
        try:
            if self._max_pages is not None:
                conn.execute(f"PRAGMA max_page_count = {int(self._max_pages)}")
            self._server = server_id(conn, self.identity)
            rows = load(conn, self._server, now, self._settings.days)
            first = conn.execute("SELECT min(started_at) FROM runs WHERE server = ?",
                                 (self._server,)).fetchone()[0]
        except sqlite3.Error as exc:
            conn.close()
            self.store.no_history()
            self._state("memory", f"History at {self.path} cannot be read ({exc}). "
                                  "Recording in memory only.")
            return
        self._conn, self._names = conn, NameIds(conn)
        self._since = now if first is None else float(first)
        self._marks = self.store.load_history(rows, now)
        if notice:
            self.store.log("history_moved", notice, severity="warning")
        if len(rows):
            self.store.log("history_loaded", f"History loaded from {self.path}: "
                           f"{len(rows):,} rows.", severity="info")
        self._take_writer(now)

    def _take_writer(self, now: float) -> bool:
        assert self._conn is not None
        if not self._lock.held:
            try:
                free = self._lock.acquire()
            except OSError as exc:
                self._state("memory", f"History cannot be kept: the lock file {self._lock.path} "
                                      f"cannot be opened ({exc.strerror or exc}). Recording "
                                      "in memory only.")
                return False
            if not free:
                self._state("reading", "Another Opta Stream process records this server "
                                       f"into {self.path}; this one read it on start.")
                return False
            try:
                self._run = new_run(self._conn, self._server, now)
            except sqlite3.Error as exc:
                self._lock.release()
                self._failed(exc)
                return False
        self._state("recording", "")
        return True

    @property
    def holds_lock(self) -> bool:
        """Whether this process writes this server (and so notifies for its alerts)."""
        return self._lock.held

    def start(self) -> HistoryWriter:
        """The writer's thread, once. Unless ``open_and_load`` ran already, it opens and
        loads the file first while the Store records (and keeps what it records to put
        behind the file's rows); then a batch every ``batch_s``."""
        if self._thread is not None or self._stop.is_set():
            return self
        if not self._opened:
            self._began = self._clock()
            self.store.expect_history()
            self._state("loading", f"Loading what was kept in {self.path}.")
        elif self._conn is None:  # opened and could not be used: memory only
            return self
        self._thread = threading.Thread(target=self._work, daemon=True,
                                        name=f"opta-history {self.label}")
        self._thread.start()
        return self

    def _work(self) -> None:
        if not self._opened:
            try:
                self.open_and_load()
            except Exception:  # noqa: BLE001 - a bug here must not end recording
                log.exception("history %s: loading failed", self.label)
                self._state("memory", f"History at {self.path} could not be loaded (an "
                                      "internal error). Recording in memory only.")
            finally:
                self.store.no_history()  # whatever happened, the Store stops keeping writes
            if self._stop.is_set():  # stop() came while the file loaded: close it here
                self._close()
                return
        if self._conn is not None:
            self._loop()

    # -- batches --------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.wait(self._settings.batch_s):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - a bug here must not end recording
                log.exception("history %s: batch failed", self.label)

    def flush(self) -> bool:
        """Write what is new; True when it reached the file."""
        with self._io:
            conn, names = self._conn, self._names
            if conn is None or names is None:
                return False
            now = self._clock()
            if not self._lock.held and not self._take_writer(now):
                # the writer records what this one sees: move the marks on, so a takeover
                # writes from then and never a second copy of the writer's rows
                _, self._marks = self.store.history_delta(self._marks)
                return False
            rows, marks = self.store.history_delta(self._marks)
            latest = {(b, m): v for b, m, v in (*self._carry.usage, *rows.usage)}
            rows.usage = [(b, m, v) for (b, m), v in latest.items()]  # the newest of each
            rows.removed = self._carry.removed + rows.removed
            try:
                write_batch(conn, names, self._server, self._run, rows, now)
                if now - self._pruned_at >= PRUNE_S:
                    self._pruned_at = now
                    prune(conn, now, self._settings.days, self._settings.max_bytes)
            except BaseException as exc:  # keep what was taken for the next batch
                self._carry = HistoryRows(usage=rows.usage, removed=rows.removed)
                if not isinstance(exc, sqlite3.Error):
                    raise
                self._failed(exc)
                return False
            self._marks, self._carry = marks, HistoryRows()
            self.batches += 1
            if self._failing:
                self._failing = ""
                self.store.log("history_ok", "History is written again.", severity="info")
            self._state("recording", "", written_at=now)
            return True

    def _failed(self, exc: sqlite3.Error) -> None:
        text = str(exc)
        why = "the disk is full" if "full" in text else (
            "the file is read-only" if "readonly" in text else text)
        message = (f"History cannot be written to {self.path} ({why}). Recording in "
                   f"memory only; trying again every {self._settings.batch_s:g} s.")
        if message != self._failing:
            self._failing = message
            self.store.log("history_failed", message, severity="warning")
        self._state("memory", message)

    def _state(self, state: str, message: str, written_at: float | None = None) -> None:
        size = None
        if self._conn is not None:
            try:
                size = file_bytes(self._conn)
            except sqlite3.Error:
                size = None
        self.store.set_history(HistoryState(state, message, self.path, self._since, size,
                                            written_at, self._ephemeral))

    # -- stop -----------------------------------------------------------------
    def stop(self, timeout: float = 5.0) -> None:
        """Idempotent: the last batch, then the lock and the file are let go (by the
        thread itself when it is still loading the file at ``timeout``)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                return
        self._close()

    def _close(self) -> None:
        if self._conn is None:
            return
        try:
            self.flush()
        finally:
            with self._io:
                conn, self._conn = self._conn, None
                if conn is not None:
                    self._lock.release()
                    conn.close()
