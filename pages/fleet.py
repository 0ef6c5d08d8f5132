"""Fleet: every watched server at a glance, the ones in trouble first.

Up to five servers, one card each (``views.fleet_page.build_card``), each
built once per tick from its own server's snapshot and shared by every
viewer; this page orders them (trouble first) and lays them out. Past five,
one table instead (``views.fleet_table.build_table``): a row per server,
built once per tick from every server's snapshot and shared by every viewer,
so twenty servers are one element and the page redraws at the render
interval however many there are. Below, every server's tokens/s over a long
window (``build_history``), from Prometheus for each server it answered for,
else from that server's own recording.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from opta_stream.ui import live, routing, sources
from opta_stream.ui.drawing import draw
from opta_stream.ui.widgets import viewer_zone
from opta_stream.views.fleet_order import order, trouble
from opta_stream.views.fleet_page import build_card, build_history
from opta_stream.views.fleet_table import CARDS_UP_TO, build_table
from opta_stream.views.specs import FleetCardSpec, FleetHistorySpec, FleetTableSpec

HISTORY = {"1 h": 3600.0, "24 h": 86400.0, "7 d": 7 * 86400.0, "30 d": 30 * 86400.0}
HISTORY_REDRAW_S = 15.0
COLUMNS = 3

routing.page_source(__file__)  # app.py's frame first, as every page
servers = sources.fleet_sources()
RENDER_S = servers[0][1].settings.render_s if servers else None


def paced(base_s: float | None) -> Any:
    """A live fragment at the process's pace (``live.fragment``); none without servers."""
    return live.fragment(servers[0][1], base_s) if servers and base_s else st.fragment()


def cards() -> None:
    tz = viewer_zone()
    built = [live.view(src, FleetCardSpec(src.key, tz, entry.name, entry.url,
                                        bands=src.settings.thresholds), build_card)
             for entry, src in servers]
    ranked = order([card.facts for card in built])
    bad = sum(1 for card in built if trouble(card.facts))
    st.caption(f"{len(built)} servers · " + (f"{bad} need attention (first)" if bad
                                             else "all fine"))
    for row in range(0, len(ranked), COLUMNS):  # row by row: a phone stacks them in order
        for col, i in zip(st.columns(COLUMNS), ranked[row:row + COLUMNS], strict=False):
            draw(built[i].card, col)


def table() -> None:
    spec = FleetTableSpec(tuple(src.key for _, src in servers),
                          tuple(entry.name for entry, _ in servers),
                          bands=servers[0][1].settings.thresholds)
    assert RENDER_S is not None
    draw(live.view_many([src for _, src in servers], spec, build_table, RENDER_S / 2.0))


@paced(RENDER_S)
def tick() -> None:
    if len(servers) > CARDS_UP_TO:
        table()
    else:
        cards()


@paced(HISTORY_REDRAW_S)
def history(window_s: float) -> None:
    """Every server's tokens/s over a long window, built once per 15 s for every viewer."""
    answers = tuple(sources.long_answer(src, "throughput", window_s, entry)
                    for entry, src in servers)
    spec = FleetHistorySpec(tuple(src.key for _, src in servers),
                            tuple(entry.name for entry, _ in servers), viewer_zone(),
                            window_s, answers)
    draw(live.view_many([src for _, src in servers], spec, build_history, HISTORY_REDRAW_S))


st.header("Fleet")
tick()
if servers:
    st.subheader("Tokens / s per server")
    label = st.segmented_control("History window", list(HISTORY), default="24 h",
                                 key="fleet_history_window", required=True) or "24 h"
    history(HISTORY[label])
