"""Closed tabs: does a session's memory go when its tab closes?

Streamlit keeps a closed tab's session for a reconnect (streamlit#12506;
``server.disconnectedSessionTTL``, at most 128 of them). Rounds of tabs that
open the app and close show what each kept session holds, as RSS that grows
round after round.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.common import free_port
from bench.viewers import StreamlitApp, Viewer, _prime, _rss_mib
from opta_stream.demo.server import DemoServer

__all__ = ["measure_sessions"]


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
