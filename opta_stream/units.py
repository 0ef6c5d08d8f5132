"""Numbers, byte sizes, durations and times in words: the one formatter of each.

Every layer uses these (pages, exports, the event log, the demo), so a figure
reads the same wherever it appears. Text from outside is escaped by ``plain``
before it goes into markdown.

Byte sizes are SI (1 GB = 10⁹ bytes).

Memory figures from the server are already in GB; this is for byte counts
(downloads, file sizes), so that "4.40 GB" means the same thing in the
event log, on the Models page and in the demo's estimates.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["byte_size", "clock_time", "count", "duration", "number", "plain", "span", "zone"]

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")

_UNITS = (("TB", 1e12, 2), ("GB", 1e9, 2), ("MB", 1e6, 1), ("kB", 1e3, 1))


def byte_size(n: float) -> str:
    """420 B, 12.5 MB, 4.40 GB: two decimals from a gigabyte on, one below."""
    for unit, scale, digits in _UNITS:
        if abs(n) >= scale:
            return f"{n / scale:.{digits}f} {unit}"
    return f"{n:.0f} B"


def duration(seconds: float | None) -> str:
    """'42 s', '3 min 05 s', '2 h 03 min', '3 d 04 h': short and unambiguous."""
    if seconds is None or seconds != seconds:
        return "—"
    s = max(0, int(seconds))
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60),
                                      ("min", 60, "s", 1)):
        if s >= size:
            return f"{s // size} {unit} {(s % size) // sub_size:02d} {sub}"
    return f"{s} s"


def span(seconds: float) -> str:
    """A chart's step or rate window: '10 s', '1 min', '5 min', '1 h' (whole units whole)."""
    s = max(0, int(seconds))
    if s >= 3600 and s % 3600 == 0:
        return f"{s // 3600} h"
    if s >= 60 and s % 60 == 0:
        return f"{s // 60} min"
    return duration(s)


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


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """The time zone of an IANA name ("Europe/Berlin"); UTC for one we do not know."""
    try:
        return ZoneInfo(name) if name and name != "UTC" else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
