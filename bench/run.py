"""The benchmark suite: one command, a readable table, and one JSON line last.

``python bench/run.py [--quick] [--only NAME ...]``

Every comparison is a ratio inside this run (the machine is shared and
noisy), and each figure is a median or a percentile over several runs. The
RSS soak (a Feed and Store at 50 Hz with server restarts, ``bench/soak.py``)
runs in a child process *alongside* the other measurements: it is light (a
few % of one core) and only its memory is read, so it adds no time to the
run (quick: 15 s warm-up + 141 s measured, a restart every minute; full:
60 s + 29 min, a restart every 5 minutes). A measurement that fails
records null and the reason; it never ends the run. Every server, process
and browser it starts is stopped in ``finally``.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, ChildProcess, Result, json_line, machine, print_table  # noqa: E402
from bench.fleet_bench import FLEET_KEYS, fleet  # noqa: E402
from bench.viewer_measures import (  # noqa: E402
    PAGES,
    sessions,
    viewers,
    viewers_pages,
    viewers_scale,
    viewers_throughput,
)

__all__ = ["MEASURES", "main"]

Measure = Callable[[bool], list[Result]]


def _result(key: str, label: str, value: Any, unit: str, target: str,
            check: Callable[[Any], bool] | None, note: str = "") -> Result:
    ok = None if value is None or check is None else bool(check(value))
    return Result(key, label, value, unit, target, ok, note)


def decoder(quick: bool) -> list[Result]:
    """SSEDecoder vs sseclient-py on 200,000 events in 64 KiB chunks (5 interleaved runs)."""
    from bench.decoder_bench import make_stream, measure_both

    ours, theirs = measure_both(make_stream(200_000))
    return [_result("decoder_events_per_s", "decoder", ours, "ev/s", "max", None,
                    f"sseclient-py {theirs:,.0f} ev/s, same bytes"),
            _result("decoder_vs_sseclient", "decoder ratio", ours / theirs, "x", ">= 3.0",
                    lambda v: v >= 3.0, "median of 5 interleaved runs each")]


def ingest(quick: bool) -> list[Result]:
    """Feed vs raw LF-only reader on the demo server at max rate (another process)."""
    from bench.ingest import measure_ingest

    m = measure_ingest(seconds=2.0 if quick else 4.0, pairs=3 if quick else 5)
    raw, note = m["raw_events_per_s"], f"bottleneck: {m['bottleneck']}"
    cpu = (f"; CPU % of a core feed/server {m['feed_client_cpu_pct']:.0f}/"
           f"{m['feed_server_cpu_pct']:.0f}, raw {m['raw_client_cpu_pct']:.0f}/"
           f"{m['raw_server_cpu_pct']:.0f}")
    return [_result("ingest_events_per_s", "ingest", m["feed_events_per_s"], "ev/s", "-", None,
                    f"raw bound {raw:,.0f} ev/s{cpu}"),
            _result("ingest_vs_raw_bound", "ingest ratio", m["ratio"], "x", ">= 0.6",
                    lambda v: v >= 0.6, note)]


def tick(quick: bool) -> list[Result]:
    """One Throughput-page tick over a full hour at 50 Hz, p95 over many ticks."""
    from bench.tick import measure_tick

    m = measure_tick(ticks=100 if quick else 300)
    stages = ", ".join(f"{k} {v:.1f}" for k, v in m["stages_ms_median"].items())
    csv = "CSV built each tick" if m["includes_csv"] else "CSV deferred to click"
    return [_result("tick_ms_p95_1h", "tick p95", m["tick_ms_p95"], "ms", "<= 25",
                    lambda v: v <= 25.0, f"{m['points']:,} pts; median ms: {stages}; {csv}"),
            _result("chart_points_max", "chart points", m["chart_points_max"], "", "<= 1,000",
                    lambda v: v <= 1000, "largest dataset of the tick's chart"),
            _result("tick_bytes_per_chart", "bytes/chart", m["bytes_per_chart"], "B",
                    "<= 40,000", lambda v: v <= 40_000,
                    f"Arrow {m['arrow_bytes']:,} + spec {m['spec_bytes']:,} ({m['payload_how']})")]


def store(quick: bool) -> list[Result]:
    """A store with every ring and the log full (tracemalloc), typical and worst log data."""
    from bench.tick import measure_store_full

    typical, worst = measure_store_full(300), measure_store_full(4096)
    return [_result("store_mb_full", "store full", typical["traced_mib"], "MiB", "few MB", None,
                    f"log entries with 300 B data; 4 KiB each (the cap): "
                    f"{worst['traced_mib']:.1f} MiB; memory_bytes() says "
                    f"{typical['memory_bytes_mib']:.1f}")]


def browser(quick: bool) -> list[Result]:
    """Emit → visible in headless Chromium on the Overview page; a restarted server's
    first answer → the page's verdict saying Live."""
    from bench.browser_latency import measure_event_to_browser
    from bench.live_again import measure_live_again

    m = measure_event_to_browser(samples=10 if quick else 20)
    again = measure_live_again(rounds=3 if quick else 6)
    return [_result("event_to_browser_ms_p95", "event→browser", m["p95_ms"], "ms", "<= 800",
                    lambda v: v <= 800.0, f"{m['samples']} samples, median "
                    f"{m['median_ms'] or 0:.0f} ms, max {m['max_ms'] or 0:.0f} ms, "
                    f"missed {m['missed']}"),
            _result("live_again_s_max", "live again", again["max_s"], "s", "<= 2",
                    lambda v: v <= 2.0 and not again["missed"],
                    f"{again['rounds']} kills and restarts of a demo process: from its port "
                    f"accepting to the page's badge saying Live, each {again['times_s']} s, "
                    f"missed {again['missed']}")]


