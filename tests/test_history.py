"""History in a real SQLite file: a restart brings it back, bad files are moved aside,
export says clearly when there is nothing to read."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from datetime import UTC
from pathlib import Path

from conftest import MODEL_A, SERVER, T0, fill_store

from opta_stream.history.files import open_for_writing
from opta_stream.history.schema import check, create
from opta_stream.history.writer import HistoryWriter
from opta_stream.settings import HistorySettings
from opta_stream.snapshot import ALL_MODELS
from opta_stream.store.core import Store


def _writer(store: Store, path: Path, now: list[float]) -> HistoryWriter:
    w = HistoryWriter(store, HistorySettings(str(path)), SERVER, clock=lambda: now[0])
    w.open_and_load()
    return w


def test_a_restart_brings_history_back_with_a_gap(tmp_path: Path) -> None:
    now = [T0]
    first = Store(SERVER, clock=lambda: now[0])
    w = _writer(first, tmp_path / "h.sqlite3", now)
    fill_store(first, T0)
    assert w.flush() and first.snapshot(1.0).history.state == "recording"
    before = first.snapshot(600.0)
    w.stop()
    now[0] = T0 + 120.0
    second = Store(SERVER, clock=lambda: now[0])
    w2 = _writer(second, tmp_path / "h.sqlite3", now)
    after = second.snapshot(900.0)
    assert len(after.throughput) > 0 and MODEL_A in after.throughput.model_names
    assert after.throughput.ts.min() <= before.throughput.ts.min() + 1.0
    assert any(a <= T0 and b == T0 + 120.0 for a, b in after.gaps)  # the restart
    assert {e.summary for e in before.events} <= {e.summary for e in after.events} | {
        e.summary for e in before.events if e.job}
    assert len(second.usage(T0 - 3600, T0 + 3600)) == len(first.usage(T0 - 3600, T0 + 3600))
    w2.stop()
    w2.stop()  # idempotent


def test_a_corrupt_file_is_moved_aside_and_a_new_one_started(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    store = Store(SERVER, clock=lambda: T0)
    w = _writer(store, path, [T0])
    aside = list(tmp_path.glob("h.sqlite3.unreadable-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"not a database")
    assert store.snapshot(1.0).history.state == "recording"
    assert any(e.type == "history_moved" for e in store.snapshot(1.0).events)
    w.stop()


class _CommitsBetweenReads:
    """A connection on which another connection lays out the same new file right after
    the first read, as the alert journal can while the history writer opens it."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.other = sqlite3.connect(path, isolation_level=None, timeout=0.1)
        self.raced = False

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def execute(self, sql: str) -> sqlite3.Cursor:
        if "user_version" in sql and not self.raced:  # the application id has been read
            self.raced = True
            with contextlib.suppress(sqlite3.OperationalError):  # locked out: the fix
                create(self.other)
        return self.conn.execute(sql)


def test_a_new_file_laid_out_by_another_connection_mid_check_is_not_moved_aside(
        tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    racing = _CommitsBetweenReads(path)
    try:
        assert check(racing) is False  # one reading, before the other's layout: not foreign
    finally:
        racing.other.close()
        racing.conn.close()
    conn, notice = open_for_writing(str(path), T0)
    conn.close()
    assert notice == "" and not list(tmp_path.glob("*.unreadable-*"))


def test_an_unusable_place_degrades_to_memory_with_a_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = Store(SERVER, clock=lambda: T0)
    _writer(store, blocker / "h.sqlite3", [T0]).stop()
    state = store.snapshot(1.0).history
    assert state.state == "memory" and "in memory only" in state.message


def test_export_without_a_file_is_a_clear_message_and_exit_1(tmp_path: Path) -> None:
    got = subprocess.run([sys.executable, "-m", "opta_stream", "export", "throughput",
                          "--db", str(tmp_path / "none.sqlite3")],
                         capture_output=True, text=True, timeout=60)
    assert got.returncode == 1 and "no history file" in got.stderr
    assert "Traceback" not in got.stderr and got.stdout == ""


def test_usage_colours_models_as_every_other_page_does(filled_store: Store) -> None:
    from opta_stream.charts.parts import model_color
    from opta_stream.charts.usage_chart import colors
    from opta_stream.figures.usage_days import daily, readable

    usage = filled_store.usage(T0 - 3600, T0 + 3600)
    names = filled_store.snapshot(900.0).throughput.model_names
    palette = colors(usage)
    models = [n for n in usage.names if n != ALL_MODELS]
    assert models and set(models) <= set(names) and ALL_MODELS not in names
    for name in models:  # the interner's code, not the place in the ledger's list
        assert palette[name] == model_color(names.index(name)) and names.index(name) >= 2
    assert len({palette[n] for n in models}) == len(models)  # one colour per model
    table = readable(daily(usage, UTC))
    assert str(table["Completion tokens"].dtype) == "Int64"


def test_prompt_tokens_are_the_servers_own_and_not_reported_per_model(tmp_path: Path) -> None:
    """Opta LMX counts prompt tokens only server-wide: no model's row may claim 0."""
    from opta_stream.export.csv_files import usage_csv
    from opta_stream.figures.usage_days import daily, per_model, totals

    now = [T0]
    store = Store(SERVER, clock=lambda: now[0])
    w = _writer(store, tmp_path / "h.sqlite3", now)
    fill_store(store, T0)  # SCRAPE_A → SCRAPE_B: the fixture's families, as the real server
    frame = daily(store.usage(T0 - 3600, T0 + 3600), UTC)
    server = totals(frame)
    assert server["prompt_tokens"] > 0
    assert per_model(frame)["prompt_tokens"].isna().all()
    assert server["completion_tokens"] == per_model(frame)["completion_tokens"].sum()
    rows = usage_csv(frame).decode().splitlines()
    head = rows[0].split(",")
    cells = [dict(zip(head, r.split(","), strict=True)) for r in rows[1:]]
    assert [c["prompt_tokens"] != "" for c in cells] == [c["model_id"] == ALL_MODELS
                                                         for c in cells]
    assert w.flush()
    w.stop()
    again = Store(SERVER, clock=lambda: now[0])
    _writer(again, tmp_path / "h.sqlite3", now).stop()  # NULL in the file, NaN again
    back = daily(again.usage(T0 - 3600, T0 + 3600), UTC)
    assert totals(back) == server and per_model(back)["prompt_tokens"].isna().all()


def test_retention_gives_the_space_back_to_the_disk(tmp_path: Path) -> None:
    from opta_stream.history.files import open_for_writing
    from opta_stream.history.retention import prune

    conn, _ = open_for_writing(str(tmp_path / "h.sqlite3"), T0)
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO events VALUES (1, 1, ?, ?, 't', 'c', 'info', ?, '', 0, NULL)",
                     [(i, T0 - 40 * 86_400 + i, "x" * 500) for i in range(4_000)])
    conn.execute("COMMIT")
    before = conn.execute("PRAGMA page_count").fetchone()[0]
    assert prune(conn, T0, 30.0, 200 * 2**20) == 4_000
    after = conn.execute("PRAGMA page_count").fetchone()[0]
    assert before > 400 and after < before / 10, (before, after)
    conn.close()


