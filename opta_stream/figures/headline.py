"""A server's headline figures over one window: the one computation every page and alert reads.

Each figure a page shows in more than one place (the Overview, the Requests
page, a Fleet card, a Models row, an alert rule) comes from ``headline(snap,
window_s)``, so the same snapshot and window give the same number
everywhere; each page names its window in the label ("p95 latency · last
5 min"). "Now" figures (tokens/s over the last 10 s, the queue, requests in
flight) are unknown ("—") when their newest reading is older than
``freshness.STALE_AFTER_S``: a stale 0 is not a 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from opta_stream.figures.freshness import STALE_AFTER_S
from opta_stream.figures.memory import memory_pct
from opta_stream.figures.serving_totals import G, totals
from opta_stream.figures.tokens import tokens_now
from opta_stream.figures.windows import window_label
from opta_stream.snapshot import Snapshot
from opta_stream.units import span

__all__ = ["RECENT_S", "Headline", "fresh_tokens_now", "headline", "known", "window_words"]

RECENT_S = 300.0  # "recent": the Overview's, the Fleet cards', the Models rows' and alerts'


def known(value: float | None) -> float | None:
    """None for a missing or NaN figure, else the figure."""
    return None if value is None or math.isnan(value) else value


def window_words(window_s: float) -> str:
    """How a label names its window: "last 5 min", "last 24 h", "last 7 d" (the selector's
    names where it has one)."""
    named = window_label(window_s)
    return f"last {named if not named.endswith(' s') else span(window_s)}"


@dataclass(frozen=True, slots=True)
class Headline:
    """A server's figures over ``window_s`` (rates, errors, latency) and now (the rest).
    None is "not known", never 0."""

    window_s: float
    requests_per_s: float | None
    error_rate_pct: float | None
    p95_latency_s: float | None
    tokens_per_s: float | None  # now: the last 10 s
    queued: float | None  # now
    in_flight: float | None  # now
    limit: float | None  # now: the server's concurrency limit
    memory_pct: float | None
    memory_gb: float | None
    memory_threshold_pct: float | None
    requests: float | None  # finished in the window

    @property
    def window(self) -> str:
        return window_words(self.window_s)


def fresh_tokens_now(snap: Snapshot) -> float | None:
    """Tokens/s now (``tokens.tokens_now``) while its newest sample is fresh, else None:
    the headline's "now", for a view that needs nothing else of the headline."""
    series = snap.tail.throughput
    if not len(series) or snap.taken_at - float(series.ts[-1]) > STALE_AFTER_S:
        return None
    return tokens_now(snap)


def _gauges_now(snap: Snapshot) -> dict[str, float | None]:
    """The newest server-wide gauges, when that reading is fresh."""
    win = snap.tail.serving
    rows = (win.key == 0).nonzero()[0]
    if not rows.size or snap.taken_at - float(win.ts[rows[-1]]) > STALE_AFTER_S:
        return {}
    g = win.gauges[rows[-1]]
    return {name: known(float(g[i])) for name, i in G.items()}


def headline(snap: Snapshot, window_s: float = RECENT_S) -> Headline:
    """The figures of ``snap`` over the last ``window_s`` (at most the snapshot's own)."""
    t1 = snap.taken_at
    t = totals(snap.serving, t0=t1 - min(window_s, snap.window_s), t1=t1)
    requests = t.get("requests") if t.span_s > 0 else None
    gauges = _gauges_now(snap)
    g = snap.gauges
    return Headline(
        window_s=window_s,
        requests_per_s=known(t.per_s("requests")),
        error_rate_pct=known(100.0 * t.error_ratio),
        p95_latency_s=known(t.quantile(0.95)),
        tokens_per_s=fresh_tokens_now(snap),
        queued=gauges.get("queued"),
        in_flight=gauges.get("in_flight"),
        limit=gauges.get("limit") or (float(g.max_concurrent) if g.max_concurrent else None),
        memory_pct=memory_pct(g), memory_gb=g.memory_used_gb,
        memory_threshold_pct=g.threshold_pct, requests=requests)
