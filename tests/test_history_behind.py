"""History loads behind the live feed: the first figures never wait for the file, and the
file's rows arrive afterwards in front of what was recorded meanwhile, with nothing lost.

A real history file is held busy by a second connection (``BEGIN IMMEDIATE``: the
writer's first write waits for it), so "the load has not finished" is a state the
test holds for as long as it needs, not a race it hopes to win. Waits are on the
Store's writes (``Store.wait_for``) or on threads, never on sleeps.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import MODEL_A, SERVER, T0, fill_store
from serving_fixture import SCRAPE_A, SCRAPE_B
from streamlit.testing.v1 import AppTest
from support import wait_for

from opta_stream.demo.server import DemoServer
from opta_stream.events.counters import serving_step
from opta_stream.events.prom import parse_metrics
from opta_stream.events.records import DownloadProgress
from opta_stream.feed.feed import Feed
from opta_stream.feed.sampler import Sampler
from opta_stream.history import schema
from opta_stream.history.files import open_for_writing
from opta_stream.history.lock import WriterLock
from opta_stream.history.writer import HistoryWriter
from opta_stream.settings import HistorySettings
from opta_stream.snapshot import ConnState, Series, Snapshot
from opta_stream.store import core
from opta_stream.store.core import Store
from opta_stream.store.history_rows import HistoryRows, Marks
from opta_stream.wire.client import AdminClient

APP = str(Path(__file__).resolve().parent.parent / "app.py")
START = T0 + 120.0  # the dashboard starts two minutes after the last run stopped


def previous_run(path: Path, end: float, identity: str = SERVER) -> None:
    """A run that recorded ten minutes up to ``end`` into ``path``, then stopped."""
    store = Store(identity, clock=lambda: end)
    w = HistoryWriter(store, HistorySettings(str(path)), identity, clock=lambda: end)
    w.open_and_load()
    fill_store(store, end)
    assert w.flush()
    w.stop()


@contextmanager
def held(path: Path) -> Iterator[Callable[[], None]]:
    """The file busy for writing until the ``release()`` handed out (or the end)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    done = threading.Event()

    def release() -> None:
        if not done.is_set():
            done.set()
            conn.execute("ROLLBACK")

    try:
        yield release
    finally:
        release()
        conn.close()


def first_seconds(store: Store, now: list[float]) -> None:
    """What a feed records in its first three seconds, each write at its own time."""
    def at(t: float) -> None:
        now[0] = START + t

    at(0.0)
    store.set_connection(ConnState.CONNECTING, "Connecting to lmx.test:1234")
    at(0.2)
    store.set_connection(ConnState.OPEN, "Connected to lmx.test:1234")
    at(0.5)
    store.add_throughput_many([START + 0.1 * i for i in range(20)], [50.0 + i for i in range(20)],
                              [MODEL_A] * 20)
    store.add_memory(START + 0.5, 7.25, 24.0, 90.0)
    store.set_gauges(active_requests=1, uptime_s=30.0)
    at(1.0)
    store.apply_many(iter([DownloadProgress("download_progress", START + 1.0, "{}", "dl-9",
                                            "org/live-model", 10.0, 10, 100)]))
    step = serving_step(parse_metrics(SCRAPE_A), START - 9.0, parse_metrics(SCRAPE_B), START + 1.0)
    assert step is not None
    store.add_serving(step)
    at(2.0)
    store.log("feed_note", "a line the dashboard wrote while history loaded")
    store.count(bytes=512)
    at(3.0)
    store.add_memory(START + 3.0, 7.5, 24.0, 90.0)


def series(s: Series) -> list[list[Any]]:
    return [s.ts.tolist(), s.value.tolist(), s.lo.tolist(), s.hi.tolist(), s.seg.tolist(),
            s.model_ids()]


def picture(snap: Snapshot) -> dict[str, Any]:
    """What pages read from a snapshot, as plain values; the history's own lines (which
    say when the file was read) and sequence numbers aside."""
    sv, usage = snap.serving, snap.usage
    assert usage is not None
    return {
        "throughput": series(snap.throughput), "memory": series(snap.memory_used),
        "tail": series(snap.tail.throughput), "gaps": list(snap.gaps),
        "events": [(e.ts, e.type, e.summary, e.severity, e.updates) for e in snap.events
                   if not e.type.startswith("history_")],
        "gauges": snap.gauges, "models": snap.models, "jobs": snap.jobs,
        "counters": snap.counters, "connection": snap.connection.state,
        "serving": [sv.ts.tolist(), sv.dt.tolist(), sv.seg.tolist(), sv.key.tolist(),
                    np.nan_to_num(sv.values).tolist(), list(sv.keys)],
        "usage": [usage.ts.tolist(), np.nan_to_num(usage.values).tolist(), list(usage.names)],
        "history": snap.history.state,
    }


