"""Pure builders: snapshot series → small DataFrames and summary numbers.

Kept apart from the Altair code in ``charts`` because pages, exports and the
benchmarks need these tables and numbers without any chart. Series are
downsampled on the way in (about 1,000 rows per chart) with a min/max per
bucket, so a peak always survives. Times are tz-aware UTC timestamps; the
browser shows them in local time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeGuard

import numpy as np
import pandas as pd

from opta_stream.present.downsample import downsample_series
from opta_stream.snapshot import Series, Snapshot

__all__ = [
    "NO_MODEL",
    "Gaps",
    "finite",
    "gap_frame",
    "gauge_bands",
    "gauge_note",
    "gauge_used",
    "memory_data",
    "one",
    "throughput_data",
    "window_frame",
    "Window",
    "memory_frame",
    "memory_labels",
    "snapshot_window",
    "summary_stats",
    "threshold_gb",
    "throughput_frame",
    "utc_times",
]

NO_MODEL = "(no model id)"
Gaps = Iterable[tuple[float, float | None]]

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
        cols["model_id"] = series.model_ids_at(idx)
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


def gap_frame(gaps: Gaps, window: Window | None) -> pd.DataFrame:
    """Gap intervals clipped to the window; an open gap runs to its end."""
    lo, hi = window if window is not None else (-np.inf, np.inf)
    rows = []
    for start, end in gaps:
        stop = hi if end is None else end
        a, b = max(start, lo), min(stop, hi)
        if np.isfinite(a) and np.isfinite(b) and b > a:
            rows.append((a, b))
    arr = np.array(rows, dtype=np.float64).reshape(-1, 2)
    return pd.DataFrame({"start": utc_times(arr[:, 0]), "end": utc_times(arr[:, 1])})


def window_frame(window: Window | None) -> pd.DataFrame:
    """Two invisible anchors that pin the x axis to the whole window."""
    return pd.DataFrame({"time": utc_times(np.array(window if window else [], dtype=np.float64))})


def one(name: str, value: float | None) -> pd.DataFrame:
    """A one-row frame, or an empty one so the layer stays in the spec."""
    return pd.DataFrame({name: np.array([value] if finite(value) else [], dtype=np.float64)})


def finite(v: float | None) -> TypeGuard[float]:
    """A real number (not None, NaN or infinite)."""
    return v is not None and bool(np.isfinite(v))


def _model_labels(frame: pd.DataFrame) -> pd.Series:
    if "model_id" not in frame:
        return pd.Series(NO_MODEL, index=frame.index, dtype=object)
    return frame["model_id"].astype(object).where(frame["model_id"].notna(), NO_MODEL)


def throughput_data(frame: pd.DataFrame, *, average: float | None, gaps: Gaps,
                    per_model: bool, window: Window | None) -> list[pd.DataFrame]:
    """The throughput chart's layer data: gaps, window anchors, lines, average."""
    if per_model:  # categorical → Arrow dictionary: each id crosses the wire once, not per row
        frame = frame.assign(model_id=_model_labels(frame).astype("category"))
    return [gap_frame(gaps, window), window_frame(window), frame, one("average", average)]


def memory_data(frame: pd.DataFrame, *, threshold_pct: float | None, gaps: Gaps,
                window: Window | None) -> list[pd.DataFrame]:
    """The memory chart's layer data: gaps, anchors, used, total, threshold, labels."""
    limit_gb = threshold_gb(frame, threshold_pct)
    return [gap_frame(gaps, window), window_frame(window), frame, frame,
            one("threshold_gb", limit_gb), memory_labels(frame, threshold_pct, limit_gb, window)]


def gauge_bands(total: float | None, levels: tuple[str, ...]) -> pd.DataFrame:
    """The gauge's capacity bands: 0-60 %, 60-80 %, 80-100 % of ``total``."""
    edges = np.array([0.0, 0.6, 0.8, 1.0]) * total if total else np.zeros(1)
    return pd.DataFrame({"start": edges[:-1], "end": edges[1:],
                         "level": pd.Series(levels[: edges.size - 1], dtype=object)})


def gauge_used(used: float | None) -> pd.DataFrame:
    """The gauge's used bar, from 0 to ``used`` (empty when unknown)."""
    end = np.array([used] if used is not None else [], dtype=np.float64)
    return pd.DataFrame({"start": np.zeros(end.size), "end": end})


def gauge_note(used: float | None, total: float | None) -> pd.DataFrame:
    """A note in place of the gauge when the server reported no figures."""
    text = [] if used is not None and total is not None else ["no memory figures yet"]
    return pd.DataFrame({"text": pd.Series(text, dtype=object)})
