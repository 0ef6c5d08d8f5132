"""Serving figures from a ``ServingWindow``: rates, error ratio, latency quantiles, queue.

Every figure is a sum of counter deltas over a time range divided by the
time those deltas cover (the rows' ``dt``), so a failed poll or a minute row
counts exactly once. Latency quantiles follow Prometheus'
``histogram_quantile``: linear inside the bucket the rank falls in, the
first bucket starting at 0, and a rank in the +Inf bucket answered with the
highest finite bound. No requests means NaN, shown as "—", never 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from opta_stream.snapshot import SERVING_GAUGES, SERVING_VALUES, ServingWindow

__all__ = ["QUANTILES", "ServingTotals", "histogram_quantile", "key_code", "latest_gauges",
           "newest_bounds", "seconds", "totals"]

QUANTILES = (0.5, 0.95, 0.99)
V = {name: i for i, name in enumerate(SERVING_VALUES)}
G = {name: i for i, name in enumerate(SERVING_GAUGES)}


def histogram_quantile(q: float, bounds: Sequence[float],
                       cumulative: Sequence[float] | np.ndarray) -> float:
    """Prometheus' ``histogram_quantile(q, …)`` over cumulative bucket counts.

    ``bounds`` are the upper bounds in order and end with +Inf.
    """
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if len(bounds) < 2 or not math.isinf(bounds[-1]):
        return math.nan
    counts = np.maximum.accumulate(np.asarray(cumulative, np.float64))  # as Prometheus fixes it
    total = float(counts[-1])
    if not total > 0:
        return math.nan
    rank = q * total
    # the first finite bucket whose count reaches the rank; none: the +Inf bucket
    b = int(np.searchsorted(counts[:-1], rank, side="left"))
    if b == len(bounds) - 1:
        return float(bounds[-2])
    if b == 0 and bounds[0] <= 0:
        return float(bounds[0])
    start = 0.0 if b == 0 else float(bounds[b - 1])
    below = 0.0 if b == 0 else float(counts[b - 1])
    inside = float(counts[b]) - below
    if inside <= 0:
        return math.nan  # only q = 0 over an empty first bucket: 0/0, as in Prometheus
    return start + (float(bounds[b]) - start) * (rank - below) / inside


def key_code(win: ServingWindow, kind: str, name: str = "") -> int | None:
    """The row code of ("total", ""), ("model", id) or ("client", id); None if unseen."""
    try:
        return win.keys.index((kind, name))
    except ValueError:
        return None


def newest_bounds(win: ServingWindow) -> int:
    """The bounds id of the newest row that has a histogram; -1 when none has."""
    ids = win.bounds_id[win.bounds_id >= 0]
    return int(ids[-1]) if ids.size else -1


@dataclass(frozen=True, slots=True)
class ServingTotals:
    """One key's counter sums over a time range, and the seconds they cover."""

    values: np.ndarray  # SERVING_VALUES sums
    buckets: np.ndarray  # cumulative bucket sums at ``bounds``
    bounds: tuple[float, ...]
    span_s: float

    def get(self, name: str) -> float:
        return float(self.values[V[name]])

    def per_s(self, name: str) -> float:
        return self.get(name) / self.span_s if self.span_s > 0 else math.nan

    @property
    def error_ratio(self) -> float:
        req = self.get("requests")
        return self.get("errors") / req if req > 0 else math.nan

    @property
    def mean_latency(self) -> float:
        n = self.get("latency_count")
        return self.get("latency_sum") / n if n > 0 else math.nan

    def quantile(self, q: float) -> float:
        return histogram_quantile(q, self.bounds, self.buckets) if self.bounds else math.nan

    @property
    def acceptance(self) -> float:
        """Accepted draft tokens over accepted + rejected; NaN when nothing was drafted."""
        seen = self.get("spec_accepted") + self.get("spec_rejected")
        return self.get("spec_accepted") / seen if seen > 0 else math.nan


def totals(win: ServingWindow, kind: str = "total", name: str = "", *,
           t0: float = -math.inf, t1: float = math.inf) -> ServingTotals:
    """Sums of one key's rows ending in (t0, t1]; the span is the total rows' ``dt`` there."""
    in_range = (win.ts > t0) & (win.ts <= t1)
    span = float(win.dt[in_range & (win.key == 0)].sum())
    code = key_code(win, kind, name)
    bid = newest_bounds(win)
    bounds = win.bounds[bid] if bid >= 0 else ()
    if code is None:
        return ServingTotals(np.zeros(len(SERVING_VALUES)), np.zeros(len(bounds)), bounds, span)
    rows = in_range & (win.key == code)
    hist = rows & (win.bounds_id == bid)
    buckets = win.buckets[hist][:, : len(bounds)].sum(axis=0) if bounds else np.zeros(0)
    return ServingTotals(win.values[rows].sum(axis=0), buckets, bounds, span)


def latest_gauges(win: ServingWindow) -> dict[str, float]:
    """The newest total row's gauges (in flight, queued, limit, acceptance ratio)."""
    rows = np.flatnonzero(win.key == 0)
    if not rows.size:
        return {}
    g = win.gauges[rows[-1]]
    return {name: float(g[i]) for name, i in G.items()}


def seconds(value: float | None) -> str:
    """Latency as people read it: ms under a second, else seconds; "—" when unknown."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1.0 else f"{value:.2f} s"
