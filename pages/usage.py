"""Usage: per model and per local day, what finished on the server, over 7 or 30 days.

The view is ``views.usage_page``: the usage ledger (kept across restarts by
history) by the viewer's local day, with a CSV.
"""

from __future__ import annotations

import streamlit as st

from opta_stream.ui import live, routing
from opta_stream.ui.widgets import viewer_zone
from opta_stream.views import usage_page
from opta_stream.views.specs import UsageSpec

src = routing.page_source(__file__)
RANGES = {"7 days": 7, "30 days": 30}
RANGE_KEY = "opta_usage_range"
REDRAW_S = 5.0  # the ledger moves when a request finishes; no need for 2 Hz here


@live.fragment(src, max(src.settings.render_s, REDRAW_S))
def tick(days: int) -> None:
    spec = UsageSpec(src.key, viewer_zone(), days, bands=src.settings.thresholds)
    live.show(src, spec, usage_page.build)


st.header("Usage")
remembered = st.session_state.get(RANGE_KEY, "7 days")
choice = st.segmented_control("Range", list(RANGES), default=remembered, key="usage_range",
                              required=True) or remembered
st.session_state[RANGE_KEY] = choice
tick(RANGES[choice])
