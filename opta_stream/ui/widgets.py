"""The controls several pages share: the window selector, the viewer's zone, error boxes."""

from __future__ import annotations

import streamlit as st

from opta_stream.figures.windows import WINDOWS

__all__ = ["WINDOW_KEY", "show_verbatim", "viewer_zone", "window_selector"]

WINDOW_KEY = "opta_window"


def window_selector(key: str) -> float:
    """The window control (outside any fragment); the choice follows the viewer across pages."""
    remembered = st.session_state.get(WINDOW_KEY, "5 min")
    label = st.segmented_control("Window", list(WINDOWS), default=remembered, key=key,
                                 required=True) or remembered
    st.session_state[WINDOW_KEY] = label
    return WINDOWS[label]


def viewer_zone() -> str:
    """The viewer's time zone (an IANA name) as the browser reports it; "UTC" when unknown.
    Views turn it into a zone themselves (``units.zone``), so it can be part of a spec."""
    name = getattr(st.context, "timezone", None)
    return name if isinstance(name, str) and name else "UTC"


def show_verbatim(heading: str, message: str) -> None:
    """An error in our words, then the server's own message as plain text (never markdown)."""
    st.error(heading, icon=":material/error:")
    st.code(message, language=None, wrap_lines=True)
