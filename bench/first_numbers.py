"""First numbers: from ``streamlit run app.py`` to a real page showing a real figure.

Why: someone who starts the dashboard looks at the first page at once, and
every second of imports, history loading or polls it does not need is a
second of a blank page or of "—". Each round starts ``streamlit run app.py``
with no server configured (so the embedded demo runs) on a free 127.0.0.1
port, with history on, in a fresh, empty directory (``OPTA_STREAM_HISTORY``),
as a first start on a new machine is. One headless Debian Chromium (started
before the clock, as a person's browser is already open) opens the page as
soon as the port accepts a connection. The figure is the time from just
before the process is spawned to the moment the Overview's "Memory · now"
tile (``[data-testid="stMetric"]`` in ``stMain`` whose label starts with
"Memory", the first of the headline tiles) shows a figure that is not "—".

The page records its milestones itself (a ``MutationObserver`` from an init
script, times on the wall clock the benchmark shares): the port accepting
(Python), the page's first element, the first tile (still "—"), the first
figure. So a slow start says where it was slow.

With ``--month`` (and in the full benchmark run) each start finds a history
file of the demo holding 30 days (``history_bench.build_month``, about a
minute and a half to make), as a dashboard that has run for a month does.

``python bench/first_numbers.py [rounds] [--month]``
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.browser_latency import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from bench.common import ChildProcess, accepting, free_port, median  # noqa: E402
from bench.viewers import StreamlitApp  # noqa: E402

__all__ = ["LABEL", "UNKNOWN", "measure_first_numbers", "month_of_history"]

LABEL = "Memory"
UNKNOWN = "—"
# Settings that would point the app at a server instead of the demo.
_SERVER_ENV = ("OPTA_LMX_URL", "OPTA_LMX_ADMIN_KEY", "OPTA_READ_ONLY")

# Wall-clock ms of each milestone, noted by the page itself as it changes.
_OBSERVE = """(() => {
  const marks = {};
  window.__firstNumbers = marks;
  const now = () => performance.timeOrigin + performance.now();
  const check = () => {
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main) return;
    if (!marks.main) marks.main = now();
    const tiles = main.querySelectorAll('[data-testid="stMetric"]');
    if (tiles.length && !marks.tile) marks.tile = now();
    for (const m of tiles) {
      const label = (m.querySelector('[data-testid="stMetricLabel"]')?.innerText || '').trim();
      const value = (m.querySelector('[data-testid="stMetricValue"]')?.innerText || '').trim();
      if (label.startsWith(%LABEL%) && value && value !== %UNKNOWN%) {
        if (!marks.number) { marks.number = now(); marks.value = value; }
      }
    }
  };
  const start = () => {
    new MutationObserver(check).observe(document.documentElement,
      {childList: true, subtree: true, characterData: true});
    check();
  };
  if (document.documentElement) start();
  else document.addEventListener('DOMContentLoaded', start);
})()""".replace("%LABEL%", repr(LABEL)).replace("%UNKNOWN%", repr(UNKNOWN))


def _env(history_dir: str) -> dict[str, str]:
    """The demo (a blank server setting is no setting) and history on, in a directory of
    its own."""
    return {**dict.fromkeys(_SERVER_ENV, ""),
            "OPTA_STREAM_HISTORY": str(Path(history_dir) / "history.sqlite3")}


def _round(browser: Any, timeout_s: float, history: str | None = None) -> dict[str, Any]:
    """One cold start: seconds from the spawn to each milestone (None: never reached).
    ``history``: a history file to start from (copied), else none."""
    with tempfile.TemporaryDirectory(prefix="opta-first-") as history_dir:
        env = _env(history_dir)
        if history is not None:
            shutil.copyfile(history, env["OPTA_STREAM_HISTORY"])
        port = free_port()
        app = StreamlitApp(port, env)
        context = browser.new_context()
        context.add_init_script(_OBSERVE)
        page = context.new_page()
        t0 = time.time()
        try:
            ChildProcess.start(app)  # spawn only: the page waits for the port itself
            deadline = time.monotonic() + timeout_s
            while not accepting(port):
                if time.monotonic() > deadline or not app.alive():
                    raise RuntimeError(f"streamlit never accepted: {app.output()[-300:]}")
                time.sleep(0.01)
            accepted = time.time() - t0
            page.goto(f"http://127.0.0.1:{port}/", wait_until="commit")
            left_ms = max(1.0, (deadline - time.monotonic()) * 1000.0)
            page.wait_for_function("() => window.__firstNumbers && window.__firstNumbers.number",
                                   polling=20, timeout=left_ms)
            marks = page.evaluate("() => window.__firstNumbers")
        finally:
            context.close()
            app.stop()
            app.remove_log()
        since = {k: round(marks[k] / 1000.0 - t0, 3) if marks.get(k) else None
                 for k in ("main", "tile", "number")}
        return {"accepting_s": round(accepted, 3), "page_s": since["main"],
                "tile_s": since["tile"], "number_s": since["number"], "value": marks.get("value")}


def month_of_history(folder: str, hours: float = 1.0) -> str:
    """A history file of the demo's identity reaching back 30 days up to now
    (``history_bench.build_month``: ``hours`` simulated, copied back in time)."""
    from bench.history_bench import build_month

    path = str(Path(folder) / "month.sqlite3")
    build_month(path, hours, start=time.time() - hours * 3600.0, identity="demo")
    return path


def measure_first_numbers(rounds: int = 3, timeout_s: float = 60.0,
                          history: str | None = None) -> dict[str, Any]:
    """``rounds`` cold starts, one browser for all; median and max of the first figure.
    ``history``: each round starts from a copy of this file instead of none."""
    from playwright.sync_api import sync_playwright

    runs: list[dict[str, Any]] = []
    missed: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     headless=True)
        try:
            for _ in range(rounds):
                try:
                    runs.append(_round(browser, timeout_s, history))
                except Exception as exc:  # noqa: BLE001 - a round that never shows a figure
                    missed.append(f"{type(exc).__name__}: {str(exc)[:120]}")
        finally:
            browser.close()
    times = [r["number_s"] for r in runs if r["number_s"] is not None]

    def mid(key: str) -> float | None:
        return median([r[key] for r in runs if r[key] is not None])

    return {"rounds": rounds, "missed": missed, "median_s": median(times),
            "max_s": max(times, default=None), "times_s": times,
            "accepting_median_s": mid("accepting_s"), "page_median_s": mid("page_s"),
            "tile_median_s": mid("tile_s"), "runs": runs}


def main(argv: list[str] | None = None) -> None:
    """``[rounds] [--month]``: with ``--month``, each start finds 30 days of history."""
    args = sys.argv[1:] if argv is None else argv
    rounds = int(next((a for a in args if a.isdigit()), 3))
    if "--month" not in args:
        print(measure_first_numbers(rounds))
        return
    with tempfile.TemporaryDirectory(prefix="opta-first-month-") as folder:
        print(measure_first_numbers(rounds, history=month_of_history(folder)))


if __name__ == "__main__":
    main()
