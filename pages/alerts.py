"""Alerts: what fires or waits to fire on every watched server, the rules, the history.

The shared part is the view ``views.alerts_page`` over each server's snapshot (its
board, written by the process's watch), built once per tick for every viewer. The
Silence controls, the test notification and the window are this viewer's
(``ui.alert_controls``), acting on the watch through the data seam.
"""

from __future__ import annotations

import streamlit as st

from opta_stream.ui import alert_controls, live, routing, sources
from opta_stream.ui.drawing import draw
from opta_stream.ui.widgets import viewer_zone, window_selector
from opta_stream.views import alerts_page
from opta_stream.views.specs import AlertsSpec
from opta_stream.watch.watch_plan import DEMO_NAME

src = routing.page_source(__file__)
# every configured server; with none, the one this session sees (the demo, or the panel's)
servers = [(entry.name, s) for entry, s in sources.fleet_sources()] or [
    (DEMO_NAME if src.is_demo else src.store.server, src)]
controls = sources.current().alerts()
why_not = alert_controls.blocked(controls, src.read_only)
REDRAW_S = max(1.0, src.settings.render_s)  # rules are evaluated once a second


@live.fragment(src, REDRAW_S)
def tick() -> None:
    top = st.container()  # filled once the window below is known
    st.subheader("History")
    window_s = window_selector("alerts_window")
    spec = AlertsSpec(tuple(s.key for _, s in servers), tuple(n for n, _ in servers),
                      viewer_zone(), window_s)
    view = live.view_many([s for _, s in servers], spec, alerts_page.build, REDRAW_S)
    with top:
        draw(view.head)
        alert_controls.test_button(controls, why_not)
        alert_controls.test_result()
        st.subheader("Firing and pending")
        if not view.rows:
            st.caption(":material/check_circle: Nothing is firing or pending.")
        for row in view.rows:
            with st.container(border=True):
                card, control = st.columns([4, 1], vertical_alignment="center")
                draw(row.card, card)
                alert_controls.silence_control(control, row, controls, why_not, view.taken_at)
        draw(view.rules)
    draw(view.history)


st.header("Alerts")
if src.read_only and controls is not None:
    alert_controls.unlock_form(bool(src.settings.admin_key))
tick()
