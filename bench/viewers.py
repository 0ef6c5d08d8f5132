"""Ten viewers at 2 Hz: server CPU, the rerun rate they get, upstream connections.

Why a protocol client and not browsers: ten Chromium tabs saturate two cores
by themselves and the figure would measure the browsers. Each ``Viewer``
speaks Streamlit's websocket protocol as the frontend does: it sends the
first ``rerun_script``, then, for every ``auto_rerun`` message (a fragment
with ``run_every``), sends ``rerun_script`` with that fragment id at that
interval (a fixed-period timer, like the frontend's ``setInterval``) until a
``stop_auto_rerun``. It offers the hashes of cacheable messages it holds, as
the browser's message cache does. A fragment rerun counts when its
``script_finished`` (fragment run finished) arrives.

The app runs as ``streamlit run app.py`` (shipped config) against a demo
server in this process at 50 Hz, so the open event streams are counted
exactly (``DemoServer.open_streams()``), and the TCP connections of the
Streamlit process to it are counted with psutil.

``python bench/viewers.py [viewers] [seconds] [page] [--floor]``
"""

from __future__ import annotations

import asyncio
import http.client
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from bench.common import ChildProcess, free_port, median, wait_until  # noqa: E402
from opta_stream.demo.server import DemoServer  # noqa: E402

__all__ = ["StreamlitApp", "Viewer", "measure_viewers"]

FRAGMENT_DONE = 3  # ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
RUN_DONE = 0  # ForwardMsg.FINISHED_SUCCESSFULLY
IDLE_S = 4.0  # no viewer, the feed running: this cost does not depend on viewers
CACHE_KEEP = 64  # hashes of cacheable messages offered back (the browser's cache is bounded)


class StreamlitApp(ChildProcess):
    """``streamlit run app.py`` on 127.0.0.1 with the shipped ``.streamlit/config.toml``."""

    def __init__(self, port: int, env: dict[str, str], script: str = "app.py") -> None:
        cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false"]
        super().__init__(cmd, env=env, log_name=f"streamlit-{port}")
        self.port = port

    def healthy(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2.0)
        try:
            conn.request("GET", "/_stcore/health")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def start(self, timeout: float = 60.0) -> StreamlitApp:
        super().start()
        if not wait_until(lambda: not self.alive() or self.healthy(), timeout, 0.2) \
                or not self.alive():
            tail = self.output()[-400:]
            self.stop(kill=True)
            raise RuntimeError(f"streamlit did not become healthy: {tail}")
        return self


def _client_state(msg: Any, page: str, page_hash: str, fragment: str, cached: list[str],
                  auto: bool) -> bytes:
    from opta_stream.ui import compat

    back = compat.back_msg()
    rs = back.rerun_script
    rs.query_string = ""
    rs.page_script_hash = page_hash
    rs.page_name = "" if page_hash else page
    rs.fragment_id = fragment
    rs.is_auto_rerun = auto
    rs.cached_message_hashes.extend(cached)
    rs.context_info.timezone = "UTC"
    rs.context_info.locale = "en-US"
    rs.context_info.url = msg
    rs.widget_states.SetInParent()
    return back.SerializeToString()


