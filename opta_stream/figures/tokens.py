"""Tokens/s as a windowed rate: the one definition every page uses.

A real server adds a request's tokens when it finishes, so a 1 s counter
delta is a train of spikes and zeros. Like Prometheus ``rate()``, each point
here is the mean rate over the ``over_s`` seconds up to it: per model, the
mean of that model's samples in the window (their 1 s deltas or streamed
rates; an aggregated tier's bucket means), and the total is the sum of the
models' means. The window is 10 s in the live views and a minute or more in
the long ones; charts say which.

Points sit on a grid aligned to ``step_s``, so two viewers of the same data
get the same numbers. The grid is chosen to keep every line of a chart
together at or under 1,000 points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from opta_stream.snapshot import Series, Snapshot

__all__ = [
    "LIVE_OVER_S",
    "RateGrid",
    "current_rate",
    "current_rates",
    "present_codes",
    "grid_step",
    "rate_grid",
    "rate_over",
    "tokens_now",
]

LIVE_OVER_S = 10.0  # the rate window of the live views and of "now" figures
LONG_OVER_S = 60.0  # the rate window once a chart spans more than 15 minutes
LIVE_SPAN_S = 900.0
_STEPS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)


def grid_step(window_s: float, lines: int = 1, resolution_s: float = 0.0,
              max_points: int = 1000) -> float:
    """The smallest tidy step that keeps ``lines`` lines within ``max_points`` in all."""
    need = max(window_s * max(lines, 1) / max_points, resolution_s, 1.0)
    return next((s for s in _STEPS if s >= need), _STEPS[-1])


def rate_over(window_s: float, step_s: float) -> float:
    """The rate window for a chart of ``window_s``: 10 s live, 1 min long, never under a step."""
    return max(LIVE_OVER_S if window_s <= LIVE_SPAN_S else LONG_OVER_S, step_s)


@dataclass(frozen=True, slots=True)
class RateGrid:
    """Rates on a time grid; NaN where a line has no sample in its window."""

    t: np.ndarray  # grid times, unix seconds
    total: np.ndarray
    per_model: dict[int, np.ndarray]  # model code → rate per grid point
    step_s: float
    over_s: float

    def total_until(self, t1: float, now: float | None) -> tuple[np.ndarray, np.ndarray]:
        """The total line ending at ``t1`` with ``now`` (the rate over the last 10 s), so
        it is drawn even when the grid has no point yet (a young recording on a long
        window); unchanged when ``now`` is unknown."""
        if now is None or not np.isfinite(now):
            return self.t, self.total
        keep = self.t < t1
        return np.append(self.t[keep], t1), np.append(self.total[keep], now)

    def total_mean(self) -> float | None:
        """The total line's mean over the points that have one (the page's "average")."""
        vals = self.total[np.isfinite(self.total)]
        return float(vals.mean()) if vals.size else None


def _sample_end(series: Series) -> np.ndarray:
    """When each row's rate was measured: a sample's own time, a bucket's end."""
    return np.asarray(series.ts, np.float64) + series.resolution_s


def present_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(codes, return_inverse=True)`` for small model codes (-1 … 255), in O(n)."""
    shifted = np.asarray(codes, np.int64) + 1
    seen = np.bincount(shifted) if shifted.size else np.zeros(0, np.int64)
    uniq = np.flatnonzero(seen)
    lookup = np.zeros(seen.size, np.int64)
    lookup[uniq] = np.arange(uniq.size)
    return uniq - 1, lookup[shifted]


def _binned(ends: np.ndarray, values: np.ndarray, codes: np.ndarray, edges: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sums and counts per (model, bin); bin ``j`` holds ends in (edges[j-1], edges[j]].

    One ``bincount`` over every sample, so a tick costs O(samples) however
    many models there are (no sort: the edges are what is searched).
    """
    uniq, inv = present_codes(codes)
    n_bins = edges.size - 1  # edges[0] only bounds the first bin from below
    j = np.searchsorted(edges, ends, "left") - 1
    ok = (j >= 0) & (j < n_bins)
    flat = inv[ok] * n_bins + j[ok]
    size = uniq.size * n_bins
    sums = np.bincount(flat, weights=values[ok], minlength=size).reshape(uniq.size, n_bins)
    counts = np.bincount(flat, minlength=size).reshape(uniq.size, n_bins).astype(np.float64)
    return uniq, sums, counts


