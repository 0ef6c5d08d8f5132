"""Overview: is the server healthy right now?

First, on any screen, the figures that say so, each coloured by its band and
naming its window: memory, tokens/s now, p95 latency, error rate, the queue
and requests/s (``figures.headline`` over the last 5 minutes, the numbers
the Requests page, the Fleet cards and the alerts show for the same
window). Then the memory gauge (bands, the server's threshold marked), the
tokens/s sparkline, loaded models, active requests, uptime and version, and
the latest events, all from one snapshot.
"""

from __future__ import annotations

from datetime import tzinfo

import pandas as pd

from opta_stream.charts.small_charts import gauge_plan, sparkline_plan
from opta_stream.charts.throughput_lines import TOTAL, line_rows
from opta_stream.figures import freshness
from opta_stream.figures.headline import Headline, headline
from opta_stream.figures.memory import memory_pct
from opta_stream.figures.tokens import LIVE_OVER_S, rate_grid
from opta_stream.figures.windows import snapshot_window
from opta_stream.settings import Thresholds
from opta_stream.snapshot import LogEntry, Snapshot
from opta_stream.units import clock_time, duration, number, span, zone
from opta_stream.views.event_rows import event_words
from opta_stream.views.recording import Block, Column, Recording
from opta_stream.views.specs import OVERVIEW_S, OverviewSpec
from opta_stream.views.tiles import (
    errors_tile,
    latency_tile,
    memory_tile,
    queue_tile,
    requests_tile,
    tokens_tile,
)
from opta_stream.views.verdict import banner

__all__ = ["build", "events_frame", "total_frame"]

LATEST_EVENTS = 8


def _round(gb: float | None) -> float | None:
    """0.05 GB is below what the gauge can show: the gauge's data changes less often."""
    return None if gb is None else round(gb * 20.0) / 20.0


def memory_card(out: Block, snap: Snapshot, tz: tzinfo) -> None:
    g = snap.gauges
    with out.container(border=True) as box:
        box.markdown("**Memory**")
        box.chart(gauge_plan(_round(g.memory_used_gb), _round(g.memory_total_gb),
                             g.threshold_pct), key="overview_gauge")
        pct = memory_pct(g)
        if pct is None or g.memory_used_gb is None or g.memory_total_gb is None:
            box.caption("No memory figures yet — waiting for the first status sample.")
            return
        limit = f" · threshold {g.threshold_pct:.0f} %" if g.threshold_pct is not None else ""
        stale = freshness.status_age(snap).note(tz)
        box.caption(f"{g.memory_used_gb:.1f} of {g.memory_total_gb:.1f} GB used "
                    f"({pct:.0f} %){limit}" + (f" · {stale}" if stale else ""))


def total_frame(snap: Snapshot, step_s: float = 2.0) -> pd.DataFrame:
    """The sparkline's frame: the 'all models' rate line, as on the Throughput page."""
    t0, t1 = snapshot_window(snap)
    grid = rate_grid(snap.throughput, t0, t1, step_s=step_s, over_s=LIVE_OVER_S)
    return line_rows(grid.t, grid.total, TOTAL)


def throughput_card(out: Block, snap: Snapshot, tz: tzinfo) -> None:
    series = snap.throughput
    with out.container(border=True) as box:
        box.markdown(f"**Tokens / s · last {span(OVERVIEW_S)}**",
                     help="All loaded models together, each point the rate over the 10 s "
                          "before it (the Throughput page's 'all models' line).")
        box.chart(sparkline_plan(total_frame(snap)), key="overview_sparkline")
        if not len(series):
            box.caption("No throughput samples yet — waiting for the first one."
                        if snap.gauges.tokens_per_s is None else
                        f"No throughput sample in the last {duration(OVERVIEW_S)}.")
        elif note := freshness.age_of(float(series.ts[-1]), snap).note(tz):
            box.caption(f":material/schedule: {note}: no newer sample.")


def figures_row(out: Block, h: Headline, bands: Thresholds) -> None:
    """What says whether the server is healthy, first on any screen: side by side, and
    two or three to a row on a phone instead of one under the other."""
    row = out.container(horizontal=True)
    memory_tile(row, h, bands)
    tokens_tile(row, h)
    latency_tile(row, h, bands)
    errors_tile(row, h, bands)
    queue_tile(row, h)
    requests_tile(row, h)


def numbers_row(out: Block, snap: Snapshot, tz: tzinfo) -> None:
    g = snap.gauges
    active = number(g.active_requests, "d")
    if g.active_requests is not None and g.max_concurrent:
        active += f" / {g.max_concurrent}"
    models = freshness.models_age(snap)
    row = out.container(horizontal=True)
    row.metric("Loaded models", str(len(snap.models)) if models.known else "—",
               help=None if models.known else "The model list has not arrived yet.")
    row.metric("Active requests", active)
    row.metric("Uptime", duration(g.uptime_s))
    row.metric("Server version", g.version or "—")
    note = freshness.status_age(snap).note(tz, "Server status")
    if note:
        out.caption(f":material/schedule: {note}: the server has not answered since.")
    if not len(snap.serving):
        out.caption("No request metrics yet — they come from the server's /admin/metrics.")


def events_frame(entries: tuple[LogEntry, ...], tz: tzinfo) -> pd.DataFrame:
    rows = [(clock_time(e.ts, tz), e.summary, e.severity, event_words(e.type))
            for e in reversed(entries)]
    return pd.DataFrame(rows, columns=["Time", "Summary", "Severity", "Event"], dtype=object)


def latest_events(out: Block, snap: Snapshot, tz: tzinfo) -> None:
    out.markdown("**Latest events**")
    entries = tuple(e for e in snap.events if e.severity != "debug")[-LATEST_EVENTS:]
    if not entries:
        out.caption("No events yet — model loads, downloads and warnings will appear here.")
        return
    out.table(events_frame(entries, tz), key="overview_events", row_height=70, columns={
        "Time": Column(width=70, pinned=True), "Summary": Column(width="large"),
        "Severity": Column(width=70), "Event": Column(width="medium")})


def build(spec: OverviewSpec, snap: Snapshot) -> Recording:
    """The live part's elements for one tick, shared by every viewer of it."""
    tz = zone(spec.tz)
    out = Recording()
    banner(out, snap)
    figures_row(out, headline(snap, OVERVIEW_S), spec.bands)
    left, right = out.columns([3, 2])
    memory_card(left, snap, tz)
    throughput_card(right, snap, tz)
    numbers_row(out, snap, tz)
    latest_events(out, snap, tz)
    return out