def first_numbers(quick: bool) -> list[Result]:
    """``streamlit run app.py`` (the demo, an empty history folder) to the Overview's first
    figure in headless Chromium; the full run also starts from 30 days of history."""
    import tempfile

    from bench.first_numbers import measure_first_numbers, month_of_history

    def note(m: dict[str, Any], what: str) -> str:
        def at(key: str) -> str:
            return "?" if m[key] is None else f"{m[key]:.2f}"
        return (f"{what}; {m['rounds']} starts, each {m['times_s']} s, missed "
                f"{len(m['missed'])}; medians: port accepting {at('accepting_median_s')} s, "
                f"first element {at('page_median_s')} s, first tile {at('tile_median_s')} s")

    m = measure_first_numbers(rounds=3 if quick else 5)
    out = [_result("first_numbers_s", "first numbers", m["median_s"], "s", "<= 3",
                   lambda v: v <= 3.0 and not m["missed"],
                   note(m, f"median; max {m['max_s']} s; spawn to the Overview's Memory tile "
                           "showing a figure, an empty history folder"))]
    if not quick:
        with tempfile.TemporaryDirectory(prefix="opta-first-month-") as folder:
            month = measure_first_numbers(rounds=3, history=month_of_history(folder))
        out.append(_result("first_numbers_month_s", "first numbers, 30 d", month["median_s"],
                           "s", "<= 3", lambda v: v <= 3.0 and not month["missed"],
                           note(month, f"median; max {month['max_s']} s; the same, each start "
                                       "finding 30 days of the demo's history")))
    return out


