"""Deep links: a page opened from its URL still runs inside app.py's frame.

With a ``pages/`` folder, Streamlit runs a deep link (``/throughput``) that
reaches a fresh server before any run called ``st.navigation`` as a bare page:
no sidebar, no settings panel, no banner. Such a run restarts through app.py,
which then opens the page that was asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from opta_stream.ui.sources import Source, source

__all__ = ["DEEP_LINK_KEY", "REDIRECTED_KEY", "frame", "page_source", "take_deep_link"]

DEEP_LINK_KEY = "opta_deep_link"
REDIRECTED_KEY = "opta_deep_link_redirected"

_frame = threading.local()


@contextmanager
def frame() -> Iterator[None]:
    """app.py runs the chosen page inside this, so a page knows app.py ran first."""
    _frame.active = True
    try:
        yield
    finally:
        _frame.active = False


def page_source(page_file: str) -> Source:
    """What every page calls first: its Source, once app.py's frame is in place."""
    if not getattr(_frame, "active", False) and not st.session_state.get(REDIRECTED_KEY):
        st.session_state[REDIRECTED_KEY] = True  # once per session: never a loop
        st.session_state[DEEP_LINK_KEY] = f"pages/{Path(page_file).name}"
        st.switch_page("app.py")
    return source()


def take_deep_link() -> str | None:
    """The page a bare run asked for, once (see ``page_source``)."""
    link = st.session_state.pop(DEEP_LINK_KEY, None)
    return link if isinstance(link, str) else None
