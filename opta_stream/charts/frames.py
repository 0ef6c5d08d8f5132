"""Pure builders: snapshot series → small DataFrames and summary numbers.

Kept apart from the Altair code in ``charts`` because pages, exports and the
benchmarks need these tables and numbers without any chart. Series are
downsampled on the way in (about 1,000 rows per chart) with a min/max per
bucket, so a peak always survives. Times are tz-aware UTC timestamps; the
browser shows them in local time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeGuard

import numpy as np
import pandas as pd

from opta_stream.figures.downsample import downsample_series
from opta_stream.figures.windows import Window, utc_times
from opta_stream.snapshot import LogEntry, Series

__all__ = [
    "NO_MODEL",
    "Gaps",
    "finite",
    "gap_frame",
    "gauge_bands",
    "gauge_note",
    "gauge_used",
    "marker_frame",
    "memory_data",
    "one",
    "window_frame",
    "alone_rows",
    "with_floor",
    "with_show",
    "Window",
    "memory_frame",
    "memory_labels",
    "threshold_gb",
    "utc_times",
]

NO_MODEL = "(no model id)"
# Lifecycle entries drawn as markers on the time-series charts, with their short label.
MARKERS: Mapping[str, str] = {
    "model_loaded": "loaded", "model_unloaded": "unloaded", "model_ttl_evicted": "evicted",
    "download_completed": "download done", "config_reloaded": "config reloaded",
    "server_restarted": "server restarted", "counter_reset": "server restarted",
    "alert_firing": "alert firing", "alert_resolved": "alert resolved",
}
Gaps = Iterable[tuple[float, float | None]]



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


def threshold_gb(frame: pd.DataFrame, threshold_pct: float | None) -> float | None:
    """threshold % of the latest known total, or None when either is unknown."""
    totals = frame["total_gb"].to_numpy(dtype=np.float64) if len(frame) else np.array([])
    totals = totals[np.isfinite(totals)]
    if not (threshold_pct is not None and np.isfinite(threshold_pct)) or not totals.size:
        return None
    return float(totals[-1]) * float(threshold_pct) / 100.0


def memory_labels(frame: pd.DataFrame, threshold_pct: float | None,
                 threshold_gb: float | None, window: Window | None) -> pd.DataFrame:
    """Rows (time, gb, label, below) for the latest total (written above its line) and the
    threshold (below its rule, so the two never run into each other), if known."""
    totals = frame["total_gb"].to_numpy(dtype=np.float64) if len(frame) else np.array([])
    totals = totals[np.isfinite(totals)]
    rows: list[tuple[float, str, float]] = []
    if totals.size:
        rows.append((float(totals[-1]), f"total {totals[-1]:.1f} GB", 0.0))
    if threshold_gb is not None:
        rows.append((threshold_gb, f"threshold {threshold_pct:g} %", 1.0))
    end = window[1] if window else (frame["time"].iloc[-1].timestamp() if len(frame) else 0.0)
    return pd.DataFrame({
        "time": utc_times(np.full(len(rows), end, dtype=np.float64)),
        "gb": np.array([r[0] for r in rows], dtype=np.float64),
        "label": pd.Series([r[1] for r in rows], dtype=object),
        "below": np.array([r[2] for r in rows], dtype=np.float64),
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
    if not rows and window is not None:
        rows.append((window[0], window[0]))  # zero width: draws nothing, keeps Vega quiet
    arr = np.array(rows, dtype=np.float64).reshape(-1, 2)
    return pd.DataFrame({"start": utc_times(arr[:, 0]), "end": utc_times(arr[:, 1])})


def marker_frame(entries: Iterable[LogEntry], window: Window | None,
                 extra: Iterable[tuple[float, str]] = ()) -> pd.DataFrame:
    """Rows (time, label, show) for the lifecycle entries inside the window, and ``extra``
    (time, label) markers of the page's own (where the recording starts).

    With none, one hidden row at the window's start keeps the layer's extent finite.
    """
    lo, hi = window if window is not None else (-np.inf, np.inf)
    rows = [(e.ts, f"{MARKERS[e.type]}: {e.summary}") for e in entries
            if e.type in MARKERS and lo <= e.ts <= hi]
    rows += [(ts, label) for ts, label in extra if lo <= ts <= hi]
    show = 1.0
    if not rows and window is not None:
        rows, show = [(window[0], "")], 0.0
    return pd.DataFrame({"time": utc_times(np.array([r[0] for r in rows], np.float64)),
                         "label": pd.Series([r[1] for r in rows], dtype=object),
                         "show": np.full(len(rows), show)})


def window_frame(window: Window | None) -> pd.DataFrame:
    """Two invisible anchors that pin the x axis to the whole window."""
    return pd.DataFrame({"time": utc_times(np.array(window if window else [], dtype=np.float64))})


def one(name: str, value: float | None) -> pd.DataFrame:
    """A one-row frame; with no value, a hidden row (``show`` 0) keeps the layer in the spec."""
    ok = finite(value)
    return pd.DataFrame({name: np.array([value if ok else 0.0], dtype=np.float64),
                         "show": np.array([1.0 if ok else 0.0])})


def finite(v: float | None) -> TypeGuard[float]:
    """A real number (not None, NaN or infinite)."""
    return v is not None and bool(np.isfinite(v))


def memory_data(frame: pd.DataFrame, *, threshold_pct: float | None, gaps: Gaps,
                markers: pd.DataFrame, window: Window | None) -> list[pd.DataFrame]:
    """The memory chart's layer data: gaps, anchors, markers, used, total, threshold, labels."""
    limit_gb = threshold_gb(frame, threshold_pct)
    shown_rows = with_show(frame, window[0] if window else 0.0)
    labels = with_show(memory_labels(frame, threshold_pct, limit_gb, window),
                       window[1] if window else 0.0)
    return [gap_frame(gaps, window), window_frame(window), markers, shown_rows, shown_rows,
            one("threshold_gb", limit_gb), labels, labels]


