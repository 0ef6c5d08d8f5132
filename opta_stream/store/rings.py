"""Columnar numpy ring buffers (the aggregated tiers built on them are in ``tiers``).

Why columnar numpy: a window of 200,000 samples copies out as at most two
slices per column, and a batch of samples goes in with a few vectorised ops.
Nothing here locks; the Store calls everything under its own lock.

Capacity is a bound, not an allocation: a ring starts at ``INITIAL_ROWS``
(or its capacity, if smaller) and doubles while it fills, up to its capacity,
then wraps. An idle server's rings therefore cost kilobytes, a full one what
it always did; appends stay amortised O(1), and a big batch grows the ring
once, to the size it needs, before its one write.

Time order: rows are kept in insertion order. A sample older than the one
before it (a clock jumped backwards) is stored as given; the caller starts a
new segment for it (``assign_segments``), and windows fall back from binary
search to a mask until that sample leaves the ring. Nothing is dropped or
reordered, so nothing can be corrupted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from opta_stream.snapshot import Series

__all__ = ["INITIAL_ROWS", "ColumnRing", "EventRate", "assign_segments", "grown", "server_rate",
           "to_series"]

INITIAL_ROWS = 1_024

_RAW_COLUMNS: Mapping[str, DTypeLike] = {
    "ts": np.float64, "value": np.float64, "seg": np.int64, "model": np.int32,
}


def to_series(ts: np.ndarray, value: np.ndarray, lo: np.ndarray, hi: np.ndarray,
              seg: np.ndarray, model: np.ndarray, resolution_s: float) -> Series:
    """Wrap copied-out columns as a Series, marked read-only (the copies are ours alone)."""
    for arr in (ts, value, lo, hi, seg, model):
        arr.flags.writeable = False
    return Series(ts=ts, value=value, lo=lo, hi=hi, seg=seg, model=model,
                  resolution_s=resolution_s)


def assign_segments(ts: np.ndarray, last_ts: float | None, seg0: int) -> np.ndarray:
    """Segment id per sample: every step back in time starts a new segment."""
    back = np.empty(ts.shape[0], dtype=np.int64)
    if back.shape[0]:
        back[0] = last_ts is not None and ts[0] < last_ts
        np.less(ts[1:], ts[:-1], out=back[1:], casting="unsafe")
    return seg0 + np.cumsum(back)


def grown(rows: int, need: int, capacity: int) -> int:
    """The allocation for ``need`` rows: ``rows`` doubled until it fits, at most ``capacity``."""
    while rows < need:
        rows *= 2
    return min(rows, capacity)


def _concat(pieces: list[np.ndarray], dtype: DTypeLike) -> np.ndarray:
    if not pieces:
        return np.empty(0, dtype=dtype)
    return pieces[0].copy() if len(pieces) == 1 else np.concatenate(pieces)


class ColumnRing:
    """Columns sharing one write head, at most ``capacity`` rows; column ``ts`` is time.

    ``allocated`` is how many rows there is room for now. It grows (doubling)
    only while the ring has never wrapped, so until then logical row i is
    physical row i, as is absolute row i; once ``allocated == capacity`` the
    ring wraps as a fixed ring does.
    """

    def __init__(self, capacity: int, columns: Mapping[str, DTypeLike]) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.cols = {name: np.zeros(min(capacity, INITIAL_ROWS), dtype=dt)
                     for name, dt in columns.items()}
        self.head = 0  # next physical row to write
        self.size = 0  # rows held
        self.total = 0  # rows ever written
        self._disorder_at = -1  # absolute index of the newest row older than its predecessor
        # Until the ring wraps it holds everything there was, unless history was loaded
        # into it: then it is complete only from this time on (see ``store.handover``).
        self.complete_from: float | None = None

    def __len__(self) -> int:
        return self.size

    @property
    def wrapped(self) -> bool:
        return self.total > self.capacity

    @property
    def allocated(self) -> int:
        """Rows allocated now (at most ``capacity``)."""
        return int(self.cols["ts"].shape[0])

    @property
    def nbytes(self) -> int:
        return sum(col.nbytes for col in self.cols.values())

    def newest(self, name: str = "ts") -> float:
        return self.cols[name][(self.head - 1) % self.allocated].item()

    def oldest_ts(self) -> float:
        return self.cols["ts"][(self.head - self.size) % self.allocated].item()

    def physical(self, absolute: int) -> int | None:
        """The physical row of the row written at absolute index ``absolute``; None when
        it is no longer held (the ring wrapped past it) or not written yet."""
        if not self.total - self.size <= absolute < self.total:
            return None
        return absolute % self.allocated

    def is_sorted(self) -> bool:
        """True when the rows held are in time order (binary search is valid)."""
        return self._disorder_at <= self.total - self.size

    def covers(self, t0: float) -> bool:
        """Does this ring hold everything from ``t0`` on?"""
        if self.size > 0 and self.oldest_ts() <= t0:
            return True
        return not self.wrapped and (self.complete_from is None or t0 >= self.complete_from)

    def append(self, **row: float) -> None:
        """Write one row (every column must be given)."""
        if self.size == self.allocated < self.capacity:
            self._grow(self.size + 1)
        i = self.head
        if self.size and row["ts"] < self.cols["ts"][i - 1]:
            self._disorder_at = self.total
        for name, col in self.cols.items():
            col[i] = row[name]
        self._advance(1)

    def extend(self, **columns: ArrayLike) -> None:
        """Write many rows; only the newest ``capacity`` of them are kept."""
        arrays = {name: np.asarray(columns[name]) for name in self.cols}
        n = arrays["ts"].shape[0]
        if n == 0:
            return
        self._note_disorder(arrays["ts"])
        if self.size + n > self.allocated < self.capacity:
            self._grow(self.size + n)
        skip = max(0, n - self.capacity)
        start = (self.head + skip) % self.allocated
        for name, col in self.cols.items():
            self._write(col, arrays[name][skip:], start)
        self._advance(n)

    def _note_disorder(self, ts: np.ndarray) -> None:
        back = np.flatnonzero(ts[1:] < ts[:-1])
        if back.shape[0]:
            self._disorder_at = self.total + int(back[-1]) + 1
        elif self.size and ts[0] < self.newest():
            self._disorder_at = self.total

    def _grow(self, need: int) -> None:
        """Reallocate to hold ``need`` rows (doubling, at most ``capacity``). Only called
        before the ring ever wrapped, so the rows held are physical rows [0, size)."""
        rows = grown(self.allocated, need, self.capacity)
        for name, col in self.cols.items():
            new = np.empty(rows, dtype=col.dtype)  # rows past ``size`` are written before read
            new[:self.size] = col[:self.size]
            self.cols[name] = new
        self.head = self.size

    def _write(self, col: np.ndarray, values: np.ndarray, start: int) -> None:
        first = min(values.shape[0], self.allocated - start)
        col[start:start + first] = values[:first]
        col[:values.shape[0] - first] = values[first:]

    def _advance(self, n: int) -> None:
        self.head = (self.head + n) % self.allocated
        self.size = min(self.capacity, self.size + n)
        self.total += n

    def window(self, t0: float, t1: float) -> dict[str, np.ndarray]:
        """Copies of the rows with ``t0 <= ts <= t1``, oldest first."""
        spans = self._spans()
        if not self.is_sorted():
            full = self._copy(0, self.size, spans)
            keep = (full["ts"] >= t0) & (full["ts"] <= t1)
            return {name: col[keep] for name, col in full.items()}
        ts = self.cols["ts"]
        lo = sum(int(np.searchsorted(ts[a:b], t0, "left")) for a, b in spans)
        hi = sum(int(np.searchsorted(ts[a:b], t1, "right")) for a, b in spans)
        return self._copy(lo, hi, spans)

    def rows(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        """Copies of the logical rows [lo, hi), 0 being the oldest held."""
        return self._copy(lo, hi, self._spans())

    def _spans(self) -> list[tuple[int, int]]:
        """Physical slices holding the rows, oldest first (one or two)."""
        start = (self.head - self.size) % self.allocated
        if start + self.size <= self.allocated:
            return [(start, start + self.size)]
        return [(start, self.allocated), (0, self.head)]

    def _copy(self, lo: int, hi: int, spans: list[tuple[int, int]]) -> dict[str, np.ndarray]:
        """Copy logical rows [lo, hi) out of the physical spans."""
        pieces, offset = [], 0
        for a, b in spans:
            s, e = max(lo - offset, 0), min(hi - offset, b - a)
            if s < e:
                pieces.append((a + s, a + e))
            offset += b - a
        return {name: _concat([col[a:b] for a, b in pieces], col.dtype)
                for name, col in self.cols.items()}


class EventRate:
    """Events per second over the last ``span_s`` seconds, in ``span_s + 1`` counters."""

    def __init__(self, span_s: int = 10) -> None:
        self.span_s = span_s
        self._sec = [-1] * (span_s + 1)
        self._count = [0] * (span_s + 1)

    def add(self, t: float, n: int = 1) -> None:
        s = math.floor(t)
        i = s % len(self._sec)
        if self._sec[i] != s:
            self._sec[i], self._count[i] = s, 0
        self._count[i] += n

    def rate(self, now: float) -> float:
        """Counts in [floor(now) - span_s, now], divided by that duration."""
        s = math.floor(now)
        total = sum(c for sec, c in zip(self._sec, self._count, strict=True)
                    if s - self.span_s <= sec <= s)
        return total / (now - s + self.span_s)


def server_rate(latest: dict[int, tuple[float, float]], t: np.ndarray, v: np.ndarray,
                codes: np.ndarray, fresh_s: float) -> tuple[dict[int, tuple[float, float]], float]:
    """Server-wide tokens/s: the latest sample of each model seen lately, summed (a real
    server reports one total; the demo each model in turn). Returns the kept samples too."""
    latest.update(zip(codes.tolist(), zip(t.tolist(), v.tolist(), strict=True), strict=True))
    newest = float(t[-1])
    fresh = {code: tv for code, tv in latest.items() if abs(newest - tv[0]) <= fresh_s}
    return fresh, float(sum(tv[1] for tv in fresh.values()))
