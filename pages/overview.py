"""Overview: is the server healthy right now?

Memory against capacity, tokens/s now, requests, latency, errors, queue and
the latest events (``views.overview_page``), redrawn at the render interval.
"""

from __future__ import annotations

import streamlit as st

from opta_stream.ui import live, routing
from opta_stream.ui.widgets import viewer_zone
from opta_stream.views import overview_page
from opta_stream.views.specs import OverviewSpec

src = routing.page_source(__file__)


@live.fragment(src, src.settings.render_s)
def tick() -> None:
    spec = OverviewSpec(src.key, viewer_zone(), bands=src.settings.thresholds)
    live.show(src, spec, overview_page.build)


st.header("Overview")
tick()