def _window(rows: np.ndarray, k: int) -> np.ndarray:
    """Each point's sum over its ``k`` bins (the bins of the ``over_s`` before it)."""
    csum = np.concatenate([np.zeros((rows.shape[0], 1)), np.cumsum(rows, axis=1)], axis=1)
    return csum[:, k:] - csum[:, :-k]


def rate_grid(series: Series, t0: float, t1: float, *, step_s: float,
              over_s: float) -> RateGrid:
    """Per-model and total rates at every step in [t0, t1] (aligned to the step).

    ``over_s`` is a whole number of steps (``rate_over`` makes it so).
    """
    first, last = np.ceil(t0 / step_s) * step_s, np.floor(t1 / step_s) * step_s
    n = int(round((last - first) / step_s)) + 1 if last >= first else 0
    k = max(1, round(over_s / step_s))
    # edges[k + p] is grid point p; the k before it bound its window from below
    edges = first + (np.arange(n + k) - k) * step_s
    at = edges[k:]
    ends, values = _sample_end(series), np.asarray(series.value, np.float64)
    ok = np.isfinite(values)
    per_model: dict[int, np.ndarray] = {}
    if ok.any() and at.size:
        codes, sums, counts = _binned(ends[ok], values[ok], np.asarray(series.model)[ok],
                                      edges)
        s, c = _window(sums, k), _window(counts, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(c > 0, s / np.maximum(c, 1), np.nan)
        per_model = {int(c): means[i] for i, c in enumerate(codes.tolist())}
    if per_model:
        stack = np.vstack(list(per_model.values()))
        seen = np.isfinite(stack).any(axis=0)
        total = np.where(seen, np.nansum(np.where(np.isfinite(stack), stack, 0.0), axis=0),
                         np.nan)
    else:
        total = np.full(at.shape, np.nan)
    return RateGrid(t=at, total=total, per_model=per_model, step_s=step_s, over_s=over_s)


def current_rate(series: Series, over_s: float = LIVE_OVER_S) -> float | None:
    """All models' tokens/s over the ``over_s`` seconds up to the newest sample.

    The Overview's card and the Throughput page's "now" both read this, so
    they cannot disagree on the same data.
    """
    if not len(series):
        return None
    ends, values = _sample_end(series), np.asarray(series.value, np.float64)
    at = float(np.nanmax(ends))
    keep = np.isfinite(values) & (ends > at - over_s) & (ends <= at)
    if not keep.any():
        return None
    total = 0.0
    for code in np.unique(series.model[keep]).tolist():
        total += float(values[keep & (series.model == code)].mean())
    return total


def current_rates(series: Series, over_s: float = LIVE_OVER_S) -> dict[str, float]:
    """Each model's tokens/s over the ``over_s`` seconds up to the newest sample (by id)."""
    if not len(series):
        return {}
    ends, values = _sample_end(series), np.asarray(series.value, np.float64)
    at = float(np.nanmax(ends))
    keep = np.isfinite(values) & (ends > at - over_s) & (ends <= at)
    names = series.model_names
    out: dict[str, float] = {}
    for code in np.unique(series.model[keep]).tolist():
        if 0 <= code < len(names):
            out[names[code]] = float(values[keep & (series.model == code)].mean())
    return out


def tokens_now(snap: Snapshot) -> float | None:
    """All models' tokens/s over the last 10 s: the one "now" of every page and the alerts.

    From the snapshot's tail (the last minutes at the finest resolution), so a
    page showing a long window still says what is happening now.
    """
    return current_rate(snap.tail.throughput)
