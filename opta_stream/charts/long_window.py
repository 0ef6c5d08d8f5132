"""A long window's chart from Prometheus, its last minutes from the live feed, and its source.

With ``prometheus_url`` set, a window of an hour or more is drawn from the
user's Prometheus (``ranges.RangeAnswer``); the last ``LIVE_TAIL_S`` come
from this dashboard's own feed, which is newer than any scrape. Each line's
legend names its source, and the caption says where the chart came from or,
when Prometheus gave nothing, why the chart shows the dashboard's own
history instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from opta_stream.figures.windows import utc_times
from opta_stream.snapshot import LONG_WINDOW_S, PENDING, RangeAnswer
from opta_stream.units import span

__all__ = ["LIVE", "LIVE_TAIL_S", "LOCAL_SOURCE", "PROM", "Part", "fallback_caption", "long_frame",
           "line_stats", "source_caption", "uses_prometheus"]

LIVE_TAIL_S = 300.0
PROM, LIVE = "Prometheus", "live feed"
LOCAL_SOURCE = "Source: this dashboard's own recording (its live feed and history file)."

Part = tuple[str, np.ndarray, np.ndarray]  # series name, unix-second times, values


def uses_prometheus(answer: RangeAnswer | None, window_s: float) -> bool:
    """Whether this chart is drawn from Prometheus: a long window and a good answer."""
    return answer is not None and answer.ok and window_s >= LONG_WINDOW_S


def split_at(t: np.ndarray, values: np.ndarray, live_from: float, *,
             before: bool) -> tuple[np.ndarray, np.ndarray]:
    """The points before ``live_from`` (Prometheus's part) or from it on (the feed's)."""
    t, values = np.asarray(t, np.float64), np.asarray(values, np.float64)
    keep = t < live_from if before else t >= live_from
    return t[keep], values[keep]


def long_frame(parts: Sequence[Part], field: str) -> pd.DataFrame:
    """Long-format rows (time, series, ``field``, segment), each part on its own times;
    a NaN breaks a line, as on every other chart."""
    names = list(dict.fromkeys(name for name, _, _ in parts))
    frames = []
    for name, t, values in parts:
        values = np.asarray(values, np.float64)
        keep = np.isfinite(values)
        frames.append(pd.DataFrame({"time": utc_times(np.asarray(t)[keep]), "series": name,
                                    field: values[keep],
                                    "segment": np.cumsum(~keep)[keep]}))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {"time": utc_times(np.empty(0)), "series": [], field: [], "segment": []})
    frame["series"] = pd.Categorical(frame["series"], categories=names)
    return frame


def line_stats(values: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """Average, p95 and peak of a line's points (None without any)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return None, None, None
    return float(v.mean()), float(np.percentile(v, 95)), float(v.max())


def source_caption(answer: RangeAnswer) -> str:
    """Where a Prometheus chart's lines came from: the query, its step, the live tail."""
    line = next(iter(answer.lines.values()))
    return (f"Source: {answer.source}, one point every {span(line.step_s)} (`{line.query}`), "
            f"then the last {span(LIVE_TAIL_S)} from this dashboard's live feed.")


def fallback_caption(answer: RangeAnswer | None) -> str | None:
    """Why a long window shows the dashboard's own history although Prometheus is set;
    None when Prometheus is not configured."""
    if answer is None:
        return None
    if answer.status == PENDING:
        return (f"Asking {answer.source} for this window; meanwhile this is the dashboard's "
                "own history.")
    return f"{answer.problem} Showing this dashboard's own history instead."
