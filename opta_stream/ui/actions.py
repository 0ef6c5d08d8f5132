"""Admin calls (load, unload, download) run off the rerun thread.

Loading a model can take minutes and a Streamlit rerun must never block on
it, so each call runs in its own named daemon thread and leaves its result
or error behind for a later rerun to pick up. ``Action`` itself needs no
Streamlit; the functions below keep the session's current one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import streamlit as st

__all__ = ["ACTION_KEY", "Action", "clear_action", "current_action", "start_action"]

ACTION_KEY = "opta_action"


class Action:
    """One admin call (load, unload) in a named daemon thread, so no rerun blocks on it.

    Loading a model can take minutes; the page shows the action as running and
    picks up ``result`` or ``error`` on a later rerun. ``origin`` names the
    control that started it (``"load"``, ``"unload::<model id>"``), so the page
    shows the result next to that control.
    """

    def __init__(self, label: str, call: Callable[[], Any], *, origin: str = "",
                 payload: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.label = label
        self.origin = origin  # which control started it: its result is shown next to it
        self.payload = payload  # what was sent (a load's settings), for a follow-up call
        self.started_at = clock()
        self.result: Any = None
        self.error: Exception | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True,
                                        name=f"opta-action {label[:60]}")

    def start(self) -> Action:
        self._thread.start()
        return self

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self.result = call()
        except Exception as exc:  # noqa: BLE001 - shown to the user, never lost
            self.error = exc
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float) -> bool:
        """True once finished; waits at most ``timeout`` seconds."""
        return self._done.wait(timeout)


def start_action(label: str, call: Callable[[], Any], origin: str = "",
                 payload: Any = None) -> Action:
    """Run one admin call in its own thread; the page shows it until the next one."""
    action = Action(label, call, origin=origin, payload=payload).start()
    st.session_state[ACTION_KEY] = action
    return action


def current_action() -> Action | None:
    """The last admin action of this session (running or finished), if any."""
    action = st.session_state.get(ACTION_KEY)
    return action if isinstance(action, Action) else None


def clear_action() -> None:
    st.session_state.pop(ACTION_KEY, None)
