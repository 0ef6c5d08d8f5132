"""Soak: one Feed and Store against the demo server at 50 Hz, with server restarts.

Why: a dashboard is left open for days and the server restarts under it. Any
leak (memory, threads, sockets, unbounded tables) shows up as a slope over
time. The demo server runs in a child process on a fixed port; every
``--restart-every`` minutes it is stopped and started again, alternating a
clean SIGTERM with a SIGKILL, and the Feed must reconnect by itself. Every
``--interval`` seconds after the warm-up this records RSS, threads, open
sockets and store sizes, then prints a summary and, as its last line, a JSON
object (``run.py`` reads it).

``python bench/soak.py [--minutes 30] [--restart-every 5] [--warmup 60]``

RSS growth is ``last - first`` after the warm-up; the least-squares slope is
reported too. Store samples use a 10 s snapshot: copying a long window every
10 s would show up in RSS itself. ``gc`` object counts tell a Python-level
leak from native heap growth.
"""

from __future__ import annotations

import argparse
import csv
import gc
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from bench.common import OUT, DemoProcess, free_port, json_line  # noqa: E402
from opta_stream.feed.feed import Feed  # noqa: E402

__all__ = ["Sample", "main", "run_soak", "summarize", "take_sample"]

MIB = 1024 * 1024
FLAT_RSS_MIB = 5.0
_METRICS = ("rss_mib", "threads", "sockets", "upstream", "store_bytes", "log_entries",
            "py_objects")


@dataclass(frozen=True)
class Sample:
    """One reading of the process and its store."""

    t: float  # seconds since the start
    rss_mib: float
    threads: int
    sockets: int  # inet sockets of this process
    upstream: int  # of those, established to the demo port (stream + poller)
    events: int  # events the store has counted
    tp_rows: int  # throughput samples written to the raw ring (it holds the newest 200,000)
    log_entries: int  # log entries in a snapshot (capped at 500)
    gaps: int
    reconnects: int
    store_bytes: int  # Store.memory_bytes()
    py_objects: int  # objects the garbage collector tracks (a Python-level leak grows this)


def take_sample(proc: psutil.Process, feed: Feed, port: int, t: float) -> Sample:
    """Read RSS, threads, sockets and the store's sizes now."""
    conns = proc.net_connections(kind="inet")
    upstream = sum(1 for c in conns if c.raddr and c.raddr.port == port
                   and c.status == psutil.CONN_ESTABLISHED)
    snap = feed.store.snapshot(10.0)  # small: a big window's copy would show up in RSS itself
    return Sample(t=round(t, 2), rss_mib=proc.memory_info().rss / MIB,
                  threads=proc.num_threads(), sockets=len(conns), upstream=upstream,
                  events=snap.counters.events, tp_rows=snap.event_counts.get("throughput", 0),
                  log_entries=len(snap.events), gaps=len(snap.gaps),
                  reconnects=snap.counters.reconnects, store_bytes=feed.store.memory_bytes(),
                  py_objects=len(gc.get_objects()))


def _slope_per_hour(ts: Sequence[float], ys: Sequence[float]) -> float | None:
    n = len(ts)
    if n < 2:
        return None
    mt, my = sum(ts) / n, sum(ys) / n
    var = sum((t - mt) ** 2 for t in ts)
    if var == 0:
        return None
    return 3600.0 * sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / var


def summarize(samples: Sequence[Sample], restarts: int) -> dict[str, object]:
    """First/last/min/max/growth and slope of each metric, and a flat-or-not verdict."""
    out: dict[str, object] = {"samples": len(samples), "restarts": restarts}
    if not samples:
        out["flat"] = None
        return out
    ts = [s.t for s in samples]
    for name in _METRICS:
        ys = [float(getattr(s, name)) for s in samples]
        slope = _slope_per_hour(ts, ys)
        out[name] = {"first": ys[0], "last": ys[-1], "min": min(ys), "max": max(ys),
                     "growth": ys[-1] - ys[0],
                     "slope_per_h": None if slope is None else round(slope, 3)}
    span = samples[-1].t - samples[0].t
    out["events_per_s"] = (samples[-1].events - samples[0].events) / span if span else None
    out["gaps"], out["reconnects"] = samples[-1].gaps, samples[-1].reconnects
    out["rss_growth_mib"] = samples[-1].rss_mib - samples[0].rss_mib
    out["flat"] = _flat(samples)
    return out


def _flat(samples: Sequence[Sample]) -> bool:
    """RSS within 5 MiB; threads and sockets back to their first reading at the end;
    never more than 2 connections to the server (the event stream and the poller's
    keep-alive connection)."""
    first, last = samples[0], samples[-1]
    return (last.rss_mib - first.rss_mib <= FLAT_RSS_MIB
            and last.threads <= first.threads + 1 and last.sockets <= first.sockets + 2
            and max(s.upstream for s in samples) <= 2)


