"""Memory: used against total and the server's threshold over a window, per model, CSV.

The view is ``views.memory_page``; a window of an hour or more comes from
Prometheus's memory gauges when one is set.
"""

from __future__ import annotations

import streamlit as st

from opta_stream.ui import live, routing, sources
from opta_stream.ui.widgets import viewer_zone, window_selector
from opta_stream.views import memory_page
from opta_stream.views.specs import MemorySpec

src = routing.page_source(__file__)


@live.fragment(src, src.settings.render_s)
def tick(window_s: float) -> None:
    answer = sources.long_answer(src, "memory", window_s)
    spec = MemorySpec(src.key, viewer_zone(), window_s, answer, bands=src.settings.thresholds)
    live.show(src, spec, memory_page.build)


st.header("Memory")
tick(window_selector("memory_window"))
