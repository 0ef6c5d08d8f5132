"""Pure builders: snapshot series → small DataFrames and summary numbers.

Kept apart from the Altair code in ``charts`` because pages, exports and the
benchmarks need these tables and numbers without any chart. Series are
downsampled on the way in (about 1,000 rows per chart) with a min/max per
bucket, so a peak always survives. Times are tz-aware UTC timestamps; the
browser shows them in local time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .downsample import downsample_series
from .snapshot import Series, Snapshot

__all__ = [
    "Window",
    "memory_frame",
    "memory_labels",
    "snapshot_window",
    "summary_stats",
    "threshold_gb",
    "throughput_frame",
    "utc_times",
]

Window = tuple[float, float]


def snapshot_window(snap: Snapshot) -> Window:
    """The time span a snapshot covers, for the x axis and gap clipping."""
    return (snap.taken_at - snap.window_s, snap.taken_at)


def utc_times(ts: np.ndarray) -> pd.DatetimeIndex:
    """Unix seconds → tz-aware UTC timestamps, the time column of every frame."""
    return pd.to_datetime(np.asarray(ts, dtype=np.float64), unit="s", utc=True)


def throughput_frame(series: Series, max_points: int = 1000) -> pd.DataFrame:
    """Plotted columns only; aggregated tiers plot the bucket mean.

    Downsampling picks the buckets holding the lows and peaks (from lo/hi),
    so a spike inside a coarse bucket still decides which rows are drawn.
    """
    idx = downsample_series(series, max_points)
    cols = {
        "time": utc_times(series.ts[idx]),
        "tokens_per_second": series.value[idx],
        "segment": series.seg[idx],
    }
    if series.model_names and len(series):
        names = np.array([*series.model_names, None], dtype=object)  # last: "no id"
        codes = series.model[idx].astype(np.intp)
        codes[(codes < 0) | (codes >= len(series.model_names))] = len(series.model_names)
        cols["model_id"] = names[codes]
    return pd.DataFrame(cols)


def memory_frame(used: Series, total: Series, max_points: int = 1000) -> pd.DataFrame:
    """Used and total GB per row, sampled on the used series' timestamps."""
    idx = downsample_series(used, max_points)
    ts = used.ts[idx]
    if len(total) == len(used) and np.array_equal(total.ts, used.ts):
        tot = total.value[idx]
    elif len(total):
        tot = np.interp(ts, total.ts, total.value)
    else:
        tot = np.full(ts.shape, np.nan)
    return pd.DataFrame({
        "time": utc_times(ts), "used_gb": used.value[idx], "total_gb": tot,
        "segment": used.seg[idx],
    })


def summary_stats(series: Series) -> dict[str, float | None]:
    """p50, p95, mean and latest of ``value``; max of ``hi``. NaNs ignored.

    On raw series value == hi, so all five are exact. On an aggregated tier
    ``value`` is each bucket's mean: p50/p95/mean are then over bucket means
    (a smoothed view), while ``max`` uses ``hi`` so a peak is never averaged away.
    """
    vals = np.asarray(series.value, dtype=np.float64)
    finite = vals[np.isfinite(vals)]
    if not finite.size:
        return dict.fromkeys(("p50", "p95", "max", "mean", "latest"))
    p50, p95 = np.percentile(finite, [50, 95])
    hi = np.asarray(series.hi, dtype=np.float64)
    peak = float(np.max(hi[np.isfinite(hi)], initial=finite.max()))
    return {"p50": float(p50), "p95": float(p95), "max": peak,
            "mean": float(finite.mean()), "latest": float(finite[-1])}


def threshold_gb(frame: pd.DataFrame, threshold_pct: float | None) -> float | None:
    """threshold % of the latest known total, or None when either is unknown."""
    totals = frame["total_gb"].to_numpy(dtype=np.float64) if len(frame) else np.array([])
    totals = totals[np.isfinite(totals)]
    if not (threshold_pct is not None and np.isfinite(threshold_pct)) or not totals.size:
        return None
    return float(totals[-1]) * float(threshold_pct) / 100.0


def memory_labels(frame: pd.DataFrame, threshold_pct: float | None,
                 threshold_gb: float | None, window: Window | None) -> pd.DataFrame:
    """Rows (time, gb, label) for the latest total and the threshold, if known."""
    totals = frame["total_gb"].to_numpy(dtype=np.float64) if len(frame) else np.array([])
    totals = totals[np.isfinite(totals)]
    rows: list[tuple[float, str]] = []
    if totals.size:
        rows.append((float(totals[-1]), f"total {totals[-1]:.1f} GB"))
    if threshold_gb is not None:
        rows.append((threshold_gb, f"threshold {threshold_pct:g} %"))
    end = window[1] if window else (frame["time"].iloc[-1].timestamp() if len(frame) else 0.0)
    return pd.DataFrame({
        "time": utc_times(np.full(len(rows), end, dtype=np.float64)),
        "gb": np.array([r[0] for r in rows], dtype=np.float64),
        "label": pd.Series([r[1] for r in rows], dtype=object),
    })
