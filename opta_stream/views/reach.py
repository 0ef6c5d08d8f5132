"""How far back a page's recording reaches, said on the chart when the window reaches further.

A 24 h or 7 d window over a recording of minutes is mostly empty, and a
5 min window two minutes after the dashboard started has an empty start;
rather than a chart that looks broken there, the span before the recording
starts is shaded like a gap, a marker says "recorded since 13:41" where it
starts, and the caption says so in words. A sliver (under a tenth of the
window, the first poll's few seconds) is not worth a marker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

import numpy as np

from opta_stream.snapshot import Snapshot
from opta_stream.units import clock_time, duration

__all__ = ["NOTICEABLE", "Reach", "first_at", "reach"]

NOTICEABLE = 0.1  # the window reaches past the recording by more than this share of it


@dataclass(frozen=True, slots=True)
class Reach:
    """Where the recording starts, as a marker, a shaded span and a sentence; nothing when
    the recording covers the window (but for a sliver)."""

    markers: tuple[tuple[float, str], ...] = ()
    gaps: tuple[tuple[float, float | None], ...] = ()
    note: str = ""


def first_at(ts: object) -> float | None:
    """The first time of a column of times (a series' or a serving window's ``ts``)."""
    arr = np.asarray(ts, np.float64)
    return float(arr[0]) if arr.size else None


def reach(snap: Snapshot, first: float | None, tz: tzinfo) -> Reach:
    """``first`` is when what the chart draws was first recorded (None: nothing yet)."""
    t0, t1 = snap.taken_at - snap.window_s, snap.taken_at
    if first is None or first - t0 <= NOTICEABLE * snap.window_s:
        return Reach()
    when = clock_time(first, tz)
    if snap.window_s > 86400.0:
        when = f"{duration(t1 - first)} ago ({when})"
    label = f"recorded since {when}"
    return Reach(((first, label),), ((t0, first),),
                 f":material/history: Recorded since {when}: the window reaches further "
                 "back than this dashboard's recording; the shaded part is before it.")
