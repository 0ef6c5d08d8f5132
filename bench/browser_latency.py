"""Event to browser: from the server emitting a tokens/s value to a real page showing it.

Why: the 2 Hz fragment, the Store and the websocket all add delay; only a real
browser shows what a person sees. The demo server runs in this process in
``lmx`` mode (it streams no throughput or status of its own, so nothing else
overwrites the gauge), ``streamlit run app.py`` points at it, and one
headless Debian Chromium page opens the Overview. Each sample emits a
``throughput`` event with a distinctive value through the server's event bus
(``DemoServer.emit``) and times until the Overview's "Tokens / s" metric
shows it (``page.wait_for_function``). Samples start at random offsets so
they land at every phase of the 500 ms tick.

``python bench/browser_latency.py [samples]``
"""

from __future__ import annotations

import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, median, p95  # noqa: E402
from bench.viewers import StreamlitApp  # noqa: E402
from opta_stream.demo.server import DemoServer  # noqa: E402

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "measure_event_to_browser"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--no-proxy-server"]
_SHOWN = """([label, value]) => Array.from(document.querySelectorAll('[data-testid="stMetric"]'))
  .some(m => m.innerText.includes(label) && m.innerText.includes(value))"""
# The metric is the rate over the last 10 s: each model's mean, summed. Each probe is one
# sample of a model of its own, worth more than all the probes before it together, so
# "the figure reached it" is the moment that probe is on the page, whatever older ones
# are still inside the 10 s.
_REACHED = """([label, least]) => Array.from(document.querySelectorAll('[data-testid="stMetric"]'))
  .some(m => m.innerText.includes(label) && parseFloat((m.querySelector(
    '[data-testid="stMetricValue"]')?.innerText || '').replace(/,/g, '')) >= least)"""
LABEL = "Tokens / s"
PROBE_BASE = 1000.0


def _emit(demo: DemoServer, value: float, model: str = "bench/latency-probe") -> None:
    demo.emit("throughput", {"timestamp": time.time(), "tokens_per_second": value,
                             "model_id": model})


def _samples(page: Any, demo: DemoServer, n: int, rng: random.Random,
             timeout_ms: float) -> tuple[list[float], int]:
    """``n`` timed emits; returns the latencies (ms) and how many never showed."""
    lat, missed, wake = [], 0, threading.Event()
    for i in range(n):
        wake.wait(rng.uniform(0.1, 0.6))  # a random phase against the 500 ms tick
        value = PROBE_BASE * 2.0 ** i  # more than every earlier probe together
        start = time.perf_counter()
        _emit(demo, value, f"bench/probe-{i}")
        try:
            page.wait_for_function(_REACHED, arg=[LABEL, value], polling=10,
                                   timeout=timeout_ms)
            lat.append((time.perf_counter() - start) * 1000.0)
        except Exception:  # noqa: BLE001 - a sample that never shows is counted, not fatal
            missed += 1
    return lat, missed


def _warm_up(page: Any, demo: DemoServer, timeout: float = 60.0) -> None:
    """Emit until the page shows a streamed value (the feed starts with the first viewer).

    Once values stream, the sampler stops writing tokens/s from polled counters.
    """
    deadline = time.monotonic() + timeout
    while True:
        _emit(demo, 1.0)
        try:
            page.wait_for_function(_SHOWN, arg=[LABEL, "1.0"], polling=50, timeout=1000)
            return
        except Exception:  # noqa: BLE001 - not yet: emit again until the deadline
            if time.monotonic() > deadline:
                raise


def measure_event_to_browser(samples: int = 10, seed: int = 0,
                             timeout_ms: float = 5000.0) -> dict[str, Any]:
    """Start demo, app and browser; time ``samples`` emits; stop everything in ``finally``."""
    from playwright.sync_api import sync_playwright

    demo = DemoServer(mode="lmx", heartbeat_s=5.0).start()
    app = StreamlitApp(free_port(), {"OPTA_LMX_URL": demo.url, "OPTA_LMX_ADMIN_KEY": ""})
    try:
        app.start()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True)
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{app.port}/", wait_until="domcontentloaded")
                _warm_up(page, demo)
                lat, missed = _samples(page, demo, samples, random.Random(seed), timeout_ms)
            finally:
                browser.close()
    finally:
        app.stop()
        demo.stop()
        app.remove_log()
    return {"samples": len(lat), "missed": missed, "p95_ms": p95(lat), "median_ms": median(lat),
            "max_ms": max(lat, default=None), "latencies_ms": [round(x, 1) for x in lat]}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    print(measure_event_to_browser(int(args[0]) if args else 10))


if __name__ == "__main__":
    main()
