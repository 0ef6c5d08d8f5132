"""History faults with real processes: a writer killed mid-write, two recorders on one
file, a full disk. What was committed is never lost and the file is never corrupt.

The recorders are ``python -m opta_stream record`` child processes (the same
Feed and history writer the app runs) against a demo server in another
process, writing every 0.2 s so a SIGKILL lands between or inside batches.
The file is read from the test with a separate read-only connection, as a
second dashboard would.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SERVER, T0, fill_store
from support import DemoProcess, RecorderProcess, free_port, stop_process, wait_for

from opta_stream.history.writer import HistoryWriter
from opta_stream.settings import HistorySettings
from opta_stream.store.core import Store

TABLES = ("tiers", "serving", "usage", "events", "gaps", "runs")


def recorder(db: Path, url: str, cwd: Path, batch_s: float = 0.2) -> RecorderProcess:
    return RecorderProcess(["--server", url, "--db", str(db), "--batch-s", str(batch_s),
                            "--identity", "demo"], cwd)


def counts(db: Path) -> dict[str, int]:
    """Rows per table, read as another process would (empty before the file exists)."""
    if not db.exists():
        return dict.fromkeys(TABLES, 0)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        if not conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'runs'").fetchone()[0]:
            return dict.fromkeys(TABLES, 0)
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(str(db), timeout=5)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def demo() -> Iterator[DemoProcess]:
    proc = DemoProcess(free_port(), "--rate", "50").start()
    try:
        yield proc
    finally:
        proc.terminate()


def grown(db: Path, than: dict[str, int], table: str = "tiers", by: int = 1) -> bool:
    return counts(db)[table] >= than[table] + by


def test_sigkill_mid_write_never_corrupts_and_keeps_every_committed_batch(
        tmp_path: Path, demo: DemoProcess) -> None:
    db = tmp_path / "history.sqlite3"
    seen = counts(db)
    for cycle in range(4):
        rec = recorder(db, demo.url, tmp_path)
        try:
            # several batches in: the kill lands while writes go on every 0.2 s
            try:
                wait_for(lambda s=seen, n=10 + 3 * cycle: grown(db, s, "runs")
                         and grown(db, s, by=n), 60, f"recorder {cycle} to write")
            except AssertionError as exc:  # what the recorder said, and the file's rows
                raise AssertionError(f"{exc}; rows {counts(db)}; the folder "
                                     f"{sorted(p.name for p in tmp_path.iterdir())}; "
                                     f"the recorder said {''.join(rec.lines)[-1500:]}") from exc
            before = counts(db)
        finally:
            rec.kill()
        after = counts(db)
        assert integrity(db) == "ok", f"cycle {cycle}"
        lost = {t: (before[t], after[t]) for t in TABLES if after[t] < before[t]}
        assert not lost, f"cycle {cycle}: committed rows went missing {lost}"
        assert after["runs"] == cycle + 1
        seen = after
    assert seen["gaps"] >= 3, "each restart after a kill is a gap"
    got = subprocess.run([sys.executable, "-m", "opta_stream", "export", "throughput",
                          "--db", str(db), "--server", "demo", "--since", "1h"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert got.returncode == 0, got.stderr
    header, *lines = got.stdout.splitlines()
    assert "unix_s" in header.split(",") and len(lines) >= 5, got.stdout[:300]


def test_two_recorders_on_one_file_one_writes_the_other_reads_then_takes_over(
        tmp_path: Path, demo: DemoProcess) -> None:
    db = tmp_path / "history.sqlite3"
    first = recorder(db, demo.url, tmp_path)
    second: RecorderProcess | None = None
    try:
        wait_for(lambda: counts(db)["tiers"] >= 5, 60, "the first recorder to write")
        second = recorder(db, demo.url, tmp_path)
        wait_for(lambda: second.said("opta_stream record"), 60, "the second to start")
        assert second.said("(reading: Another Opta Stream process records this server"), \
            second.lines
        mark = counts(db)
        wait_for(lambda: grown(db, mark, by=5), 30, "the first to go on writing")
        assert counts(db)["runs"] == 1, "the reader wrote a run of its own"
        first.kill()
        mark = counts(db)
        wait_for(lambda: counts(db)["runs"] == 2 and grown(db, mark, by=3), 30,
                 "the second recorder to take over")
        stop_process(second.proc, signal.SIGTERM)
        assert second.proc.returncode == 0
        assert integrity(db) == "ok"
    finally:
        first.kill()
        if second is not None:
            second.kill()


def test_a_full_disk_degrades_to_memory_loses_nothing_and_recovers(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    now = [T0]
    empty = HistoryWriter(Store(SERVER), HistorySettings(str(path)), SERVER,
                          clock=lambda: now[0])
    empty.open_and_load()
    empty.stop()
    with sqlite3.connect(path) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    store = Store(SERVER, clock=lambda: now[0])
    w = HistoryWriter(store, HistorySettings(str(path)), SERVER, clock=lambda: now[0],
                      max_pages=pages)  # the disk holds not one page more
    w.open_and_load()
    fill_store(store, T0)
    assert not w.flush()
    state = store.snapshot(1.0).history
    assert state.state == "memory" and state.trouble
    assert "the disk is full" in state.message and "in memory only" in state.message
    failed = [e for e in store.snapshot(1.0).events if e.type == "history_failed"]
    assert len(failed) == 1 and failed[0].severity == "warning"
    now[0] += 5.0
    assert not w.flush()  # still full: tried again, said once
    assert sum(e.type == "history_failed" for e in store.snapshot(1.0).events) == 1
    ledger = store.usage(T0 - 3600, T0 + 3600)
    assert len(store.snapshot(900.0).throughput) > 500 and ledger  # nothing dropped

    assert w._conn is not None  # the disk gets room again
    w._conn.execute("PRAGMA max_page_count = 1000000")
    now[0] += 5.0
    assert w.flush()
    assert store.snapshot(1.0).history.state == "recording"
    assert any(e.type == "history_ok" for e in store.snapshot(1.0).events)
    w.stop()

    later = Store(SERVER, clock=lambda: now[0])
    w2 = HistoryWriter(later, HistorySettings(str(path)), SERVER, clock=lambda: now[0])
    w2.open_and_load()
    back = later.snapshot(900.0).throughput
    assert back.ts.min() <= T0 - 590.0  # the rows kept in memory reached the file
    assert len(later.usage(T0 - 3600, T0 + 3600)) == len(ledger)
    w2.stop()


def test_a_takeover_writes_from_then_on_never_a_second_copy(tmp_path: Path) -> None:
    path, now = tmp_path / "h.sqlite3", [T0]
    stores = [Store(SERVER, clock=lambda: now[0]) for _ in range(2)]
    first, second = (HistoryWriter(s, HistorySettings(str(path)), SERVER, clock=lambda: now[0])
                     for s in stores)
    first.open_and_load()
    second.open_and_load()
    for store in stores:  # both see the same server
        fill_store(store, T0)
    assert stores[1].snapshot(1.0).history.state == "reading"
    assert first.flush() and not second.flush()
    first.stop()
    now[0] += 5.0
    assert second.flush() and stores[1].snapshot(1.0).history.state == "recording"
    second.stop()
    with sqlite3.connect(path) as conn:
        rows, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT series || ':' || ts || ':' || ifnull(model, '')) "
            "FROM tiers").fetchone()
    assert rows > 600 and rows - distinct <= 12, (rows, distinct)  # open buckets, per model


def test_a_lock_file_that_cannot_be_opened_degrades_to_memory(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    store = Store(SERVER, clock=lambda: T0)
    w = HistoryWriter(store, HistorySettings(str(path)), SERVER, clock=lambda: T0)
    Path(str(w._lock.path)).mkdir()  # os.open of a folder fails as a root-owned file would
    w.open_and_load()
    state = store.snapshot(1.0).history
    assert state.state == "memory" and "lock file" in state.message
    assert not w.flush()
    w.stop()


def test_a_locked_file_is_not_mistaken_for_a_corrupt_one(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from opta_stream.history import files

    path = tmp_path / "h.sqlite3"
    made = HistoryWriter(Store(SERVER), HistorySettings(str(path)), SERVER)
    made.open_and_load()
    made.stop()
    monkeypatch.setattr(files, "BUSY_MS", 100)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(files.HistoryUnavailable, match="cannot be written"):
            files.open_for_writing(str(path), T0)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not list(tmp_path.glob("*.unreadable-*"))
