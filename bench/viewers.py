"""Ten viewers at 2 Hz: server CPU, the rerun rate they get, upstream connections.

Why a protocol client and not browsers: ten Chromium tabs saturate two cores
by themselves and the figure would measure the browsers. Each ``Viewer``
(``bench/protocol.py``) speaks Streamlit's websocket protocol as the
frontend does. The app runs as ``streamlit run app.py`` (shipped config), or
the floor (``--floor``), against a demo server in this process at 50 Hz, so
the open event streams are counted exactly (``DemoServer.open_streams()``),
and the TCP connections of the Streamlit process to it with psutil.

``python bench/viewers.py [viewers] [seconds] [page] [--floor]``
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from bench.common import free_port, median  # noqa: E402
from bench.protocol import StreamlitApp, Viewer  # noqa: E402
from opta_stream.demo.server import DemoServer  # noqa: E402

__all__ = ["StreamlitApp", "Viewer", "measure_viewers"]

IDLE_S = 4.0  # no viewer, the feed running: this cost does not depend on viewers


def _tcp_to(pid: int, port: int) -> int:
    try:
        conns = psutil.Process(pid).net_connections(kind="inet")
    except (psutil.Error, OSError):
        return -1
    return sum(1 for c in conns if c.raddr and c.raddr.port == port
               and c.status == psutil.CONN_ESTABLISHED)


def _cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


async def _prime(app: StreamlitApp, page: str, timeout: float = 60.0) -> None:
    """One viewer until its first full run: the feed (if any) starts and keeps running."""
    stop = asyncio.Event()
    viewer = Viewer(f"http://127.0.0.1:{app.port}", page)
    task = asyncio.create_task(viewer.run(stop))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (viewer.full_runs and viewer.intervals):
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait([task], timeout=10)


async def _drive(app: StreamlitApp, demo: DemoServer, n: int, seconds: float, page: str,
                 warm_timeout: float) -> dict[str, Any]:
    """Start ``n`` viewers, wait until every one has its 2 Hz timer, then measure."""
    stop = asyncio.Event()
    viewers = [Viewer(f"http://127.0.0.1:{app.port}", page) for _ in range(n)]
    tasks = [asyncio.create_task(v.run(stop)) for v in viewers]
    try:
        deadline = time.monotonic() + warm_timeout
        while time.monotonic() < deadline and not all(v.has_page()
                                                      for v in viewers):
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)  # let the first fragment runs settle
        return await _measure(app, demo, viewers, seconds)
    finally:
        stop.set()
        await asyncio.wait(tasks, timeout=10)


async def _measure(app: StreamlitApp, demo: DemoServer, viewers: list[Viewer],
                   seconds: float) -> dict[str, Any]:
    proc = psutil.Process(app.pid)
    streams, tcp, rss = [], [], []
    me = psutil.Process()
    c0, t0, m0 = _cpu_seconds(proc), time.monotonic(), _cpu_seconds(me)
    while time.monotonic() - t0 < seconds:
        streams.append(demo.open_streams())
        tcp.append(_tcp_to(app.pid, demo.port))
        rss.append((time.monotonic() - t0, _rss_mib(app.pid)))
        await asyncio.sleep(1.0)
    c1, t1, m1 = _cpu_seconds(proc), time.monotonic(), _cpu_seconds(me)
    rates = [v.rate(fid, t0, t1) for v in viewers if (fid := v.fastest_fragment())]
    ready = sum(1 for v in viewers if v.has_page())
    by_interval: dict[float, list[float]] = {}
    for v in viewers:
        for fid, interval in v.intervals.items():
            by_interval.setdefault(interval, []).append(v.rate(fid, t0, t1))
    # first pages whose full run's "finished" came as "finished early" (see has_page)
    relabelled = sum(1 for v in viewers if v.has_page() and not v.full_runs
                     and v.early > sum(v.early_by_fragment.values()))
    return {"viewers": len(viewers), "viewers_ready": ready,
            "first_runs_finished_early": relabelled, "seconds": round(t1 - t0, 2),
            "cpu_pct": 100.0 * (c1 - c0) / (t1 - t0),
            # this process: the viewers' protocol work and the 50 Hz demo server
            "client_cpu_pct": 100.0 * (m1 - m0) / (t1 - t0),
            "hz_median": median(rates), "hz_min": min(rates) if rates else None,
            "hz_by_interval": {i: median(r) for i, r in sorted(by_interval.items())},
            "streams_max": max(streams, default=None), "tcp_max": max(tcp, default=None),
            "early_runs": sum(v.early for v in viewers),
            "early_runs_fast_fragment": sum(v.early_by_fragment.get(v.fastest_fragment() or "", 0)
                                            for v in viewers),
            "errors": sorted({e for v in viewers for e in v.errors})[:5],
            "rss_with_viewers_mib": _rss_mib(app.pid),
            "rss_slope_mib_per_h": _slope_per_h(rss[len(rss) // 10:]),
            "rss_slope_second_half_mib_per_h": _slope_per_h(rss[len(rss) // 2:]),
            # over the measured run: the first sample (viewers settled) to the last
            "rss_growth_mib": rss[-1][1] - rss[0][1] if rss else None,
            "rss_trace_mib": [round(r, 1) for _, r in rss[::max(1, len(rss) // 10)]]}


def _slope_per_h(points: list[tuple[float, float]]) -> float | None:
    """Least-squares RSS slope (MiB/h) over (seconds, MiB) samples; the first tenth is skipped."""
    if len(points) < 3:
        return None
    n = len(points)
    mx, my = sum(p[0] for p in points) / n, sum(p[1] for p in points) / n
    var = sum((p[0] - mx) ** 2 for p in points)
    return 3600.0 * sum((p[0] - mx) * (p[1] - my) for p in points) / var if var else None


def _rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def measure_viewers(n: int = 10, seconds: float = 20.0, page: str = "",
                    rate_hz: float = 50.0, script: str = "app.py",
                    env: dict[str, str] | None = None) -> dict[str, Any]:
    """The whole measurement; the app and the demo server are stopped in ``finally``.

    ``script`` is ``app.py`` or the floor (``bench/floor_app.py``), driven the
    same way; ``env`` adds settings (the render interval, say).
    """
    demo = DemoServer(mode="rich", rate_hz=rate_hz).start()
    app = StreamlitApp(free_port(), {"OPTA_LMX_URL": demo.url, "OPTA_LMX_ADMIN_KEY": "",
                                     **(env or {})}, script=script)
    try:
        app.start()
        idle = psutil.Process(app.pid)
        asyncio.run(_prime(app, page))  # one visit starts the app's feed; it then runs on
        time.sleep(1.0)
        c0, t0 = _cpu_seconds(idle), time.monotonic()
        time.sleep(IDLE_S)  # no viewer yet: the app's idle cost, for comparison
        idle_pct = 100.0 * (_cpu_seconds(idle) - c0) / (time.monotonic() - t0)
        rss_idle = _rss_mib(app.pid)
        out = asyncio.run(_drive(app, demo, n, seconds, page, warm_timeout=60.0))
        out["idle_cpu_pct"] = idle_pct
        out["rss_idle_mib"], out["rss_per_viewer_mib"] = rss_idle, \
            (out.pop("rss_with_viewers_mib") - rss_idle) / n
        out["streams_after"] = demo.open_streams()
        return out
    finally:
        app.stop()
        demo.stop()
        app.remove_log()


FLOOR = "bench/floor_app.py"


def main(argv: list[str] | None = None) -> None:
    """``viewers.py [N] [SECONDS] [PAGE] [--floor]``: one run, every figure printed."""
    args = sys.argv[1:] if argv is None else argv
    floor = "--floor" in args
    args = [a for a in args if a != "--floor"]
    n = int(args[0]) if args else 10
    seconds = float(args[1]) if len(args) > 1 else 20.0
    page = args[2] if len(args) > 2 else ""
    out = measure_viewers(n, seconds, page, script=FLOOR if floor else "app.py")
    for key, value in out.items():
        print(f"{key:>14}: {value}")


if __name__ == "__main__":
    main()
