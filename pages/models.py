"""Models: what is loaded, load and unload, downloads and quantize jobs.

Actions run in a background thread (a load can take minutes), so the page
stays live while the server works. The server's own error message is shown
verbatim: a 403 ``downloads_disabled`` is the server's policy, not a bad key.
A 202 means the model must be downloaded first: the page asks before it
sends the confirmation. In read-only mode every action is disabled and the
page says why.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from opta_stream.errors import AuthRejected, ConfigError, ServerRefused
from opta_stream.inputs import MODEL_ID_MAX, validate_model_id
from opta_stream.present import freshness
from opta_stream.present.formatting import number, plain
from opta_stream.snapshot import ModelInfo, Progress, Snapshot
from opta_stream.ui import actions, routing, session, widgets
from opta_stream.units import duration
from opta_stream.wire.client import ActionResult, Unreachable

MAX_JOBS_SHOWN = 8

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
    actions.start_action(f"Unloading {model_id}", lambda: client.unload_model(model_id))


def show_error(exc: Exception) -> None:
    if isinstance(exc, ServerRefused):
        code = f", {exc.code}" if exc.code else ""
        policy = " This is the server's policy, not an admin key problem." \
            if exc.status == 403 else ""
        widgets.show_verbatim(f"The server refused (HTTP {exc.status}{code}).{policy}",
                              exc.message)
    elif isinstance(exc, AuthRejected):
        widgets.show_verbatim("Admin key rejected: check the key in the sidebar.", str(exc))
    elif isinstance(exc, Unreachable | ConfigError):
        widgets.show_verbatim("The request was not completed.", str(exc))
    else:
        widgets.show_verbatim("Unexpected error.", f"{type(exc).__name__}: {exc}")


def confirm_download(result: ActionResult) -> None:
    size = result.body.get("estimated_size_human")
    about = f" (about {plain(size)})" if isinstance(size, str) else ""
    st.warning(f"Download needed{about}: this model is not on the server's disk yet.",
               icon=":material/download:")
    st.code(f"{result.model_id}\n{result.message}", language=None, wrap_lines=True)
    model_id = result.model_id
    # on_click runs before the rerun the click causes, so that rerun shows the action.
    st.button("Confirm download", key="confirm_download", type="primary", disabled=locked,
              help=WHY_LOCKED if locked else "Download, then load, this model.",
              on_click=actions.start_action,
              args=(f"Downloading {model_id}",
                    lambda: client.load_model(model_id, {"auto_download": True})))


def action_status(now: float) -> None:
    action = actions.current_action()
    if action is None:
        return
    if not action.done:
        st.info(f"{action.label}… ({duration(now - action.started_at)})",
                icon=":material/hourglass_top:")
        return
    if action.error is not None:
        show_error(action.error)
    elif action.result.needs_confirmation:
        confirm_download(action.result)
    else:
        st.success(plain(action.result.message), icon=":material/check_circle:")
    st.button("Dismiss", key="dismiss_action", on_click=actions.clear_action)


def model_row(model: ModelInfo, snap: Snapshot) -> None:
    now, in_flight = snap.taken_at, snap.gauges.active_requests or 0
    bits = [number(model.memory_gb, ".2f", " GB"), model.quantization or "",
            f"{model.context_length:,} ctx" if model.context_length else "",
            f"loaded {duration(now - model.loaded_at)} ago" if model.loaded_at else "",
            f"{model.request_count} requests" if model.request_count is not None else ""]
    with st.container(border=True):
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.text(model.model_id)
        left.caption(" · ".join(b for b in bits if b and b != "—") or "no details reported")
        blocked = why_not(snap)
        asking = st.session_state.get(CONFIRM_KEY) == model.model_id
        right.button("Unload anyway" if asking else "Unload", key=f"unload::{model.model_id}",
                     disabled=blocked is not None, help=blocked or f"Unload {model.model_id}",
                     on_click=ask_or_unload, args=(model.model_id, in_flight))
        if asking:
            left.warning(f"The server has {in_flight} request(s) in flight; unloading may "
                         "cut them off. Press Unload anyway to go on.", icon=":material/warning:")


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


@st.fragment(run_every=0.5)
def live() -> None:
    snap: Snapshot = store.snapshot(60.0)
    action_status(snap.taken_at)
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
    for model in snap.models:
        model_row(model, snap)
    st.subheader("Downloads and quantize jobs")
    if not snap.jobs:
        st.caption("No downloads or quantize jobs yet.")
    jobs(snap)


def parse_settings(text: str) -> dict[str, Any]:
    """The optional JSON object of load settings."""
    if not text.strip():
        return {}
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("Settings must be a JSON object, like {\"max_context\": 8192}.")
    return value


def load_form() -> None:
    blocked = why_not(store.snapshot(1.0))
    with st.form("load_model"):
        st.markdown("**Load a model**")
        model_id = st.text_input("Model id", max_chars=MODEL_ID_MAX, disabled=blocked is not None,
                                 key="load_model_id",
                                 placeholder="mlx-community/Qwen2.5-7B-Instruct-4bit")
        raw = st.text_area("Settings (optional JSON)", disabled=blocked is not None, height=80,
                           key="load_settings",
                           placeholder='{"max_context": 8192}')
        if blocked is not None and not locked:
            st.caption(f"Load is disabled: {blocked}")
        if not st.form_submit_button("Load", type="primary", disabled=blocked is not None,
                                     key="load_submit", help=blocked):
            return
    try:
        model_id, settings = validate_model_id(model_id), parse_settings(raw)
    except (ConfigError, ValueError) as exc:
        widgets.show_verbatim("Nothing was sent.", str(exc))
        return
    actions.start_action(f"Loading {model_id}", lambda: client.load_model(model_id, settings))


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
load_form()