def test_usage_counts_fit_a_metric_card() -> None:
    from opta_stream.units import count

    assert [count(v) for v in (15290.0, 99_999.0, 89_596_123.0, 1_234.5e9, float("nan"), None)] \
        == ["15,290", "99,999", "89.6 M", "1.23 T", "—", "—"]


def test_a_folder_given_as_time_zone_is_one_sentence(tmp_path: Path) -> None:
    got = subprocess.run([sys.executable, "-m", "opta_stream", "export", "usage", "--tz",
                          "Europe", "--db", str(tmp_path / "none.sqlite3")],
                         capture_output=True, text=True, timeout=60)
    assert got.returncode == 1 and "Unknown time zone 'Europe'" in got.stderr
    assert "Traceback" not in got.stderr


def test_usage_totals_add_models_on_days_without_the_servers_row() -> None:
    import pandas as pd

    from opta_stream.figures.usage_days import totals

    frame = pd.DataFrame({"date": ["d1", "d1", "d2", "d2", "d2"],
                          "model_id": ["a", "b", "a", "b", ALL_MODELS],
                          "requests": [1.0, 2.0, 10.0, 20.0, 30.0],
                          "prompt_tokens": [float("nan")] * 4 + [7.0]})
    frame = frame.assign(errors=0.0, completion_tokens=0.0, busy_s=0.0)
    got = totals(frame)
    assert got["requests"] == 33.0 and got["prompt_tokens"] == 7.0


def test_after_a_restart_the_requests_page_has_every_poll_since_not_a_point_a_minute(
        tmp_path: Path) -> None:
    """Per-poll rows are not kept in the file, minute rows are: a 5 min window reaching back
    past a restart reads the file's minutes before it and every poll since."""
    from opta_stream.events.counters import ServingStep

    def poll(store: Store, ts: float) -> None:
        store.add_serving(ServingStep(ts=ts, dt=1.0, totals={"requests": 1.0}, per_model={},
                                      per_client={}, buckets={}, bounds=None,
                                      gauges={"queued": 1.0}))

    now = [T0 - 600.0]
    first = Store(SERVER, clock=lambda: now[0])
    w = _writer(first, tmp_path / "h.sqlite3", now)
    for i in range(480):  # eight minutes of polls, then the dashboard stops
        now[0] = T0 - 600.0 + i
        poll(first, now[0])
    now[0] = T0 - 110.0
    assert w.flush()
    w.stop()
    now[0] = T0 - 60.0  # back a minute later; a minute of polls since
    second = Store(SERVER, clock=lambda: now[0])
    w2 = _writer(second, tmp_path / "h.sqlite3", now)
    for i in range(60):
        now[0] = T0 - 60.0 + i
        poll(second, now[0])
    win = second.snapshot(300.0).serving
    since = win.ts[win.ts >= T0 - 60.0]
    before = win.ts[win.ts < T0 - 110.0]
    assert win.resolution_s == 0.0
    assert len(since) >= 59  # every poll since the restart, not a point a minute
    assert 2 <= len(before) <= 5  # before it, the file's minute rows (the last one partial)
    w2.stop()
