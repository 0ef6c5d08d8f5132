"""How pages write numbers, durations, times and outside text.

Pure string helpers shared by every page and the sidebar, kept apart from
``ui`` so they can be used (and tested) without Streamlit. The viewer's
time zone comes from Streamlit, so ``ui.widgets.viewer_tz()`` supplies it.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

__all__ = ["clock_time", "count", "number", "plain"]

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def clock_time(ts: float | None, tz: tzinfo) -> str:
    """HH:MM:SS in the given time zone; an em dash when there is no time."""
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, tz).strftime("%H:%M:%S")


def count(value: float | None) -> str:
    """A count that fits a metric card: exact below 100,000, then "89.6 M"; "—" unknown."""
    if value is None or value != value:
        return "—"
    if abs(value) < 100_000:
        return f"{value:,.0f}"
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {suffix}" if value / scale < 1000 else \
                f"{value / scale:,.0f} {suffix}"
    return f"{value:,.0f}"


def number(value: float | None, fmt: str = ".1f", unit: str = "") -> str:
    """A metric value, or an em dash when the server does not report it."""
    return "—" if value is None or value != value else f"{value:{fmt}}{unit}"


def plain(text: str) -> str:
    """Text from outside, escaped so that Streamlit's markdown shows it as typed."""
    return _MARKDOWN.sub(r"\\\1", text)
