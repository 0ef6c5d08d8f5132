"""History in a real SQLite file: a restart brings it back, bad files are moved aside,
export says clearly when there is nothing to read."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC
from pathlib import Path

from conftest import MODEL_A, SERVER, T0, fill_store

from opta_stream.config import HistorySettings
from opta_stream.history.writer import HistoryWriter
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
    from opta_stream.present.chart_parts import model_color
    from opta_stream.present.usage import colors, daily, readable

    usage = filled_store.usage(T0 - 3600, T0 + 3600)
    names = filled_store.snapshot(900.0).throughput.model_names
    palette = colors(usage)
    assert usage.names and set(usage.names) <= set(names)
    for name in usage.names:  # the interner's code, not the place in the ledger's list
        assert palette[name] == model_color(names.index(name)) and names.index(name) >= 2
    assert len(set(palette.values())) == len(palette)  # one colour per model
    table = readable(daily(usage, UTC))
    assert str(table["completion_tokens"].dtype) == "int64"