def gauge_bands(total: float | None, levels: tuple[str, ...]) -> pd.DataFrame:
    """The gauge's capacity bands: 0-60 %, 60-80 %, 80-100 % of ``total``."""
    edges = np.array([0.0, 0.6, 0.8, 1.0]) * total if total else np.zeros(1)
    return pd.DataFrame({"start": edges[:-1], "end": edges[1:],
                         "level": pd.Series(levels[: edges.size - 1], dtype=object)})


def gauge_used(used: float | None) -> pd.DataFrame:
    """The gauge's used bar, from 0 to ``used`` (empty when unknown)."""
    end = np.array([used if used is not None else 0.0], dtype=np.float64)
    return pd.DataFrame({"start": np.zeros(1), "end": end})


def gauge_note(used: float | None, total: float | None) -> pd.DataFrame:
    """A note in place of the gauge when the server reported no figures."""
    text = [] if used is not None and total is not None else ["no memory figures yet"]
    return pd.DataFrame({"text": pd.Series(text, dtype=object)})


def with_show(frame: pd.DataFrame, at: float) -> pd.DataFrame:
    """A line layer's rows with a ``show`` column; with none, one hidden row at ``at``.

    An empty line layer makes Vega warn about an infinite extent on every
    redraw; a hidden row (``show`` 0, value 0) keeps the axes finite instead.
    """
    if len(frame):
        return frame.assign(show=np.ones(len(frame), np.int8))
    row: dict[str, object] = {}
    for name in frame.columns:
        col = frame[name]
        if name == "time":
            row[name] = utc_times(np.array([at], np.float64))
        elif isinstance(col.dtype, pd.CategoricalDtype):
            cats = list(col.cat.categories)
            row[name] = pd.Categorical(cats[:1], categories=cats)
        else:
            row[name] = np.zeros(1, np.int64 if pd.api.types.is_integer_dtype(col) else np.float64)
    return pd.DataFrame(row).assign(show=0.0)


def with_floor(frame: pd.DataFrame, field: str, at: float, floor: float = 1.0) -> pd.DataFrame:
    """``frame`` with a hidden row at ``floor`` when nothing shown reaches it, so the y
    axis spans 0…floor at least: an empty or all-zero line would give Vega a zero-width
    domain, whose axis reads "NaN". The row is its own segment (``-1``), so it joins no
    line, and ``show`` 0 draws nothing."""
    shown = frame[field][frame["show"] > 0] if "show" in frame else frame[field]
    if len(shown) and float(np.nanmax(np.abs(shown.to_numpy(np.float64)))) >= floor:
        return frame
    row = with_show(frame.iloc[:0], at)
    row[field] = floor
    if "segment" in row:
        row["segment"] = -1
    return pd.concat([frame, row], ignore_index=True) if len(frame) else row


def alone_rows(rows: pd.DataFrame, at: float) -> pd.DataFrame:
    """The dots layer's own data: only the lone points (usually none), so a line's rows
    are not sent twice."""
    lone = rows[rows["alone"] > 0] if "alone" in rows else rows.iloc[:0]
    return lone if len(lone) else with_show(rows.iloc[:0], at)
