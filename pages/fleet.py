"""Fleet: every watched server at a glance, the ones in trouble first.

One card per server: its name (a link to that server's Overview), health,
memory gauge with the threshold, tokens/s with a sparkline, p95 latency,
queue and loaded models. Each card is built once per tick slot from its own
server's snapshot and shared by every viewer (``ui.shared``); a server that is
down only has an older snapshot, so it costs the other cards nothing. Past
five servers the cards redraw less often (``present.fleet.redraw_s``).

Below the cards, every server's tokens/s over a long window (1 h to 30 d):
from Prometheus for each server it answered for, else from that server's
own recording, the caption naming each source.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import tzinfo

import numpy as np
import streamlit as st

from opta_stream.charts import small_charts as cards
from opta_stream.charts.line_charts import lines_plan
from opta_stream.charts.long_window import long_frame
from opta_stream.charts.throughput_lines import TOTAL, line_rows
from opta_stream.figures import freshness
from opta_stream.figures.serving_totals import latest_gauges, seconds, totals
from opta_stream.figures.tokens import LIVE_OVER_S, current_rate, grid_step, rate_grid, rate_over
from opta_stream.figures.windows import snapshot_window
from opta_stream.ranges import RangeAnswer, answer_key
from opta_stream.servers import ServerEntry
from opta_stream.snapshot import Health, Snapshot
from opta_stream.store import Store
from opta_stream.ui import resources, routing, shared, widgets
from opta_stream.ui.timing import CARDS_PER_TICK, redraw_s
from opta_stream.units import duration, number, span
from opta_stream.views.fleet_lines import history_caption, history_spec, pick
from opta_stream.views.fleet_order import CardFacts, order, trouble
from opta_stream.views.recording import Block, Recorder, replay
from opta_stream.views.verdict import badge_label

WINDOW_S = 120.0
HISTORY = {"1 h": 3600.0, "24 h": 86400.0, "7 d": 7 * 86400.0, "30 d": 30 * 86400.0}
HISTORY_REDRAW_S = 15.0
COLUMNS = 3
MODELS_SHOWN = 3

routing.page_source(__file__)  # app.py's frame first, as every page
servers = resources.fleet_sources()


def _round(gb: float | None) -> float | None:
    return None if gb is None else round(gb * 20.0) / 20.0


def _health(out: Block, entry: ServerEntry, snap: Snapshot, tz: tzinfo) -> None:
    label, color = badge_label(snap)
    out.badge(label, color=color, icon=":material/circle:")
    health = snap.health
    if health.state in (Health.LIVE, Health.CONNECTING):
        return
    seen = (f" Last heard {duration(snap.taken_at - health.last_seen_at)} ago."
            if health.last_seen_at else " Never heard from.")
    text = f"{health.message or label}{seen}"
    if health.state is Health.DEGRADED:
        out.warning(text, icon=":material/warning:")
    else:
        out.error(text, icon=":material/error:")


def _memory(out: Block, entry: ServerEntry, snap: Snapshot) -> None:
    g = snap.gauges
    if g.memory_used_gb is None or not g.memory_total_gb:
        out.caption("Memory: no figures yet.")
        return
    spec = shared.gauge(_round(g.memory_used_gb), _round(g.memory_total_gb), g.threshold_pct)
    shared.chart(out, spec, key=f"fleet_gauge_{entry.name}")
    pct = 100.0 * g.memory_used_gb / g.memory_total_gb
    limit = f" · threshold {g.threshold_pct:.0f} %" if g.threshold_pct is not None else ""
    out.caption(f"{g.memory_used_gb:.1f} of {g.memory_total_gb:.1f} GB ({pct:.0f} %){limit}")


def _throughput(out: Block, entry: ServerEntry, snap: Snapshot, tz: tzinfo) -> None:
    t0, t1 = snapshot_window(snap)
    out.metric("Tokens / s", number(current_rate(snap.throughput)),
               help="All loaded models together, over the last 10 s.")
    if not len(snap.throughput):
        out.caption("No throughput samples in the last 2 min.")
        return
    grid = rate_grid(snap.throughput, t0, t1, step_s=2.0, over_s=LIVE_OVER_S)
    shared.chart(out, cards.sparkline_plan(line_rows(grid.t, grid.total, TOTAL, 1.5)),
                 key=f"fleet_spark_{entry.name}")
    if (note := freshness.age_of(float(snap.throughput.ts[-1]),
                                                         snap).note(tz)):
        out.caption(f":material/schedule: {note}: no newer sample.")


def card(entry: ServerEntry, snap: Snapshot, tz: tzinfo) -> tuple[CardFacts, Recorder]:
    """One server's card and the facts that rank it."""
    t0, t1 = snapshot_window(snap)
    t = totals(snap.serving, t0=t0, t1=t1)
    queued = latest_gauges(snap.serving).get("queued")
    g = snap.gauges
    pct = (100.0 * g.memory_used_gb / g.memory_total_gb
           if g.memory_used_gb is not None and g.memory_total_gb else None)
    facts = CardFacts(entry.name, snap.health.state, pct, g.threshold_pct,
                      t.error_ratio, queued)
    out = Recorder()
    with out.container(border=True):
        out.page_link("pages/overview.py", label=f"**{entry.name}**",
                      icon=":material/dns:", query_params={"server": entry.name},
                      help=f"Open {entry.name}'s pages ({entry.url}).")
        _health(out, entry, snap, tz)
        if reasons := trouble(facts):
            out.caption(":material/priority_high: " + "; ".join(reasons))
        _memory(out, entry, snap)
        _throughput(out, entry, snap, tz)
        # One line, not two metrics in columns: each element is a message to every viewer
        # on every redraw, and with 20 cards those messages were most of the page's cost.
        out.markdown(f"p95 latency **{seconds(t.quantile(0.95))}** · queued "
                     f"**{number(queued, '.0f')}**",
                     help=f"p95 over the requests that finished in the last "
                          f"{duration(WINDOW_S)}; queued: requests waiting for a slot now.")
        models = freshness.models_age(snap)
        names = [m.model_id for m in snap.models]
        if not models.known:
            out.caption("Loaded models: not known yet.")
        elif not names:
            out.caption("No model loaded.")
        else:
            more = f" and {len(names) - MODELS_SHOWN} more" if len(names) > MODELS_SHOWN else ""
            out.caption(f"Loaded: {', '.join(names[:MODELS_SHOWN])}{more}")
    return facts, out


