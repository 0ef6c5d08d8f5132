"""The throughput chart's data: per-model and total rate lines, average, markers.

Built from a snapshot with ``rates`` (the one tokens/s definition), so the
Overview's card, the Throughput page's figures and its lines agree. Lines are
long-format rows (time, series, value): one colour per model, the total as
"all models", every line broken where it has no sample in its rate window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from opta_stream.present.chart_parts import PALETTE, model_color
from opta_stream.present.frames import NO_MODEL, finite, snapshot_window, utc_times
from opta_stream.present.rates import RateGrid, current_rate, grid_step, rate_grid, rate_over
from opta_stream.snapshot import Series, Snapshot

__all__ = ["TOTAL", "ThroughputView", "line_rows", "throughput_view"]

TOTAL = "all models"


@dataclass(frozen=True, slots=True)
class ThroughputView:
    """Everything the throughput chart and its figures show for one snapshot."""

    lines: pd.DataFrame  # time, series, tokens_per_second, segment, width
    names: tuple[str, ...]  # legend order: each model, then TOTAL
    colors: tuple[str, ...]
    grid: RateGrid
    now: float | None  # tokens/s over the last 10 s, as the Overview shows it
    average: float | None
    p95: float | None
    peak: float | None  # the total line's highest point

    @property
    def per_model(self) -> bool:
        return len(self.names) > 1


def _runs(values: np.ndarray) -> np.ndarray:
    """A segment id per point that changes after every run of NaN (a break in the line)."""
    return np.cumsum(~np.isfinite(values))


def line_rows(t: np.ndarray, values: np.ndarray, name: str, width: float) -> pd.DataFrame:
    """One line's rows, NaN points dropped, each unbroken run its own segment."""
    keep = np.isfinite(values)
    return pd.DataFrame({"time": utc_times(t[keep]), "series": name,
                         "tokens_per_second": values[keep],
                         "segment": _runs(values)[keep], "width": width})


def _model_name(series: Series, code: int) -> str:
    names = series.model_names
    return names[code] if 0 <= code < len(names) else NO_MODEL


def throughput_view(snap: Snapshot, *, max_points: int = 1000) -> ThroughputView:
    """The snapshot's tokens/s as chart lines and page figures."""
    series = snap.throughput
    t0, t1 = snapshot_window(snap)
    models = sorted(set(np.unique(series.model).tolist())) if len(series) else []
    split = len(models) > 1
    step = grid_step(snap.window_s, 1 + len(models) * split, series.resolution_s, max_points)
    grid = rate_grid(series, t0, t1, step_s=step, over_s=rate_over(snap.window_s, step))
    frames, names, colors = [], [], []
    if split:
        for code in models:
            name = _model_name(series, code)
            frames.append(line_rows(grid.t, grid.per_model[code], name, 1.5))
            names.append(name)
            colors.append(model_color(code))
    frames.append(line_rows(grid.t, grid.total, TOTAL, 2.5))
    names.append(TOTAL)
    colors.append(PALETTE["text"] if split else PALETTE["primary"])
    lines = pd.concat(frames, ignore_index=True)
    lines["series"] = pd.Categorical(lines["series"], categories=names)
    total = grid.total[np.isfinite(grid.total)]
    return ThroughputView(
        lines=lines, names=tuple(names), colors=tuple(colors), grid=grid,
        now=current_rate(series), average=grid.total_mean(),
        p95=float(np.percentile(total, 95)) if total.size else None,
        peak=float(total.max()) if total.size else None)


def average_label(view: ThroughputView) -> pd.DataFrame:
    """The average rule's row, with the words drawn beside it."""
    avg = view.average
    text = [f"average {avg:,.1f} tokens/s"] if finite(avg) else []
    return pd.DataFrame({"average": np.array([avg] if finite(avg) else [], np.float64),
                         "label": pd.Series(text, dtype=object)})
