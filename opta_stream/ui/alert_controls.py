"""The Alerts page's own controls: a Silence control per alert, the test notification and
its result, the read-only unlock. Each viewer's, never part of the shared view.

They act on this process's alerting through the data seam (``sources.current().alerts()``:
the watch, or what a test installed). A silence is kept in the history file, so every
dashboard on that file and the notifying process see it. In read-only mode both are
disabled unless this session unlocked them with the admin key (``session.read_only``):
a shared dashboard's viewers must not mute its alerts or post to its receivers.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from opta_stream.alerting.journal import SILENCE_CHOICES_S
from opta_stream.ui import actions, session
from opta_stream.ui.sources import AlertControls
from opta_stream.units import span
from opta_stream.views.alerts_page import AlertRow

__all__ = ["TEST_ORIGIN", "blocked", "silence_control", "test_button", "test_result",
           "unlock_form"]

TEST_ORIGIN = "alerts_test"
READ_ONLY = ("Read-only mode: this dashboard is shared for viewing, so silencing alerts "
             "and the test notification are disabled.")
NO_ALERTING = "Alerting does not run in this process."


def blocked(controls: AlertControls | None, read_only: bool) -> str | None:
    """Why this viewer cannot silence or test now, or None."""
    if controls is None:
        return NO_ALERTING
    return READ_ONLY if read_only else None


def _silence(controls: AlertControls, rule: str, server: str, seconds: float) -> None:
    controls.silence(rule, server, seconds)
    st.toast(f"{rule} on {server}: notices silenced for {span(seconds)}.",
             icon=":material/notifications_off:")


def _lift(controls: AlertControls, rule: str, server: str) -> None:
    controls.unsilence(rule, server)
    st.toast(f"{rule} on {server}: the silence is lifted.", icon=":material/notifications:")


def silence_control(where: Any, row: AlertRow, controls: AlertControls | None,
                    why_not: str | None, now: float) -> None:
    """1 h, 4 h, 24 h, or lifting a running silence, in a popover beside the alert."""
    silenced = row.silenced_until is not None and row.silenced_until > now
    key = f"{row.server}::{row.rule}"
    with where.popover("Silenced" if silenced else "Silence",
                       icon=":material/notifications_off:", disabled=why_not is not None,
                       help=why_not or "Hold back this alert's notices (its state goes on); "
                                       "kept in the history file."):
        if controls is None:
            return
        for seconds in SILENCE_CHOICES_S:
            st.button(f"For {span(seconds)}", key=f"silence::{key}::{seconds:g}",
                      on_click=_silence, args=(controls, row.rule, row.server, seconds))
        if silenced:
            st.button("Lift the silence", key=f"unsilence::{key}", on_click=_lift,
                      args=(controls, row.rule, row.server))


def test_button(controls: AlertControls | None, why_not: str | None) -> None:
    """Send one test notification to every receiver, in a thread of its own."""
    running = actions.current_action()
    busy = running is not None and not running.done
    reason = why_not or ("An action is still running: one at a time." if busy else None)
    if st.button("Send test notification", key="alerts_send_test", icon=":material/send:",
                 disabled=reason is not None,
                 help=reason or "One test notification to each receiver, no retries; each "
                                "result shows below.") and controls is not None:
        actions.start_action("Sending a test notification", controls.send_test,
                             origin=TEST_ORIGIN)


def test_result() -> None:
    """The last test's result: running, or one line per receiver."""
    action = actions.current_action()
    if action is None or action.origin != TEST_ORIGIN:
        return
    if not action.done:
        st.caption(":material/hourglass_top: Sending a test notification…")
    elif action.error is not None:
        st.error(f"The test could not be sent ({type(action.error).__name__}).")
    elif not action.result:
        st.warning("No receiver is configured: add [[notify]] entries (kind and url) to the "
                   "secrets.", icon=":material/warning:")
    else:
        for line in action.result:
            st.text(line)


def unlock_form(admin_key_set: bool) -> None:
    """Read-only: say so, and let an operator unlock this session with the admin key."""
    st.info(READ_ONLY, icon=":material/lock:")
    if not admin_key_set:
        return
    session.unlock_prompt("alerts_", "the controls")
