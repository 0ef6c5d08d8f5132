"""How often each live part of the app redraws, and why those periods.

The render interval itself is a setting (``render_interval_s``, default
``settings.RENDER_S``); the periods here are fixed because they were chosen
against Streamlit's script runner (see each one's note). The Fleet page has no
period of its own: past five servers it draws one table instead of a card
per server (``views.fleet_table``), so it redraws at the render interval
however many servers there are.
"""

from __future__ import annotations

__all__ = ["LOAD_RESULT_S"]

# The Models page's load result under its form is a fragment of its own. A fragment's
# run that meets another's rerun request often ends early, and timers started together
# stay in step: at 1.0 s and 0.5 s a second fragment lost nearly every run to the page's.
# Periods that are no multiple of each other meet only now and then. (The sidebar's
# health badge was such a fragment, at 2.9 s; each of its requests could still cost the
# page a run — 30 viewers got 1.99 Hz with no badge timer, 1.92 Hz with it — so the
# verdict is now drawn by the page's own fragment, and the sidebar has none.)
# It is timed only while a load runs (``load_form.load_result``), so an idle Models page
# costs one timer per viewer, not two.
LOAD_RESULT_S = 0.7

