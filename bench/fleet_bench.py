"""What watching a fleet costs: CPU and RSS of ``streamlit run app.py`` with 1, 5, 20 servers.

Why: each watched server costs a shared Feed (its threads, its rings) whether
or not anyone looks, and the Fleet page draws every server for every viewer:
a card each up to five, one table past that (``views.fleet_table``), at the
render interval either way. The app reads ``[[servers]]`` from a secrets file made here
(``--secrets.files``, history off); every server is a demo server in its own
process (``DemoProcess``, rich mode at ``RATE``), so their CPU is not the
app's. The same demo processes serve every configuration of a run, in turn:

- one server (the Overview at "/"), idle: the baseline of the ratios;
- 5 and 20 servers (the Fleet page at "/"), idle, then one viewer (the
  render cost of a page that keeps up), then 10 viewers;
- 5 servers of which one is a closed port (a free port, nothing listening),
  idle and with 10 viewers: a dead server must cost the others nothing.

"Idle" is after one viewer's visit has started the feeds and left. Viewers are
``bench/protocol.py``'s websocket viewers, driven by ``bench/viewers.py``.
Windows: 4 s idle and 8 s a viewer count with ``--quick`` (about 85 s in
all), 10 s and 30 s in full (about 3 min).
``python bench/fleet_bench.py [--full]`` runs it alone.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from bench.common import OUT, ChildProcess, DemoProcess, Result, free_port  # noqa: E402
from bench.viewers import StreamlitApp, _cpu_seconds, _drive, _prime, _rss_mib  # noqa: E402
from opta_stream.settings import RENDER_S  # noqa: E402

__all__ = ["FLEET_KEYS", "fleet", "measure_fleet"]

RATE = "10"  # Hz of throughput events per server: the demo's default, a busy server
VIEWERS = 10
DEAD_AT = 2  # the closed port's place in the list (not first: the sidebar shows the first)
_LOG_TROUBLE = re.compile(r"Traceback|Uncaught|Exception|Error", re.IGNORECASE)


class FleetApp(StreamlitApp):
    """``streamlit run app.py`` reading only the given secrets file."""

    def __init__(self, port: int, secrets: Path) -> None:
        super().__init__(port, {"OPTA_LMX_URL": "", "OPTA_LMX_ADMIN_KEY": ""})
        self.cmd += ["--secrets.files", str(secrets)]


class Upstream:
    """Stands in for ``_drive``'s demo server: the app's TCP connections to every server.

    ``open_streams()`` counts all of them (one stream and one poller keep-alive per
    live server expected, however many viewers); ``port`` is the first server's.
    """

    def __init__(self, ports: Sequence[int], pid: int) -> None:
        self.ports, self.pid, self.port = set(ports), pid, ports[0]

    def open_streams(self) -> int:
        try:
            conns = psutil.Process(self.pid).net_connections(kind="inet")
        except (psutil.Error, OSError):
            return -1
        return sum(1 for c in conns if c.raddr and c.raddr.port in self.ports
                   and c.status == psutil.CONN_ESTABLISHED)


def start_demos(n: int) -> list[DemoProcess]:
    """``n`` demo processes started together (one import each, in parallel), all ready."""
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    demos = [DemoProcess(p, rate=RATE, mode="rich") for p in sorted(ports)]
    try:
        for demo in demos:
            ChildProcess.start(demo)
        for demo in demos:
            if not demo.wait_output("ready", 60.0):
                raise RuntimeError(f"demo {demo.port} did not start: {demo.output()[-200:]}")
    except BaseException:
        stop_all(demos)
        raise
    return demos


def stop_all(procs: Sequence[ChildProcess]) -> None:
    for proc in procs:
        try:
            proc.stop()
        finally:
            proc.remove_log()


def secrets_text(urls: Sequence[str]) -> str:
    """``[[servers]]`` tables for ``urls``, history off."""
    lines = ['history_path = ""', ""]
    for i, url in enumerate(urls, 1):
        lines += ["[[servers]]", f'name = "demo-{i:02d}"', f'url = "{url}"', ""]
    return "\n".join(lines)


def _trouble(log: str) -> list[str]:
    """Lines of the Streamlit log that report an error (a page that failed, say)."""
    return [ln.strip()[:200] for ln in log.splitlines() if _LOG_TROUBLE.search(ln)][:5]


def _demo_cpu(demos: Sequence[DemoProcess]) -> float:
    """CPU seconds the demo server processes have used so far (they share the 2 cores)."""
    total = 0.0
    for demo in demos:
        try:
            total += _cpu_seconds(psutil.Process(demo.proc.pid))
        except (psutil.Error, AttributeError):
            pass
    return total


def measure_config(label: str, urls: Sequence[str], ports: Sequence[int],
                   viewer_counts: Sequence[int], idle_s: float,
                   seconds: float, demos: Sequence[DemoProcess] = ()) -> dict[str, Any]:
    """One app over ``urls``: idle CPU and RSS, then a window for each of ``viewer_counts``
    (``_drive``'s figures under ``"v<n>"``, each with ``render_cpu_ms``)."""
    OUT.mkdir(parents=True, exist_ok=True)
    secrets = OUT / f"fleet-secrets-{os.getpid()}-{label}.toml"
    secrets.write_text(secrets_text(urls), encoding="utf-8")
    app = FleetApp(free_port(), secrets)
    try:
        app.start()
        asyncio.run(_prime(app, ""))  # the default page: Fleet (2+ servers) or Overview
        time.sleep(1.0)
        proc = psutil.Process(app.pid)
        c0, d0, t0 = _cpu_seconds(proc), _demo_cpu(demos), time.monotonic()
        time.sleep(idle_s)
        took = time.monotonic() - t0
        out: dict[str, Any] = {"label": label, "servers": len(urls),
                               "idle_cpu_pct": 100.0 * (_cpu_seconds(proc) - c0) / took,
                               "demos_cpu_pct": 100.0 * (_demo_cpu(demos) - d0) / took,
                               "rss_idle_mib": _rss_mib(app.pid),
                               "threads_idle": proc.num_threads()}
        for n in viewer_counts:
            m = asyncio.run(_drive(app, Upstream(ports, app.pid), n, seconds, "",
                                   warm_timeout=60.0))
            m["render_cpu_ms"] = _render_ms(m, out["idle_cpu_pct"])
            out[f"v{n}"] = m
            time.sleep(1.0)  # the closed sessions' last runs end before the next window
        out["log_trouble"] = _trouble(app.output())
        return out
    finally:
        app.stop()
        app.remove_log()
        secrets.unlink(missing_ok=True)


def _render_ms(m: dict[str, Any], idle_pct: float) -> float | None:
    """CPU ms the viewers add per rerun of the page's fast fragment (badge reruns included);
    None when no rerun completed."""
    hz = m.get("hz_median")
    added = (m["cpu_pct"] - idle_pct) / 100.0
    return 1000.0 * added / (hz * m["viewers"]) if hz else None


def measure_fleet(quick: bool = True) -> dict[str, dict[str, Any]]:
    """Every configuration in one run; all demo processes stopped in ``finally``."""
    idle_s, seconds = (4.0, 8.0) if quick else (10.0, 30.0)
    demos = start_demos(20)
    try:
        urls, ports = [d.url for d in demos], [d.port for d in demos]
        dead_port = free_port()
        while dead_port in ports:
            dead_port = free_port()
        dead_urls = [*urls[:DEAD_AT], f"http://127.0.0.1:{dead_port}", *urls[DEAD_AT:4]]
        both = (1, VIEWERS)  # one viewer: the render cost of a page that keeps up
        return {
            "one": measure_config("one", urls[:1], ports[:1], (), idle_s, seconds),
            "fleet5": measure_config("fleet5", urls[:5], ports[:5], both, idle_s, seconds),
            "fleet20": measure_config("fleet20", urls, ports, both, idle_s, seconds, demos),
            "dead": measure_config("dead", dead_urls, [*ports[:4], dead_port], (VIEWERS,),
                                   idle_s, seconds),
        }
    finally:
        stop_all(demos)


FLEET_KEYS = (
    "fleet_one_idle_cpu_pct", "fleet_one_idle_rss_mib", "fleet5_idle_cpu_pct",
    "fleet5_idle_rss_mib", "fleet20_idle_cpu_pct", "fleet20_idle_rss_mib", "fleet20_demos_cpu_pct",
    "fleet5_viewers10_cpu_pct", "fleet5_viewers10_rss_mib", "fleet5_viewers10_hz",
    "fleet20_viewers10_cpu_pct", "fleet20_viewers10_rss_mib", "fleet20_viewers10_hz",
    "fleet5_render_cpu_ms", "fleet20_render_cpu_ms", "fleet5_render_cpu_ms_1viewer",
    "fleet20_render_cpu_ms_1viewer", "render_cpu_ms_per_card", "fleet20_upstream_tcp_viewers10",
    "fleet5_vs_one_cpu", "fleet20_vs_fleet5_cpu", "fleet20_vs_fleet5_rss", "rss_per_server_mib",
    "fleet5_viewers10_vs_idle_cpu", "fleet20_viewers10_vs_idle_cpu",
    "fleet20_vs_fleet5_viewers10_cpu", "fleet20_vs_fleet5_render_1viewer",
    "fleet5_dead1_idle_cpu_pct", "fleet5_dead1_viewers10_cpu_pct", "fleet5_dead1_viewers10_hz",
    "fleet5_dead1_vs_alive_idle_cpu", "fleet5_dead1_vs_alive_cpu",
    "fleet5_dead1_vs_alive_render",
)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _r(key: str, value: Any, unit: str, note: str, target: str = "-",
       check: Callable[[Any], bool] | None = None) -> Result:
    ok = None if value is None or check is None else bool(check(value))
    return Result(key, key, value, unit, target, ok, note)


def _idle_note(c: dict[str, Any]) -> str:
    text = f"{c['servers']} servers, {c['threads_idle']} threads, no viewer"
    return text + (f"; streamlit log: {c['log_trouble']}" if c["log_trouble"] else "")


def _viewer_note(m: dict[str, Any]) -> str:
    """Who got what: ready viewers, the rate, runs a newer rerun cut short (``fastReruns``:
    a page slower than its interval finishes none), errors."""
    text = (f"{m['viewers_ready']}/{m['viewers']} viewers over {m['seconds']:.0f} s, "
            f"{m['hz_median'] or 0:.2f} Hz, runs cut short by the next rerun: "
            f"{m['early_runs_fast_fragment']}, upstream TCP max {m['streams_max']}")
    return text + (f"; viewer errors: {m['errors']}" if m["errors"] else "")


def results(m: dict[str, dict[str, Any]]) -> list[Result]:
    """The measured configurations as rows of the table, ratios within the run."""
    one, c5, c20, dead = m["one"], m["fleet5"], m["fleet20"], m["dead"]
    f5, f20, d10 = c5[f"v{VIEWERS}"], c20[f"v{VIEWERS}"], dead[f"v{VIEWERS}"]
    r5, r20 = c5["v1"]["render_cpu_ms"], c20["v1"]["render_cpu_ms"]
    pct, mib, x, ms, hz = "% core", "MiB", "x", "ms", "Hz"
    at_rate = lambda v: v >= 1.9  # noqa: E731
    table_rate = 1.5  # issue 29: 20 servers (one table) at the render interval, 10 viewers
    same = lambda v: v <= 1.2  # noqa: E731
    return [
        _r("fleet_one_idle_cpu_pct", one["idle_cpu_pct"], pct, "baseline; " + _idle_note(one)),
        _r("fleet_one_idle_rss_mib", one["rss_idle_mib"], mib, "one [[servers]] entry"),
        _r("fleet5_idle_cpu_pct", c5["idle_cpu_pct"], pct, _idle_note(c5)),
        _r("fleet5_idle_rss_mib", c5["rss_idle_mib"], mib, "feeds running, no viewer"),
        _r("fleet20_idle_cpu_pct", c20["idle_cpu_pct"], pct, _idle_note(c20)),
        _r("fleet20_idle_rss_mib", c20["rss_idle_mib"], mib, "feeds running, no viewer"),
        _r("fleet20_demos_cpu_pct", c20["demos_cpu_pct"], pct, "the 20 demo servers' own "
           "processes meanwhile, on the same 2 cores (not the app's)"),
        _r("fleet5_viewers10_cpu_pct", f5["cpu_pct"], pct, "Fleet page; " + _viewer_note(f5)),
        _r("fleet5_viewers10_rss_mib", f5["rss_with_viewers_mib"], mib, "at the window's end"),
        _r("fleet5_viewers10_hz", f5["hz_median"], hz, "median reruns/s of the page's 0.5 s "
           "fragment", ">= 1.9", at_rate),
        _r("fleet20_viewers10_cpu_pct", f20["cpu_pct"], pct, "Fleet page; " + _viewer_note(f20)),
        _r("fleet20_viewers10_rss_mib", f20["rss_with_viewers_mib"], mib, "at the window's end"),
        _r("fleet20_viewers10_hz", f20["hz_median"], hz, f"median reruns/s of the page's "
           f"{RENDER_S:g} s fragment: 20 servers are one table (views.fleet_table)",
           f">= {table_rate:g}", lambda v: v >= table_rate),
        _r("fleet5_render_cpu_ms", f5["render_cpu_ms"], ms, "(CPU with 10 viewers − idle) per "
           "completed fast-fragment rerun"),
        _r("fleet20_render_cpu_ms", f20["render_cpu_ms"], ms, "the same, 20 servers' table" + (
            "" if f20["render_cpu_ms"] is not None else ": no rerun completed")),
        _r("fleet5_render_cpu_ms_1viewer", r5, ms, "one viewer (the page keeps up); "
           + _viewer_note(c5["v1"])),
        _r("fleet20_render_cpu_ms_1viewer", r20, ms, "one viewer; " + _viewer_note(c20["v1"])),
        _r("render_cpu_ms_per_card", None if r5 is None or r20 is None else (r20 - r5) / 15.0,
           ms, "(one-viewer render, 20 servers' table − 5 cards) / 15: what a server adds"),
        _r("fleet20_upstream_tcp_viewers10", f20["streams_max"], "", "app's TCP to the 20 "
           "servers with 10 viewers (stream + poller each)", "<= 40", lambda v: 0 <= v <= 40),
        _r("fleet5_vs_one_cpu", _ratio(c5["idle_cpu_pct"], one["idle_cpu_pct"]), x, "idle"),
        _r("fleet20_vs_fleet5_cpu", _ratio(c20["idle_cpu_pct"], c5["idle_cpu_pct"]), x,
           "idle; 4.0 if each server costs the same"),
        _r("fleet20_vs_fleet5_rss", _ratio(c20["rss_idle_mib"], c5["rss_idle_mib"]), x, "idle"),
        _r("rss_per_server_mib", (c20["rss_idle_mib"] - c5["rss_idle_mib"]) / 15.0, mib,
           "(RSS idle, 20 servers − 5) / 15"),
        _r("fleet5_viewers10_vs_idle_cpu", _ratio(f5["cpu_pct"], c5["idle_cpu_pct"]), x, ""),
        _r("fleet20_viewers10_vs_idle_cpu", _ratio(f20["cpu_pct"], c20["idle_cpu_pct"]), x, ""),
        _r("fleet20_vs_fleet5_viewers10_cpu", _ratio(f20["cpu_pct"], f5["cpu_pct"]), x, ""),
        _r("fleet20_vs_fleet5_render_1viewer", _ratio(r20, r5), x,
           "20 servers' table over 5 cards, one viewer"),
        _r("fleet5_dead1_idle_cpu_pct", dead["idle_cpu_pct"], pct,
           f"server {DEAD_AT + 1} of 5 a closed port; " + _idle_note(dead)),
        _r("fleet5_dead1_viewers10_cpu_pct", d10["cpu_pct"], pct, "Fleet page; "
           + _viewer_note(d10)),
        _r("fleet5_dead1_viewers10_hz", d10["hz_median"], hz, "", ">= 1.9", at_rate),
        _r("fleet5_dead1_vs_alive_idle_cpu", _ratio(dead["idle_cpu_pct"], c5["idle_cpu_pct"]),
           x, "4 alive + 1 dead over 5 alive, idle"),
        _r("fleet5_dead1_vs_alive_cpu", _ratio(d10["cpu_pct"], f5["cpu_pct"]), x,
           "the same, 10 viewers", "<= 1.2", same),
        _r("fleet5_dead1_vs_alive_render", _ratio(d10["render_cpu_ms"], f5["render_cpu_ms"]),
           x, "CPU ms per rerun with 10 viewers, dead over alive", "<= 1.2", same),
    ]


def fleet(quick: bool) -> list[Result]:
    """``run.py``'s measure: every configuration, then the rows."""
    return results(measure_fleet(quick))


if __name__ == "__main__":
    from bench.common import print_table

    print_table(fleet("--full" not in sys.argv))
