"""The Models page's Load form: a picker of on-disk models, then the server's load fields.

The picker lists ``GET /admin/models/available``, fetched when the page is
drawn and kept in the session for ``DISK_TTL_S`` (Refresh fetches it again);
each model says whether it would fit in memory now (an estimate, with its
figures: ``views.load_choices.fit``) or that it is loaded. Picking a model
fills the id box, and any other id can still be typed. A failed listing says
why and leaves the form usable. The form sends only the
fields the user set (see ``views.load_choices``); its result appears under
it, in a small fragment of its own, so the page need not rerun to show it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from opta_stream.errors import AuthRejected, ConfigError, ServerRefused
from opta_stream.inputs import MODEL_ID_MAX, validate_model_id
from opta_stream.snapshot import Snapshot
from opta_stream.ui import actions, widgets
from opta_stream.ui.model_actions import LOAD, show_action, start_load
from opta_stream.ui.timing import LOAD_RESULT_S
from opta_stream.units import clock_time, plain, zone
from opta_stream.views.load_choices import (
    BACKENDS,
    KV_BITS,
    KV_GROUP_SIZES,
    PREFIX_CACHE,
    DiskModel,
    LoadChoices,
    choice_label,
    chosen,
    disk_models,
    fit,
    fit_note,
    headroom,
    settings,
)

__all__ = ["DISK_KEY", "DISK_TTL_S", "DiskListing", "load_form", "load_result"]

DISK_KEY = "opta_disk_models"
DISK_TTL_S = 30.0
ID_KEY = "load_model_id"
PICK_KEY = "load_pick"
KEEP_ALIVE_MAX_S = 365 * 86400
ID_PLACEHOLDER = "mlx-community/Qwen2.5-7B-Instruct-4bit"


@dataclass(frozen=True, slots=True)
class DiskListing:
    """One fetch of the on-disk list: the models, or why there are none."""

    url: str
    fetched_at: float  # time.monotonic(): how old it is
    models: tuple[DiskModel, ...] | None
    error: str | None = None
    listed_at: float = 0.0  # time.time(): when, for the words (the form is drawn once)


def _why(exc: Exception) -> str:
    if isinstance(exc, ServerRefused):
        return f"the server answered HTTP {exc.status}: {exc.message}"
    if isinstance(exc, AuthRejected):
        return "the admin key was rejected"
    return str(exc) or type(exc).__name__


def disk_listing(client: Any, blocked: str | None) -> DiskListing | None:
    """The session's on-disk list, fetched again once older than ``DISK_TTL_S``.

    Not fetched while ``blocked`` (the server cannot answer, or the session
    is locked): the last list for this server is kept, if any.
    """
    url = str(getattr(client, "base_url", ""))
    cached = st.session_state.get(DISK_KEY)
    cached = cached if isinstance(cached, DiskListing) and cached.url == url else None
    now = time.monotonic()
    if blocked is not None or (cached and now - cached.fetched_at < DISK_TTL_S):
        return cached
    try:
        listing = DiskListing(url, now, disk_models(client.available_models()),
                              listed_at=time.time())
    except Exception as exc:  # noqa: BLE001 - a failed listing must never break the form
        listing = DiskListing(url, now, None, _why(exc), listed_at=time.time())
    st.session_state[DISK_KEY] = listing
    return listing


def _picked() -> None:
    """A model picked: it goes into the id box (which can still be edited)."""
    choice = st.session_state.get(PICK_KEY)
    if choice:
        st.session_state[ID_KEY] = choice


def _forget() -> None:
    st.session_state.pop(DISK_KEY, None)


def picker(client: Any, blocked: str | None, snap: Snapshot | None = None) -> None:
    listing = disk_listing(client, blocked)
    models = listing.models if listing and listing.models else ()
    room = headroom(snap) if snap is not None else None
    loaded = frozenset(m.model_id for m in snap.models) if snap is not None else frozenset()
    fits = {m.repo_id: fit(m, room, loaded) for m in models}
    labels = {k: f.label() for k, f in fits.items()}
    left, right = st.columns([5, 1], vertical_alignment="bottom")
    left.selectbox("Models on the server's disk", list(labels), index=None, key=PICK_KEY,
                   format_func=lambda k: labels.get(k, k), on_change=_picked,
                   disabled=not labels,
                   placeholder=f"Pick one of {len(labels)}" if labels else "None listed")
    right.button("Refresh", key="load_pick_refresh", icon=":material/refresh:",
                 on_click=_forget, disabled=blocked is not None, width="stretch",
                 help=blocked or "List the models on the server's disk again.")
    if listing is None:
        st.caption("The on-disk list is fetched once the server answers. "
                   "You can type any model id below.")
    elif listing.error is not None:
        st.caption(":material/error: **Could not list the models on the server's disk:** "
                   f"{plain(listing.error)}. You can still type any model id below.")
    elif not models:
        st.caption("The server reports no model on its disk. Type an id below: the server "
                   "offers to download it.")
    else:
        # Clock times, not ages: the form is drawn with the page, so an age would stand still.
        tz = zone(widgets.viewer_zone())
        st.caption(f"{len(models)} on disk (listed at {clock_time(listing.listed_at, tz)}). "
                   "Pick one to fill the id below, or type any other id.")
        picked = fits.get(st.session_state.get(PICK_KEY) or "")
        if picked is not None:
            st.caption(f"**Estimate:** {plain(picked.words())}")
        st.caption(fit_note(room, tz))


def load_form(client: Any, blocked: str | None, locked: bool,
              snap: Snapshot | None = None) -> None:
    """The form; on a valid submit, the load starts in the background. ``snap`` (the
    server's memory, threshold and loaded models) marks what fits."""
    off = blocked is not None
    st.subheader("Load a model")
    if not locked:
        picker(client, blocked, snap)
    with st.form("load_model"):
        model_id = st.text_input("Model id", max_chars=MODEL_ID_MAX, disabled=off, key=ID_KEY,
                                 placeholder=ID_PLACEHOLDER)
        left, right = st.columns(2)
        backend = left.selectbox(
            "Backend", BACKENDS, format_func=choice_label, disabled=off, key="load_backend",
            help="Which runtime loads the model. Server default: the server chooses.")
        keep_alive = right.number_input(
            "Keep alive (s)", min_value=0, max_value=KEEP_ALIVE_MAX_S, value=None, step=60,
            disabled=off, key="load_keep_alive", placeholder="server's idle TTL",
            help="Seconds idle before the server evicts the model; 0 = never evict. "
                 "Empty: the server's own TTL.")
        perf = _overrides(off)
        auto = st.checkbox("Download it first if it is not on the server's disk",
                           disabled=off, key="load_auto_download",
                           help="Sends auto_download: the server downloads without asking.")
        unsupported = st.checkbox(
            "Allow an unsupported runtime", disabled=off, key="load_allow_unsupported",
            help="Overrides the server's runtime/backend blocklists. For manual recovery "
                 "testing only: the model may be unstable.")
        if off and not locked:
            st.caption(f"Load is disabled: {blocked}")
        submitted = st.form_submit_button("Load", type="primary", disabled=off,
                                          key="load_submit", help=blocked)
    if not submitted or off:
        return
    try:
        model_id = validate_model_id(model_id)
        sent = settings(LoadChoices(auto_download=auto, keep_alive_sec=keep_alive,
                                    backend=chosen(backend),
                                    allow_unsupported_runtime=unsupported,
                                    **perf))
    except (ConfigError, ValueError) as exc:
        running = actions.current_action()
        if running is not None and running.origin == LOAD and running.done:
            actions.clear_action()  # the old result would read as this one's
        widgets.show_verbatim("Nothing was sent.", str(exc))
        return
    start_load(client, model_id, sent)
    st.rerun()  # draw the form again, disabled while the load runs


def _overrides(off: bool) -> dict[str, Any]:
    """performance_overrides: each left at "Server default" is not sent."""
    with st.expander("Performance overrides"):
        bits, group, prefix = st.columns(3)
        kv_bits = bits.selectbox("KV cache bits", KV_BITS, format_func=choice_label,
                                 disabled=off, key="load_kv_bits",
                                 help="kv_bits: quantize the KV cache to this many bits.")
        kv_group = group.selectbox("KV group size", KV_GROUP_SIZES, format_func=choice_label,
                                   disabled=off, key="load_kv_group_size",
                                   help="kv_group_size: the KV cache quantization group.")
        prefix_cache = prefix.selectbox("Prefix cache", PREFIX_CACHE, format_func=choice_label,
                                        disabled=off, key="load_prefix_cache",
                                        help="prefix_cache: reuse the KV cache of shared "
                                             "prompt prefixes.")
        draft, tokens = st.columns([3, 1])
        draft_model = draft.text_input(
            "Speculative decoding: draft model", max_chars=MODEL_ID_MAX, disabled=off,
            key="load_draft_model", placeholder="server default",
            help="speculative.draft_model: a small model that proposes tokens.")
        draft_tokens = tokens.number_input(
            "Draft tokens", min_value=1, max_value=64, value=None, step=1, disabled=off,
            key="load_draft_tokens", placeholder="default",
            help="speculative.num_tokens: tokens the draft model proposes per step.")
    return {"kv_bits": chosen(kv_bits), "kv_group_size": chosen(kv_group),
            "prefix_cache": chosen(prefix_cache), "draft_model": draft_model,
            "draft_tokens": draft_tokens}


def load_result(client: Any, why_not: Callable[[], str | None]) -> None:
    """Under the form: the running load, then its result, until dismissed.

    Timed only while this session's load runs: an idle timer beside the page's
    live fragment would cost every viewer of the page runs (and collisions) for
    nothing. A load starts from the form's submit, a full run, which calls the
    timed part; the timer stops with the next full run that does not call it.
    """
    action = actions.current_action()
    running = action is not None and action.origin == LOAD and not action.done
    (_running_load if running else _load_outcome)(client, why_not)


@st.fragment(run_every=LOAD_RESULT_S)
def _running_load(client: Any, why_not: Callable[[], str | None]) -> None:
    """The running load; when it ends, the whole page runs once more, so that the form
    (drawn disabled while it ran) is usable again and the result is drawn untimed."""
    action = actions.current_action()
    if action is None or action.origin != LOAD or action.done:
        st.rerun()
    show_action(LOAD, client, why_not())


@st.fragment
def _load_outcome(client: Any, why_not: Callable[[], str | None]) -> None:
    """The load's result (or the download confirmation) until dismissed; nothing without one."""
    show_action(LOAD, client, why_not())
