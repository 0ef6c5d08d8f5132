"""How often each live part of the app redraws, and why those periods.

The render interval itself is a setting (``render_interval_s``, default
``config.RENDER_S``); the periods here are fixed because they were chosen
against Streamlit's script runner (see each one's note).
"""

from __future__ import annotations

import math

__all__ = ["CARDS_PER_TICK", "LOAD_RESULT_S", "redraw_s"]

# The Models page's load result under its form is a fragment of its own. A fragment's
# run that meets another's rerun request often ends early, and timers started together
# stay in step: at 1.0 s and 0.5 s a second fragment lost nearly every run to the page's.
# Periods that are no multiple of each other meet only now and then. (The sidebar's
# health badge was such a fragment, at 2.9 s; each of its requests could still cost the
# page a run — 30 viewers got 1.99 Hz with no badge timer, 1.92 Hz with it — so the
# verdict is now drawn by the page's own fragment, and the sidebar has none.)
LOAD_RESULT_S = 0.7

CARDS_PER_TICK = 5


def redraw_s(cards: int, render_s: float) -> float:
    """How often the Fleet page redraws: every ``render_s`` for up to ``CARDS_PER_TICK``
    cards, then once more ``render_s`` per five cards (20 servers at 0.5 s: every 2 s).

    Why: a card costs about 14 ms to build (most of it turning its two charts'
    data into Arrow), and it is built again for every tick; at 0.5 s, 20 cards
    took more than the tick (bench/fleet_bench.py), so no viewer got a redraw.
    """
    return render_s * max(1, math.ceil(cards / CARDS_PER_TICK))
