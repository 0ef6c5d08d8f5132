"""The controls several pages share: window selector, CSV button, error boxes, times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from opta_stream.charts import small_charts as cards
from opta_stream.charts.parts import TimeAxis
from opta_stream.export import csv_files as export

__all__ = [
    "STATIC_CSV_ROWS", "WINDOWS", "csv_button", "gauge_spec", "show_verbatim",
    "time_axis", "tz_name", "viewer_tz", "window_csv", "window_selector",
]

WINDOWS: dict[str, float] = {"1 min": 60.0, "5 min": 300.0, "15 min": 900.0,
                             "1 h": 3600.0, "24 h": 86400.0, "7 d": 7 * 86400.0,
                             "30 d": 30 * 86400.0}  # the long ones: what history kept
WINDOW_KEY = "opta_window"
STATIC_CSV_ROWS = 10_000


def window_selector(key: str) -> float:
    """The window control (outside any fragment); the choice follows the viewer across pages."""
    remembered = st.session_state.get(WINDOW_KEY, "5 min")
    label = st.segmented_control("Window", list(WINDOWS), default=remembered, key=key,
                                 required=True) or remembered
    st.session_state[WINDOW_KEY] = label
    return WINDOWS[label]


def viewer_tz() -> tzinfo:
    """The viewer's time zone as the browser reports it; UTC when unknown."""
    name = getattr(st.context, "timezone", None)
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def time_axis(window_s: float, tz: tzinfo | None = None) -> TimeAxis:
    """The time axis for a window, titled with the viewer's zone (dates on long windows)."""
    return TimeAxis.for_window(window_s, tz_name(viewer_tz() if tz is None else tz))


def tz_name(tz: tzinfo) -> str:
    """The zone's IANA name ("UTC" when unknown): axis titles and the tick memo's key."""
    return getattr(tz, "key", None) or str(tz)


def show_verbatim(heading: str, message: str) -> None:
    """An error in our words, then the server's own message as plain text (never markdown)."""
    st.error(heading, icon=":material/error:")
    st.code(message, language=None, wrap_lines=True)


@st.cache_data(max_entries=256, show_spinner=False)
def gauge_spec(used_gb: float | None, total_gb: float | None,
               threshold_pct: float | None) -> dict[str, Any]:
    """The memory gauge as a Vega-Lite spec, built once per reading for every viewer.

    Building and validating it costs ~25 ms; the reading changes about once a
    second while the page is built twice a second. Round the inputs first.
    """
    return cards.gauge_chart(used_gb, total_gb, threshold_pct).to_dict()


def csv_button(build: Callable[[], bytes], rows: int, *, file_name: str, key: str,
               help: str, out: Any = st) -> None:
    """The CSV download of what a fragment shows, built from the snapshot it holds.

    Small exports are built on every rerun: Streamlit keeps the previous file
    for one more run, so a click that races a rerun still gets a file. Large
    ones (an hour of 10 Hz samples is ~50 ms and 2 MB) are built only on click.
    """
    data: bytes | Callable[[], bytes] = build() if rows <= STATIC_CSV_ROWS else build
    out.download_button("Download CSV", data, file_name=file_name, mime="text/csv",
                       on_click="ignore", icon=":material/download:", key=key, help=help)


def window_csv(server: str, kind: str, window: tuple[float, float],
               build: Callable[[float, float], bytes], rows: int, help: str,
               out: Any = st) -> None:
    """A page's CSV of exactly its window: named for the server, kind and span."""
    start, end = window
    csv_button(lambda: build(start, end), rows,
               file_name=export.export_filename(server, kind, start, end), key=f"{kind}_csv",
               help=help, out=out)