@dataclass
class Viewer:
    """One browser tab's worth of protocol; records when each fragment rerun finished."""

    url: str  # http://127.0.0.1:port
    page: str = ""  # url pathname of the page ("" = default page)
    page_hash: str = ""
    intervals: dict[str, float] = field(default_factory=dict)
    finished: dict[str, list[float]] = field(default_factory=dict)
    full_runs: int = 0
    early: int = 0
    early_by_fragment: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cache: deque[str] = field(default_factory=lambda: deque(maxlen=CACHE_KEEP))
    _timers: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, rerun, follow the timers until ``stop`` is set; never raises."""
        from websockets.asyncio.client import connect

        ws_url = self.url.replace("http://", "ws://") + "/_stcore/stream"
        try:
            async with connect(ws_url, subprotocols=["streamlit"], max_size=None, proxy=None,
                               open_timeout=20) as ws:
                await ws.send(self._rerun("", auto=False))
                reader = asyncio.create_task(self._read(ws))
                await stop.wait()
                reader.cancel()
                for task in self._timers.values():
                    task.cancel()
        except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def _rerun(self, fragment: str, auto: bool) -> bytes:
        return _client_state(f"{self.url}/{self.page}", self.page, self.page_hash, fragment,
                             list(self.cache), auto)

    async def _read(self, ws: Any) -> None:
        from opta_stream.ui import compat

        async for raw in ws:
            msg = compat.forward_msg()
            msg.ParseFromString(raw)
            self._on_message(msg, ws)

    def _on_message(self, msg: Any, ws: Any) -> None:
        kind = msg.WhichOneof("type")
        if msg.metadata.cacheable and msg.hash:
            self.cache.append(msg.hash)
        if kind == "new_session":
            self.page_hash = msg.new_session.page_script_hash or self.page_hash
        elif kind == "navigation" and msg.navigation.page_script_hash:
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "auto_rerun":
            self._start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval, ws)
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                self._stop_timer(fid)
        elif kind == "script_finished":
            self._on_finished(msg)

    def _on_finished(self, msg: Any) -> None:
        status, now = msg.script_finished, time.monotonic()
        if status == FRAGMENT_DONE:
            for fid in msg.metadata.run.fragment_ids:
                self.finished.setdefault(fid, []).append(now)
        elif status == RUN_DONE:
            self.full_runs += 1
        else:  # FINISHED_EARLY_FOR_RERUN: another rerun request cut this run short
            self.early += 1
            for fid in msg.metadata.run.fragment_ids:
                self.early_by_fragment[fid] = self.early_by_fragment.get(fid, 0) + 1

    def _start_timer(self, fid: str, interval: float, ws: Any) -> None:
        if not fid or self.intervals.get(fid) == interval and fid in self._timers:
            return
        self._stop_timer(fid)
        self.intervals[fid] = interval
        self._timers[fid] = asyncio.create_task(self._tick(fid, interval, ws))

    def _stop_timer(self, fid: str) -> None:
        task = self._timers.pop(fid, None)
        if task is not None:
            task.cancel()

    async def _tick(self, fid: str, interval: float, ws: Any) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += interval
            await asyncio.sleep(max(0.0, due - loop.time()))
            try:
                await ws.send(self._rerun(fid, auto=True))
            except Exception as exc:  # noqa: BLE001 - the socket closed: stop this timer
                self.errors.append(f"send: {type(exc).__name__}")
                return

    def rate(self, fid: str, t0: float, t1: float) -> float:
        """Finished reruns of fragment ``fid`` per second within [t0, t1]."""
        return sum(1 for t in self.finished.get(fid, ()) if t0 <= t <= t1) / (t1 - t0)

    def fastest_fragment(self) -> str | None:
        """The fragment with the shortest interval (the page's 2 Hz one)."""
        return min(self.intervals, key=self.intervals.__getitem__) if self.intervals else None


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
        while time.monotonic() < deadline and not all(v.full_runs and v.intervals
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
    ready = sum(1 for v in viewers if v.full_runs and v.intervals)
    by_interval: dict[float, list[float]] = {}
    for v in viewers:
        for fid, interval in v.intervals.items():
            by_interval.setdefault(interval, []).append(v.rate(fid, t0, t1))
    return {"viewers": len(viewers), "viewers_ready": ready, "seconds": round(t1 - t0, 2),
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


async def _round(app: StreamlitApp, n: int, page: str, seconds: float) -> None:
    """``n`` tabs open the page, watch it for ``seconds`` and close."""
    stop = asyncio.Event()
    viewers = [Viewer(f"http://127.0.0.1:{app.port}", page) for _ in range(n)]
    tasks = [asyncio.create_task(v.run(stop)) for v in viewers]
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline and not all(v.full_runs and v.intervals for v in viewers):
        await asyncio.sleep(0.1)
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait(tasks, timeout=10)


def measure_sessions(viewers: int = 20, rounds: int = 3, page: str = "",
                     watch_s: float = 4.0, settle_s: float = 3.0) -> dict[str, Any]:
    """RSS after each of ``rounds`` rounds of ``viewers`` tabs that open the app and close.

    A closed tab's session is kept for a reconnect (``server.disconnectedSessionTTL``);
    whatever it holds shows as RSS growing round after round.
    """
    demo = DemoServer(mode="rich").start()
    app = StreamlitApp(free_port(), {"OPTA_LMX_URL": demo.url, "OPTA_LMX_ADMIN_KEY": ""})
    try:
        app.start()
        asyncio.run(_prime(app, page))
        time.sleep(settle_s)
        idle = _rss_mib(app.pid)
        after = []
        for _ in range(rounds):
            asyncio.run(_round(app, viewers, page, watch_s))
            time.sleep(settle_s)
            after.append(_rss_mib(app.pid))
        # The first round also grows caches that are then reused: count from its end.
        kept = (after[-1] - after[0]) / (viewers * (rounds - 1)) if rounds > 1 else None
        return {"viewers": viewers, "rounds": rounds, "rss_idle_mib": idle,
                "rss_after_round_mib": after, "kept_per_session_mib": kept}
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
