"""Live again: from a restarted server accepting connections to a real page saying "Live".

Why: after an outage the verdict should turn Live within about 2 s of the
server answering again (the next poll, the stream's reconnect it triggers,
and one redraw), and only a real browser shows what a person sees. A demo
server runs as a real process on a fixed port, ``streamlit run app.py``
points at it, and one headless Debian Chromium page opens the Overview. Each
round kills the demo (SIGKILL), waits until the page no longer says "Live",
starts the demo again on the same port, notes when the port accepts a
connection, and times until the page's verdict badge reads "Live".

``python bench/live_again.py [rounds]``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.browser_latency import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from bench.common import DemoProcess, accepting, free_port, median  # noqa: E402
from bench.viewers import StreamlitApp  # noqa: E402

__all__ = ["measure_live_again"]

# The verdict badge at the top of the page's live part reads "Live" (after its icon's name).
_LIVE = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] .stMarkdownBadge'))
  .some(s => s.innerText.trim().endsWith(' Live') || s.innerText.trim() === 'Live')"""


def _round(page: Any, port: int, timeout_ms: float) -> tuple[DemoProcess, float | None]:
    """Start the demo again; seconds from its port accepting to the page saying Live."""
    demo = DemoProcess(port, mode="lmx", heartbeat=2.0)
    demo.start()
    deadline = time.monotonic() + 30.0
    while not accepting(port) and time.monotonic() < deadline:
        time.sleep(0.005)
    accepted = time.monotonic()
    try:
        page.wait_for_function(_LIVE, polling=20, timeout=timeout_ms)
    except Exception:  # noqa: BLE001 - a round that never turns live is reported as None
        return demo, None
    return demo, time.monotonic() - accepted


def measure_live_again(rounds: int = 3, timeout_ms: float = 20_000.0) -> dict[str, Any]:
    """Demo process, app and browser; ``rounds`` kills and restarts; stop all in ``finally``."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    demo = DemoProcess(port, mode="lmx", heartbeat=2.0).start()
    app = StreamlitApp(free_port(), {"OPTA_LMX_URL": demo.url, "OPTA_LMX_ADMIN_KEY": ""})
    times: list[float] = []
    missed = 0
    try:
        app.start()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True)
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{app.port}/", wait_until="domcontentloaded")
                page.wait_for_function(_LIVE, polling=50, timeout=60_000)
                for _ in range(rounds):
                    demo.stop(kill=True)
                    page.wait_for_function(f"() => !({_LIVE})()", polling=50,
                                           timeout=timeout_ms)
                    time.sleep(3.0)  # down for a while, as an outage is
                    demo, took = _round(page, port, timeout_ms)
                    if took is None:
                        missed += 1
                    else:
                        times.append(took)
            finally:
                browser.close()
    finally:
        app.stop()
        demo.stop()
        app.remove_log()
    return {"rounds": rounds, "missed": missed, "median_s": median(times),
            "max_s": max(times, default=None), "times_s": [round(t, 2) for t in times]}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    print(measure_live_again(int(args[0]) if args else 3))


if __name__ == "__main__":
    main()
