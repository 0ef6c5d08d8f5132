"""The viewer measurements of ``run.py``: each page against its floor, scale, closed tabs.

Each returns ``Result`` rows; ``run.py`` lists them in ``MEASURES``. The
cost of a page is the CPU its viewers add to the app over the CPU they add
to the floor (``bench/floor_app.py``), each app's idle subtracted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bench.common import Result

__all__ = ["PAGES", "sessions", "viewers", "viewers_pages", "viewers_scale",
           "viewers_throughput"]


def _result(key: str, label: str, value: Any, unit: str, target: str,
            check: Callable[[Any], bool] | None, note: str = "") -> Result:
    ok = None if value is None or check is None else bool(check(value))
    return Result(key, label, value, unit, target, ok, note)


def _viewer_notes(m: dict[str, Any]) -> tuple[str, str]:
    base = (f"{m['viewers_ready']}/{m['viewers']} viewers over {m['seconds']:.0f} s; "
            f"idle app {m['idle_cpu_pct']:.0f} %")
    if m["errors"]:
        base += f"; errors: {m['errors']}"
    rates = ", ".join(f"{k:g} s fragment {v:.2f} Hz" for k, v in m["hz_by_interval"].items())
    hz = (f"min {m['hz_min']:.2f} Hz; medians: {rates}; runs finished early for another "
          f"rerun: {m['early_runs']} ({m['early_runs_fast_fragment']} of the 2 Hz fragment)"
          ) if m["hz_min"] is not None else ""
    return base, hz


PAGES = ("overview", "throughput", "requests", "memory", "models", "events")


def _page_path(page: str) -> str:
    return "" if page == "overview" else page


def _viewer_cost(app: dict[str, Any], floor: dict[str, Any]) -> tuple[float | None, str]:
    """CPU the viewers add to the app over what they add to the floor (idle subtracted)."""
    added_app = app["cpu_pct"] - app["idle_cpu_pct"]
    added_floor = floor["cpu_pct"] - floor["idle_cpu_pct"]
    note = (f"app {app['cpu_pct']:.1f} % (idle, feed running: {app['idle_cpu_pct']:.1f} %), "
            f"{app['hz_median']:.2f} Hz; floor {floor['cpu_pct']:.1f} % (idle "
            f"{floor['idle_cpu_pct']:.1f} %), {floor['hz_median']:.2f} Hz; raw CPU ratio "
            f"{app['cpu_pct'] / floor['cpu_pct'] if floor['cpu_pct'] else math.nan:.2f}")
    return (added_app / added_floor if added_floor > 0 else None), note


def _app_and_floor(page: str, seconds: float) -> tuple[dict[str, Any], dict[str, Any]]:
    from bench.viewers import FLOOR, measure_viewers

    path = _page_path(page)
    return (measure_viewers(10, seconds=seconds, page=path),
            measure_viewers(10, seconds=seconds, page=path, script=FLOOR))


def _cost_result(page: str, app: dict[str, Any], floor: dict[str, Any]) -> Result:
    key = "viewer_cost_vs_floor" + ("" if page == "overview" else f"_{page}")
    cost, note = _viewer_cost(app, floor)
    return _result(key, f"cost vs floor, {page}", cost, "x", "<= 1.5", lambda v: v <= 1.5,
                   f"10 viewers, {page} page; " + note)


def viewers(quick: bool) -> list[Result]:
    """Ten protocol-level viewers on the Overview, then on its floor (``bench/floor_app.py``)."""
    app, floor = _app_and_floor("overview", 20.0 if quick else 60.0)
    base, hz = _viewer_notes(app)
    return [_result("upstream_connections_10_viewers", "upstream", app["streams_max"], "",
                    "== 1", lambda v: v == 1, f"event streams open at the server; TCP from "
                    f"the app (stream + poller keep-alive): {app['tcp_max']}"),
            _result("server_cpu_pct_10_viewers", "server CPU", app["cpu_pct"], "%", "<= 60",
                    lambda v: v <= 60.0, "Overview page; " + base),
            _result("viewer_hz_10_viewers", "viewer rate", app["hz_median"], "Hz", ">= 1.9",
                    lambda v: v >= 1.9, hz),
            _cost_result("overview", app, floor)]


def viewers_throughput(quick: bool) -> list[Result]:
    """The same ten viewers on the Throughput page (5 min window) and its floor."""
    app, floor = _app_and_floor("throughput", 15.0 if quick else 60.0)
    base, hz = _viewer_notes(app)
    return [_result("server_cpu_pct_10_viewers_throughput_page", "server CPU", app["cpu_pct"],
                    "%", "<= 60", lambda v: v <= 60.0, "Throughput page; " + base),
            _result("viewer_hz_10_viewers_throughput_page", "viewer rate", app["hz_median"],
                    "Hz", ">= 1.9", lambda v: v >= 1.9, hz),
            _cost_result("throughput", app, floor)]


def viewers_pages(quick: bool) -> list[Result]:
    """Every other page against its floor, ten viewers each."""
    out = []
    for page in PAGES[2:]:
        try:
            out.append(_cost_result(page, *_app_and_floor(page, 10.0 if quick else 40.0)))
        except Exception as exc:  # noqa: BLE001 - one page failing leaves the others
            key = f"viewer_cost_vs_floor_{page}"
            out.append(Result(key, key).fail(f"failed: {type(exc).__name__}: {exc}"[:160]))
    return out


def _scale_note(m: dict[str, Any]) -> str:
    return (f"{m['viewers_ready']}/{m['viewers']} ready, {m['cpu_pct']:.0f} % CPU, "
            f"{m['hz_median']:.2f} Hz (min {m['hz_min']:.2f}), upstream streams "
            f"{m['streams_max']}, RSS {m['rss_idle_mib']:.0f} MiB idle + "
            f"{m['rss_per_viewer_mib']:.2f} MiB a session")


def viewers_scale(quick: bool) -> list[Result]:
    """30, 50, 70 and 100 viewers on the Overview (2 Hz), and 50 at the share rate (1 s).

    Past about 55 viewers the process cannot redraw every viewer twice a second:
    70 and 100 measure that the interval stretches for everyone alike (``ui.pace``)
    instead of collapsing, that every viewer still gets redraws, and that memory
    does not grow while it lasts.
    """
    from bench.viewers import measure_viewers

    # 15 s counts each viewer's runs to ±1–2 (±0.1 Hz): too coarse beside a 1.9 Hz target
    seconds = 30.0 if quick else 60.0
    m30 = measure_viewers(30, seconds=seconds)
    m50 = measure_viewers(50, seconds=seconds)
    m70 = measure_viewers(70, seconds=seconds)
    m100 = measure_viewers(100, seconds=seconds)
    share = measure_viewers(50, seconds=seconds, env={"OPTA_STREAM_RENDER_S": "1.0"})
    one = lambda v: v == 1  # noqa: E731
    return [_result("viewer_hz_30_viewers", "30 viewers", m30["hz_median"], "Hz", ">= 1.9",
                    lambda v: v >= 1.9, _scale_note(m30)),
            _result("server_cpu_pct_30_viewers", "30 viewers CPU", m30["cpu_pct"], "%", "-",
                    None, "Overview page"),
            _result("upstream_connections_30_viewers", "upstream", m30["streams_max"], "",
                    "== 1", one, "event streams open at the server"),
            _result("viewer_hz_50_viewers", "50 viewers", m50["hz_median"], "Hz", ">= 1.5",
                    lambda v: v >= 1.5, _scale_note(m50)),
            _result("server_cpu_pct_50_viewers", "50 viewers CPU", m50["cpu_pct"], "%", "-",
                    None, "Overview page"),
            _result("upstream_connections_50_viewers", "upstream", m50["streams_max"], "",
                    "== 1", one, "event streams open at the server"),
            _result("rss_per_viewer_mib", "RSS a session", m50["rss_per_viewer_mib"], "MiB",
                    "-", None, "RSS with 50 viewers minus idle RSS (feed running), over 50"),
            _result("viewer_hz_70_viewers", "70 viewers", m70["hz_median"], "Hz", ">= 0.8",
                    lambda v: v >= 0.8, _scale_note(m70)),
            _result("viewer_hz_100_viewers", "100 viewers", m100["hz_median"], "Hz", ">= 0.5",
                    lambda v: v >= 0.5, _scale_note(m100)),
            _result("viewers_ready_100_viewers", "100 viewers ready", m100["viewers_ready"], "",
                    "== 100", lambda v: v == 100,
                    "viewers that got their first page; of them, whose full run's end came "
                    f"as 'finished early': {m100['first_runs_finished_early']}"),
            _result("viewer_hz_min_100_viewers", "100 viewers, slowest", m100["hz_min"], "Hz",
                    "> 0", lambda v: v > 0, "the viewer with the fewest redraws"),
            _result("rss_growth_100_viewers_mib", "100 viewers RSS growth",
                    m100["rss_growth_mib"], "MiB", "<= 50", lambda v: v <= 50,
                    f"over the {m100['seconds']:.0f} s measured; trace {m100['rss_trace_mib']}"),
            _result("viewer_hz_50_viewers_render_1s", "50 viewers, 1 s", share["hz_median"],
                    "Hz", "reported", None,
                    "render_interval_s = 1 (the share setting); " + _scale_note(share)),
            _result("server_cpu_pct_50_viewers_render_1s", "50 viewers, 1 s CPU",
                    share["cpu_pct"], "%", "-", None, "Overview page, render_interval_s = 1")]


def sessions(quick: bool) -> list[Result]:
    """RSS after rounds of viewers that open the app and close their tabs."""
    from bench.sessions import measure_sessions

    m = measure_sessions(viewers=20, rounds=3 if quick else 6)
    rounds = ", ".join(f"{r:.0f}" for r in m["rss_after_round_mib"])
    return [_result("rss_kept_per_closed_session_mib", "RSS kept a closed tab",
                    m["kept_per_session_mib"], "MiB", "<= 0.5", lambda v: v <= 0.5,
                    f"{m['viewers']} tabs opened and closed per round; RSS after each round: "
                    f"{rounds} MiB (idle {m['rss_idle_mib']:.0f})")]
