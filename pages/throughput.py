"""Throughput: tokens per second over a chosen window, and its CSV.

Every point is a windowed rate (10 s in the live views, a minute or more in
the long ones; the caption says which), one line per model plus the total,
the same definition as the Overview's card. Lines break where the feed was
down (gaps are shaded), amber rules mark loads, unloads, downloads, reloads
and restarts, and a labelled dashed line marks the window's average. The CSV
holds the raw samples of exactly the window on screen.

With ``prometheus_url`` set, a window of an hour or more is drawn from
Prometheus (the server's completion-token counter as a rate) up to the last
five minutes, which come from the live feed; its figures are that line's.
When Prometheus gives nothing, the chart says why and shows the dashboard's
own history.
"""

from __future__ import annotations

from datetime import tzinfo

import streamlit as st

from opta_stream.charts import time_charts as charts
from opta_stream.charts.frames import marker_frame
from opta_stream.charts.line_charts import lines_plan
from opta_stream.charts.long_window import (
    LIVE,
    LIVE_TAIL_S,
    LOCAL_SOURCE,
    PROM,
    fallback_caption,
    line_stats,
    long_frame,
    source_caption,
    split_at,
    uses_prometheus,
)
from opta_stream.charts.throughput_lines import ThroughputView, throughput_view
from opta_stream.export import csv_files as export
from opta_stream.figures.tokens import LONG_OVER_S, current_rate, rate_grid
from opta_stream.figures.windows import snapshot_window
from opta_stream.ranges import RangeAnswer, answer_key
from opta_stream.snapshot import Snapshot
from opta_stream.store import Store
from opta_stream.ui import resources, routing, shared, widgets
from opta_stream.units import number, span
from opta_stream.views.recording import Block, Recorder

src = routing.page_source(__file__)
store = src.store
NOW_WINDOW_S = 30.0


Stats = tuple[float | None, float | None, float | None]  # average, p95, peak


def stats_row(out: Block, stats: Stats, now: float | None, over_s: float, line: str) -> None:
    average, p95, peak = stats
    cols = out.columns(4)
    cols[0].metric("Now, tokens/s", number(now), border=True,
                   help="All models together over the last 10 s: the Overview's figure.")
    cols[1].metric("Average tokens/s", number(average), border=True,
                   help=f"The mean of the {line} line over the window (each point is "
                        f"the rate over {span(over_s)}), idle time included.")
    cols[2].metric("p95 tokens/s", number(p95), border=True,
                   help=f"95 % of the {line} line's points are at or below this.")
    cols[3].metric("Peak tokens/s", number(peak), border=True,
                   help=f"The highest point of the {line} line.")


def prom_chart(out: Block, store: Store, snap: Snapshot, answer: RangeAnswer,
               tz: tzinfo) -> None:
    """Prometheus's line, then the live feed's last minutes."""
    t1 = snap.taken_at
    live_from = t1 - LIVE_TAIL_S
    line = answer.lines["tokens_per_s"]
    pt, pv = split_at(line.t, line.values, live_from, before=True)
    tail = rate_grid(store.snapshot(LIVE_TAIL_S).throughput, live_from, t1,
                     step_s=max(1.0, min(5.0, LIVE_TAIL_S / 10.0)), over_s=LONG_OVER_S)
    frame = long_frame([(PROM, pt, pv), (LIVE, tail.t, tail.total)], "tokens_per_second")
    window = snapshot_window(snap)
    shared.chart(out, lines_plan("prom_throughput", frame,
                                 markers=marker_frame(snap.events, window), window=window,
                                 axis=widgets.time_axis(snap.window_s, tz), height=300),
                 key="throughput_chart_prom")
    out.caption(source_caption(answer) + " All models together: Prometheus counts a "
                "request's tokens when it finishes.")


def chart(out: Block, snap: Snapshot, view: ThroughputView, tz: tzinfo,
          answer: RangeAnswer | None) -> None:
    window = snapshot_window(snap)
    plan = charts.throughput_plan(view, gaps=snap.gaps, markers=marker_frame(snap.events, window),
                                  window=window, axis=widgets.time_axis(snap.window_s, tz))
    shared.chart(out, plan, key="throughput_chart")
    if not len(snap.throughput):
        out.caption("No throughput samples yet — waiting for the first tokens/s reading "
                    "from the server.")
    else:
        split = " One line per model; 'all models' is their sum." if view.per_model else ""
        out.caption(f"Each point is the rate over the {span(view.grid.over_s)} before it, "
                    f"every {span(view.grid.step_s)}.{split} A real server counts a "
                    f"request's tokens when it finishes. {LOCAL_SOURCE}")
    if note := fallback_caption(answer):
        out.caption(f":material/info: {note}")


def download(out: Block, snap: Snapshot) -> None:
    widgets.window_csv(
        snap.server, "throughput", snapshot_window(snap),
        lambda start, end: export.throughput_csv(snap.throughput, start, end),
        len(snap.throughput),
        help="The raw samples in the window shown (per poll or per streamed reading), "
             "with UTC timestamps.", out=out)


def _now(store: Store) -> float | None:
    """Long windows read aggregated buckets; "now" always comes from the raw samples."""
    return current_rate(store.snapshot(NOW_WINDOW_S).throughput)


def build(store: Store, window_s: float, tz: tzinfo,
          answer: RangeAnswer | None = None) -> Recorder:
    """The live part's elements for one tick, shared by every viewer of it."""
    out = Recorder()
    snap = store.snapshot(window_s)
    if uses_prometheus(answer, window_s):
        assert answer is not None
        # The figures are the whole Prometheus line's: its points are evenly spaced, the
        # live tail's are not (5 s against the query's step).
        line = answer.lines["tokens_per_s"]
        stats_row(out, line_stats(line.values), _now(store), max(LONG_OVER_S, line.step_s),
                  "Prometheus")
        prom_chart(out, store, snap, answer, tz)
    else:
        view = throughput_view(snap)
        now = view.now if not snap.throughput.resolution_s else _now(store)
        stats_row(out, (view.average, view.p95, view.peak), now, view.grid.over_s,
                  "'all models'")
        chart(out, snap, view, tz, answer)
    download(out, snap)
    return out


@st.fragment(run_every=src.settings.render_s)
def live(window_s: float) -> None:
    answer = resources.long_answer(src, "throughput", window_s)
    shared.draw(src, shared.page(src, "throughput", window_s,
                                 lambda store, tz: build(store, window_s, tz, answer),
                                 answer_key(answer)))


st.header("Throughput")
live(widgets.window_selector("throughput_window"))