def history(quick: bool) -> list[Result]:
    """History: the writer at 50 Hz ingest, loading a start from a simulated month, its size."""
    from bench.history_bench import main as measure_history

    m = measure_history(quick)
    p, mo, ld = m["persistence"], m["month"], m["load"]
    rows = ", ".join(f"{k} {v:,}" for k, v in mo["rows"].items())
    return [_result("history_persist_cpu_pct", "history write", p["writer_cpu_pct"],
                    "% core", "<= 2", lambda v: v <= 2.0,
                    f"{p['batches']} batches of 5 s over {p['seconds']:.0f} s at 50 Hz, median "
                    f"{p['batch_ms_median']:.1f} ms each; the feed's ingest: "
                    f"{p['ingest_cpu_pct']:.1f} % of a core"),
            _result("history_persist_vs_ingest", "write/ingest", p["vs_ingest"], "x", "-", None,
                    "the writer's CPU over the ingest's CPU, same process and run"),
            _result("history_load_s", "history load", ld["load_s_median"], "s", "<= 1",
                    lambda v: v <= 1.0, f"a fresh Store from a 30-day file: {ld['rows_read']:,} "
                    f"rows; bare SQL reads them in {ld['bare_s_median']:.2f} s"),
            _result("history_load_vs_bare", "load/bare SQL", ld["vs_bare"], "x", "-", None,
                    f"retention on the month when nothing is due: {ld['prune_s']:.2f} s"),
            _result("history_month_mb", "30-day file", mo["file_bytes"] / 1e6, "MB", "report",
                    None, f"{mo['simulated_s'] / 3600:g} h simulated at 50 Hz (rich demo), "
                    f"copied to 30 days, pruned: {rows}")]


def alerts(quick: bool) -> list[Result]:
    """The watch's round: 20 rules on 20 live Stores, every 2 s; and the engine alone."""
    from bench.alert_bench import main as measure_alerts

    m = measure_alerts(quick)
    return [_result("alert_eval_pct_core_20x20", "alert eval", m["alert_eval_pct_core_20x20"],
                    "% core", "<= 1", lambda v: v <= 1.0,
                    f"a watch round {m['alert_watch_round_us'] / 1000:.1f} ms (20 servers' "
                    f"300 s snapshots and readings, the monitor, the boards, SQLite journal) "
                    f"every 2 s; the state machine alone "
                    f"{m['alert_engine_round_us'] / 1000:.2f} ms a round")]


MEASURES: dict[str, tuple[Measure, tuple[str, ...]]] = {
    "decoder": (decoder, ("decoder_events_per_s", "decoder_vs_sseclient")),
    "ingest": (ingest, ("ingest_events_per_s", "ingest_vs_raw_bound")),
    "tick": (tick, ("tick_ms_p95_1h", "chart_points_max", "tick_bytes_per_chart")),
    "store": (store, ("store_mb_full",)),
    "viewers": (viewers, ("upstream_connections_10_viewers", "server_cpu_pct_10_viewers",
                          "viewer_hz_10_viewers", "viewer_cost_vs_floor")),
    "viewers_tp": (viewers_throughput, ("server_cpu_pct_10_viewers_throughput_page",
                                        "viewer_hz_10_viewers_throughput_page",
                                        "viewer_cost_vs_floor_throughput")),
    "viewers_pages": (viewers_pages, tuple(f"viewer_cost_vs_floor_{p}" for p in PAGES[2:])),
    "viewers_scale": (viewers_scale, (
        "viewer_hz_30_viewers", "server_cpu_pct_30_viewers", "upstream_connections_30_viewers",
        "viewer_hz_50_viewers", "server_cpu_pct_50_viewers", "upstream_connections_50_viewers",
        "rss_per_viewer_mib", "viewer_hz_70_viewers", "viewer_hz_100_viewers",
        "viewers_ready_100_viewers", "viewer_hz_min_100_viewers", "rss_growth_100_viewers_mib",
        "viewer_hz_50_viewers_render_1s", "server_cpu_pct_50_viewers_render_1s")),
    "sessions": (sessions, ("rss_kept_per_closed_session_mib",)),
    "browser": (browser, ("event_to_browser_ms_p95", "live_again_s_max")),
    "first_numbers": (first_numbers, ("first_numbers_s", "first_numbers_month_s")),
    "history": (history, ("history_persist_cpu_pct", "history_persist_vs_ingest",
                          "history_load_s", "history_load_vs_bare", "history_month_mb")),
    "fleet": (fleet, FLEET_KEYS),
    "alerts": (alerts, ("alert_eval_pct_core_20x20",)),
}