def test_history_loaded_behind_the_live_feed_is_history_loaded_first(tmp_path: Path) -> None:
    """Whenever the file's rows arrive, the Store ends up as if they had come first."""
    made = tmp_path / "made.sqlite3"
    previous_run(made, T0)
    first, behind = tmp_path / "first.sqlite3", tmp_path / "behind.sqlite3"
    shutil.copyfile(made, first)
    shutil.copyfile(made, behind)
    settings = dict(days=30.0, max_mb=200.0, batch_s=3600.0)

    now_a = [START]
    a = Store(SERVER, clock=lambda: now_a[0])
    wa = HistoryWriter(a, HistorySettings(str(first), **settings), SERVER,
                       clock=lambda: now_a[0])
    wa.open_and_load()  # the file first, in the caller's thread
    first_seconds(a, now_a)

    now_b = [START]
    b = Store(SERVER, clock=lambda: now_b[0])
    wb = HistoryWriter(b, HistorySettings(str(behind), **settings), SERVER,
                       clock=lambda: now_b[0])
    with held(behind) as release:
        wb.start()  # the file loads in the writer's thread: it waits for the holder
        first_seconds(b, now_b)
        during = b.snapshot(3600.0)
        assert b.loading_history and during.history.state == "loading"
        assert during.gauges.memory_used_gb == 7.5  # the live figures are there at once
        assert during.throughput.ts.min() >= START  # and nothing of the file yet
        release()
        wait_for(lambda: not b.loading_history and b.snapshot(1).history.state == "recording",
                 10, "the history to load", store=b)

    after_a, after_b = a.snapshot(3600.0, usage_s=86_400.0), b.snapshot(3600.0, usage_s=86_400.0)
    assert after_b.throughput.ts.min() < T0 - 500.0  # the file's rows arrived
    assert picture(after_b) == picture(after_a)
    assert [e.type for e in after_b.events].count("history_loaded") == 1
    # what was recorded before the rows arrived is still to be written: both files end
    # up holding the same rows
    assert wa.flush() and wb.flush()
    wa.stop()
    wb.stop()
    reread = []
    for path in (first, behind):
        store = Store(SERVER, clock=lambda: START + 60.0)
        w = HistoryWriter(store, HistorySettings(str(path)), SERVER, clock=lambda: START + 60.0)
        w.open_and_load()
        reread.append(picture(store.snapshot(3600.0, usage_s=86_400.0)))
        w.stop()
    assert reread[0] == reread[1]
    assert any(START - 10.0 <= t <= START + 3.0 for t in reread[1]["memory"][0])  # live rows


def test_the_demo_feeds_the_first_figures_while_its_history_file_is_busy(
        tmp_path: Path, make_demo: Callable[..., DemoServer]) -> None:
    """A real feed on the embedded demo (loopback) with a real file: figures arrive while
    the file cannot be read yet; then the file's rows come in front, and every row and
    line recorded meanwhile is kept and written."""
    path = tmp_path / "history.sqlite3"
    end = time.time() - 60.0  # the last run stopped a minute ago
    previous_run(path, end, identity="demo")
    demo = make_demo(mode="rich")
    feed = Feed(demo.url, history=HistorySettings(str(path), batch_s=3600.0), identity="demo")
    store = feed.store
    try:
        with held(path) as release:
            started = time.time()
            feed.start()
            live = wait_for(lambda: (s := store.snapshot(3600.0)).gauges.memory_used_gb
                            is not None and len(s.memory_used) and s.events and s, 5,
                            "live memory figures", store=store)
            assert store.loading_history and live.history.state == "loading"
            assert live.memory_used.ts.min() >= started  # only live rows so far
            live_memory = list(zip(live.memory_used.ts.tolist(), live.memory_used.value.tolist(),
                                   strict=True))
            live_lines = [(e.type, e.summary) for e in live.events]
            release()
            wait_for(lambda: store.snapshot(1).history.state == "recording", 10,
                     "the history to load", store=store)
        after = store.snapshot(3600.0)
        assert after.memory_used.ts.min() < end - 500.0  # the last run's rows are in front
        # every live sample and line recorded while the file was busy is still there (an
        # hour's window reads 10 s buckets: each sample is inside its bucket's range)
        buckets = after.memory_used
        assert buckets.resolution_s == 10.0
        for ts, value in live_memory:
            i = int(np.searchsorted(buckets.ts, ts, side="right")) - 1
            assert i >= 0 and buckets.ts[i] + 10.0 > ts and buckets.lo[i] <= value <= buckets.hi[i]
        after_lines = [(e.type, e.summary) for e in after.events]
        assert all(line in after_lines for line in live_lines)
        assert any(a <= end + 1.0 and b is not None and b >= started - 1.0
                   for a, b in after.gaps)  # the restart between the runs, drawn as a gap
        assert feed.history is not None and feed.history.flush()
    finally:
        feed.stop()
    # and the file has them: the 10 s memory buckets of the seconds the load was held
    reread = Store("demo", clock=time.time)
    w = HistoryWriter(reread, HistorySettings(str(path)), "demo")
    w.open_and_load()
    kept = reread.snapshot(3600.0).memory_used.ts
    w.stop()
    assert any(started - 10.0 <= t <= max(ts for ts, _ in live_memory) for t in kept.tolist())
    assert kept.min() < end - 500.0


