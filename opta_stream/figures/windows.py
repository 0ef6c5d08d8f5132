"""Time windows: the span a snapshot covers, and each window's name in words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opta_stream.snapshot import Snapshot

__all__ = ["WINDOWS", "Window", "snapshot_window", "utc_times", "window_label"]

Window = tuple[float, float]
# The windows a page offers, by name; the long ones reach back as far as history kept.
WINDOWS: dict[str, float] = {"1 min": 60.0, "5 min": 300.0, "15 min": 900.0,
                             "1 h": 3600.0, "24 h": 86400.0, "7 d": 7 * 86400.0,
                             "30 d": 30 * 86400.0}


def snapshot_window(snap: Snapshot) -> Window:
    """The time span a snapshot covers, for the x axis and gap clipping."""
    return (snap.taken_at - snap.window_s, snap.taken_at)


def utc_times(ts: np.ndarray) -> pd.DatetimeIndex:
    """Unix seconds → tz-aware UTC timestamps, the time column of every frame."""
    return pd.to_datetime(np.asarray(ts, dtype=np.float64), unit="s", utc=True)


def window_label(window_s: float) -> str:
    """A window's name as the selector shows it ("5 min"), else its length in seconds."""
    return next((k for k, v in WINDOWS.items() if v == window_s), f"{window_s:.0f} s")
