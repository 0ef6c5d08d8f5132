"""Throughput: tokens per second over a chosen window, and its CSV.

Every point is a windowed rate (10 s in the live views, a minute or more in
the long ones; the caption says which), one line per model plus the total,
the same definition as the Overview's card. Lines break where the feed was
down (gaps are shaded), amber rules mark loads, unloads, downloads, reloads
and restarts, and a labelled dashed line marks the window's average. The CSV
holds the raw samples of exactly the window on screen.
"""

from __future__ import annotations

from datetime import tzinfo

import streamlit as st

from opta_stream.present import charts, export
from opta_stream.present.formatting import number
from opta_stream.present.frames import marker_frame, snapshot_window
from opta_stream.present.rates import current_rate
from opta_stream.present.throughput import ThroughputView, throughput_view
from opta_stream.snapshot import Snapshot
from opta_stream.store import Store
from opta_stream.ui import routing, shared, widgets
from opta_stream.ui.recorder import Block, Recorder
from opta_stream.units import span

src = routing.page_source(__file__)
store = src.store
NOW_WINDOW_S = 30.0


def stats_row(out: Block, view: ThroughputView, now: float | None, over_s: float) -> None:
    cols = out.columns(4)
    cols[0].metric("Now, tokens/s", number(now), border=True,
                   help="All models together over the last 10 s: the Overview's figure.")
    cols[1].metric("Average tokens/s", number(view.average), border=True,
                   help=f"The mean of the 'all models' line over the window (each point is "
                        f"the rate over {span(over_s)}), idle time included.")
    cols[2].metric("p95 tokens/s", number(view.p95), border=True,
                   help="95 % of the 'all models' line's points are at or below this.")
    cols[3].metric("Peak tokens/s", number(view.peak), border=True,
                   help="The highest point of the 'all models' line.")


def chart(out: Block, snap: Snapshot, view: ThroughputView, tz: tzinfo) -> None:
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
                    "request's tokens when it finishes.")


def download(out: Block, snap: Snapshot) -> None:
    widgets.window_csv(
        snap.server, "throughput", snapshot_window(snap),
        lambda start, end: export.throughput_csv(snap.throughput, start, end),
        len(snap.throughput),
        help="The raw samples in the window shown (per poll or per streamed reading), "
             "with UTC timestamps.", out=out)


def build(store: Store, window_s: float, tz: tzinfo) -> Recorder:
    """The live part's elements for one tick, shared by every viewer of it."""
    out = Recorder()
    snap = store.snapshot(window_s)
    view = throughput_view(snap)
    # Long windows read aggregated buckets; "now" always comes from the raw samples.
    now = view.now if not snap.throughput.resolution_s else current_rate(
        store.snapshot(NOW_WINDOW_S).throughput)
    stats_row(out, view, now, view.grid.over_s)
    chart(out, snap, view, tz)
    download(out, snap)
    return out


@st.fragment(run_every=src.settings.render_s)
def live(window_s: float) -> None:
    shared.draw(src, shared.page(src, "throughput", window_s,
                                 lambda store, tz: build(store, window_s, tz)))


st.header("Throughput")
live(widgets.window_selector("throughput_window"))
