"""The Requests page's time series: latency quantiles, request and token rates, queue.

All from the server-wide rows of a ``ServingWindow``, on one time grid
(``rates.grid_step``, at most 1,000 points per chart). A rate point is the
counter sums over ``over_s`` before it divided by the seconds those rows
cover; a latency point is ``histogram_quantile`` over the bucket sums of
``latency_over_s`` (at least a minute: fewer requests make a jumpy quantile).
A point with no rows in its window is NaN, so lines break over gaps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from opta_stream.figures.serving_totals import QUANTILES, G, V, newest_bounds
from opta_stream.figures.tokens import grid_step, rate_over
from opta_stream.figures.windows import utc_times
from opta_stream.snapshot import ServingWindow

__all__ = ["LATENCY_OVER_S", "ServingLines", "quantiles_matrix", "serving_lines"]

LATENCY_OVER_S = 60.0
GAUGE_OVER_S = 3.0
LATENCY_NAMES = tuple(f"p{round(q * 100)}" for q in QUANTILES)


@dataclass(frozen=True, slots=True)
class ServingLines:
    """Long-format rows (time, series, value, segment) for each Requests chart."""

    latency: pd.DataFrame
    requests: pd.DataFrame
    tokens: pd.DataFrame
    queue: pd.DataFrame
    step_s: float
    over_s: float
    latency_over_s: float


def quantiles_matrix(q: float, bounds: tuple[float, ...], counts: np.ndarray) -> np.ndarray:
    """``histogram_quantile`` for every row of ``counts`` (cumulative buckets) at once."""
    n = counts.shape[0]
    if len(bounds) < 2 or not math.isinf(bounds[-1]) or not 0 <= q <= 1:
        return np.full(n, np.nan)
    c = np.maximum.accumulate(np.asarray(counts, np.float64), axis=1)
    total = c[:, -1]
    rank = q * total
    finite = c[:, :-1]
    b = (finite < rank[:, None]).sum(axis=1)  # first finite bucket reaching the rank
    up = np.asarray(bounds, np.float64)
    start = np.where(b > 0, up[np.maximum(b - 1, 0)], 0.0)
    below = np.where(b > 0, np.take_along_axis(c, np.maximum(b - 1, 0)[:, None], 1)[:, 0], 0.0)
    inside = np.take_along_axis(c, b[:, None], 1)[:, 0] - below
    with np.errstate(invalid="ignore", divide="ignore"):
        out = start + (up[np.minimum(b, len(up) - 1)] - start) * (rank - below) / inside
    out = np.where(b == len(up) - 1, up[-2], out)
    if up[0] <= 0:
        out = np.where(b == 0, up[0], out)
    return np.where(total > 0, out, np.nan)


def _window_sums(ts: np.ndarray, cols: np.ndarray, at: np.ndarray, over_s: float) -> np.ndarray:
    """Sums of ``cols`` rows with ``at - over_s < ts <= at``, for every grid time."""
    csum = np.vstack([np.zeros((1, cols.shape[1])), np.cumsum(cols, axis=0)])
    hi = np.searchsorted(ts, at, "right")
    lo = np.searchsorted(ts, at - over_s, "right")
    return csum[hi] - csum[lo]


def _lines(t: np.ndarray, named: dict[str, np.ndarray], field: str) -> pd.DataFrame:
    parts = []
    for name, values in named.items():
        keep = np.isfinite(values)
        parts.append(pd.DataFrame({"time": utc_times(t[keep]), "series": name,
                                   field: values[keep],
                                   "segment": np.cumsum(~np.isfinite(values))[keep]}))
    frame = pd.concat(parts, ignore_index=True)
    frame["series"] = pd.Categorical(frame["series"], categories=list(named))
    return frame


def serving_lines(win: ServingWindow, t0: float, t1: float, *, window_s: float,
                  max_points: int = 1000) -> ServingLines:
    """Every Requests chart's lines for the window [t0, t1]."""
    step = grid_step(window_s, 3, win.resolution_s, max_points)
    over = rate_over(window_s, step)
    lat_over = max(LATENCY_OVER_S, over)
    first, last = math.ceil(t0 / step) * step, math.floor(t1 / step) * step
    at = np.arange(first, last + step / 2, step) if last >= first else np.empty(0)
    tot = win.key == 0
    ts, dt = win.ts[tot], win.dt[tot]
    vals = win.values[tot]
    sums = _window_sums(ts, np.column_stack([dt, vals]).reshape(-1, 1 + vals.shape[1]), at, over)
    span = sums[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(span[:, None] > 0, sums[:, 1:] / span[:, None], np.nan)
    bid = newest_bounds(win)
    lat: dict[str, np.ndarray] = {}
    if bid >= 0:
        bounds = win.bounds[bid]
        hist = np.where((win.bounds_id[tot] == bid)[:, None],
                        win.buckets[tot][:, : len(bounds)], 0.0)
        bsum = _window_sums(ts, hist, at, lat_over)
        lat = {name: quantiles_matrix(q, bounds, bsum) for name, q in
               zip(LATENCY_NAMES, QUANTILES, strict=True)}
    else:
        lat = {name: np.full(at.shape, np.nan) for name in LATENCY_NAMES}
    gauges = win.gauges[tot]
    known = np.isfinite(gauges)  # a gauge the server did not report is a gap, not a 0
    # Each point's gauges are the mean of the readings of the last step, and of at least
    # the last few seconds: the polls come about a second apart, not exactly on the grid,
    # so a 1 s window would miss some and break the line while the server answered.
    g_over = max(step, GAUGE_OVER_S)
    g_sum = _window_sums(ts, np.where(known, gauges, 0.0), at, g_over)
    g_n = _window_sums(ts, known.astype(np.float64), at, g_over)
    with np.errstate(invalid="ignore", divide="ignore"):
        g_mean = np.where(g_n > 0, g_sum / np.maximum(g_n, 1), np.nan)
    return ServingLines(
        latency=_lines(at, lat, "seconds"),
        requests=_lines(at, {"requests/s": rate[:, V["requests"]],
                             "errors/s": rate[:, V["errors"]]}, "per_second"),
        tokens=_lines(at, {"prompt": rate[:, V["prompt_tokens"]],
                           "completion": rate[:, V["completion_tokens"]]}, "tokens_per_second"),
        queue=_lines(at, {"in flight": g_mean[:, G["in_flight"]],
                          "queued": g_mean[:, G["queued"]],
                          "limit": g_mean[:, G["limit"]]}, "requests"),
        step_s=step, over_s=over, latency_over_s=lat_over)