def guarded(name: str, quick: bool, log: Callable[[str], None]) -> list[Result]:
    """Run one measurement; on any failure its keys get null and the reason."""
    fn, keys = MEASURES[name]
    start = time.monotonic()
    try:
        results = fn(quick)
    except Exception as exc:  # noqa: BLE001 - a failed measurement must not end the run
        reason = f"failed: {type(exc).__name__}: {str(exc)[:160]}"
        results = [Result(k, k).fail(reason) for k in keys]
    log(f"[{name}: {time.monotonic() - start:.0f} s]")
    return results


class Soak:
    """``bench/soak.py`` in a child process, read when it is done."""

    def __init__(self, quick: bool) -> None:
        minutes, every, warmup = (2.6, 1.0, 15.0) if quick else (30.0, 5.0, 60.0)
        cmd = [sys.executable, str(ROOT / "bench" / "soak.py"), "--minutes", str(minutes),
               "--restart-every", str(every), "--warmup", str(warmup), "--interval", "10"]
        self.timeout = minutes * 60.0 + 120.0
        self.child = ChildProcess(cmd, log_name="soak-run")
        self.desc = f"{minutes:g} min at 50 Hz, restart every {every:g} min, {warmup:g} s warm-up"

    def start(self) -> Soak:
        self.child.start()
        return self

    def result(self) -> Result:
        """Wait for the soak (bounded) and turn its summary into the RSS figure."""
        proc = self.child.proc
        assert proc is not None
        try:
            proc.wait(self.timeout)
        except Exception:  # noqa: BLE001 - a hung soak is a failed measurement
            return Result("rss_growth_mb", "rss growth").fail("soak did not finish in time")
        lines = [ln for ln in self.child.output().splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = self.child.output()[-160:].replace("\n", " | ")
            return Result("rss_growth_mb", "rss growth").fail(f"soak failed: {tail}")
        s = json.loads(lines[-1])
        note = (f"{self.desc}; {s['samples']} samples, threads {s['threads']['first']:.0f}→"
                f"{s['threads']['last']:.0f}, sockets {s['sockets']['first']:.0f}→"
                f"{s['sockets']['last']:.0f}, slope {s['rss_mib']['slope_per_h']} MiB/h, "
                f"flat: {s['flat']}")
        return _result("rss_growth_mb", "rss growth", s["rss_growth_mib"], "MiB", "<= 5",
                       lambda v: v <= 5.0, note)

    def stop(self) -> None:
        self.child.stop()


def _commit() -> str:
    """The checkout measured: short HEAD, plus "+changes" when the tree is not clean."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, timeout=10,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, timeout=10, capture_output=True, text=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+changes" if dirty.strip() else "")


def _payload(results: list[Result], quick: bool, started: str, where: str,
             commit: str) -> dict[str, Any]:
    out: dict[str, Any] = {r.key: r.value for r in results}
    out["failed"] = {r.key: r.note for r in results if r.value is None and r.note}
    out["targets_missed"] = [r.key for r in results if r.ok is False]
    out.update(date=started, machine=where, quick=quick, commit=commit)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Opta Stream benchmarks.")
    parser.add_argument("--quick", action="store_true",
                        help="shorter measurements (about 15 minutes in all)")
    parser.add_argument("--only", nargs="*", choices=[*MEASURES, "soak"], default=None)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # children stop in finally
    started, where, commit = time.strftime("%Y-%m-%dT%H:%M:%S%z"), machine(), _commit()
    names = args.only if args.only is not None else [*MEASURES, "soak"]
    log = lambda text: print(text, flush=True)  # noqa: E731
    log(f"Opta Stream benchmarks ({'quick' if args.quick else 'full'}) {started}\n{where}")
    soak = Soak(args.quick).start() if "soak" in names else None
    results: list[Result] = []
    try:
        for name in (n for n in MEASURES if n in names):
            results += guarded(name, args.quick, log)
        if soak is not None:
            log("[waiting for the soak]")
            results.append(soak.result())
    finally:
        if soak is not None:
            soak.stop()
            soak.child.remove_log()
    print()
    print_table(results, log)
    print(json_line(_payload(results, args.quick, started, where, commit)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
