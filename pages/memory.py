"""Memory: how close the server is to its memory threshold, and who uses it.

Used vs total over the same windows as Throughput, the server's threshold as
a dashed line (on the dashboard's own chart), gaps shaded, memory per loaded
model, and the window as CSV.
With ``prometheus_url`` set, a window of an hour or more is drawn from
Prometheus's memory gauges up to the last five minutes (the live feed's).
"""

from __future__ import annotations

from datetime import tzinfo

import numpy as np
import streamlit as st

from opta_stream.charts import small_charts as cards
from opta_stream.charts import time_charts as charts
from opta_stream.charts.frames import marker_frame, memory_frame
from opta_stream.charts.line_charts import lines_plan
from opta_stream.charts.long_window import (
    LIVE,
    LIVE_TAIL_S,
    LOCAL_SOURCE,
    PROM,
    fallback_caption,
    long_frame,
    source_caption,
    split_at,
    uses_prometheus,
)
from opta_stream.export import csv_files as export
from opta_stream.figures import freshness
from opta_stream.figures.windows import snapshot_window
from opta_stream.ranges import RangeAnswer, answer_key
from opta_stream.snapshot import Series, Snapshot
from opta_stream.store import Store
from opta_stream.ui import resources, routing, shared, widgets
from opta_stream.units import number
from opta_stream.views.recording import Block, Recorder

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


def prom_history(out: Block, snap: Snapshot, tail: Snapshot, answer: RangeAnswer,
                 tz: tzinfo) -> None:
    """Prometheus's gauges, then the live feed's last minutes."""
    live_from = snap.taken_at - LIVE_TAIL_S
    parts = []
    for name, kind in (("used", "memory_used_gb"), ("total", "memory_total_gb")):
        line = answer.lines[kind]
        parts.append((f"{name} · {PROM}", *split_at(line.t, line.values, live_from,
                                                   before=True)))
    for name, series in (("used", tail.memory_used), ("total", tail.memory_total)):
        parts.append((f"{name} · {LIVE}", *_live(series, live_from)))
    window = snapshot_window(snap)
    shared.chart(out, lines_plan("prom_memory", long_frame(parts, "gb"),
                                 markers=marker_frame(snap.events, window), window=window,
                                 axis=widgets.time_axis(snap.window_s, tz), height=300),
                 key="memory_chart_prom")
    out.caption(source_caption(answer) + " Prometheus's gauges do not carry the threshold "
                f"({number(snap.gauges.threshold_pct, '.0f', ' %')} now, in the figures above).")


def _live(series: Series, live_from: float) -> tuple[np.ndarray, np.ndarray]:
    return split_at(series.ts, series.value, live_from, before=False)


def history(out: Block, snap: Snapshot, tz: tzinfo, answer: RangeAnswer | None) -> None:
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
    else:
        out.caption(LOCAL_SOURCE)
    if note := fallback_caption(answer):
        out.caption(f":material/info: {note}")


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


def build(store: Store, window_s: float, tz: tzinfo,
          answer: RangeAnswer | None = None) -> Recorder:
    """The live part's elements for one tick, shared by every viewer of it."""
    out = Recorder()
    snap = store.snapshot(window_s)
    numbers_row(out, snap, tz)
    if uses_prometheus(answer, window_s):
        assert answer is not None
        prom_history(out, snap, store.snapshot(LIVE_TAIL_S), answer, tz)
    else:
        history(out, snap, tz, answer)
    download(out, snap)
    per_model(out, snap)
    return out


@st.fragment(run_every=src.settings.render_s)
def live(window_s: float) -> None:
    answer = resources.long_answer(src, "memory", window_s)
    shared.draw(src, shared.page(src, "memory", window_s,
                                 lambda store, tz: build(store, window_s, tz, answer),
                                 answer_key(answer)))


st.header("Memory")
live(widgets.window_selector("memory_window"))
