"""Memory: how close the server is to its memory threshold, and who uses it.

Used vs total over the same windows as Throughput, the server's threshold as
a dashed line, gaps shaded, memory per loaded model, and the window as CSV.
"""

from __future__ import annotations

import streamlit as st

from opta_stream.present import cards, charts, export, freshness
from opta_stream.present.formatting import number
from opta_stream.present.frames import marker_frame, memory_frame, snapshot_window
from opta_stream.snapshot import Snapshot
from opta_stream.ui import routing, widgets

src = routing.page_source(__file__)
store = src.store


def numbers_row(snap: Snapshot) -> None:
    g = snap.gauges
    pct = (100.0 * g.memory_used_gb / g.memory_total_gb
           if g.memory_used_gb is not None and g.memory_total_gb else None)
    cols = st.columns(4)
    cols[0].metric("Used", number(g.memory_used_gb, ".1f", " GB"), border=True)
    cols[1].metric("Total", number(g.memory_total_gb, ".1f", " GB"), border=True)
    cols[2].metric("Usage", number(pct, ".0f", " %"), border=True)
    cols[3].metric("Threshold", number(g.threshold_pct, ".0f", " %"), border=True,
                   help="The server refuses loads that would go past this share of memory.")
    note = freshness.status_age(snap).note(widgets.viewer_tz())
    if note and g.memory_used_gb is not None:
        st.caption(f":material/schedule: {note}: the server has not answered since.")


def history(snap: Snapshot) -> None:
    frame = memory_frame(snap.memory_used, snap.memory_total)
    window = snapshot_window(snap)
    widgets.chart(charts.memory_plan(frame, threshold_pct=snap.gauges.threshold_pct,
                                     gaps=snap.gaps, markers=marker_frame(snap.events, window),
                                     window=window, axis=widgets.time_axis(snap.window_s)),
                  key="memory_chart")
    if not len(snap.memory_used):
        st.caption("No memory samples yet — waiting for the first status reading "
                   "from the server.")


def per_model(snap: Snapshot) -> None:
    st.markdown("**Memory per loaded model**")
    if not any(m.memory_gb is not None for m in snap.models):
        st.caption("No loaded model reports its memory yet." if snap.models
                   else "No models loaded.")
        return
    g = snap.gauges
    plan = cards.per_model_memory_plan(snap.models, g.memory_used_gb, g.memory_total_gb)
    widgets.chart(plan, key="memory_models", height=cards.bars_height(len(plan.frames[0])))
    st.caption("Bars run from 0 to the server's total memory; the grey bar is memory in use "
               "that no loaded model accounts for (the system, caches, other programs).")


def download(snap: Snapshot) -> None:
    widgets.window_csv(
        snap.server, "memory", snapshot_window(snap),
        lambda start, end: export.memory_csv(snap.memory_used, snap.memory_total, start, end),
        len(snap.memory_used), help="Used and total GB in the window shown, with UTC timestamps.")


@st.fragment(run_every=0.5)
def live(window_s: float) -> None:
    snap = store.snapshot(window_s)
    numbers_row(snap)
    history(snap)
    download(snap)
    per_model(snap)


st.header("Memory")
live(widgets.window_selector("memory_window"))
