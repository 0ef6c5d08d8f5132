"""Models: what is loaded, load and unload, downloads and quantize jobs.

Actions run in a background thread (a load can take minutes), so the page
stays live while the server works. Each result appears next to the control
that caused it: an unload's in its model's row, a load's under the Load form
(``ui.load_form``: a picker of the models on the server's disk and the
server's own load fields). The server's own error message is shown verbatim;
a 202 means the model must be downloaded first, and the page asks before it
sends the confirmation. In read-only mode every action is disabled and the
page says why.
"""

from __future__ import annotations

import streamlit as st

from opta_stream.figures import freshness
from opta_stream.figures.serving_totals import totals
from opta_stream.figures.tokens import current_rates
from opta_stream.snapshot import ModelInfo, Progress, Snapshot
from opta_stream.store import Store
from opta_stream.ui import actions, load_form, model_actions, routing, session, shared, widgets
from opta_stream.views.model_rows import model_facts, readiness_color
from opta_stream.views.verdict import banner

MAX_JOBS_SHOWN = 8
WINDOW_S = 300.0  # the p95 on each row is over this window, as on the Requests page

CONFIRM_KEY = "opta_confirm_unload"

src = routing.page_source(__file__)
store, client = src.store, src.client
locked = src.read_only or client is None
WHY_LOCKED = ("Read-only mode: this dashboard is shared for viewing, so load and unload "
              "are disabled." if src.read_only else
              "No admin client: this view is not connected to a server.")


def why_not(snap: Snapshot) -> str | None:
    """Why no action can start now: read-only, one already running, or the server's state."""
    if locked:
        return WHY_LOCKED
    running = actions.current_action()
    if running is not None and not running.done:
        return f"{running.label} is still running: one action at a time."
    return freshness.actions_blocked(snap)


def ask_or_unload(model_id: str, in_flight: int) -> None:
    """Unload at once, or first ask when the server has requests in flight."""
    if in_flight and st.session_state.get(CONFIRM_KEY) != model_id:
        st.session_state[CONFIRM_KEY] = model_id
        return
    st.session_state.pop(CONFIRM_KEY, None)
    actions.start_action(f"Unloading {model_id}", lambda: client.unload_model(model_id),
                         origin=model_actions.unload_origin(model_id))


def unload_done_elsewhere(snap: Snapshot, blocked: str | None) -> None:
    """An unload's result once its model has left the list: where the row was."""
    action = actions.current_action()
    listed = {m.model_id for m in snap.models}
    if action is not None and action.origin.startswith("unload::") \
            and action.origin.removeprefix("unload::") not in listed:
        with st.container(border=True):
            model_actions.show_action(action.origin, client, blocked)


def tick_facts(store: Store) -> tuple[Snapshot, dict[str, str]]:
    """The snapshot and each model's line of facts, computed once per tick for every viewer."""
    snap = store.snapshot(WINDOW_S)
    rates = current_rates(snap.throughput)
    facts = {m.model_id: model_facts(
        m, snap.taken_at, tokens_per_s=rates.get(m.model_id),
        p95_s=totals(snap.serving, "model", m.model_id).quantile(0.95), window_s=snap.window_s)
        for m in snap.models}
    return snap, facts


def model_row(model: ModelInfo, snap: Snapshot, facts: str) -> None:
    in_flight = snap.gauges.active_requests or 0
    with st.container(border=True):
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.text(model.model_id)
        if model.readiness:
            left.badge(model.readiness, color=readiness_color(model.readiness))
        left.caption(facts)
        blocked = why_not(snap)
        asking = st.session_state.get(CONFIRM_KEY) == model.model_id
        right.button("Unload anyway" if asking else "Unload", key=f"unload::{model.model_id}",
                     disabled=blocked is not None, help=blocked or f"Unload {model.model_id}",
                     on_click=ask_or_unload, args=(model.model_id, in_flight))
        if asking:
            left.warning(f"The server has {in_flight} request(s) in flight; unloading may "
                         "cut them off. Press Unload anyway to go on.", icon=":material/warning:")
        model_actions.show_action(model_actions.unload_origin(model.model_id), client, blocked)


def job_row(job: Progress) -> None:
    percent = f" · {job.percent:.0f} %" if job.percent is not None else ""
    with st.container(border=True):
        st.text(f"{job.kind.capitalize()} · {job.label}")
        if job.percent is not None:
            st.progress(min(max(job.percent / 100.0, 0.0), 1.0))
        st.text(" · ".join(x for x in (job.status + percent, job.message) if x))


def jobs(snap: Snapshot) -> None:
    """Running jobs first, then the most recent finished ones."""
    ordered = sorted(snap.jobs, key=lambda j: (j.status != "running", -j.updated_at))
    for job in ordered[:MAX_JOBS_SHOWN]:
        job_row(job)
    if len(ordered) > MAX_JOBS_SHOWN:
        st.caption(f"{len(ordered) - MAX_JOBS_SHOWN} older jobs not shown.")


@st.fragment(run_every=src.settings.render_s)
def live() -> None:
    banner(st, shared.snapshot(src, 1.0))
    snap, facts = shared.page(src, "models", WINDOW_S, lambda store, tz: tick_facts(store))
    age = freshness.models_age(snap)
    st.subheader(f"Loaded models ({len(snap.models) if age.known else '—'})")
    tz = widgets.viewer_tz()
    if not age.known:
        st.caption("The model list has not been received from the server yet.")
    elif age.stale:
        st.caption(f"{age.note(tz)}: the list may have changed since.")
    elif not snap.models:
        st.caption("No models loaded. Load one with the form below.")
    blocked = why_not(snap)
    if blocked and not locked:
        st.caption(f"Actions are disabled: {blocked}")
    unload_done_elsewhere(snap, blocked)
    for model in snap.models:
        model_row(model, snap, facts[model.model_id])
    st.subheader("Downloads and quantize jobs")
    if not snap.jobs:
        st.caption("No downloads or quantize jobs yet.")
    jobs(snap)


def unlock_form() -> None:
    st.info(WHY_LOCKED, icon=":material/lock:")
    if not src.read_only or not src.settings.admin_key:
        return
    with st.form("unlock", border=False, clear_on_submit=True):
        entry = st.text_input("Admin key", type="password", key="unlock_key",
                              help="Unlocks actions for this browser session only.")
        submitted = st.form_submit_button("Unlock", key="unlock_submit")
    refusal = session.unlock(entry) if submitted else None
    if submitted and refusal is None:
        st.rerun()
    elif refusal:
        st.error(refusal)


st.header("Models")
if locked:
    unlock_form()
live()
load_form.load_form(client, why_not(store.snapshot(1.0)), locked)
load_form.load_result(client, lambda: why_not(store.snapshot(1.0)))
