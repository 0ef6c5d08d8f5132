"""The Store's series: throughput and memory, their tiers, the segment id, the server rate.

One part because they share one thing: the segment id. Every series breaks
its line at the same place (the feed left OPEN, a counter went down, a poll
failed, a clock stepped back), so the id lives here and the other parts ask
for it (``segment``) or move it on (``new_segment``). The server-wide
tokens/s is kept here too: it is the newest throughput sample of each model
seen lately. Not thread-safe: the Store calls it under its lock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from opta_stream.snapshot import Series
from opta_stream.store.bounds import Interner
from opta_stream.store.history_rows import TierKey, TierRows
from opta_stream.store.rings import assign_segments, server_rate
from opta_stream.store.tiers import TieredSeries

__all__ = ["MEMORY_TIERS", "THROUGHPUT_TIERS", "TP_FRESH_S", "SeriesSet", "Windows"]

# 1 s for two hours, 10 s for a day, 60 s for 30 days (history brings them back on start;
# the 60 s throughput tier holds two models' rows a minute for that long)
THROUGHPUT_TIERS = ((1.0, 7_200), (10.0, 8_640), (60.0, 86_400))
MEMORY_TIERS = ((10.0, 8_640), (60.0, 43_200))
TP_FRESH_S = 3.0  # a model silent for longer no longer counts toward the server rate
_NAMES = ("throughput", "memory_used", "memory_total")  # as the history file names them


class Windows(NamedTuple):
    """The three series over one span (throughput without its model names yet)."""

    throughput: Series
    memory_used: Series
    memory_total: Series


class SeriesSet:
    """Throughput and memory (used, total), each a raw ring plus tiers; one segment id."""

    def __init__(self, raw_capacity: int, memory_capacity: int) -> None:
        self._by_name = {
            "throughput": TieredSeries(raw_capacity, THROUGHPUT_TIERS),
            "memory_used": TieredSeries(memory_capacity, MEMORY_TIERS),
            "memory_total": TieredSeries(memory_capacity, MEMORY_TIERS),
        }
        self._tp, self._used, self._total = (self._by_name[n] for n in _NAMES)
        self._seg = 0
        self._latest_tp: dict[int, tuple[float, float]] = {}  # model code → (ts, tps)

    # -- writes ---------------------------------------------------------------
    @property
    def segment(self) -> int:
        """The current segment id (serving rows carry it too)."""
        return self._seg

    def new_segment(self) -> None:
        """Break every series' line here."""
        self._seg += 1

    def add_throughput(self, ts: float, tps: float, code: int) -> float | None:
        """One sample, in plain Python; the server rate after it (None: not finite, skipped)."""
        if not (math.isfinite(ts) and math.isfinite(tps)):
            return None
        last = self._tp.last_ts()
        if last is not None and ts < last:
            self._seg += 1
        self._tp.add(ts, tps, self._seg, code)
        return self._server_rate(np.array([ts]), np.array([tps]), np.array([code]))

    def add_throughput_many(self, t: np.ndarray, v: np.ndarray,
                            codes: np.ndarray) -> float | None:
        """Many samples in one ring append (non-finite ones skipped); the server rate after
        them, or None when none was kept."""
        keep = np.isfinite(t) & np.isfinite(v)
        if not keep.all():
            t, v, codes = t[keep], v[keep], codes[keep]
        if not t.shape[0]:
            return None
        segs = assign_segments(t, self._tp.last_ts(), self._seg)
        self._seg = int(segs[-1])
        self._tp.add_many(t, v, segs, codes)
        return self._server_rate(t, v, codes)

    def _server_rate(self, t: np.ndarray, v: np.ndarray, codes: np.ndarray) -> float:
        self._latest_tp, rate = server_rate(self._latest_tp, t, v, codes, TP_FRESH_S)
        return rate

    def add_memory(self, ts: float, used: float, total: float) -> None:
        """One memory sample; a non-finite one is skipped."""
        if not all(math.isfinite(x) for x in (ts, used, total)):
            return
        last = self._used.last_ts()
        if last is not None and ts < last:
            self._seg += 1
        self._used.add(ts, used, self._seg)
        self._total.add(ts, total, self._seg)

    # -- reads ----------------------------------------------------------------
    def windows(self, starts: Sequence[float], t1: float) -> list[Windows]:
        """The three series from each start to ``t1``, each from the finest tier that
        covers its start; spans read from one tier share a copy."""
        per = [s.windows(starts, t1) for s in (self._tp, self._used, self._total)]
        return [Windows(*trio) for trio in zip(*per, strict=True)]

    def nbytes(self) -> int:
        return sum(s.nbytes for s in self._by_name.values())

    # -- history (store.handover) -------------------------------------------------
    def marks(self) -> dict[TierKey, int]:
        """How many rows each tier has ever written."""
        return {(name, t.width): t.ring.total
                for name, s in self._by_name.items() for t in s.tiers}

    def rows_since(self, marks: Mapping[TierKey, int], names: Sequence[str]
                   ) -> tuple[list[TierRows], dict[TierKey, int]]:
        """Each tier's rows since its mark (the open bucket's again), models named by
        ``names`` (the interner's), and the marks after them."""
        out, after = [], {}
        for name, series in self._by_name.items():
            for tier in series.tiers:
                cols, first, nxt = tier.rows_since(marks.get((name, tier.width), 0))
                after[(name, tier.width)] = nxt
                if cols["ts"].shape[0]:
                    codes = cols.pop("model").tolist()
                    out.append(TierRows(name, tier.width, first, cols, [
                        names[c] if 0 <= c < len(names) else None for c in codes]))
        return out, after

    def load(self, tiers: Iterable[TierRows], complete_from: Mapping[TierKey, float],
             names: Interner) -> int | None:
        """A file's tier rows, before anything new; the highest segment among them."""
        segs = []
        for t in tiers:
            series = self._by_name.get(t.series)
            tier = next((x for x in series.tiers if x.width == t.width), None) \
                if series is not None else None
            if tier is None or not len(t):
                continue
            tier.load({**t.cols, "model": names.codes(t.models, len(t))})
            tier.ring.complete_from = complete_from.get((t.series, t.width))
            segs.append(int(t.cols["seg"].max()))
        return max(segs, default=None)

    def after_load(self, now: float, loaded_seg: int | None) -> None:
        """History was loaded: raw rings hold everything only from ``now``, and the
        segment moves past every loaded one and a break."""
        for s in self._by_name.values():
            s.raw.complete_from = now
        top = self._seg - 1 if loaded_seg is None else max(self._seg - 1, loaded_seg)
        self._seg = top + 2
