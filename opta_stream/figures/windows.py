"""Time windows: the span a snapshot covers, and each window's name in words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opta_stream.snapshot import Snapshot

__all__ = ["Window", "snapshot_window", "utc_times"]

Window = tuple[float, float]


def snapshot_window(snap: Snapshot) -> Window:
    """The time span a snapshot covers, for the x axis and gap clipping."""
    return (snap.taken_at - snap.window_s, snap.taken_at)


def utc_times(ts: np.ndarray) -> pd.DatetimeIndex:
    """Unix seconds → tz-aware UTC timestamps, the time column of every frame."""
    return pd.to_datetime(np.asarray(ts, dtype=np.float64), unit="s", utc=True)
