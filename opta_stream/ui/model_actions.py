"""What a load or unload came to, shown next to the control that started it.

The server's own words are shown verbatim: a 403 ``downloads_disabled`` is
the server's policy, not a bad key. A 202 asking for a download shows a
prompt; confirming sends the same load again with ``auto_download: true``.
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from opta_stream.errors import AuthRejected, ConfigError, ServerRefused
from opta_stream.ui import actions, widgets
from opta_stream.units import duration, plain
from opta_stream.views.load_choices import summary
from opta_stream.wire.client import ActionResult, Unreachable

__all__ = ["LOAD", "show_action", "show_error", "start_load", "unload_origin"]

LOAD = "load"


def unload_origin(model_id: str) -> str:
    return f"unload::{model_id}"


def start_load(client: Any, model_id: str, sent: dict[str, Any], label: str = "") -> None:
    """Start a load in the background; its result appears under the Load form."""
    actions.start_action(label or f"Loading {model_id}",
                         lambda: client.load_model(model_id, sent), origin=LOAD, payload=sent)


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


def confirm_download(result: ActionResult, sent: dict[str, Any], client: Any,
                     blocked: str | None) -> None:
    size = result.body.get("estimated_size_human")
    about = f" (about {plain(size)})" if isinstance(size, str) else ""
    st.warning(f"Download needed{about}: this model is not on the server's disk yet.",
               icon=":material/download:")
    st.code(f"{result.model_id}\n{result.message}", language=None, wrap_lines=True)
    # on_click runs before the rerun the click causes, so that rerun shows the action.
    st.button("Confirm download", key="confirm_download", type="primary",
              disabled=blocked is not None,
              help=blocked or "Download, then load, this model with the same settings.",
              on_click=start_load,
              args=(client, result.model_id, {**sent, "auto_download": True},
                    f"Downloading {result.model_id}"))


def show_action(origin: str, client: Any, blocked: str | None) -> bool:
    """The session's action if ``origin`` started it: running, refused, or done.

    ``blocked`` is why a follow-up (the download confirmation) cannot start
    now, if it cannot. Returns whether anything was shown.
    """
    action = actions.current_action()
    if action is None or action.origin != origin:
        return False
    if not action.done:
        st.info(f"{action.label}… ({duration(time.time() - action.started_at)})",
                icon=":material/hourglass_top:")
        return True
    if action.error is not None:
        show_error(action.error)
    elif action.result.needs_confirmation:
        confirm_download(action.result, dict(action.payload or {}), client, blocked)
    else:
        st.success(plain(action.result.message), icon=":material/check_circle:")
    if action.payload:
        st.caption(f"Settings sent: {plain(summary(action.payload))}")
    st.button("Dismiss", key=f"dismiss::{origin}", on_click=actions.clear_action)
    return True
