"""Keep a feed thread alive through its own bugs: log, report, back off, run it again.

A crash is Opta Stream's fault, not the server's, so it is reported as an
internal error (never as a network problem) and the thread's body is run
again with backoff. Nothing about the admin key reaches the log: the
traceback's frames carry no values, and the exception's text is redacted,
or left out entirely for encoding errors (they quote the offending character
and its position, which for a header would be part of the key).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable

from opta_stream.errors import redact
from opta_stream.store.core import Store
from opta_stream.wire.backoff import Backoff

__all__ = ["crash_text", "supervised"]

log = logging.getLogger(__name__)


def crash_text(exc: BaseException, secret: str | None) -> str:
    """``Type: message`` with the secret redacted; encoding errors give their type only."""
    if isinstance(exc, UnicodeError):
        return f"{type(exc).__name__} (its text is withheld: it may quote the admin key)"
    message = redact(str(exc), secret)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def supervised(body: Callable[[], None], *, role: str, label: str, store: Store,
               stop: threading.Event, backoff: Backoff, secret: str | None) -> None:
    """Run ``body`` until it returns or ``stop`` is set, restarting it after a crash."""
    while not stop.is_set():
        try:
            body()
            return
        except Exception as exc:  # noqa: BLE001 - a bug must be seen, and must not kill the feed
            text = crash_text(exc, secret)
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("feed %s thread for %s crashed: %s\nTraceback (most recent call last):\n%s",
                      role, label, text, frames)
            delay = backoff.next_delay()
            store.set_internal_error(role, f"{text}. Restarting it in {delay:.1f} s.")
            stop.wait(delay)
