"""Aggregated tiers of fixed width, one row per (bucket, model), and the tiered series.

Why per model: a bucket that mixed every model's samples would average their
rates (two models at 100 tokens/s would read 100, not 200), so long windows
could show neither the split nor the server's total. Each model keeps its own
row per bucket instead; the total is summed at presentation time, the same
way for raw samples and buckets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import DTypeLike

from opta_stream.snapshot import Series
from opta_stream.store.rings import _RAW_COLUMNS, ColumnRing, to_series

__all__ = ["TierRing", "TieredSeries"]

_TIER_COLUMNS: Mapping[str, DTypeLike] = {
    "ts": np.float64, "sum": np.float64, "lo": np.float64, "hi": np.float64,
    "count": np.int64, "seg": np.int64, "model": np.int32,
}


class TierRing:
    """Buckets of ``width`` seconds: start, sum, min, max, count, last segment, model.

    The newest bucket stays open: a sample of a model already in it merges into
    that model's row. A sample in any other bucket (later, or earlier after a
    clock jump) opens new rows. Rows stay in insertion order, so ``ts`` (the
    bucket start) never decreases except where a clock stepped back.
    """

    def __init__(self, width: float, capacity: int) -> None:
        if width <= 0:
            raise ValueError(f"bucket width must be positive, got {width}")
        self.width = float(width)
        self.ring = ColumnRing(capacity, _TIER_COLUMNS)
        self._open_start: float | None = None
        self._open: dict[int, int] = {}  # model code → absolute row index in the open bucket

    def add(self, ts: float, value: float, seg: int, model: int = -1) -> None:
        """One sample, in plain Python (cheaper than numpy for a scalar)."""
        start = math.floor(ts / self.width) * self.width
        row = self._open_row(start, model)
        if row is None:
            self._append(start, model, sum=value, lo=value, hi=value, count=1, seg=seg)
            return
        c = self.ring.cols
        c["sum"][row] += value
        c["lo"][row] = min(c["lo"][row], value)
        c["hi"][row] = max(c["hi"][row], value)
        c["count"][row] += 1
        c["seg"][row] = seg

    def add_many(self, ts: np.ndarray, values: np.ndarray, segs: np.ndarray,
                 models: np.ndarray | None = None) -> None:
        """A batch: group (bucket run, model) with reduceat, merge into the open bucket."""
        n = ts.shape[0]
        if n == 0:
            return
        models = np.full(n, -1, np.int32) if models is None else np.asarray(models, np.int32)
        with np.errstate(over="ignore"):  # a timestamp near the float limit is data too
            starts = np.floor(ts / self.width) * self.width
        run = np.zeros(n, dtype=np.int64)  # runs of equal bucket starts, in arrival order
        np.cumsum(starts[1:] != starts[:-1], out=run[1:])
        order = np.lexsort((models, run)) if (models != models[0]).any() else np.arange(n)
        s_run, s_model = run[order], models[order]
        heads = np.flatnonzero(np.r_[True, (s_run[1:] != s_run[:-1])
                                     | (s_model[1:] != s_model[:-1])])
        tails = np.r_[heads[1:], n] - 1
        v = values[order]
        agg = {"ts": starts[order][heads], "sum": np.add.reduceat(v, heads),
               "lo": np.minimum.reduceat(v, heads), "hi": np.maximum.reduceat(v, heads),
               "count": tails - heads + 1, "seg": segs[order][tails], "model": s_model[heads]}
        k, rows = 0, agg["ts"].shape[0]
        while k < rows and agg["ts"][k] == self._open_start:  # at most one row per model
            self._merge({name: col[k] for name, col in agg.items()})
            k += 1
        if k < rows:
            self._extend({name: col[k:] for name, col in agg.items()})

    def _extend(self, agg: Mapping[str, np.ndarray]) -> None:
        """Append whole buckets in one go; the newest bucket's rows become the open ones."""
        first = self.ring.total
        self.ring.extend(**agg)
        last = float(agg["ts"][-1])
        tail = np.flatnonzero(agg["ts"] == last)
        self._open_start = last
        self._open = {int(agg["model"][i]): first + int(i) for i in tail}

    def _merge(self, row: Mapping[str, float]) -> None:
        start, model = float(row["ts"]), int(row["model"])
        at = self._open_row(start, model)
        if at is None:
            self._append(start, model, **{k: v for k, v in row.items()
                                          if k not in ("ts", "model")})
            return
        c = self.ring.cols
        c["sum"][at] += row["sum"]
        c["lo"][at] = min(c["lo"][at], row["lo"])
        c["hi"][at] = max(c["hi"][at], row["hi"])
        c["count"][at] += row["count"]
        c["seg"][at] = row["seg"]

    def _open_row(self, start: float, model: int) -> int | None:
        """Physical row of ``model`` in the open bucket, if the sample belongs there."""
        if start != self._open_start:
            return None
        absolute = self._open.get(model)
        # None: not in this bucket yet, or overwritten by the ring's wrap
        return None if absolute is None else self.ring.physical(absolute)

    def _append(self, start: float, model: int, **cols: float) -> None:
        if start != self._open_start:
            self._open_start, self._open = start, {}
        self._open[model] = self.ring.total
        self.ring.append(ts=start, model=model, **cols)

    def rows_since(self, mark: int) -> tuple[dict[str, np.ndarray], int, int]:
        """Rows written at absolute index ``mark`` or later (those still held), the first
        one's absolute index, and the next mark: the open bucket's rows come again next
        time, since samples still merge into them."""
        ring = self.ring
        first = max(mark, ring.total - ring.size)
        rows = ring.rows(first - (ring.total - ring.size), ring.size)
        held = [i for i in self._open.values() if i >= ring.total - ring.size]
        return rows, first, min(held, default=ring.total)

    def load(self, cols: Mapping[str, np.ndarray]) -> None:
        """Rows read back from history, oldest first; they are closed buckets."""
        if cols["ts"].shape[0]:
            self.ring.extend(**cols)
        self._open_start, self._open = None, {}

    def window(self, t0: float, t1: float) -> Series:
        """Buckets overlapping [t0, t1]; value is the bucket mean of each model's samples."""
        rows = self.ring.window(t0 - self.width, t1)
        mean = rows["sum"] / np.maximum(rows["count"], 1)
        return to_series(rows["ts"], mean, rows["lo"], rows["hi"], rows["seg"], rows["model"],
                         self.width)


