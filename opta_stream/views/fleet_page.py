"""Fleet: one card per server, and every server's tokens/s over a long window.

A card is built from its own server's snapshot (``build_card``): name (a link
to that server's Overview), health, memory gauge with the threshold, tokens/s
with a sparkline, p95 latency, queue and loaded models, and the facts that
rank it (``fleet_order``). A server that is down only has an older snapshot,
so it costs the other cards nothing.

The history (``build_history``) draws each server's tokens/s over 1 h to
30 d: from Prometheus when it answered for that server, else from that
server's own recording; the caption names the source of each line, and why
Prometheus was not used where it was set but gave nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from functools import partial

import numpy as np

from opta_stream.charts.line_charts import LineSpec, lines_plan
from opta_stream.charts.long_window import fallback_caption, long_frame, uses_prometheus
from opta_stream.charts.parts import MODEL_COLORS, TimeAxis
from opta_stream.charts.small_charts import gauge_plan, sparkline_plan
from opta_stream.charts.throughput_lines import TOTAL, line_rows
from opta_stream.figures import freshness
from opta_stream.figures.headline import Headline, fresh_tokens_now, headline
from opta_stream.figures.levels import LEVEL_COLORS, Level, errors_level, latency_level, queue_level
from opta_stream.figures.memory import memory_pct
from opta_stream.figures.serving_totals import seconds
from opta_stream.figures.tokens import LIVE_OVER_S, grid_step, rate_grid, rate_over, tokens_now
from opta_stream.figures.windows import snapshot_window, window_label
from opta_stream.snapshot import Health, RangeAnswer, Snapshot
from opta_stream.units import duration, number, zone
from opta_stream.views.fleet_order import CardFacts, trouble
from opta_stream.views.recording import Block, Recording
from opta_stream.views.specs import OVERVIEW_S, FleetCardSpec, FleetHistorySpec
from opta_stream.views.verdict import badge_label, verdict_text

__all__ = ["MODELS_SHOWN", "CardView", "Line", "build_card", "build_history", "card_facts",
           "history_caption", "history_height", "history_spec", "pick"]

MODELS_SHOWN = 3
HISTORY_PX, LEGEND_ROW_PX = 260, 18
Line = tuple[str, np.ndarray, np.ndarray]  # server name, unix-second times, tokens/s


@dataclass(frozen=True, slots=True)
class CardView:
    """One server's card and the facts that rank it among the others."""

    facts: CardFacts
    card: Recording


def _round(gb: float | None) -> float | None:
    return None if gb is None else round(gb * 20.0) / 20.0


def _health(out: Block, snap: Snapshot) -> None:
    label, color = badge_label(snap)
    out.badge(label, color=color, icon=":material/circle:")
    health = snap.health
    if health.state in (Health.LIVE, Health.CONNECTING):
        return
    seen = (f" Last heard {duration(snap.taken_at - health.last_seen_at)} ago."
            if health.last_seen_at else " Never heard from.")
    text = f"{verdict_text(snap)}{seen}"
    if health.state is Health.DEGRADED:
        out.note("warning", text, icon=":material/warning:")
    else:
        out.note("error", text, icon=":material/error:")


def _alerts(out: Block, snap: Snapshot) -> None:
    """How many of the server's alerts fire (the Alerts page has which)."""
    firing = snap.alerts.firing
    if not snap.alerts.watched:
        return
    if not firing:
        out.caption(":material/notifications: No alert firing.")
        return
    critical = any(a.severity == "critical" for a in firing)
    out.badge(f"{len(firing)} alert{'s' if len(firing) > 1 else ''} firing",
              color="red" if critical else "orange", icon=":material/notifications_active:",
              help=", ".join(a.rule for a in firing))


