"""All state of one server's feed, behind one lock, handed out as snapshots.

Feed threads write; pages read ``snapshot()``, an immutable copy, and never
hold the lock while they render. The Store is made of parts, each with its
own state and small API, none thread-safe on its own and none reaching into
another's state: the series (``series``), the event log (``eventlog``),
connection health (``conn``), what the server reported (``reported``), the
counters (``tally``), serving history (``serving``), the usage ledger
(``usage``), what the server says about itself (``reports``) and the
model-id interner (``bounds``). The Store keeps the one
lock and its notifier (``wait_for``), says which parts each write touches,
and copies them out in ``snapshot``. The per-event rules are ``apply``'s
``EventRules``, the history hand-out and take-back ``handover``'s ``Handover``; both
are handed the parts they use. Everything is bounded (rings that grow to a
fixed capacity, a log deque, capped tables; server text clipped by
``bounds``), so a day costs a fixed few MB.

History loads behind the live feed, never in front of it: after
``expect_history()`` every write is applied at once (a page sees it) and also
kept, with its time, until ``load_history`` comes; that rebuilds the parts
from the file's rows and then applies the kept writes again, in order and at
their own times. The result is what loading first and recording afterwards
gives, and no write is lost whenever the file's rows arrive.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np

from opta_stream.events.batch import ThroughputBatch
from opta_stream.events.counters import ServingStep
from opta_stream.events.records import LmxEvent, ThroughputEvent
from opta_stream.events.text import classify, classify_event
from opta_stream.server_report import Failure
from opta_stream.snapshot import (
    ALL_MODELS,
    TAIL_S,
    AlertBoard,
    ConnState,
    HistoryState,
    ModelInfo,
    Snapshot,
    Tail,
    Usage,
)
from opta_stream.store.apply import EventRules
from opta_stream.store.bounds import OTHER, Interner
from opta_stream.store.connection import ConnectionHealth
from opta_stream.store.counts import COUNTER_NAMES, Tally
from opta_stream.store.eventlog import EventLog
from opta_stream.store.handover import Handover
from opta_stream.store.history_rows import HistoryRows, Marks
from opta_stream.store.notify import Notifier
from opta_stream.store.reported import Reported
from opta_stream.store.reports import POLLER, Reports
from opta_stream.store.series import SeriesSet
from opta_stream.store.serving import ServingHistory
from opta_stream.store.usage import UsageLedger

__all__ = ["CLOCK_SKEW_S", "MAX_KEPT_WRITES", "OTHER", "SNAPSHOT_EVENTS", "Store"]

SNAPSHOT_EVENTS = 500  # the newest log lines a snapshot carries
MAX_MODEL_IDS = 256
CLOCK_SKEW_S = 5.0  # samples up to this far "in the future" (server clock ahead) still show
# Writes kept while history loads (a load takes about a second; a feed at 50 Hz makes ~60
# writes a second): past this the file's rows are not put in front this run, see load_history
MAX_KEPT_WRITES = 100_000
HISTORY_LATE = "history_late"
T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


def _write(method: Callable[Concatenate[Store, P], R]) -> Callable[Concatenate[Store, P], R]:
    """A Store write: under the lock, waking ``wait_for``; while history loads it is also
    kept (with its time) to be applied again behind the file's rows."""

    @functools.wraps(method)
    def locked(self: Store, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._sync.write():
            return self._written(method, args, kwargs)

    return locked


class Store:
    """Thread-safe, bounded state of one server's feed. See docs/ARCHITECTURE.md."""

    def __init__(self, server: str = "", *, clock: Callable[[], float] = time.time,
                 raw_capacity: int = 200_000, memory_capacity: int = 7_200,
                 log_capacity: int = 2_000) -> None:
        self.server = server
        self._clock = clock
        self._sync = Notifier()
        self._capacities = (raw_capacity, memory_capacity, log_capacity)
        self._made_at = clock()
        self._at: float | None = None  # the time of the write being applied again
        # while history loads: each write since expect_history, with its time (else None)
        self._kept: list[tuple[float, Callable[..., Any], tuple, dict]] | None = None
        self._history_dropped = False  # writes outgrew MAX_KEPT_WRITES: history not loaded
        self._fresh()

    def _fresh(self) -> None:
        """Every part as a new Store has it (on making it, and to load history behind)."""
        raw_capacity, memory_capacity, log_capacity = self._capacities
        self._names = Interner(MAX_MODEL_IDS)
        self._series = SeriesSet(raw_capacity, memory_capacity)
        self._log = EventLog(log_capacity)
        self._link = ConnectionHealth(self._made_at, self._log)
        self._reported = Reported()
        self._tally = Tally()
        self._serving = ServingHistory()
        self._usage = UsageLedger()
        self._reports = Reports()
        self._history = HistoryState()
        self._recorded_until: float | None = None
        self._alerts = AlertBoard()
        self._rules = EventRules(self._series, self._log, self._reported, self._tally,
                                 self._names)
        self._handover = Handover(self._series, self._serving, self._usage, self._log, self._link,
                          self._names)

    def _now(self) -> float:
        """The clock, or the time of the write being applied again."""
        return self._clock() if self._at is None else self._at

    def _written(self, method: Callable[..., R], args: tuple, kwargs: dict) -> R:
        """Apply a write (the lock held); keep it while history loads."""
        if self._kept is None:
            return method(self, *args, **kwargs)
        at = self._at = self._clock()
        try:
            result = method(self, *args, **kwargs)
        finally:
            self._at = None
        self._keep(at, method, args, kwargs)
        return result

    def _keep(self, at: float, method: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        """Keep an applied write to apply again behind history (the lock held)."""
        kept = self._kept
        if kept is None:
            return
        kept.append((at, method, args, kwargs))
        if len(kept) > MAX_KEPT_WRITES:  # the load is hopelessly late: see load_history
            self._kept = None
            self._history_dropped = True

    # -- series --------------------------------------------------------------
    def add_throughput(self, ts: float, tps: float, model_id: str | None = None) -> None:
        """One sample (the sampler's 1 Hz rate), in plain Python: no numpy overhead."""
        if not (math.isfinite(ts) and math.isfinite(tps)):
            return
        self._add_throughput(ts, tps, model_id)

    @_write
    def _add_throughput(self, ts: float, tps: float, model_id: str | None) -> None:
        rate = self._series.add_throughput(ts, tps, self._names.code(model_id))
        if rate is not None:
            self._reported.update_gauges(tokens_per_s=rate)

    def add_throughput_many(self, ts: Sequence[float], tps: Sequence[float],
                            model_ids: Sequence[str | None] | None = None) -> None:
        """Many samples in one ring append; non-finite samples are skipped."""
        t, v = np.asarray(ts, dtype=np.float64), np.asarray(tps, dtype=np.float64)
        if t.shape != v.shape or (model_ids is not None and len(model_ids) != t.shape[0]):
            raise ValueError("ts, tps and model_ids must have the same length")
        self._add_throughput_many(t, v, None if model_ids is None else tuple(model_ids))

    @_write
    def _add_throughput_many(self, t: np.ndarray, v: np.ndarray,
                             model_ids: Sequence[str | None] | None) -> None:
        rate = self._series.add_throughput_many(t, v, self._names.codes(model_ids, t.shape[0]))
        if rate is not None:
            self._reported.update_gauges(tokens_per_s=rate)

    @_write
    def add_memory(self, ts: float, used_gb: float, total_gb: float,
                   threshold_pct: float | None = None) -> None:
        """One memory sample; it also becomes the current memory gauges."""
        self._series.add_memory(ts, used_gb, total_gb)
        threshold = self._reported.gauges.threshold_pct if threshold_pct is None \
            else threshold_pct
        self._reported.update_gauges(memory_used_gb=used_gb, memory_total_gb=total_gb,
                                     threshold_pct=threshold)

    @_write
    def add_serving(self, step: ServingStep) -> None:
        """One poll's counter and histogram deltas (see ``store.serving``)."""
        self._serving.add(step, self._series.segment)
        self._usage.add(step)

    @_write
    def new_segment(self) -> None:
        """Break every series' line here (counter reset, poll failure)."""
        self._series.new_segment()

    # -- events --------------------------------------------------------------
    def apply(self, event: LmxEvent) -> None:
        self.apply_many((event,))

    def apply_many(self, events: Iterable[LmxEvent | ThroughputBatch]) -> None:
        """Apply a batch under one lock; throughput samples go in as one append."""
        applied: list[LmxEvent | ThroughputBatch] = []
        with self._sync.write():
            if self._kept is None:
                self._apply_events(events)
                return
            at = self._at = self._clock()
            try:
                self._apply_events(events, applied)
            finally:  # what was applied is kept, even if a caller's iterator fails
                self._at = None
                if applied:
                    self._keep(at, Store._apply_events, (tuple(applied),), {})

    def _apply_events(self, events: Iterable[LmxEvent | ThroughputBatch],
                      applied: list[LmxEvent | ThroughputBatch] | None = None) -> None:
        """``apply_many``'s work (the lock held); ``applied`` gets each event it took."""
        now = self._now()
        throughput: list[ThroughputEvent | ThroughputBatch] = []
        n = 0
        try:
            for event in events:
                if applied is not None:
                    applied.append(event)
                many = len(event) if isinstance(event, ThroughputBatch) else 1
                n += many
                severity = (classify(event.type) if isinstance(event, ThroughputBatch)
                            else classify_event(event))[1]
                self._log.count_type(event.type, many, severity)
                if isinstance(event, ThroughputEvent | ThroughputBatch):
                    throughput.append(event)
                else:
                    self._rules.apply(event)
        finally:  # what was applied is counted, even if a caller's iterator fails
            if throughput:
                self._rules.throughput(throughput)
            if n:
                self._tally.add(events=n)
                self._link.heard(now, n)

    # -- log, gauges, models, connection, counters ---------------------------
    def log(self, type: str, summary: str, *, severity: str | None = None,
            data: str = "", at: float | None = None) -> None:
        """An entry the dashboard writes itself (feed down, poll failed, ...); ``at`` dates
        it when it happened before it was seen (a restart read from the uptime)."""
        category, default = classify(type)
        self._log_entry(type, summary, category, severity or default, data, at)

    @_write
    def _log_entry(self, type: str, summary: str, category: str, severity: str, data: str,
                   at: float | None) -> None:
        self._log.append(type, summary, category, severity, data,
                         self._now() if at is None else at)

    @_write
    def set_gauges(self, **values: Any) -> None:
        """Replace the named gauges; ``updated_at`` defaults to now."""
        values.setdefault("updated_at", self._now())
        self._reported.update_gauges(**values)

    def set_models(self, models: Iterable[ModelInfo]) -> None:
        """The loaded models now (from polling); fields it lacks keep older values."""
        self._set_models(tuple(models))

    @_write
    def _set_models(self, models: tuple[ModelInfo, ...]) -> None:
        self._reported.set_models(models, at=self._now())

    def count(self, **deltas: int) -> None:
        """Add to counters by name, e.g. ``count(bytes=512, oversized_lines=1)``."""
        unknown = set(deltas) - COUNTER_NAMES
        if unknown:
            raise TypeError(f"unknown counter(s): {', '.join(sorted(unknown))}")
        self._count(**deltas)

    @_write
    def _count(self, **deltas: int) -> None:
        self._tally.add(**deltas)

    @_write
    def set_connection(self, state: ConnState, message: str = "", *,
                       next_retry_at: float | None = None, attempt: int = 0) -> None:
        """Move the feed's state; leaving OPEN opens a gap and a new segment, entering OPEN
        closes the gap."""
        if self._link.set_state(state, message, self._now(),
                                next_retry_at=next_retry_at, attempt=attempt):
            self._series.new_segment()

    @_write
    def set_poll(self, endpoint: str, ok: bool, message: str = "", *,
                 auth_rejected: bool = False, kind: str = "") -> None:
        """The latest answer of one polled endpoint (each is polled and reported on its own);
        ``kind`` says what a failure was ("refused", "shedding", …)."""
        self._link.set_poll(endpoint, ok, message, self._now(),
                            auth_rejected=auth_rejected, kind=kind)

    @_write
    def set_internal_error(self, role: str, message: str) -> None:
        """A bug in Opta Stream's ``role`` thread; cleared by that thread's next success."""
        self._tally.add(internal_errors=1)
        self._link.set_internal_error(role, message, self._now())

    @_write
    def set_report(self, section: str, value: Any) -> None:
        """A diagnosis section's new answer (a ``server_report`` value), as of now."""
        now = self._now()
        self._reports.answered(section, value, now)
        self._link.clear_internal_error(POLLER, now)

    @_write
    def set_report_failure(self, section: str, failure: Failure) -> None:
        """Why a diagnosis section's poll failed; its last answer is kept beside it."""
        now = self._now()
        self._reports.failed(section, failure, now)
        self._link.clear_internal_error(POLLER, now)

    @_write
    def set_history(self, state: HistoryState) -> None:
        """Where this server's history is kept now (the history writer says)."""
        self._history = state

    @_write
    def set_alerts(self, board: AlertBoard) -> None:
        """This server's alerts as the watch last evaluated them (``watch``); immutable,
        so a snapshot carries it without a copy."""
        self._alerts = board

    # -- readers -------------------------------------------------------------
    def snapshot(self, window_s: float = 300.0, *, usage_s: float | None = None) -> Snapshot:
        """An immutable copy: series over [now - window_s, now], the last ``TAIL_S``
        seconds at their finest (``tail``), the newest log lines, and the usage ledger
        over the last ``usage_s`` seconds when asked for (a page does not know the
        Store's clock, so it asks for a span, not a start)."""
        with self._sync.lock:
            now = self._clock()
            t0, t1 = now - window_s, now + CLOCK_SKEW_S
            starts = (t0, now - TAIL_S)
            win, tail = self._series.windows(starts, t1)
            serving, tail_serving = self._serving.windows(starts, t1)
            names = self._names.names
            usage = None if usage_s is None else self._usage_window(now - usage_s, now)
            counters = self._tally.counters(self._log.dropped)
            return Snapshot(
                server=self.server, taken_at=now, window_s=float(window_s),
                throughput=replace(win.throughput, model_names=names),
                memory_used=win.memory_used, memory_total=win.memory_total,
                gaps=self._link.gaps(), models=self._reported.models(),
                jobs=self._reported.jobs(), events=self._log.newest(SNAPSHOT_EVENTS),
                event_counts=MappingProxyType(self._log.type_counts()),
                kind_counts=MappingProxyType(self._log.kind_counts()),
                connection=self._link.connection(), counters=counters,
                gauges=self._reported.gauges, events_per_s=self._link.events_per_s(now),
                health=self._link.health(), polls=self._link.polls(),
                models_at=self._reported.models_at, serving=serving, history=self._history,
                tail=Tail(replace(tail.throughput, model_names=names), tail.memory_used,
                          tail.memory_total, tail_serving),
                events_cut=self._log.cut(SNAPSHOT_EVENTS), usage=usage, alerts=self._alerts,
                report=self._reports.report())

    def usage(self, t0: float, t1: float) -> Usage:
        """The ledger's buckets in [t0, t1] (the Usage page: days, without the tiers)."""
        with self._sync.lock:
            return self._usage_window(t0, t1)

    def _usage_window(self, t0: float, t1: float) -> Usage:
        u = self._usage.window(t0, t1)
        return replace(u, codes=tuple(-1 if n == ALL_MODELS else self._names.code(n)
                                      for n in u.names))

    def wait_for(self, predicate: Callable[[], T], timeout: float) -> T:
        """Block until ``predicate()`` is truthy, re-checking after each write; its last
        value (falsy at ``timeout``). For tests and tools; call it without the lock."""
        return self._sync.wait_for(predicate, timeout)

    # -- history -------------------------------------------------------------
    def history_delta(self, marks: Marks) -> tuple[HistoryRows, Marks]:
        """Everything new since ``marks`` (open buckets and the open minute again), and
        the marks after it."""
        with self._sync.lock:
            return self._handover.delta(marks)

    def expect_history(self) -> None:
        """History is being read (``load_history`` follows, or ``no_history``): from now
        on every write is kept, to be applied again behind the file's rows."""
        with self._sync.write():
            if self._kept is None and not self._history_dropped:
                self._kept = []

    @property
    def loading_history(self) -> bool:
        """Between ``expect_history`` and ``load_history`` / ``no_history``."""
        with self._sync.lock:
            return self._kept is not None

    def no_history(self) -> None:
        """Nothing will be loaded (the file cannot be used): what was recorded stands."""
        with self._sync.write():
            self._kept = None

    def load_history(self, rows: HistoryRows, now: float) -> Marks:
        """Put a file's rows in place, before anything recorded since ``now`` (when the
        recording started); returns the marks after them, so everything recorded is
        still to be written. After ``expect_history`` the parts are made again from the
        rows and the kept writes applied again behind them, each at its own time."""
        with self._sync.write():
            kept, self._kept = self._kept, None
            if self._history_dropped:  # writes outgrew MAX_KEPT_WRITES: the live run
                category, _ = classify(HISTORY_LATE)  # stands, all of it still to be written
                self._log.append(HISTORY_LATE, "History came too late to go in front of what "
                                 "was recorded since the start: this run shows what it "
                                 "recorded; the file keeps the rest.", category, "warning", "",
                                 self._clock())
                return Marks()
            if kept is not None:
                self._fresh()
            if rows.last_at is not None:
                self._recorded_until = rows.last_at
            marks = self._handover.load(rows, now)
            for at, method, args, kwargs in kept or ():
                self._at = at
                try:
                    method(self, *args, **kwargs)
                finally:
                    self._at = None
            return marks

    @property
    def recorded_until(self) -> float | None:
        """When the history file's last run last recorded this server (None: no file, or
        nothing in it): a server whose uptime is shorter than the time since restarted
        while the dashboard was off."""
        with self._sync.lock:
            return self._recorded_until

    def memory_bytes(self) -> int:
        """numpy buffers exactly, plus a rough estimate of the Python objects."""
        with self._sync.lock:
            return (self._series.nbytes() + self._serving.nbytes() + self._log.nbytes()
                    + self._reported.nbytes() + self._link.nbytes() + self._names.nbytes()
                    + self._usage.nbytes() + self._reports.nbytes())
