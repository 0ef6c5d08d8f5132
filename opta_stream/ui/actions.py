"""Admin calls (load, unload, download) run off the rerun thread.

Loading a model can take minutes and a Streamlit rerun must never block on
it, so each call runs in its own named daemon thread and leaves its result
or error behind for a later rerun to pick up. Nothing here knows about
Streamlit: ``binding`` keeps the session's current action.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Action"]


class Action:
    """One admin call (load, unload) in a named daemon thread, so no rerun blocks on it.

    Loading a model can take minutes; the page shows the action as running and
    picks up ``result`` or ``error`` on a later rerun.
    """

    def __init__(self, label: str, call: Callable[[], Any], *,
                 clock: Callable[[], float] = time.time) -> None:
        self.label = label
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
