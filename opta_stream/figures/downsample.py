"""Min/max-per-bucket downsampling that keeps peaks and gaps.

A one-hour window at 50 Hz is 180,000 samples, far more than a chart can
show: the browser would spend its time drawing points that land on the same
pixel. Averaging would hide exactly what an operator looks for (spikes and
stalls), so each time bucket keeps its lowest and its highest row instead.
The first and last row of every segment are kept too, so a line ends right
where the feed went down and a gap stays a gap.

Everything is vectorised numpy (``ufunc.at`` scatter reductions): the cost
is a few linear passes over the arrays, about a millisecond per 100k rows.
"""

from __future__ import annotations

import numpy as np

from opta_stream.snapshot import Series

__all__ = ["downsample_series", "minmax_downsample"]


def minmax_downsample(
    ts: np.ndarray,
    value: np.ndarray,
    seg: np.ndarray,
    model: np.ndarray | None = None,
    max_points: int = 1000,
    *,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
) -> np.ndarray:
    """Return the sorted row indices to plot: never more than ``max_points``.

    Rows are bucketed by time. Per bucket and per model, the row holding the
    minimum (of ``lo`` when given: aggregated tiers) and the row holding the
    maximum (of ``hi`` when given) are kept, plus the first and last row of
    every (segment, model) track. Series that already fit are returned whole.
    """
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    n = int(np.shape(ts)[0])
    if n <= max_points:
        return np.arange(n, dtype=np.intp)
    groups, n_groups = _dense_groups(model, n)
    ends = _track_ends(np.asarray(seg), groups, n_groups)
    n_buckets = (max_points - ends.size) // (2 * n_groups)
    if n_buckets < 1:  # too many segments to keep their ends: keep extremes only
        ends, n_buckets = ends[:0], max_points // (2 * n_groups)
    if n_buckets < 1:  # more models than the budget can show: plain striding
        return np.linspace(0, n - 1, max_points).astype(np.intp)
    key = _bucket_of(np.asarray(ts, dtype=np.float64), n_buckets) * n_groups + groups
    size = n_buckets * n_groups
    low = np.asarray(value if lo is None else lo, dtype=np.float64)
    high = np.asarray(value if hi is None else hi, dtype=np.float64)
    mins = _first_extreme(key, low, size, np.fmin, np.inf)
    maxs = _first_extreme(key, high, size, np.fmax, -np.inf)
    return np.unique(np.concatenate([ends, mins, maxs]))


def downsample_series(series: Series, max_points: int = 1000) -> np.ndarray:
    """Indices to plot for a snapshot series (lo/hi drive aggregated tiers)."""
    return minmax_downsample(
        series.ts, series.value, series.seg, series.model, max_points,
        lo=series.lo, hi=series.hi,
    )


def _dense_groups(model: np.ndarray | None, n: int) -> tuple[np.ndarray, int]:
    """Map model codes (-1 = none) to 0..k-1 in O(n), without sorting."""
    if model is None or n == 0:
        return np.zeros(n, dtype=np.intp), 1
    codes = np.asarray(model, dtype=np.intp)
    shifted = codes - codes.min()
    present = np.bincount(shifted) > 0
    lut = np.cumsum(present) - 1
    return lut[shifted], int(present.sum())


def _track_ends(seg: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """First and last row of every (segment run, model) pair, deduplicated."""
    n = groups.size
    change = seg[1:] != seg[:-1]
    if n_groups == 1:  # the common case: run boundaries are the answer
        starts = np.flatnonzero(change) + 1
        return np.unique(np.concatenate([[0], starts, starts - 1, [n - 1]]))
    runs = np.zeros(n, dtype=np.intp)
    np.cumsum(change, out=runs[1:])
    key = runs * n_groups + groups
    size = (int(runs[-1]) + 1) * n_groups
    rows = np.arange(n, dtype=np.intp)
    first = np.full(size, n, dtype=np.intp)
    np.minimum.at(first, key, rows)
    last = np.full(size, -1, dtype=np.intp)
    np.maximum.at(last, key, rows)
    return np.unique(np.concatenate([first[first < n], last[last >= 0]]))


def _bucket_of(ts: np.ndarray, n_buckets: int) -> np.ndarray:
    """Equal-width time buckets over the data's own span (row order if flat)."""
    t0, t1 = np.nanmin(ts), np.nanmax(ts)
    span = float(t1 - t0)
    if not np.isfinite(span) or span <= 0.0:
        pos = np.arange(ts.size, dtype=np.float64) * (n_buckets / ts.size)
    else:
        pos = (ts - t0) * (n_buckets / span)
        pos[np.isnan(pos)] = 0.0
    np.clip(pos, 0, n_buckets - 1, out=pos)
    return pos.astype(np.intp)


def _first_extreme(
    key: np.ndarray, vals: np.ndarray, size: int, reducer: np.ufunc, init: float
) -> np.ndarray:
    """Row index of the first extreme value per key; NaN rows never win."""
    best = np.full(size, init)
    reducer.at(best, key, vals)
    hit = np.flatnonzero(vals == best[key])
    first = np.full(size, key.size, dtype=np.intp)
    np.minimum.at(first, key[hit], hit)
    return first[first < key.size]