# Past five cards the page redraws less often (present.fleet.redraw_s), and each card is
# built once per slot of that longer interval.
REDRAW_S = redraw_s(len(servers), servers[0][1].settings.render_s) if servers else None
cards_of = [(entry, dataclasses.replace(src, settings=dataclasses.replace(
    src.settings, render_s=REDRAW_S))) for entry, src in servers]


@st.fragment(run_every=REDRAW_S)
def live() -> None:
    built = [shared.page(src, "fleet_card", WINDOW_S,
                         lambda store, tz, e=entry: card(e, _snap(store), tz), entry.name)
             for entry, src in cards_of]
    ranked = order([facts for facts, _ in built])
    bad = sum(1 for facts, _ in built if trouble(facts))
    every = f" · redrawn every {REDRAW_S:g} s" if REDRAW_S and len(built) > CARDS_PER_TICK else ""
    st.caption(f"{len(built)} servers · " + (f"{bad} need attention (first)" if bad
                                             else "all fine") + every)
    for row in range(0, len(ranked), COLUMNS):  # row by row: a phone stacks them in order
        cols = st.columns(COLUMNS)
        for col, i in zip(cols, ranked[row:row + COLUMNS], strict=False):
            with col:
                replay(built[i][1].ops, st)


def _snap(store: Store) -> Snapshot:
    return store.snapshot(WINDOW_S)


def own_line(store: Store, window_s: float, points: int) -> tuple[np.ndarray, np.ndarray]:
    """A server's tokens/s over the window from its own recording (the live feed and the
    history file), as the Throughput page's "all models" line."""
    snap = store.snapshot(window_s)
    t0, t1 = snapshot_window(snap)
    step = grid_step(window_s, 1, snap.throughput.resolution_s, points)
    grid = rate_grid(snap.throughput, t0, t1, step_s=step, over_s=rate_over(window_s, step))
    return grid.t, grid.total


def history_build(window_s: float, answers: list[RangeAnswer | None], tz: tzinfo) -> Recorder:
    out = Recorder()
    lines, sources = [], []
    points = max(50, 1000 // max(1, len(servers)))
    for (entry, src), answer in zip(servers, answers, strict=True):
        line, source = pick(entry.name, answer, window_s,
                            lambda s=src: own_line(s.store, window_s, points))
        lines.append(line)
        sources.append((entry.name, source, answer))
    t1 = time.time()
    window = (t1 - window_s, t1)
    names = [entry.name for entry, _ in servers]
    shared.chart(out, lines_plan("fleet_history", long_frame(lines, "tokens_per_second"),
                                 window=window, axis=widgets.time_axis(window_s, tz),
                                 height=260, spec=history_spec(names)),
                 key="fleet_history_chart")
    if not any(np.isfinite(values).any() for _, _, values in lines):
        label = next((k for k, v in HISTORY.items() if v == window_s), span(window_s))
        out.caption(f":material/hourglass_empty: No tokens/s recorded in the last {label} "
                    "yet, for any server.")
    out.caption(history_caption(sources))
    return out


@st.fragment(run_every=HISTORY_REDRAW_S)
def history(window_s: float) -> None:
    """Every server's tokens/s over a long window, built once per 15 s for every viewer."""
    answers = [resources.long_answer(src, "throughput", window_s, entry)
               for entry, src in servers]
    tz = widgets.viewer_tz()
    if not all(src.share for _, src in servers):  # injected test stores: no sharing
        replay(history_build(window_s, answers, tz).ops, st)
        return
    key = ("fleet_history", window_s, widgets.tz_name(tz),
           tuple((entry.name, entry.url, id(src.store)) for entry, src in servers),
           tuple(map(answer_key, answers)))
    replay(shared.memo(2 * HISTORY_REDRAW_S).get(key, lambda: history_build(
        window_s, answers, tz)).ops, st)


st.header("Fleet")
live()
if servers:
    st.subheader("Tokens / s per server")
    label = st.segmented_control("History window", list(HISTORY), default="24 h",
                                 key="fleet_history_window", required=True) or "24 h"
    history(HISTORY[label])
