"""Ingest: demo server (another process, as fast as it can send) → Feed → Store.

Why a raw bound: events per second alone says little on a shared 2-core
machine. The same stream read by the least code possible (a plain socket,
64 KiB reads, frames counted as ``\\n\\n`` with no decoding) is the ceiling
any client could reach in the same conditions, so ``feed / raw`` is a fair
figure. Runs alternate raw and feed on one server. Process CPU is sampled in
every run: when the server is at a full core in both, the server is the
bottleneck and both hit the same ceiling (the ratio then says "as fast as
the server sends").

``python bench/ingest.py [seconds] [pairs]``
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from bench.common import DemoProcess, free_port, median, wait_until  # noqa: E402
from opta_stream.feed.feed import Feed  # noqa: E402

__all__ = ["IngestRun", "measure_ingest", "measure_pair", "read_raw", "read_feed"]

CHUNK = 65536


@dataclass(frozen=True)
class IngestRun:
    """One timed run: events/s, and CPU % of one core of client and server."""

    kind: str  # "raw" or "feed"
    events_per_s: float
    client_cpu_pct: float
    server_cpu_pct: float


class _Cpu:
    """CPU % of one core used by a process between start and stop."""

    def __init__(self, proc: psutil.Process) -> None:
        self.proc = proc
        times = proc.cpu_times()
        self.t0, self.c0 = time.perf_counter(), times.user + times.system

    def pct(self) -> float:
        times = self.proc.cpu_times()
        wall = time.perf_counter() - self.t0
        return 100.0 * (times.user + times.system - self.c0) / wall if wall > 0 else 0.0


def _connect(port: int, admin_key: str | None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
    key = f"X-Admin-Key: {admin_key}\r\n" if admin_key else ""
    sock.sendall((f"GET /admin/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Accept: text/event-stream\r\n{key}\r\n").encode())
    return sock


def read_raw(port: int, seconds: float, server: psutil.Process | None = None,
             admin_key: str | None = None) -> IngestRun:
    """Count frames with a minimal LF-only parser over raw 64 KiB socket reads.

    Chunked framing is not decoded: its size lines hold no ``\\n\\n``, and a
    frame end split by one is missed at most once per 64 KiB read.
    """
    sock = _connect(port, admin_key)
    try:
        recv, frames, last = sock.recv, 0, b""
        recv(CHUNK)  # headers and the first bytes: not timed
        cpu, srv = _Cpu(psutil.Process()), _Cpu(server) if server else None
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()
        while (now := time.perf_counter()) < deadline:
            data = recv(CHUNK)
            if not data:
                break
            frames += data.count(b"\n\n") + (last == b"\n" and data[:1] == b"\n")
            last = data[-1:]
        rate = frames / (now - start)
        return IngestRun("raw", rate, cpu.pct(), srv.pct() if srv else float("nan"))
    finally:
        sock.close()


def _events(feed: Feed) -> int:
    return feed.store.snapshot(1.0).counters.events


def read_feed(url: str, seconds: float, server: psutil.Process | None = None) -> IngestRun:
    """Events/s through the real Feed (transport → decoder → parse_event → Store)."""
    feed = Feed(url).start()
    try:
        if not wait_until(lambda: _events(feed) > 0, 10.0):
            raise RuntimeError("the feed received no event within 10 s")
        wake = threading.Event()
        cpu, srv = _Cpu(psutil.Process()), _Cpu(server) if server else None
        e0, t0 = _events(feed), time.perf_counter()
        wake.wait(seconds)
        e1, t1 = _events(feed), time.perf_counter()
        return IngestRun("feed", (e1 - e0) / (t1 - t0), cpu.pct(),
                         srv.pct() if srv else float("nan"))
    finally:
        feed.stop()


def measure_pair(port: int, seconds: float, server: psutil.Process | None) -> list[IngestRun]:
    """One raw run then one feed run on the same server."""
    return [read_raw(port, seconds, server), read_feed(f"http://127.0.0.1:{port}", seconds,
                                                       server)]


def measure_ingest(seconds: float = 3.0, pairs: int = 3) -> dict[str, object]:
    """Start the demo (``--rate max``) in a child process; alternate raw and feed runs."""
    demo = DemoProcess(free_port(), rate="max")
    runs: list[IngestRun] = []
    try:
        demo.start()
        server = psutil.Process(demo.pid)
        for _ in range(pairs):
            runs += measure_pair(demo.port, seconds, server)
    finally:
        demo.stop()
        demo.remove_log()
    return summarize(runs)


def summarize(runs: list[IngestRun]) -> dict[str, object]:
    """Medians per kind, their ratio, and where the bottleneck sits."""
    out: dict[str, object] = {"runs": [r.__dict__ for r in runs]}
    for kind in ("raw", "feed"):
        mine = [r for r in runs if r.kind == kind]
        out[f"{kind}_events_per_s"] = median([r.events_per_s for r in mine])
        out[f"{kind}_client_cpu_pct"] = median([r.client_cpu_pct for r in mine])
        out[f"{kind}_server_cpu_pct"] = median([r.server_cpu_pct for r in mine])
    raw, feed = out["raw_events_per_s"], out["feed_events_per_s"]
    out["ratio"] = feed / raw if raw and feed else None
    out["bottleneck"] = _bottleneck(out)
    return out


def _bottleneck(m: dict[str, object]) -> str:
    raw_srv = m.get("raw_server_cpu_pct") or 0.0
    feed_cli = m.get("feed_client_cpu_pct") or 0.0
    feed_srv = m.get("feed_server_cpu_pct") or 0.0
    if feed_cli >= 75.0 and feed_srv < 75.0:
        return "client: the feed uses (nearly) a full core while the server waits"
    if raw_srv >= 85.0 and feed_srv >= 85.0:
        return "server: the demo server is at a full core in both runs"
    return "neither at a full core: the shared machine is the limit"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    seconds = float(args[0]) if args else 3.0
    pairs = int(args[1]) if len(args) > 1 else 3
    res = measure_ingest(seconds, pairs)
    for run in res["runs"]:  # type: ignore[union-attr]
        print(f"{run['kind']:>4}: {run['events_per_s']:>10,.0f} events/s  "
              f"client {run['client_cpu_pct']:5.1f} %  server {run['server_cpu_pct']:5.1f} %")
    print(f"raw {res['raw_events_per_s']:,.0f} events/s, feed {res['feed_events_per_s']:,.0f} "
          f"events/s, ratio {res['ratio']:.2f}; bottleneck: {res['bottleneck']}")


if __name__ == "__main__":
    main()
