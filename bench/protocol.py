"""Streamlit's websocket protocol as a browser tab speaks it, and the app under test.

``Viewer`` sends the first ``rerun_script``, then, for every ``auto_rerun``
message (a fragment with ``run_every``), sends ``rerun_script`` with that
fragment id at that interval (a fixed-period timer, like the frontend's
``setInterval``) until a ``stop_auto_rerun``. It offers the hashes of
cacheable messages it holds, as the browser's message cache does. A fragment
rerun counts when its ``script_finished`` (fragment run finished) arrives.
``StreamlitApp`` is ``streamlit run`` of a script on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import http.client
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench.common import ChildProcess, wait_until

__all__ = ["FRAGMENT_DONE", "RUN_DONE", "StreamlitApp", "Viewer", "visit"]

FRAGMENT_DONE = 3  # ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
RUN_DONE = 0  # ForwardMsg.FINISHED_SUCCESSFULLY
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
    from bench import streamlit_internals as compat

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
        from bench import streamlit_internals as compat

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

    def has_page(self) -> bool:
        """The first page is here: its live fragment's timer runs, and its full run finished
        or a fragment run did after it. (A full run's "finished" can arrive relabelled
        "finished early" when the session's next run starts before it was sent, though
        its elements were; 1–3 of 100 viewers at once saw that.)"""
        return bool(self.intervals) and bool(self.full_runs or any(self.finished.values()))

    def rate(self, fid: str, t0: float, t1: float) -> float:
        """Finished reruns of fragment ``fid`` per second within [t0, t1]."""
        return sum(1 for t in self.finished.get(fid, ()) if t0 <= t <= t1) / (t1 - t0)

    def fastest_fragment(self) -> str | None:
        """The fragment with the shortest interval (the page's 2 Hz one)."""
        return min(self.intervals, key=self.intervals.__getitem__) if self.intervals else None


V = TypeVar("V", bound=Viewer)


def visit(viewer: V, until: Callable[[V], bool], timeout: float = 30.0) -> V:
    """Run one viewer until ``until(viewer)`` holds or ``timeout`` s pass, then close it."""
    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(viewer.run(stop))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until(viewer):
            await asyncio.sleep(0.1)
        stop.set()
        await task

    asyncio.run(go())
    return viewer
