"""How pages write numbers, durations, times and outside text.

Pure string helpers shared by every page and the sidebar, kept apart from
``ui`` so they can be used (and tested) without Streamlit. The viewer's
time zone comes from Streamlit, so ``ui.widgets.viewer_tz()`` supplies it.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

__all__ = ["clock_time", "number", "plain"]

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def clock_time(ts: float | None, tz: tzinfo) -> str:
    """HH:MM:SS in the given time zone; an em dash when there is no time."""
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, tz).strftime("%H:%M:%S")


def number(value: float | None, fmt: str = ".1f", unit: str = "") -> str:
    """A metric value, or an em dash when the server does not report it."""
    return "—" if value is None or value != value else f"{value:{fmt}}{unit}"


def plain(text: str) -> str:
    """Text from outside, escaped so that Streamlit's markdown shows it as typed."""
    return _MARKDOWN.sub(r"\\\1", text)
