"""Throughput: tokens per second over a chosen window, and its CSV.

The line breaks where the feed was down (gaps are shaded, never joined), a
dashed line marks the window's average, and the split is per model when the
server reports model ids. The CSV holds exactly the window on screen.
"""

from __future__ import annotations

import streamlit as st

from opta_stream.present import charts, export
from opta_stream.present.formatting import number
from opta_stream.present.frames import snapshot_window, summary_stats, throughput_frame
from opta_stream.snapshot import Snapshot
from opta_stream.ui import routing, widgets

src = routing.page_source(__file__)
store = src.store


def stats_row(stats: dict[str, float | None]) -> None:
    cols = st.columns(4)
    for col, (label, key) in zip(cols, (("Average", "mean"), ("p50", "p50"),
                                        ("p95", "p95"), ("Max", "max")), strict=True):
        col.metric(f"{label} tokens/s", number(stats[key]), border=True)


def chart(snap: Snapshot, average: float | None) -> None:
    series = snap.throughput
    plan = charts.throughput_plan(throughput_frame(series), average=average, gaps=snap.gaps,
                                  per_model=bool(series.model_names),
                                  window=snapshot_window(snap))
    widgets.chart(plan, key="throughput_chart")
    if not len(series):
        st.caption("No throughput samples yet — waiting for the first tokens/s reading "
                   "from the server.")
    elif series.resolution_s:
        st.caption(f"Each point is a {series.resolution_s:.0f} s average; "
                   "Max uses the highest raw sample.")


def download(snap: Snapshot) -> None:
    start, end = snapshot_window(snap)
    widgets.csv_button(
        lambda: export.throughput_csv(snap.throughput, start, end), len(snap.throughput),
        file_name=export.export_filename(snap.server, "throughput", start, end),
        key="throughput_csv", help="The samples in the window shown, with UTC timestamps.")


@st.fragment(run_every=0.5)
def live(window_s: float) -> None:
    snap = store.snapshot(window_s)
    stats = summary_stats(snap.throughput)
    stats_row(stats)
    chart(snap, stats["mean"])
    download(snap)


st.header("Throughput")
live(widgets.window_selector("throughput_window"))