class _Schedule:
    """When the next sample, the next restart and the end are due (monotonic)."""

    def __init__(self, start: float, minutes: float, restart_every: float,
                 warmup: float, interval: float) -> None:
        self.end = start + minutes * 60.0
        self.period = restart_every * 60.0
        self.next_restart = start + self.period if self.period > 0 else float("inf")
        self.next_sample = start + warmup
        self.interval = interval

    def next_due(self) -> float:
        return min(self.end, self.next_restart, self.next_sample)


def _restart(demo: DemoProcess, n: int, log: Callable[[str], None]) -> None:
    kill = n % 2 == 1  # alternate: clean stop, then a crash
    demo.stop(kill=kill)
    demo.start()
    log(f"restart {n}: demo server {'killed (SIGKILL)' if kill else 'stopped (SIGTERM)'} "
        "and started again")


def run_soak(minutes: float = 30.0, restart_every: float = 5.0, warmup: float = 60.0,
             interval: float = 10.0, rate: str = "50", csv_path: Path | None = None,
             log: Callable[[str], None] = print) -> dict[str, object]:
    """Run the soak; returns the summary. Everything started is stopped in ``finally``."""
    port = free_port()
    demo = DemoProcess(port, rate=rate)
    feed: Feed | None = None
    samples: list[Sample] = []
    restarts = 0
    proc = psutil.Process()
    wake = threading.Event()
    try:
        demo.start()
        feed = Feed(demo.url).start()
        start = time.monotonic()
        plan = _Schedule(start, minutes, restart_every, warmup, interval)
        while (now := time.monotonic()) < plan.end:
            if now >= plan.next_restart:
                restarts += 1
                _restart(demo, restarts, log)
                plan.next_restart += plan.period
            elif now >= plan.next_sample:
                samples.append(take_sample(proc, feed, port, now - start))
                log(_line(samples[-1]))
                plan.next_sample += interval
            wake.wait(max(0.0, min(plan.next_due() - time.monotonic(), interval)))
    finally:
        if feed is not None:
            feed.stop()
        demo.stop()
        demo.remove_log()
    if csv_path is not None:
        _write_csv(csv_path, samples)
    return summarize(samples, restarts)


def _line(s: Sample) -> str:
    return (f"t={s.t:7.1f}s rss={s.rss_mib:7.2f} MiB threads={s.threads:3d} "
            f"sockets={s.sockets:2d} upstream={s.upstream} events={s.events:9,d} "
            f"tp_rows={s.tp_rows:7,d} log={s.log_entries:3d} gaps={s.gaps:2d} "
            f"store={s.store_bytes / MIB:6.2f} MiB objects={s.py_objects:,d}")


def _write_csv(path: Path, samples: Sequence[Sample]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(Sample.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(s) for s in samples)


def print_summary(summary: dict[str, object], log: Callable[[str], None] = print) -> None:
    """The human summary: one row per metric."""
    log(f"samples {summary['samples']}, restarts {summary['restarts']}, "
        f"events/s {summary.get('events_per_s') or 0:.1f}, gaps {summary.get('gaps')}, "
        f"reconnects {summary.get('reconnects')}")
    log(f"{'metric':<12} {'first':>10} {'last':>10} {'min':>10} {'max':>10} "
        f"{'growth':>10} {'slope/h':>10}")
    for name in _METRICS:
        m = summary.get(name)
        if isinstance(m, dict):
            slope = m["slope_per_h"]
            log(f"{name:<12} {m['first']:>10.2f} {m['last']:>10.2f} {m['min']:>10.2f} "
                f"{m['max']:>10.2f} {m['growth']:>10.2f} "
                f"{'-' if slope is None else f'{slope:10.2f}':>10}")
    log(f"RSS growth {summary.get('rss_growth_mib', 0):.2f} MiB; flat: {summary.get('flat')}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Feed+Store soak against the demo server.")
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--restart-every", type=float, default=5.0,
                   help="minutes between demo server restarts (0: none)")
    p.add_argument("--warmup", type=float, default=60.0, help="seconds before sampling")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    p.add_argument("--rate", default="50", help="demo throughput rate in Hz")
    p.add_argument("--csv", type=Path, default=None, help="write every sample here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    csv_path = args.csv or OUT / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.csv"
    summary = run_soak(args.minutes, args.restart_every, args.warmup, args.interval,
                       args.rate, csv_path)
    print_summary(summary)
    print(json_line(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