def _memory(out: Block, spec: FleetCardSpec, snap: Snapshot) -> None:
    g = snap.gauges
    pct = memory_pct(g)
    if pct is None or g.memory_used_gb is None or g.memory_total_gb is None:
        out.caption("Memory: no figures yet.")
        return
    out.chart(gauge_plan(_round(g.memory_used_gb), _round(g.memory_total_gb), g.threshold_pct),
              key=f"fleet_gauge_{spec.name}")
    limit = f" · threshold {g.threshold_pct:.0f} %" if g.threshold_pct is not None else ""
    out.caption(f"{g.memory_used_gb:.1f} of {g.memory_total_gb:.1f} GB ({pct:.0f} %){limit}")


def _throughput(out: Block, spec: FleetCardSpec, snap: Snapshot, tz: tzinfo) -> None:
    t0, t1 = snapshot_window(snap)
    out.metric("Tokens / s", number(tokens_now(snap)), border=False,
               help="All loaded models together, over the last 10 s.")
    if not len(snap.throughput):
        out.caption("No throughput samples in the last 2 min.")
        return
    grid = rate_grid(snap.throughput, t0, t1, step_s=2.0, over_s=LIVE_OVER_S)
    out.chart(sparkline_plan(line_rows(grid.t, grid.total, TOTAL)),
              key=f"fleet_spark_{spec.name}")
    if note := freshness.age_of(float(snap.throughput.ts[-1]), snap).note(tz):
        out.caption(f":material/schedule: {note}: no newer sample.")


def _colored(text: str, level: Level | None) -> str:
    """Markdown text in its level's colour (as the Overview's tiles), bold."""
    return f"**{text}**" if level is None else f":{LEVEL_COLORS[level]}[**{text}**]"


def card_facts(name: str, snap: Snapshot, h: Headline) -> CardFacts:
    """What ranks a server (its card, or its row in the Fleet table), from its snapshot
    and its headline over the Overview's window."""
    error_ratio = None if h.error_rate_pct is None else h.error_rate_pct / 100.0
    return CardFacts(name, snap.health.state, h.memory_pct, h.memory_threshold_pct,
                     error_ratio, h.queued, len(snap.alerts.firing))


def build_card(spec: FleetCardSpec, snap: Snapshot) -> CardView:
    """One server's card and the facts that rank it."""
    tz = zone(spec.tz)
    h = headline(snap, OVERVIEW_S)
    facts = card_facts(spec.name, snap, h)
    out = Recording()
    box = out.container(border=True)
    box.page_link("pages/overview.py", label=f"**{spec.name}**", icon=":material/dns:",
                  query_params={"server": spec.name},
                  help=f"Open {spec.name}'s pages ({spec.url}).")
    _health(box, snap)
    _alerts(box, snap)
    if reasons := trouble(facts):
        box.caption(":material/priority_high: " + "; ".join(reasons))
    _memory(box, spec, snap)
    _throughput(box, spec, snap, tz)
    # One line, not two metrics in columns: each element is a message to every viewer
    # on every redraw, and with 20 cards those messages were most of the page's cost.
    p95 = _colored(seconds(h.p95_latency_s), latency_level(h, spec.bands))
    errors = _colored(number(h.error_rate_pct, ".1f", " %"), errors_level(h, spec.bands))
    queued = _colored(number(h.queued, ".0f"), queue_level(h))
    box.markdown(f"p95 latency · {h.window} {p95} · errors {errors} · queued now {queued}",
                 help=f"p95 and errors over the requests that finished in the {h.window}, "
                      "as on the Overview; queued: requests waiting for a slot now. Green, "
                      "amber and red as the Overview's tiles.")
    models = freshness.models_age(snap)
    names = [m.model_id for m in snap.models]
    if not models.known:
        box.caption("Loaded models: not known yet.")
    elif not names:
        box.caption("No model loaded.")
    else:
        more = f" and {len(names) - MODELS_SHOWN} more" if len(names) > MODELS_SHOWN else ""
        box.caption(f"Loaded: {', '.join(names[:MODELS_SHOWN])}{more}")
    return CardView(facts, out)


