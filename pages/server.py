"""Server: what the server says about itself, from its own diagnosis routes.

The verdict and its rule, crash loop and models, recent errors, the machine,
routing and helper nodes, benchmarks, compatibility, the predictor and
presets (``views.server_page``). Each redraw tells the feed that someone
looks, so the sections polled only on view keep coming (``want_reports``).
"""

from __future__ import annotations

import streamlit as st

from opta_stream.ui import live, routing, sources
from opta_stream.ui.widgets import viewer_zone
from opta_stream.views import server_page
from opta_stream.views.specs import ServerSpec

src = routing.page_source(__file__)


@live.fragment(src, src.settings.render_s)
def tick() -> None:
    sources.want_reports(src, server_page.WANTED)
    live.show(src, ServerSpec(src.key, viewer_zone()), server_page.build)


st.header("Server")
tick()
