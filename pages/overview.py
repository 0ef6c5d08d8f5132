"""Overview: is the server healthy right now?

Memory gauge (bands at 60/80 %, the server's threshold marked), current
tokens/s with a sparkline, loaded models, active requests, uptime, p95
latency, error rate and queue, and the latest events, all from one snapshot
twice a second.
"""

from __future__ import annotations

from datetime import tzinfo

import pandas as pd
import streamlit as st

from opta_stream.charts import small_charts as cards
from opta_stream.charts.throughput_lines import TOTAL, line_rows
from opta_stream.figures import freshness
from opta_stream.figures.serving_totals import latest_gauges, seconds, totals
from opta_stream.figures.tokens import LIVE_OVER_S, current_rate, rate_grid
from opta_stream.figures.windows import snapshot_window
from opta_stream.snapshot import LogEntry, Snapshot
from opta_stream.ui import routing, shared, widgets
from opta_stream.units import clock_time, duration, number
from opta_stream.views.recording import Block, Recorder

SPARK_WINDOW_S = 120.0
LATEST_EVENTS = 8

src = routing.page_source(__file__)
store = src.store


def _round(gb: float | None) -> float | None:
    """0.05 GB is below what the gauge can show; rounding lets viewers share its spec."""
    return None if gb is None else round(gb * 20.0) / 20.0


def memory_card(out: Block, snap: Snapshot, tz: tzinfo) -> None:
    g = snap.gauges
    with out.container(border=True):
        out.markdown("**Memory**")
        spec = widgets.gauge_spec(_round(g.memory_used_gb), _round(g.memory_total_gb),
                                  g.threshold_pct)
        shared.chart(out, spec, key="overview_gauge")
        if g.memory_used_gb is None or not g.memory_total_gb:
            out.caption("No memory figures yet — waiting for the first status sample.")
            return
        pct = 100.0 * g.memory_used_gb / g.memory_total_gb
        limit = f" · threshold {g.threshold_pct:.0f} %" if g.threshold_pct is not None else ""
        stale = freshness.status_age(snap).note(tz)
        out.caption(f"{g.memory_used_gb:.1f} of {g.memory_total_gb:.1f} GB used "
                    f"({pct:.0f} %){limit}" + (f" · {stale}" if stale else ""))


def total_frame(snap: Snapshot, step_s: float = 2.0) -> pd.DataFrame:
    """The sparkline's frame: the 'all models' rate line, as on the Throughput page."""
    t0, t1 = snapshot_window(snap)
    grid = rate_grid(snap.throughput, t0, t1, step_s=step_s, over_s=LIVE_OVER_S)
    return line_rows(grid.t, grid.total, TOTAL, 1.5)


def throughput_card(out: Block, snap: Snapshot, tz: tzinfo) -> None:
    series = snap.throughput
    with out.container(border=True):
        out.metric("Tokens / s", number(current_rate(series)),
                   help="All loaded models together, the rate over the last 10 s (the "
                        "Throughput page's 'Now').")
        shared.chart(out, cards.sparkline_plan(total_frame(snap)), key="overview_sparkline")
        if not len(series):
            out.caption("No throughput samples yet — waiting for the first one."
                        if snap.gauges.tokens_per_s is None else
                        f"No throughput sample in the last {duration(SPARK_WINDOW_S)}.")
        elif note := freshness.age_of(float(series.ts[-1]), snap).note(tz):
            out.caption(f":material/schedule: {note}: no newer sample.")


def numbers_row(out: Block, snap: Snapshot, tz: tzinfo) -> None:
    g = snap.gauges
    active = number(g.active_requests, "d")
    if g.active_requests is not None and g.max_concurrent:
        active += f" / {g.max_concurrent}"
    models = freshness.models_age(snap)
    cols = out.columns(4)
    cols[0].metric("Loaded models", len(snap.models) if models.known else "—", border=True,
                   help=None if models.known else "The model list has not arrived yet.")
    cols[1].metric("Active requests", active, border=True)
    cols[2].metric("Uptime", duration(g.uptime_s), border=True)
    cols[3].metric("Server version", g.version or "—", border=True)
    note = freshness.status_age(snap).note(tz, "Server status")
    if note:
        out.caption(f":material/schedule: {note}: the server has not answered since.")


def serving_row(out: Block, snap: Snapshot) -> None:
    """Latency, errors and queue over the sparkline's window, as the Requests page counts them."""
    t0, t1 = snapshot_window(snap)
    t = totals(snap.serving, t0=t0, t1=t1)
    g = latest_gauges(snap.serving)
    over = duration(SPARK_WINDOW_S)
    cols = out.columns(4)
    cols[0].metric("p95 latency", seconds(t.quantile(0.95)), border=True,
                   help=f"95 % of the requests that finished in the last {over} took at most "
                        "this (from the server's latency histogram).")
    cols[1].metric("Error rate", number(100.0 * t.error_ratio, ".1f", " %"), border=True,
                   help=f"Failed over all requests that finished in the last {over}.")
    cols[2].metric("Queued", number(g.get("queued"), ".0f"), border=True,
                   help="Requests waiting for a free slot now.")
    cols[3].metric("Requests / s", number(t.per_s("requests"), ".2f"), border=True,
                   help=f"Requests finished per second over the last {over}.")
    if not len(snap.serving):
        out.caption("No request metrics yet — they come from the server's /admin/metrics.")


def events_frame(entries: tuple[LogEntry, ...], tz: tzinfo) -> pd.DataFrame:
    rows = [(clock_time(e.ts, tz), e.type, e.severity, e.summary)
            for e in reversed(entries)]
    return pd.DataFrame(rows, columns=["time", "event", "severity", "summary"], dtype=object)


def latest_events(out: Block, snap: Snapshot, tz: tzinfo) -> None:
    out.markdown("**Latest events**")
    entries = tuple(e for e in snap.events if e.severity != "debug")[-LATEST_EVENTS:]
    if not entries:
        out.caption("No events yet — model loads, downloads and warnings will appear here.")
        return
    shared.table(out, events_frame(entries, tz), hide_index=True, width="stretch",
                 key="overview_events")


def build(snap: Snapshot, tz: tzinfo) -> Recorder:
    """The live part's elements for one tick, shared by every viewer of it."""
    out = Recorder()
    left, right = out.columns([3, 2])
    with left:
        memory_card(out, snap, tz)
    with right:
        throughput_card(out, snap, tz)
    numbers_row(out, snap, tz)
    serving_row(out, snap)
    latest_events(out, snap, tz)
    return out


@st.fragment(run_every=src.settings.render_s)
def live() -> None:
    shared.draw_window(src, "overview", SPARK_WINDOW_S, build)


st.header("Overview")
live()
