"""The Fleet page past a handful of servers: one table, a row per server, trouble first.

Twenty cards were about 180 elements for every viewer on every redraw; the
table is one (``st.dataframe`` with its column settings), built once per tick
slot from every server's snapshot and shared by every viewer
(``ui.live.view_many``), so a viewer's redraw only sends it.

Each row holds what the server's card holds, from the same computations as
the Overview (``figures.headline`` over the last 5 minutes, ``memory_pct``),
so a number in the table is the number the Overview shows for that server
and snapshot: the health in the card badge's words and colour ("Live ⚠" in
orange when a live server is in trouble), the server's
name as a link that opens its Overview, memory against its total with the
server's own threshold, a tokens/s sparkline and tokens/s now, p95 latency
(always in seconds, so the column sorts), the error rate, the queue, the
firing alerts, why it needs attention and its loaded models. An unknown
figure is "—", never 0. Rows come in ``fleet_order.order`` (trouble first);
the viewer may sort by any column.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

import numpy as np
import pandas as pd

from opta_stream.figures import freshness
from opta_stream.figures.headline import Headline, headline
from opta_stream.figures.tokens import LIVE_OVER_S, rate_grid
from opta_stream.figures.windows import snapshot_window, window_label
from opta_stream.snapshot import Health, Snapshot
from opta_stream.units import duration
from opta_stream.views.fleet_order import CardFacts, order, trouble
from opta_stream.views.fleet_page import MODELS_SHOWN, card_facts
from opta_stream.views.recording import Column, Recording
from opta_stream.views.specs import OVERVIEW_S, FleetTableSpec
from opta_stream.views.verdict import BADGES

__all__ = ["ATTENTION", "CARDS_UP_TO", "CHIPS", "SPARK_STEP_S", "build_table", "link", "row",
           "status"]

CARDS_UP_TO = 5  # a card per server up to this many; past it, the table
SPARK_STEP_S = 5.0  # the sparkline's points: 60 over the last 5 minutes
DTYPES = {"status": "object", "server": "string", "memory": "Float64", "threshold": "Float64",
          "tokens": "object", "tokens_now": "Float64", "p95": "Float64", "errors": "Float64",
          "queued": "Float64", "alerts": "Int64", "attention": "string", "models": "string"}
ROW_PX = 35  # st.dataframe's row (and header) height
# The status chip: the health in the card badge's words and colour ("Key rejected" for
# the badge's "Admin key rejected", to fit a phone), and "Live ⚠" in orange for a live
# server in trouble (memory at its threshold, errors, a queue, a firing alert). Colours as
# the Events page's severity chips.
HEX = {"red": "#ef4444", "orange": "#f59e0b", "green": "#22c55e", "gray": "#a1a1aa"}
WORDS = {state: ("Key rejected" if state is Health.KEY_REJECTED else label)
         for state, (label, _) in BADGES.items()}
ATTENTION = f"{WORDS[Health.LIVE]} ⚠"
CHIPS = ({WORDS[state]: HEX[color] for state, (_, color) in BADGES.items()}
         | {ATTENTION: HEX["orange"]})


def link(name: str) -> str:
    """The row's link: the Overview of that server, relative to the Fleet page, so it
    works under any base path (the sidebar's selector reads ``?server=``)."""
    return f"overview?server={quote(name, safe='')}"


def status(f: CardFacts) -> list[str]:
    """The status chip's words: the health ("Down", "Live"), or "Live ⚠" for a live
    server in trouble."""
    return [ATTENTION if f.state is Health.LIVE and trouble(f) else WORDS[f.state]]


def _attention(f: CardFacts, snap: Snapshot) -> str:
    """Why the server needs attention (the card's words), and when a server that is not
    live was last heard from."""
    reasons = trouble(f)
    if snap.health.state not in (Health.LIVE, Health.CONNECTING):
        seen = snap.health.last_seen_at
        reasons.append(f"last heard {duration(snap.taken_at - seen)} ago" if seen is not None
                       else "never heard from")
    return "; ".join(reasons)


def _spark(snap: Snapshot) -> list[float] | None:
    """Tokens/s over the snapshot's window every 5 s, as the card's sparkline (the rate
    over the 10 s before each point); points without a sample are left out (a cell's
    line cannot break), None when there are none."""
    if not len(snap.throughput):
        return None
    t0, t1 = snapshot_window(snap)
    grid = rate_grid(snap.throughput, t0, t1, step_s=SPARK_STEP_S, over_s=LIVE_OVER_S)
    values = grid.total[np.isfinite(grid.total)]
    return [round(float(v), 2) for v in values] if values.size else None


def _models(snap: Snapshot) -> str | None:
    if not freshness.models_age(snap).known:
        return None
    names = [m.model_id for m in snap.models]
    more = f" and {len(names) - MODELS_SHOWN} more" if len(names) > MODELS_SHOWN else ""
    return ", ".join(names[:MODELS_SHOWN]) + more if names else "no model loaded"


def row(name: str, snap: Snapshot, h: Headline, f: CardFacts) -> dict[str, object]:
    """One server's row: the numbers as the Overview has them (None: not known)."""
    firing = snap.alerts.firing
    return {
        "status": status(f),
        "server": link(name),
        "memory": h.memory_pct,
        "threshold": h.memory_threshold_pct,
        "tokens": _spark(snap),
        "tokens_now": h.tokens_per_s,
        "p95": h.p95_latency_s,
        "errors": h.error_rate_pct,
        "queued": h.queued,
        "alerts": len(firing) if snap.alerts.watched else None,
        "attention": _attention(f, snap),
        "models": _models(snap),
    }


def _columns(spec: FleetTableSpec) -> dict[str, Column]:
    b = spec.bands
    w = window_label(OVERVIEW_S)
    return {
        "status": Column("multiselect", label="Status", pinned=True, width=100,
                         options=tuple(CHIPS), colors=tuple(CHIPS.values()), help=(
                             "The server's health, as on its Overview; ⚠: live, but it needs "
                             "attention (why: the Needs attention column). Rows come trouble "
                             "first; a third click on a header sorts them back that way.")),
        "server": Column("link", label="Server", pinned=True, display_text=r"server=(.*)$",
                         help="Opens that server's Overview, in a new tab."),
        "memory": Column("progress", label="Memory · now", format="%.0f %%", min_value=0.0,
                         max_value=100.0, width=120, help=(
                             "Memory in use against the server's total. At or over the "
                             "server's own threshold (next column) it needs attention; the "
                             f"Overview's tile is red from {b.memory_red_pct:g} % or that "
                             f"threshold, amber from {b.memory_amber_pct:g} %.")),
        "threshold": Column("number", label="Threshold", format="%.0f %%", width=80,
                            help="The server's own memory threshold."),
        "tokens": Column("line", label=f"Tokens / s · {w}", min_value=0.0, width=125,
                         help=f"All loaded models together over the last {w}, each point "
                              "the rate over the 10 s before it (the Overview's sparkline); "
                              "gaps are left out."),
        "tokens_now": Column("number", label="Tokens / s · now", format="%.1f", width=115,
                             help="The rate over the last 10 s, as on the Overview (— when "
                                  "no reading is fresher than a few seconds)."),
        "p95": Column("number", label=f"p95 · {w}", format="%.2f s", width=95, help=(
            f"95 % of the requests that finished in the last {w} took at most this (the "
            f"Overview's p95 latency, in seconds); objective {b.p95_objective_s:g} s.")),
        "errors": Column("number", label=f"Errors · {w}", format="%.1f %%", width=105, help=(
            f"Failed over all requests that finished in the last {w} (— while none "
            f"finished); amber from {b.error_amber_pct:g} %, red from {b.error_red_pct:g} %.")),
        "queued": Column("number", label="Queued · now", format="%.0f", width=100,
                         help="Requests waiting for a free slot now."),
        "alerts": Column("number", label="Alerts firing", format="%d", width=100,
                         help="The server's firing alerts (which ones: the Alerts page)."),
        "attention": Column(label="Needs attention", width=240,
                            help="Why the server needs attention, worst first."),
        "models": Column(label="Loaded models", width=300),
    }


def build_table(spec: FleetTableSpec, snaps: Sequence[Snapshot]) -> Recording:
    """Every server's row, trouble first, under a line that counts the trouble."""
    rows, facts = [], []
    for name, snap in zip(spec.names, snaps, strict=True):
        h = headline(snap, OVERVIEW_S)
        f = card_facts(name, snap, h)
        facts.append(f)
        rows.append(row(name, snap, h, f))
    ranked = order(facts)
    # Typed columns: numbers stay numbers even when a whole column is unknown (which
    # Arrow would otherwise make "null"); a missing value shows as the placeholder, "—".
    frame = pd.DataFrame({name: pd.Series([rows[i][name] for i in ranked], dtype=dtype)
                          for name, dtype in DTYPES.items()})
    bad = sum(1 for f in facts if trouble(f))
    out = Recording()
    out.caption(f"{len(rows)} servers · " + (f"{bad} need attention (first)" if bad
                                             else "all fine")
                + " · sort by any column; a name opens that server's Overview.")
    out.table(frame, key="fleet_table", columns=_columns(spec),
              height=ROW_PX * (len(rows) + 1) + 3, placeholder="—")
    return out

