"""Memory: how close the server is to its memory threshold, and who uses it.

Used vs total over the same windows as Throughput, the server's threshold as
a dashed line, gaps shaded, memory per loaded model, and the window as CSV.
"""

from __future__ import annotations

from datetime import tzinfo

import streamlit as st

from opta_stream.present import cards, charts, export, freshness
from opta_stream.present.formatting import number
from opta_stream.present.frames import marker_frame, memory_frame, snapshot_window
from opta_stream.snapshot import Snapshot
from opta_stream.ui import routing, shared, widgets
from opta_stream.ui.recorder import Block, Recorder

src = routing.page_source(__file__)
store = src.store


def numbers_row(out: Block, snap: Snapshot, tz: tzinfo) -> None:
    g = snap.gauges
    pct = (100.0 * g.memory_used_gb / g.memory_total_gb
           if g.memory_used_gb is not None and g.memory_total_gb else None)
    cols = out.columns(4)
    cols[0].metric("Used", number(g.memory_used_gb, ".1f", " GB"), border=True)
    cols[1].metric("Total", number(g.memory_total_gb, ".1f", " GB"), border=True)
    cols[2].metric("Usage", number(pct, ".0f", " %"), border=True)
    cols[3].metric("Threshold", number(g.threshold_pct, ".0f", " %"), border=True,
                   help="The server refuses loads that would go past this share of memory.")
    note = freshness.status_age(snap).note(tz)
    if note and g.memory_used_gb is not None:
        out.caption(f":material/schedule: {note}: the server has not answered since.")


def history(out: Block, snap: Snapshot, tz: tzinfo) -> None:
    frame = memory_frame(snap.memory_used, snap.memory_total)
    window = snapshot_window(snap)
    shared.chart(out, charts.memory_plan(frame, threshold_pct=snap.gauges.threshold_pct,
                                         gaps=snap.gaps,
                                         markers=marker_frame(snap.events, window),
                                         window=window,
                                         axis=widgets.time_axis(snap.window_s, tz)),
                 key="memory_chart")
    if not len(snap.memory_used):
        out.caption("No memory samples yet — waiting for the first status reading "
                    "from the server.")


def per_model(out: Block, snap: Snapshot) -> None:
    out.markdown("**Memory per loaded model**")
    if not any(m.memory_gb is not None for m in snap.models):
        out.caption("No loaded model reports its memory yet." if snap.models
                    else "No models loaded.")
        return
    g = snap.gauges
    plan = cards.per_model_memory_plan(snap.models, g.memory_used_gb, g.memory_total_gb)
    shared.chart(out, plan, key="memory_models", height=cards.bars_height(len(plan.frames[0])))
    out.caption("Bars run from 0 to the server's total memory; the grey bar is memory in use "
                "that no loaded model accounts for (the system, caches, other programs).")


def download(out: Block, snap: Snapshot) -> None:
    widgets.window_csv(
        snap.server, "memory", snapshot_window(snap),
        lambda start, end: export.memory_csv(snap.memory_used, snap.memory_total, start, end),
        len(snap.memory_used), help="Used and total GB in the window shown, with UTC timestamps.",
        out=out)


def build(snap: Snapshot, tz: tzinfo) -> Recorder:
    """The live part's elements for one tick, shared by every viewer of it."""
    out = Recorder()
    numbers_row(out, snap, tz)
    history(out, snap, tz)
    download(out, snap)
    per_model(out, snap)
    return out


@st.fragment(run_every=src.settings.render_s)
def live(window_s: float) -> None:
    shared.draw_window(src, "memory", window_s, build)


st.header("Memory")
live(widgets.window_selector("memory_window"))
