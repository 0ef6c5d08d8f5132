"""Throughput: tokens per second over a chosen window, per model and in all, and its CSV.

The view (``views.throughput_page``) draws a windowed rate per model and for
all models; a window of an hour or more comes from Prometheus when one is set.
"""

from __future__ import annotations

import streamlit as st

from opta_stream.ui import live, routing, sources
from opta_stream.ui.widgets import viewer_zone, window_selector
from opta_stream.views import throughput_page
from opta_stream.views.specs import ThroughputSpec

src = routing.page_source(__file__)


@live.fragment(src, src.settings.render_s)
def tick(window_s: float) -> None:
    answer = sources.long_answer(src, "throughput", window_s)
    spec = ThroughputSpec(src.key, viewer_zone(), window_s, answer, bands=src.settings.thresholds)
    live.show(src, spec, throughput_page.build)


st.header("Throughput")
tick(window_selector("throughput_window"))
