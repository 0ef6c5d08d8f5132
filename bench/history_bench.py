"""History's cost: writing at 50 Hz ingest, loading a day on start, a month's file.

- **persistence**: a Feed on the demo server at 50 Hz (another process)
  writes its history every 5 s. The writer thread's CPU (``thread_time``
  around each batch) is a share of one core over the run; the baseline, in
  the same run and process, is what the Feed's own ingest costs (the
  process's CPU minus the writer's).
- **month**: the demo's simulation (its requests, memory, Prometheus text
  and lifecycle events, through the same parse functions the feed uses)
  drives a Store at simulated speed for ``hours``, written by the real
  writer with an injected clock. That span is then copied back in time to
  30 days (new runs, shifted timestamps) and retention runs as it does in
  the app. The file's size is reported.
- **load**: ``open_and_load`` of that month into a fresh Store (what a
  starting feed does), median of 5; the baseline is reading the same rows
  with bare SQL from the same file.

``python bench/history_bench.py [--quick]``
"""

from __future__ import annotations

import json
import math
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import psutil  # noqa: E402

from bench.common import DemoProcess, free_port, median, wait_until  # noqa: E402
from opta_stream.demo import views  # noqa: E402
from opta_stream.demo.sim import Simulation  # noqa: E402
from opta_stream.events.counters import serving_step  # noqa: E402
from opta_stream.events.prom import MetricsReading, parse_metrics  # noqa: E402
from opta_stream.events.records import parse_event  # noqa: E402
from opta_stream.feed.feed import Feed  # noqa: E402
from opta_stream.history.read import LOAD_S, LOG_ROWS, SERVING_LOAD_S  # noqa: E402
from opta_stream.history.retention import FINE_SERIES, prune  # noqa: E402
from opta_stream.history.writer import HistoryWriter  # noqa: E402
from opta_stream.settings import HistorySettings  # noqa: E402
from opta_stream.store.core import Store  # noqa: E402

__all__ = ["build_month", "measure_load", "measure_persistence"]

DAY_S = 86_400.0
START = 1_795_000_000.0  # a fixed simulated "now" at the start of the simulated span
IDENTITY = "bench"


# -- persistence at 50 Hz ---------------------------------------------------------


def measure_persistence(seconds: float, batch_s: float = 5.0, rate: str = "50") -> dict[str, Any]:
    """The history writer's CPU while a Feed ingests the demo at ``rate`` Hz."""
    demo = DemoProcess(free_port(), rate=rate).start()
    folder = tempfile.mkdtemp(prefix="opta-bench-history-")
    feed = Feed(demo.url, None, identity=IDENTITY,
                history=HistorySettings(os.path.join(folder, "h.sqlite3"), batch_s=batch_s))
    spent: list[float] = []
    try:
        feed.start()
        writer = feed.history
        assert writer is not None
        flush = writer.flush

        def timed() -> bool:  # runs in the writer's thread: thread_time is its own CPU
            t0 = time.thread_time()
            try:
                return flush()
            finally:
                spent.append(time.thread_time() - t0)

        writer.flush = timed  # type: ignore[method-assign]
        if not wait_until(lambda: len(feed.store.snapshot(2.0).throughput) > 20, 20):
            raise RuntimeError("the feed never received samples")
        proc = psutil.Process()
        c0, w0, n0 = _cpu(proc), time.perf_counter(), len(spent)
        done = threading.Event()
        done.wait(seconds)
        cpu, wall = _cpu(proc) - c0, time.perf_counter() - w0
        writes = spent[n0:]
        events = feed.store.snapshot(1.0).counters.events
    finally:
        feed.stop()
        demo.stop()
    writer_cpu = sum(writes)
    return {"seconds": wall, "batches": len(writes), "writer_cpu_s": writer_cpu,
            "writer_cpu_pct": 100.0 * writer_cpu / wall,
            "ingest_cpu_pct": 100.0 * (cpu - writer_cpu) / wall,
            "vs_ingest": writer_cpu / max(cpu - writer_cpu, 1e-9),
            "batch_ms_median": 1000.0 * (median(writes) or 0.0), "events": events}


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


# -- a simulated month ------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    event: str
    data: str


def simulate(path: str, hours: float, rate_hz: int = 50, start: float = START,
             identity: str = IDENTITY) -> dict[str, Any]:
    """``hours`` of the demo's simulation from ``start`` into a Store and its history file,
    recorded under ``identity``."""
    now = [start]
    clock = lambda: now[0]  # noqa: E731
    sim = Simulation("rich", rng=random.Random(0), clock=clock)
    store = Store(identity, clock=clock)
    writer = HistoryWriter(store, HistorySettings(path), identity, clock=clock)
    writer.open_and_load()
    prev: tuple[MetricsReading, float] | None = None
    steps = np.arange(rate_hz) / rate_hz
    t0 = time.perf_counter()
    for second in range(int(hours * 3600)):
        t = start + second
        now[0] = t
        for kind, data in sim.step(t):
            store.apply(parse_event(_Frame(kind, json.dumps(data)), t))
        samples = sim.throughput_samples()
        models = [m for m, _ in samples] * rate_hz
        store.add_throughput_many(np.repeat(t + steps, len(samples)),
                                  [v for _, v in samples] * rate_hz, models)
        view = sim.view(t)
        store.add_memory(t, view.used_gb, view.total_gb, view.threshold_percent)
        if second % 5 == 0:  # the serving minutes come out the same at any poll rate
            reading = parse_metrics(views.prometheus(view))
            if prev is not None:
                step = serving_step(prev[0], prev[1], reading, t)
                if step is not None:
                    store.add_serving(step)
            prev = (reading, t)
        if second % 60 == 59:  # fewer, larger batches: the same rows reach the file
            writer.flush()
    writer.stop()
    return {"simulated_s": hours * 3600, "sim_wall_s": time.perf_counter() - t0,
            "start": start, "end": now[0]}