def test_a_feed_stopped_while_its_history_loads_lets_the_file_go(
        tmp_path: Path, make_demo: Callable[..., DemoServer]) -> None:
    path = tmp_path / "history.sqlite3"
    previous_run(path, time.time() - 60.0, identity="demo")
    demo = make_demo(mode="lmx")
    feed = Feed(demo.url, history=HistorySettings(str(path)), identity="demo")
    with held(path) as release:
        feed.start()
        wait_for(lambda: store_loading(feed.store), 5, "the load to begin", store=feed.store)
        feed.stop(timeout=0.5)  # the writer's thread still waits for the file
        threads = [t for t in threading.enumerate() if t.name == f"opta-history {feed.label}"]
        assert threads, "the history thread should still be waiting for the file"
        release()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    lock = WriterLock(str(path), "demo")
    assert lock.acquire(), "the stopped feed's writer lock was left held"
    lock.release()
    assert not feed.store.loading_history


def store_loading(store: Store) -> bool:
    return store.loading_history and store.snapshot(1).history.state == "loading"


def test_a_restart_while_off_is_found_when_history_loads_after_the_first_poll(
        make_demo: Callable[..., DemoServer]) -> None:
    """The first status poll can come before the file's rows: the check waits for them."""
    server = make_demo(mode="lmx")
    store = Store(server.url)
    sampler = Sampler(AdminClient(server.url), store, clock=time.time)
    store.expect_history()
    sampler.sample_once()  # uptime read while the history is still loading
    assert not [e for e in store.snapshot(60).events if e.type == "server_restarted"]
    store.load_history(HistoryRows(last_at=time.time() - 3600.0), time.time() - 1.0)
    sampler.sample_once()
    restarts = [e for e in store.snapshot(7200.0).events if e.type == "server_restarted"]
    assert len(restarts) == 1 and "while the dashboard was off" in restarts[0].summary
    sampler.sample_once()  # decided once
    assert len([e for e in store.snapshot(7200.0).events if e.type == "server_restarted"]) == 1


def test_writes_outgrowing_the_keep_leave_the_live_run_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A load hopelessly late: the file's rows are not put in front this run; what was
    recorded stands, all of it still to be written, and the log says so."""
    monkeypatch.setattr(core, "MAX_KEPT_WRITES", 5)
    now = [START]
    store = Store(SERVER, clock=lambda: now[0])
    store.expect_history()
    first_seconds(store, now)
    assert not store.loading_history  # it stopped keeping writes
    marks = store.load_history(HistoryRows(last_at=T0, gaps=[(T0 - 100.0, T0 - 50.0)]), START)
    assert marks == Marks()
    snap = store.snapshot(3600.0)
    assert snap.gauges.memory_used_gb == 7.5 and len(snap.throughput) == 20
    assert (T0 - 100.0, T0 - 50.0) not in snap.gaps
    assert any(e.type == core.HISTORY_LATE for e in snap.events)


def test_two_connections_making_one_new_file_both_succeed(tmp_path: Path) -> None:
    """The writer and the alert journal (or two processes) may find the file new at once."""
    path = tmp_path / "h.sqlite3"
    late = sqlite3.connect(path, isolation_level=None)
    assert not schema.check(late)  # it saw a new file ...
    early, _ = open_for_writing(str(path), T0)  # ... which another connection then laid out
    early.close()
    schema.create(late)  # no "table already exists"
    assert schema.check(late)
    late.close()
    again, notice = open_for_writing(str(path), T0)
    assert notice == "" and not list(tmp_path.glob("*.unreadable-*"))
    again.close()


def test_the_apps_first_page_has_figures_while_history_loads(
        tmp_path: Path, clean_env: None, app_shutdown: None) -> None:
    """The app's first run (the embedded demo) finishes while the history file is busy:
    the Overview shows figures and the sidebar says history is loading."""
    path = tmp_path / "history.sqlite3"
    previous_run(path, time.time() - 60.0, identity="demo")
    at = AppTest.from_file(APP, default_timeout=15)
    at.secrets.update({"read_only": False, "history_path": str(path)})
    with held(path):
        def shown() -> bool:
            at.run()
            assert not at.exception, [e.value for e in at.exception]
            memory = [m.value for m in at.metric if m.label.startswith("Memory")]
            return bool(memory) and memory[0] != "—"

        wait_for(shown, 10, "the Overview's memory figure")
        assert any("History: loading" in c.value for c in at.sidebar.caption)
