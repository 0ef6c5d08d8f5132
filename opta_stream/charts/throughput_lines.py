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

from opta_stream.charts.frames import NO_MODEL, finite
from opta_stream.charts.parts import PALETTE, model_color
from opta_stream.figures.tokens import (
    RateGrid,
    grid_step,
    present_codes,
    rate_grid,
    rate_over,
)
from opta_stream.figures.windows import snapshot_window, utc_times
from opta_stream.snapshot import Series, Snapshot

__all__ = ["TOTAL", "ThroughputView", "line_rows", "throughput_view", "with_alone"]

TOTAL = "all models"


@dataclass(frozen=True, slots=True)
class ThroughputView:
    """Everything the throughput chart and its figures show for one snapshot."""

    lines: pd.DataFrame  # time, series, tokens_per_second, segment, alone
    names: tuple[str, ...]  # legend order: each model, then TOTAL
    colors: tuple[str, ...]
    widths: tuple[float, ...]  # each line's stroke: the total stands out
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


def line_rows(t: np.ndarray, values: np.ndarray, name: str) -> pd.DataFrame:
    """One line's rows, NaN points dropped, each unbroken run its own segment."""
    keep = np.isfinite(values)
    return pd.DataFrame({"time": utc_times(t[keep]), "series": name,
                         "tokens_per_second": values[keep].astype(np.float32),
                         "segment": _runs(values)[keep].astype(np.int16)})


def _long_rows(t: np.ndarray, lines: list[np.ndarray], names: list[str]) -> pd.DataFrame:
    """Every line's rows in one frame (as ``line_rows`` each, built in one go), in the
    narrowest types that hold them: each viewer is sent these bytes twice a second."""
    keep = [np.isfinite(v) for v in lines]
    ts = np.concatenate([t[k] for k in keep]) if lines else np.empty(0)
    return pd.DataFrame({
        "time": utc_times(ts),
        "series": pd.Categorical.from_codes(
            np.concatenate([np.full(int(k.sum()), i, np.int8) for i, k in enumerate(keep)]),
            categories=pd.Index(names)),
        "tokens_per_second": np.concatenate(
            [v[k] for v, k in zip(lines, keep, strict=True)]).astype(np.float32),
        "segment": np.concatenate(
            [_runs(v)[k] for v, k in zip(lines, keep, strict=True)]).astype(np.int16),
    })


def _model_name(series: Series, code: int) -> str:
    names = series.model_names
    return names[code] if 0 <= code < len(names) else NO_MODEL


def throughput_view(snap: Snapshot, *, now: float | None = None,
                    max_points: int = 1000) -> ThroughputView:
    """The snapshot's tokens/s as chart lines and page figures.

    ``now`` (tokens/s over the last 10 s, the page's "now") ends the "all models"
    line at the snapshot's time, so the line is drawn even when the window's grid
    has no point yet (a young recording on a long window), and its figures are of
    the line as drawn: least ≤ average ≤ p95 ≤ peak, and now ≤ peak.
    """
    series = snap.throughput
    t0, t1 = snapshot_window(snap)
    models = present_codes(series.model)[0].tolist() if len(series) else []
    split = len(models) > 1
    step = grid_step(snap.window_s, 1 + len(models) * split, series.resolution_s, max_points)
    grid = rate_grid(series, t0, t1, step_s=step, over_s=rate_over(snap.window_s, step))
    lines_in: list[np.ndarray] = []
    names, colors = [], []
    if split:
        for code in models:
            lines_in.append(grid.per_model[code])
            names.append(_model_name(series, code))
            colors.append(model_color(code))
    widths = (*(1.5 for _ in lines_in), 2.5)
    names.append(TOTAL)
    colors.append(PALETTE["text"] if split else PALETTE["primary"])
    total_t, total = grid.total_until(t1, now)  # the line ends at now, whatever its grid
    parts = [_long_rows(grid.t, lines_in, names[:-1])] if lines_in else []
    parts.append(_long_rows(total_t, [total], [TOTAL]))
    lines = pd.concat(parts, ignore_index=True)
    lines["series"] = pd.Categorical(lines["series"].astype(str), categories=names)
    drawn = total[np.isfinite(total)]
    return ThroughputView(
        lines=with_alone(lines), names=tuple(names), colors=tuple(colors), widths=widths,
        grid=grid,
        now=now, average=float(drawn.mean()) if drawn.size else None,
        p95=float(np.percentile(drawn, 95)) if drawn.size else None,
        peak=float(drawn.max()) if drawn.size else None)


def with_alone(lines: pd.DataFrame) -> pd.DataFrame:
    """An ``alone`` column: 1 for a point that has no neighbour in its line (a line of
    one point draws nothing, so a dot shows it), else 0."""
    if not len(lines):
        return lines.assign(alone=np.zeros(0, np.int8))
    size = lines.groupby(["series", "segment"], observed=True)["time"].transform("size")
    return lines.assign(alone=(size.to_numpy() == 1).astype(np.int8))


def average_label(view: ThroughputView) -> pd.DataFrame:
    """The average rule's row, with the words drawn beside it."""
    avg = view.average
    ok = finite(avg)
    return pd.DataFrame({"average": np.array([avg if ok else 0.0], np.float64),
                         "label": pd.Series([f"average {avg:,.1f} tokens/s" if ok else ""],
                                            dtype=object),
                         "show": np.array([1.0 if ok else 0.0])})