def own_line(snap: Snapshot, points: int, now: float | None) -> tuple[np.ndarray, np.ndarray]:
    """A server's tokens/s over the snapshot's window from its own recording (the live
    feed and the history file), as the Throughput page's "all models" line: it ends at
    ``now`` (its tokens/s over the last 10 s, while fresh), so a recording younger than
    one step of a long window is a dot there, not an empty chart beside live figures."""
    t0, t1 = snapshot_window(snap)
    step = grid_step(snap.window_s, 1, snap.throughput.resolution_s, points)
    grid = rate_grid(snap.throughput, t0, t1, step_s=step, over_s=rate_over(snap.window_s, step))
    return grid.total_until(t1, now)


def build_history(spec: FleetHistorySpec, snaps: Sequence[Snapshot]) -> Recording:
    """Every server's tokens/s over the window, one line each, sources in the caption."""
    out = Recording()
    lines, sources = [], []
    points = max(50, 1000 // max(1, len(spec.names)))
    for name, snap, answer in zip(spec.names, snaps, spec.answers, strict=True):
        line, source = pick(name, answer, spec.window_s,
                            partial(own_line, snap, points, fresh_tokens_now(snap)))
        lines.append(line)
        sources.append((name, source, answer))
    t1 = max((s.taken_at for s in snaps), default=0.0)
    window = (t1 - spec.window_s, t1)
    out.chart(lines_plan("fleet_history", long_frame(lines, "tokens_per_second"),
                         window=window, axis=TimeAxis.for_window(spec.window_s, spec.tz),
                         height=history_height(len(spec.names)),
                         spec=history_spec(spec.names)),
              key="fleet_history_chart")
    if not any(np.isfinite(values).any() for _, _, values in lines):
        out.caption(f":material/hourglass_empty: No tokens/s recorded in the last "
                    f"{window_label(spec.window_s)} yet, for any server.")
    out.caption(history_caption(sources))
    return out


def history_height(lines: int) -> int:
    """The chart's height with its legend: 260 px holds two rows of names (the legend has
    two columns); each row past them adds its own, so the plot keeps its height with 20."""
    return HISTORY_PX + LEGEND_ROW_PX * max(0, math.ceil(lines / 2) - 2)


def history_spec(names: Sequence[str]) -> LineSpec:
    """One colour per server, in the configured order."""
    colors = tuple(MODEL_COLORS[i % len(MODEL_COLORS)] for i in range(len(names)))
    return LineSpec("tokens_per_second", "tokens / s", ",.1f", tuple(names), colors)


def pick(name: str, answer: RangeAnswer | None, window_s: float,
         own: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[Line, str]:
    """The server's line (Prometheus's if it answered, else ``own()``, its own recording's,
    computed only then) and the source it came from."""
    if uses_prometheus(answer, window_s):
        assert answer is not None
        line = answer.lines["tokens_per_s"]
        return (name, line.t, line.values), answer.source
    return (name, *own()), "own"


def history_caption(sources: Sequence[tuple[str, str, RangeAnswer | None]]) -> str:
    """Which server's line came from where, and why Prometheus was not used where it was
    set, e.g. "Source: Prometheus at p:9090 for studio, mini; this dashboard's own
    recording for lab. Prometheus at p:9090 has no series for lab: …"."""
    by_source: dict[str, list[str]] = {}
    for name, source, _ in sources:
        by_source.setdefault(source, []).append(name)
    own = "this dashboard's own recording"
    parts = [f"{own if src == 'own' else src} for {', '.join(names)}"
             for src, names in by_source.items()]
    missing = [(name, answer) for name, src, answer in sources
               if src == "own" and answer is not None and answer.status == "missing"]
    named = ", ".join(f"{n} ({a.selects})" if a.selects else n for n, a in missing)
    why = [] if not missing else [
        f"{missing[0][1].source} has no series for {named}: does it scrape their "
        "/admin/metrics, with that label?"]
    why += sorted({note for _, src, answer in sources
                   if src == "own" and answer is not None and answer.status != "missing"
                   and (note := fallback_caption(answer))})
    return "Source: " + "; ".join(parts) + "." + "".join(f" {w}" for w in why)
