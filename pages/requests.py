"""Requests: latency, request and error rates, queue and tokens, per model and client.

The view is ``views.requests_page`` (from the server's ``/admin/metrics``); the
latency of a window of an hour or more comes from Prometheus when one is set.
"""

from __future__ import annotations

import streamlit as st

from opta_stream.ui import live, routing, sources
from opta_stream.ui.widgets import viewer_zone, window_selector
from opta_stream.views import requests_page
from opta_stream.views.specs import RequestsSpec

src = routing.page_source(__file__)


@live.fragment(src, src.settings.render_s)
def tick(window_s: float) -> None:
    answer = sources.long_answer(src, "latency", window_s)
    spec = RequestsSpec(src.key, viewer_zone(), window_s, answer, bands=src.settings.thresholds)
    live.show(src, spec, requests_page.build)


st.header("Requests")
tick(window_selector("requests_window"))