class TieredSeries:
    """A raw ring plus coarser tiers, fed together; windows pick the finest that covers."""

    def __init__(self, raw_capacity: int, tiers: Sequence[tuple[float, int]] = ()) -> None:
        self.raw = ColumnRing(raw_capacity, _RAW_COLUMNS)
        self.tiers = [TierRing(w, cap) for w, cap in sorted(tiers)]

    @property
    def nbytes(self) -> int:
        return self.raw.nbytes + sum(t.ring.nbytes for t in self.tiers)

    def last_ts(self) -> float | None:
        return self.raw.newest() if self.raw.size else None

    def add(self, ts: float, value: float, seg: int, model: int = -1) -> None:
        self.raw.append(ts=ts, value=value, seg=seg, model=model)
        for tier in self.tiers:
            tier.add(ts, value, seg, model)

    def add_many(self, ts: np.ndarray, value: np.ndarray, seg: np.ndarray,
                 model: np.ndarray) -> None:
        self.raw.extend(ts=ts, value=value, seg=seg, model=model)
        for tier in self.tiers:
            tier.add_many(ts, value, seg, model)

    def window(self, t0: float, t1: float) -> Series:
        """Rows in [t0, t1] from the finest store that still holds ``t0`` (else the coarsest)."""
        return self._read(self._source(t0), t0, t1)

    def windows(self, starts: Sequence[float], t1: float) -> list[Series]:
        """``window(t0, t1)`` for each start; starts read from the same store share one
        copy, the later ones views into the earliest one's rows (so a snapshot's window
        and its tail cost one copy when they read the same tier)."""
        sources = [self._source(t0) for t0 in starts]
        earliest: dict[int, float] = {}
        for src, t0 in zip(sources, starts, strict=True):
            earliest[src] = min(t0, earliest.get(src, t0))
        wide = {src: self._read(src, t0, t1) for src, t0 in earliest.items()}
        return [wide[src] if t0 == earliest[src] else self._later(src, wide[src], t0, t1)
                for src, t0 in zip(sources, starts, strict=True)]

    def _source(self, t0: float) -> int:
        """What a window from ``t0`` reads: -1 the raw ring, else a tier's index."""
        if self.raw.covers(t0) or not self.tiers:
            return -1
        return next((i for i, t in enumerate(self.tiers) if t.ring.covers(t0)),
                    len(self.tiers) - 1)

    def _read(self, source: int, t0: float, t1: float) -> Series:
        if source >= 0:
            return self.tiers[source].window(t0, t1)
        rows = self.raw.window(t0, t1)
        v = rows["value"]
        return to_series(rows["ts"], v, v, v, rows["seg"], rows["model"], 0.0)

    def _later(self, source: int, wide: Series, t0: float, t1: float) -> Series:
        """The window from ``t0`` as a suffix of ``wide`` (same store, earlier start);
        read anew when the store is out of time order (a suffix would not be the window)."""
        ring = self.raw if source < 0 else self.tiers[source].ring
        if not ring.is_sorted():
            return self._read(source, t0, t1)
        cut = t0 if source < 0 else t0 - self.tiers[source].width  # as ``TierRing.window``
        return _suffix(wide, int(np.searchsorted(wide.ts, cut, "left")))


def _suffix(s: Series, i: int) -> Series:
    """Rows ``i`` on of ``s`` as views, read-only like ``s``'s own arrays."""
    value = s.value[i:]
    return replace(s, ts=s.ts[i:], value=value, lo=value if s.lo is s.value else s.lo[i:],
                   hi=value if s.hi is s.value else s.hi[i:], seg=s.seg[i:], model=s.model[i:])
