"""Events: the server's event log over a chosen window, filtered and searchable, with
counts and CSV.

The filters are this viewer's widgets; the table, counts and CSV are the view
``views.events_page``, built once per tick for every viewer with the same filters.
"""

from __future__ import annotations

import streamlit as st

from opta_stream.ui import live, routing
from opta_stream.ui.widgets import viewer_zone, window_selector
from opta_stream.views import events_page
from opta_stream.views.event_rows import CATEGORIES, SEVERITIES
from opta_stream.views.specs import EventsSpec

src = routing.page_source(__file__)


@live.fragment(src, src.settings.render_s)
def tick(window_s: float, categories: tuple[str, ...], severities: tuple[str, ...],
         needle: str) -> None:
    spec = EventsSpec(src.key, viewer_zone(), window_s, categories, severities, needle,
                      bands=src.settings.thresholds)
    live.show(src, spec, events_page.build)


st.header("Events")
window = window_selector("events_window")
chosen_categories = st.pills("Category", CATEGORIES, selection_mode="multi", default=CATEGORIES,
                             key="events_categories")
left, right = st.columns([2, 3], vertical_alignment="bottom")
chosen_severities = left.pills("Severity", SEVERITIES, selection_mode="multi",
                               default=("info", "warning", "error"), key="events_severities")
search = right.text_input("Search", key="events_search", placeholder="model id, error …")
tick(window, tuple(chosen_categories), tuple(chosen_severities), search.strip().lower())