def build_month(path: str, hours: float, days: float = 30.0,
                start: float = START, identity: str = IDENTITY) -> dict[str, Any]:
    """Simulate ``hours``, copy them back in time to ``days``, prune as the app does."""
    sim = simulate(path, hours, start=start, identity=identity)
    span = hours * 3600.0
    copies = math.ceil(days * DAY_S / span) - 1
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        (run,) = conn.execute("SELECT max(id) FROM runs").fetchone()
        conn.execute("BEGIN")
        for k in range(1, copies + 1):
            shift = -k * span
            new = conn.execute("INSERT INTO runs (server, started_at, last_at) SELECT server, "
                               "started_at + ?, last_at + ? FROM runs WHERE id = ?",
                               (shift, shift, run)).lastrowid
            fine = "" if k * span < DAY_S else f" AND series NOT IN {FINE_SERIES}"
            conn.execute("INSERT INTO tiers SELECT server, series, ?, idx, ts + ?, sum, lo, hi, "
                         f"count, seg, model FROM tiers WHERE run = ?{fine}", (new, shift, run))
            conn.execute("INSERT INTO serving SELECT server, ?, ts + ?, key, bounds, row FROM "
                         "serving WHERE run = ?", (new, shift, run))
            conn.execute("INSERT OR REPLACE INTO usage SELECT server, model, bucket + ?, "
                         "requests, errors, prompt_tokens, completion_tokens, busy_s FROM usage "
                         "WHERE bucket >= ?", (shift, start))
            conn.execute("INSERT INTO events SELECT server, ?, seq, ts + ?, type, category, "
                         "severity, summary, data, updates, first_ts + ? FROM events WHERE run = ?",
                         (new, shift, shift, run))
        conn.execute("COMMIT")
        prune(conn, sim["end"], days, 200 * 1024 * 1024)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("tiers", "serving", "usage", "events")}
    finally:
        conn.close()
    size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    return {**sim, "copies": copies, "rows": rows, "file_bytes": size,
            "mb_per_day": size / 1e6 / days}


def _bare_read(path: str, now: float, days: float) -> int:
    """The rows a start loads, fetched with bare SQL: the disk's and SQLite's share."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        n = 0
        for code, reach in ((1, LOAD_S[1.0]), (2, LOAD_S[10.0]), (3, days * DAY_S),
                            (4, LOAD_S[10.0]), (5, days * DAY_S), (6, LOAD_S[10.0]),
                            (7, days * DAY_S)):
            n += len(conn.execute("SELECT * FROM tiers WHERE series = ? AND ts >= ?",
                                  (code, now - reach)).fetchall())
        n += len(conn.execute("SELECT * FROM serving WHERE ts >= ?",
                              (now - SERVING_LOAD_S,)).fetchall())
        n += len(conn.execute("SELECT * FROM usage WHERE bucket >= ?",
                              (now - days * DAY_S,)).fetchall())
        n += len(conn.execute("SELECT * FROM events ORDER BY ts DESC LIMIT ?",
                              (LOG_ROWS,)).fetchall())
        return n
    finally:
        conn.close()


def measure_load(path: str, now: float, runs: int = 5, days: float = 30.0) -> dict[str, Any]:
    """A fresh Store loading the file as a starting feed does, against bare SQL."""
    loads, bares, points = [], [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        n = _bare_read(path, now, days)
        bares.append(time.perf_counter() - t0)
        store = Store(IDENTITY, clock=lambda: now)
        writer = HistoryWriter(store, HistorySettings(path, days), IDENTITY, clock=lambda: now)
        t0 = time.perf_counter()
        writer.open_and_load()
        loads.append(time.perf_counter() - t0)
        points = len(store.snapshot(days * DAY_S).throughput)
        writer.stop()
    load, bare = median(loads) or 0.0, median(bares) or 0.0
    conn = sqlite3.connect(path, isolation_level=None)
    try:  # the writer's every-10-minutes retention on a full month, when nothing is due
        t0 = time.perf_counter()
        prune(conn, now, days, 200 * 1024 * 1024)
        prune_s = time.perf_counter() - t0
    finally:
        conn.close()
    return {"prune_s": prune_s, "load_s_median": load, "bare_s_median": bare,
            "vs_bare": load / max(bare, 1e-9), "rows_read": n, "throughput_points_30d": points}


def main(quick: bool) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="opta-bench-month-")
    path = os.path.join(folder, "h.sqlite3")
    month = build_month(path, 2.0 if quick else 6.0)
    return {"persistence": measure_persistence(15.0 if quick else 40.0), "month": month,
            "load": measure_load(path, month["end"], 3 if quick else 5)}


if __name__ == "__main__":
    print(json.dumps(main("--quick" in sys.argv), indent=2, default=str))
