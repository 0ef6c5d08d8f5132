"""Serving history: per-poll counter deltas for the last hour, minute sums for a day.

A ``ServingStep`` becomes rows, one for the server's totals (with the
gauges) and one per model and per client that did something in the step.
Deltas add up exactly, so a minute row is the sum of that minute's rows and
a window's rate is its rows' sum over their ``dt``; gauges are averaged
(and their maximum kept). Rows live in numpy rings that grow with what they
hold up to a fixed bound, so memory is bounded and a window is a slice.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from opta_stream.events.counters import ServingStep
from opta_stream.snapshot import (
    SERVING_GAUGES,
    SERVING_VALUES,
    ServingWindow,
    empty_serving,
    frozen_array,
)
from opta_stream.store.rings import grown

__all__ = ["INITIAL_ROWS", "MAX_BUCKETS", "ROW_WIDTH", "ServingHistory"]

MAX_BUCKETS = 16  # latency buckets kept per row (Opta LMX has 10)
RAW_ROWS = 24_576  # about an hour at seven busy keys a second
MINUTE_ROWS = 14_400  # a day of minutes at ten keys
MINUTE_S = 60.0
RAW_SPAN_S = 3600.0  # windows up to an hour read per-poll rows
INITIAL_ROWS = 256  # a row is 36 floats: 72 KiB to start with, doubled as it fills
_V, _G = len(SERVING_VALUES), len(SERVING_GAUGES)
_TS, _DT, _SEG, _KEY, _BID = range(5)
_VAL = slice(5, 5 + _V)
_BKT = slice(5 + _V, 5 + _V + MAX_BUCKETS)
_GAU = slice(5 + _V + MAX_BUCKETS, 5 + _V + MAX_BUCKETS + _G)
_WIDTH = ROW_WIDTH = 5 + _V + MAX_BUCKETS + _G
_IN_FLIGHT, _QUEUED, _IN_FLIGHT_MAX, _QUEUED_MAX = (
    SERVING_GAUGES.index(g) for g in ("in_flight", "queued", "in_flight_max", "queued_max"))


class _Rows:
    """A ring of at most ``capacity`` fixed-width float rows in time order; its buffer
    starts small and doubles while it fills (never after it wrapped)."""

    def __init__(self, capacity: int) -> None:
        self._cap = capacity
        self._buf = np.full((min(capacity, INITIAL_ROWS), _WIDTH), np.nan)
        self._start = 0
        self._len = 0
        self.total = 0  # rows ever written

    def extend(self, rows: np.ndarray) -> None:
        self.total += len(rows)
        rows = rows[-self._cap:]
        if self._len + len(rows) > self._buf.shape[0] < self._cap:
            self._grow(self._len + len(rows))
        cap = self._buf.shape[0]
        for row in rows:
            self._buf[(self._start + self._len) % cap] = row
            if self._len < cap:
                self._len += 1
            else:
                self._start = (self._start + 1) % cap

    def _grow(self, need: int) -> None:
        """More room; the buffer has not wrapped yet, so its rows are [0, len)."""
        buf = np.empty((grown(self._buf.shape[0], need, self._cap), _WIDTH))
        buf[:self._len] = self._buf[:self._len]
        self._buf = buf

    def between(self, t0: float, t1: float) -> np.ndarray:
        """Copies of the rows with ``t0 < ts <= t1`` only (the ring is two sorted runs)."""
        cap, end = self._buf.shape[0], self._start + self._len
        runs = [(self._start, min(end, cap)), (0, max(0, end - cap))]
        parts = []
        for a, b in runs:
            ts = self._buf[a:b, _TS]
            lo, hi = np.searchsorted(ts, t0, "right"), np.searchsorted(ts, t1, "right")
            parts.append(self._buf[a + lo: a + hi])
        return np.concatenate(parts)

    def since(self, mark: int) -> np.ndarray:
        """Copies of the rows written at absolute index ``mark`` or later (those still held)."""
        cap, skip = self._buf.shape[0], max(0, mark - (self.total - self._len))
        idx = (self._start + np.arange(skip, self._len)) % cap
        return self._buf[idx].copy()

    @property
    def wrapped(self) -> bool:
        """Whether the oldest rows have been overwritten (full counts as wrapped)."""
        return self._len == self._cap

    def oldest_ts(self) -> float | None:
        return float(self._buf[self._start, _TS]) if self._len else None

    def nbytes(self) -> int:
        return int(self._buf.nbytes)


class ServingHistory:
    """Appends steps, answers windows; the Store holds the lock."""

    def __init__(self, raw_rows: int = RAW_ROWS, minute_rows: int = MINUTE_ROWS) -> None:
        self._raw = _Rows(raw_rows)
        self._minutes = _Rows(minute_rows)
        self._keys: dict[tuple[str, str], int] = {("total", ""): 0}
        self._bounds: dict[tuple[float, ...], int] = {}
        self._open: list[np.ndarray] = []  # raw rows of the minute not yet summed
        self._open_minute: float | None = None
        self._raw_from: float | None = None  # history loaded: per-poll rows start here

    def _code(self, kind: str, name: str) -> int:
        return self._keys.setdefault((kind, name), len(self._keys))

    def add(self, step: ServingStep, seg: int) -> None:
        """Record one step as rows; close the previous minute when this one starts a new one."""
        bid = -1.0
        if step.bounds is not None:
            bid = float(self._bounds.setdefault(tuple(step.bounds[:MAX_BUCKETS]),
                                                len(self._bounds)))
        rows = [self._row(step, seg, 0, bid, step.totals, step.buckets_total(), True)]
        for model, values in step.per_model.items():
            if any(values.values()):
                rows.append(self._row(step, seg, self._code("model", model), bid, values,
                                      step.buckets.get(model), False))
        for client, values in step.per_client.items():
            if any(values.values()):
                rows.append(self._row(step, seg, self._code("client", client), -1.0, values,
                                      None, False))
        block = np.vstack(rows)
        minute = math.floor(step.ts / MINUTE_S) * MINUTE_S
        if self._open_minute is not None and (minute != self._open_minute or any(
                r[_BID] != bid for r in self._open if r[_BID] >= 0)):
            self._close_minute()
        self._open_minute = minute
        self._open.extend(block)
        self._raw.extend(block)

    def _row(self, step: ServingStep, seg: int, key: int, bid: float,
             values: Mapping[str, float], buckets: tuple[float, ...] | None,
             total: bool) -> np.ndarray:
        row = np.full(_WIDTH, np.nan)
        row[_TS], row[_DT], row[_SEG], row[_KEY], row[_BID] = step.ts, step.dt, seg, key, bid
        row[_VAL] = [float(values.get(name, 0.0) or 0.0) for name in SERVING_VALUES]
        row[_BKT] = 0.0
        if buckets:
            b = np.asarray(buckets[:MAX_BUCKETS], np.float64)
            row[_BKT.start: _BKT.start + b.size] = b
        if total:
            g = step.gauges
            in_flight, queued = g.get("in_flight", math.nan), g.get("queued", math.nan)
            row[_GAU] = [in_flight, queued, g.get("limit", math.nan), in_flight, queued,
                         g.get("acceptance_ratio", math.nan)]
        return row

    def _close_minute(self) -> None:
        block, self._open = np.vstack(self._open), []
        self._minutes.extend(self._summed(block))

    def _summed(self, block: np.ndarray) -> np.ndarray:
        """The open minute's rows per key as minute rows (gauges: mean and max)."""
        assert self._open_minute is not None
        out = []
        for key in np.unique(block[:, _KEY]):
            rows = block[block[:, _KEY] == key]
            row = rows[-1].copy()
            row[_TS] = self._open_minute + MINUTE_S
            row[_DT] = rows[:, _DT].sum()
            row[_VAL] = rows[:, _VAL].sum(axis=0)
            row[_BKT] = rows[:, _BKT].sum(axis=0)
            if key == 0:
                g = rows[:, _GAU]
                with warnings.catch_warnings():  # a minute of NaN gauges stays NaN
                    warnings.simplefilter("ignore", RuntimeWarning)
                    row[_GAU.start + _IN_FLIGHT] = np.nanmean(g[:, _IN_FLIGHT])
                    row[_GAU.start + _QUEUED] = np.nanmean(g[:, _QUEUED])
                    row[_GAU.start + _IN_FLIGHT_MAX] = np.nanmax(g[:, _IN_FLIGHT_MAX])
                    row[_GAU.start + _QUEUED_MAX] = np.nanmax(g[:, _QUEUED_MAX])
            out.append(row)
        return np.vstack(out)

    # -- history (store.handover) ------------------------------------------------
    def minutes_since(self, mark: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Minute rows closed since ``mark``, then the open minute summed so far (sent
        again until it closes, so a kill loses no more than the rows since the last
        write; its ``ts`` is its last poll's), each row's minute end, and the next mark."""
        rows = self._minutes.since(mark)
        ends = rows[:, _TS].copy()
        if self._open:
            block = np.vstack(self._open)
            partial = self._summed(block)
            ends = np.r_[ends, partial[:, _TS]]
            partial[:, _TS] = block[-1, _TS]
            rows = np.vstack([rows, partial])
        return rows, ends, self._minutes.total

    @property
    def minutes_total(self) -> int:
        return self._minutes.total

    def decode(self, rows: np.ndarray) -> tuple[list[tuple[str, str]], list[tuple[float, ...]]]:
        """Each row's (kind, name) and latency bounds (empty: none), for the history file."""
        keys, bounds = list(self._keys), list(self._bounds)
        return ([keys[int(k)] for k in rows[:, _KEY]],
                [bounds[int(b)] if b >= 0 else () for b in rows[:, _BID]])

    def load(self, rows: np.ndarray, keys: list[tuple[str, str]],
             bounds: list[tuple[float, ...]], loaded_at: float) -> int | None:
        """Minute rows read back from history (columns as ``_Rows``, key and bounds
        given apart); the per-poll rows then cover only from ``loaded_at`` on. Returns
        the highest segment among them (None: no rows)."""
        if not len(rows):
            return None
        rows = rows.copy()
        rows[:, _KEY] = [self._code(kind, name) for kind, name in keys]
        rows[:, _BID] = [float(self._bounds.setdefault(b[:MAX_BUCKETS], len(self._bounds)))
                         if b else -1.0 for b in bounds]
        self._minutes.extend(rows)
        self._raw_from = loaded_at
        return int(rows[:, _SEG].max())

    def window(self, t0: float, t1: float) -> ServingWindow:
        """Rows ending in (t0, t1]: per-poll rows for up to an hour while they reach back
        to t0; for such a window that reaches back past a restart, the loaded minute rows
        before it and every poll since; otherwise minute rows, then the per-poll rows of
        the minute still open."""
        oldest = self._raw.oldest_ts()
        if oldest is None and not self._minutes.total:
            return empty_serving()
        complete = not self._raw.wrapped and (self._raw_from is None or t0 >= self._raw_from)
        short = t1 - t0 <= RAW_SPAN_S + 60.0
        if short and (complete or (oldest is not None and oldest <= t0)):
            rows, resolution = self._raw.between(t0, t1), 0.0
        elif short and self._raw_from is not None and not self._raw.wrapped:
            # Since a restart the per-poll rows reach back to the restart only: before it,
            # the file's minute rows; from it on, every poll (1 s detail, not a minute).
            minutes = self._minutes.between(t0, self._raw_from)
            rows, resolution = np.vstack([minutes, self._raw.between(t0, t1)]), 0.0
        else:
            minutes = self._minutes.between(t0, t1)
            closed = minutes[-1, _TS] if len(minutes) else t0
            # the open minute's per-poll rows (a row at a minute's end belongs to the next)
            raw = self._raw.between(np.nextafter(closed, -math.inf), t1)
            rows, resolution = np.vstack([minutes, raw]), MINUTE_S
        width = max((len(b) for b in self._bounds), default=0)
        return ServingWindow(
            ts=frozen_array(rows[:, _TS]), dt=frozen_array(rows[:, _DT]),
            seg=frozen_array(rows[:, _SEG], np.int64), key=frozen_array(rows[:, _KEY], np.int32),
            bounds_id=frozen_array(rows[:, _BID], np.int32),
            values=frozen_array(rows[:, _VAL]), buckets=frozen_array(rows[:, _BKT][:, :width]),
            gauges=frozen_array(rows[:, _GAU]),
            keys=tuple(self._keys), bounds=tuple(self._bounds), resolution_s=resolution)

    def windows(self, starts: Sequence[float], t1: float) -> list[ServingWindow]:
        """``window(t0, t1)`` for each start; when the earliest reads per-poll rows in time
        order, so would the later ones, and they are views into its rows."""
        first = min(starts)
        wide = self.window(first, t1)
        shared = wide.resolution_s == 0.0 and bool(np.all(wide.ts[1:] >= wide.ts[:-1]))
        return [wide if t0 == first else _suffix(wide, int(np.searchsorted(wide.ts, t0, "right")))
                if shared else self.window(t0, t1) for t0 in starts]

    def nbytes(self) -> int:
        return self._raw.nbytes() + self._minutes.nbytes()


def _suffix(w: ServingWindow, i: int) -> ServingWindow:
    """Rows ``i`` on of ``w`` as views (read-only like ``w``'s arrays)."""
    return replace(w, ts=w.ts[i:], dt=w.dt[i:], seg=w.seg[i:], key=w.key[i:],
                   bounds_id=w.bounds_id[i:], values=w.values[i:], buckets=w.buckets[i:],
                   gauges=w.gauges[i:])
