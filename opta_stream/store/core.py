"""All state of one server's feed, behind one lock, handed out as snapshots.

Feed threads write; pages read ``snapshot()``, an immutable copy, and never
hold the lock while they render. Everything is bounded (rings, a log deque,
capped tables; server text clipped by ``bounds``), so a day costs a fixed few MB.
Segments: one id shared by every series, bumped when the feed leaves OPEN,
on ``new_segment()`` and when a clock steps back, so no line crosses a break.
Per-record rules live in ``apply`` (the ``EventHandlers`` mixin inherited here).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from opta_stream.events.batch import ThroughputBatch
from opta_stream.events.deltas import ServingStep
from opta_stream.events.records import LmxEvent, ThroughputEvent
from opta_stream.events.text import classify
from opta_stream.ledger import ALL_MODELS, HistoryState, Usage
from opta_stream.snapshot import (
    Connection,
    Counters,
    Gauges,
    LogEntry,
    ModelInfo,
    Progress,
    Snapshot,
)
from opta_stream.store.apply import EventHandlers
from opta_stream.store.bounds import OTHER, Interner, clip, clip_bytes
from opta_stream.store.conn import ConnectionState
from opta_stream.store.health import HealthTracker
from opta_stream.store.keep import Keep
from opta_stream.store.notify import Notifier
from opta_stream.store.rings import EventRate, assign_segments, server_rate
from opta_stream.store.serving import ServingHistory
from opta_stream.store.tiers import TieredSeries
from opta_stream.store.usage import UsageLedger

__all__ = ["OTHER", "Store"]

# 1 s for two hours, 10 s for a day, 60 s for 30 days (history brings them back on start;
# the 60 s throughput tier holds two models' rows a minute for that long)
THROUGHPUT_TIERS = ((1.0, 7_200), (10.0, 8_640), (60.0, 86_400))
MEMORY_TIERS = ((10.0, 8_640), (60.0, 43_200))
SNAPSHOT_EVENTS = 500
MAX_EVENT_TYPES, MAX_MODEL_IDS, MAX_GAPS = 200, 256, 1000
CLOCK_SKEW_S = 5.0  # samples up to this far "in the future" (server clock ahead) still show
_COUNTER_NAMES = frozenset(f.name for f in fields(Counters))
TP_FRESH_S = 3.0  # a model silent for longer no longer counts toward the server rate


class Store(EventHandlers, ConnectionState, Keep):
    """Thread-safe, bounded state of one server's feed. See docs/ARCHITECTURE.md."""

    def __init__(self, server: str = "", *, clock: Callable[[], float] = time.time,
                 raw_capacity: int = 200_000, memory_capacity: int = 7_200,
                 log_capacity: int = 2_000) -> None:
        self.server = server
        self._clock = clock
        Notifier.__init__(self)
        self._tp = TieredSeries(raw_capacity, THROUGHPUT_TIERS)
        self._mem_used = TieredSeries(memory_capacity, MEMORY_TIERS)
        self._mem_total = TieredSeries(memory_capacity, MEMORY_TIERS)
        self._seg = 0
        self._names = Interner(MAX_MODEL_IDS)
        self._type_counts: dict[str, int] = {}
        self._counters = dict.fromkeys(_COUNTER_NAMES, 0)
        self._gauges = Gauges()
        self._latest_tp: dict[int, tuple[float, float]] = {}  # model code → (ts, tps)
        self._conn = Connection(since=clock())
        self._health = HealthTracker(clock())
        self._last_event_at: float | None = None
        self._models: dict[str, ModelInfo] = {}
        self._models_at: float | None = None
        self._jobs: dict[str, Progress] = {}
        self._gaps: deque[tuple[float, float | None]] = deque(maxlen=MAX_GAPS)
        self._log: deque[LogEntry] = deque(maxlen=log_capacity)
        self._seq = 0
        self._rate = EventRate(10)
        self._serving = ServingHistory()
        self._usage = UsageLedger()
        self._log_removed: list[int] = []  # seqs a finished job's line left (for history)
        self._history = HistoryState()

    # -- series --------------------------------------------------------------
    def add_throughput(self, ts: float, tps: float, model_id: str | None = None) -> None:
        """One sample (the sampler's 1 Hz rate), in plain Python: no numpy overhead."""
        if not (math.isfinite(ts) and math.isfinite(tps)):
            return
        with self._write():
            last = self._tp.last_ts()
            if last is not None and ts < last:
                self._seg += 1
            code = self._names.code(model_id)
            self._tp.add(ts, tps, self._seg, code)
            self._gauges = replace(self._gauges, tokens_per_s=self._server_rate(
                np.array([ts]), np.array([tps]), np.array([code])))

    def add_throughput_many(self, ts: Sequence[float], tps: Sequence[float],
                            model_ids: Sequence[str | None] | None = None) -> None:
        """Many samples in one ring append; non-finite samples are skipped."""
        t, v = np.asarray(ts, dtype=np.float64), np.asarray(tps, dtype=np.float64)
        if t.shape != v.shape or (model_ids is not None and len(model_ids) != t.shape[0]):
            raise ValueError("ts, tps and model_ids must have the same length")
        with self._write():
            self._add_tp(t, v, self._names.codes(model_ids, t.shape[0]))

    def _add_tp(self, t: np.ndarray, v: np.ndarray, codes: np.ndarray) -> None:
        keep = np.isfinite(t) & np.isfinite(v)
        if not keep.all():
            t, v, codes = t[keep], v[keep], codes[keep]
        if t.shape[0]:
            segs = assign_segments(t, self._tp.last_ts(), self._seg)
            self._seg = int(segs[-1])
            self._tp.add_many(t, v, segs, codes)
            self._gauges = replace(self._gauges, tokens_per_s=self._server_rate(t, v, codes))

    def _server_rate(self, t: np.ndarray, v: np.ndarray, codes: np.ndarray) -> float:
        self._latest_tp, rate = server_rate(self._latest_tp, t, v, codes, TP_FRESH_S)
        return rate

    def add_memory(self, ts: float, used_gb: float, total_gb: float,
                   threshold_pct: float | None = None) -> None:
        """One memory sample; it also becomes the current memory gauges."""
        with self._write():
            self._add_memory(ts, used_gb, total_gb)
            self._gauges = replace(self._gauges, memory_used_gb=used_gb, memory_total_gb=total_gb,
                                   threshold_pct=self._gauges.threshold_pct
                                   if threshold_pct is None else threshold_pct)

    def _add_memory(self, ts: float, used: float, total: float) -> None:
        if not all(math.isfinite(x) for x in (ts, used, total)):
            return
        last = self._mem_used.last_ts()
        if last is not None and ts < last:
            self._seg += 1
        self._mem_used.add(ts, used, self._seg)
        self._mem_total.add(ts, total, self._seg)

    def add_serving(self, step: ServingStep) -> None:
        """One poll's counter and histogram deltas (see ``store.serving``)."""
        with self._write():
            self._serving.add(step, self._seg)
            self._usage.add(step)

    def new_segment(self) -> None:
        """Break every series' line here (counter reset, poll failure)."""
        with self._write():
            self._seg += 1

    # -- events --------------------------------------------------------------
    def apply(self, event: LmxEvent) -> None:
        self.apply_many((event,))

    def apply_many(self, events: Iterable[LmxEvent | ThroughputBatch]) -> None:
        """Apply a batch under one lock; throughput samples go in as one append."""
        now = self._clock()
        throughput: list[ThroughputEvent | ThroughputBatch] = []
        n = 0
        with self._write():
            try:
                for event in events:
                    many = len(event) if isinstance(event, ThroughputBatch) else 1
                    n += many
                    self._count_type(event.type, many)
                    if isinstance(event, ThroughputEvent | ThroughputBatch):
                        throughput.append(event)
                    else:
                        self._apply_one(event)
            finally:  # what was applied is counted, even if a caller's iterator fails
                self._finish_batch(now, n, throughput)

    def _finish_batch(self, now: float, n: int,
                      throughput: list[ThroughputEvent | ThroughputBatch]) -> None:
        if throughput:
            self._apply_throughput(throughput)
        if n:
            self._counters["events"] += n
            self._rate.add(now, n)
            self._last_event_at = now

    def _count_type(self, event_type: str, n: int = 1) -> None:
        key = clip(event_type, 64)
        if key not in self._type_counts and len(self._type_counts) >= MAX_EVENT_TYPES:
            key = OTHER
        self._type_counts[key] = self._type_counts.get(key, 0) + n

    # -- log, gauges, models, connection, counters ---------------------------
    def log(self, type: str, summary: str, *, severity: str | None = None,
            data: str = "") -> None:
        """An entry the dashboard writes itself (feed down, poll failed, ...)."""
        category, default = classify(type)
        with self._write():
            self._append_log(type, summary, category, severity or default, data, self._clock())

    def _append_log(self, type_: str, summary: str, category: str, severity: str,
                    data: str, ts: float) -> None:
        if len(self._log) == self._log.maxlen:
            self._counters["log_dropped"] += 1
        self._seq += 1
        self._log.append(LogEntry(self._seq, ts, clip(type_, 64), category, severity,
                                  clip(summary, 500), clip_bytes(data)))

    def set_gauges(self, **values: Any) -> None:
        """Replace the named gauges; ``updated_at`` defaults to now."""
        with self._write():
            values.setdefault("updated_at", self._clock())
            self._gauges = replace(self._gauges, **values)

    def set_models(self, models: Iterable[ModelInfo]) -> None:
        """The loaded models now (from polling); fields it lacks keep older values."""
        with self._write():
            self._set_models(models)
            self._models_at = self._clock()

    def count(self, **deltas: int) -> None:
        """Add to counters by name, e.g. ``count(bytes=512, oversized_lines=1)``."""
        unknown = set(deltas) - _COUNTER_NAMES
        if unknown:
            raise TypeError(f"unknown counter(s): {', '.join(sorted(unknown))}")
        with self._write():
            for name, delta in deltas.items():
                self._counters[name] += int(delta)

    # -- readers -------------------------------------------------------------
    def snapshot(self, window_s: float = 300.0) -> Snapshot:
        """An immutable copy: series over [now - window_s, now], newest log entries."""
        with self._lock:
            now = self._clock()
            t0, t1 = now - window_s, now + CLOCK_SKEW_S
            tp, used, total = (s.window(t0, t1) for s in (self._tp, self._mem_used,
                                                           self._mem_total))
            names, log = self._names.names, list(self._log)[-SNAPSHOT_EVENTS:]
            models, jobs = tuple(self._models.values()), tuple(self._jobs.values())
            counts, counters, gaps = (dict(self._type_counts), Counters(**self._counters),
                                      tuple(self._gaps))
            conn = replace(self._conn, last_event_at=self._last_event_at)
            gauges, eps = self._gauges, self._rate.rate(now)
            health, polls = self._health.verdict(self._last_event_at), self._health.snapshot()
            models_at, serving = self._models_at, self._serving.window(t0, t1)
            history = self._history
        return Snapshot(server=self.server, taken_at=now, window_s=float(window_s),
                        throughput=replace(tp, model_names=names), memory_used=used,
                        memory_total=total, gaps=gaps, models=models, jobs=jobs,
                        events=tuple(log), event_counts=MappingProxyType(counts),
                        connection=conn, counters=counters, gauges=gauges, events_per_s=eps,
                        health=health, polls=polls, models_at=models_at, serving=serving,
                        history=history)

    def usage(self, t0: float, t1: float) -> Usage:
        """The ledger's buckets in [t0, t1] (the Usage page: days, without the tiers)."""
        with self._lock:
            u = self._usage.window(t0, t1)
            return replace(u, codes=tuple(-1 if n == ALL_MODELS else self._names.code(n)
                                          for n in u.names))

    def set_history(self, state: HistoryState) -> None:
        """Where this server's history is kept now (the history writer says)."""
        with self._write():
            self._history = state
