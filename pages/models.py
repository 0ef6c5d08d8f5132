"""Models: what is loaded, load and unload, downloads and quantize jobs.

Each tick's rows and jobs are the view ``views.models_page``, shared by every
viewer; the buttons are this viewer's own. Actions run in a background
thread (a load can take minutes), so the page stays live while the server
works. Each result appears next to the control that caused it: an unload's
in its model's row, a load's under the Load form (``ui.load_form``: a picker
of the models on the server's disk, each marked whether it would fit, and the
server's own load fields). The server's own error message is shown verbatim;
a 202 means the model must be downloaded first, and the page asks before it
sends the confirmation. In read-only mode every action is disabled and the
page says why.
"""

from __future__ import annotations

import streamlit as st

from opta_stream.figures.freshness import actions_blocked
from opta_stream.ui import actions, live, load_form, model_actions, routing, session, sources
from opta_stream.ui.drawing import draw
from opta_stream.ui.widgets import viewer_zone
from opta_stream.views import models_page
from opta_stream.views.models_page import ModelsView
from opta_stream.views.recording import Recording
from opta_stream.views.specs import ModelsSpec

CONFIRM_KEY = "opta_confirm_unload"
FORM_BLOCKED_KEY = "opta_load_form_blocked"  # why the Load form was drawn disabled, or None

src = routing.page_source(__file__)
client = src.client
locked = src.read_only or client is None
WHY_LOCKED = ("Read-only mode: this dashboard is shared for viewing, so load and unload "
              "are disabled." if src.read_only else
              "No admin client: this view is not connected to a server.")


def why_not(server_blocked: str | None) -> str | None:
    """Why no action can start now: read-only, one already running, or the server's state."""
    if locked:
        return WHY_LOCKED
    running = actions.current_action()
    if running is not None and not running.done:
        return f"{running.label} is still running: one action at a time."
    return server_blocked


def ask_or_unload(model_id: str, in_flight: int) -> None:
    """Unload at once, or first ask when the server has requests in flight."""
    if in_flight and st.session_state.get(CONFIRM_KEY) != model_id:
        st.session_state[CONFIRM_KEY] = model_id
        return
    st.session_state.pop(CONFIRM_KEY, None)
    actions.start_action(f"Unloading {model_id}", lambda: client.unload_model(model_id),
                         origin=model_actions.unload_origin(model_id))


def unload_done_elsewhere(view: ModelsView, blocked: str | None) -> None:
    """An unload's result once its model has left the list: where the row was."""
    action = actions.current_action()
    if action is not None and action.origin.startswith("unload::") \
            and action.origin.removeprefix("unload::") not in view.listed:
        with st.container(border=True):
            model_actions.show_action(action.origin, client, blocked)


def model_row(model_id: str, row: Recording, view: ModelsView, blocked: str | None) -> None:
    with st.container(border=True):
        left, right = st.columns([5, 1], vertical_alignment="center")
        draw(row, left)
        asking = st.session_state.get(CONFIRM_KEY) == model_id
        right.button("Unload anyway" if asking else "Unload", key=f"unload::{model_id}",
                     disabled=blocked is not None, help=blocked or f"Unload {model_id}",
                     on_click=ask_or_unload, args=(model_id, view.in_flight))
        if asking:
            left.warning(f"The server has {view.in_flight} request(s) in flight; unloading "
                         "may cut them off. Press Unload anyway to go on.",
                         icon=":material/warning:")
        model_actions.show_action(model_actions.unload_origin(model_id), client, blocked)


@live.fragment(src, src.settings.render_s)
def tick() -> None:
    sources.want_reports(src, ("memory",))  # the Load form's fit estimate reads it
    spec = ModelsSpec(src.key, viewer_zone(), bands=src.settings.thresholds)
    view = live.view(src, spec, models_page.build)
    draw(view.head)
    live.health_actions(src, live.snapshot(src, spec.snapshot_s))
    blocked = why_not(view.blocked)
    form_follows(blocked)
    if blocked and not locked:
        st.caption(f"Actions are disabled: {blocked}")
    unload_done_elsewhere(view, blocked)
    for model_id, row in view.rows:
        model_row(model_id, row, view, blocked)
    draw(view.jobs)


def form_follows(blocked: str | None) -> None:
    """The Load form is drawn with the page, not with its live part: opened before the
    server answered, it would go on saying "Not connected to the server yet" beside a
    live page. When why actions are blocked changes (a connect, a drop, an action's start
    or end: rarely), the whole page runs once more and the form is drawn as it now is."""
    if st.session_state.get(FORM_BLOCKED_KEY, blocked) != blocked:
        st.rerun(scope="app")


def unlock_form() -> None:
    st.info(WHY_LOCKED, icon=":material/lock:")
    if not src.read_only or not src.settings.admin_key:
        return
    session.unlock_prompt("", "actions")


def server_blocked() -> str | None:
    return why_not(actions_blocked(live.snapshot(src, 1.0)))


st.header("Models")
if locked:
    unlock_form()
form_blocked = st.session_state[FORM_BLOCKED_KEY] = server_blocked()
tick()
load_form.load_form(client, form_blocked, locked, live.snapshot(src, 1.0))
load_form.load_result(client, server_blocked)
