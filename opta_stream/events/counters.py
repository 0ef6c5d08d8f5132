"""Cumulative counters → what happened between two readings: the one reset rule.

Every counter the dashboard reads (the Prometheus text's totals, per model
and per client, latency histograms; ``/admin/metrics/json``'s tokens per
model) follows one rule, ``went_back`` and ``since``: a key the previous
reading did not have starts from zero (the server creates a model's or
client's counters at its first request, already counted), and any counter
lower than before means the server restarted, so the new reading is counted
from zero, as Prometheus' ``rate()`` does. ``serving_step`` turns two
``MetricsReading`` into a ``ServingStep`` (None across a restart: the caller
starts a new line segment); ``CounterRates`` turns per-model token counts
into rates. Counts are never dropped across a failed poll: the next step
covers the whole time since the last good reading, with its real ``dt``.
Pure: the callers keep the previous reading.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from opta_stream.events.prom import Histogram, MetricsReading

K = TypeVar("K", bound=Hashable | None)

__all__ = ["CounterRates", "RateStep", "ServingStep", "is_reset", "serving_step", "since",
           "went_back"]


@dataclass(frozen=True, slots=True)
class ServingStep:
    """Counts between two readings (``dt`` seconds ending at ``ts``), and the gauges at ``ts``."""

    ts: float
    dt: float
    totals: Mapping[str, float]
    per_model: Mapping[str, Mapping[str, float]]
    per_client: Mapping[str, Mapping[str, float]]
    buckets: Mapping[str, tuple[float, ...]]  # model → cumulative bucket deltas at ``bounds``
    bounds: tuple[float, ...] | None
    gauges: Mapping[str, float] = field(default_factory=dict)

    def buckets_total(self) -> tuple[float, ...] | None:
        """The server-wide histogram step: every model's buckets added."""
        rows = list(self.buckets.values())
        return tuple(map(sum, zip(*rows, strict=True))) if rows else None


def went_back(prev: Mapping[K, float], cur: Mapping[K, float]) -> bool:
    """Any counter lower than before: the server restarted."""
    return any(k in prev and v < prev[k] for k, v in cur.items())


def since(prev: Mapping[K, float], cur: Mapping[K, float]) -> dict[K, float]:
    """Each counter's growth; a key new in ``cur`` counts from zero."""
    return {k: v - prev.get(k, 0.0) for k, v in cur.items()}


def is_reset(prev: MetricsReading, cur: MetricsReading) -> bool:
    """A counter (or histogram count) lower than before: the server restarted."""
    if went_back(prev.totals, cur.totals):
        return True
    for older, newer in ((prev.per_model, cur.per_model), (prev.per_client, cur.per_client)):
        if any(went_back(older.get(k, {}), v) for k, v in newer.items()):
            return True
    return any(k in prev.latency and h.count < prev.latency[k].count
               for k, h in cur.latency.items())


def _latency(prev: Mapping[str, Histogram], cur: Mapping[str, Histogram]
             ) -> tuple[dict[str, tuple[float, ...]], dict[str, tuple[float, float]],
                        tuple[float, ...] | None]:
    """Bucket, sum and count deltas per model on the most common bounds.

    A model whose bounds differ from the others', or changed since the last
    reading, has its histogram skipped this once (it becomes the new baseline).
    """
    bounds_seen = [h.bounds for h in cur.values()]
    bounds = max(set(bounds_seen), key=bounds_seen.count) if bounds_seen else None
    buckets: dict[str, tuple[float, ...]] = {}
    sums: dict[str, tuple[float, float]] = {}
    for model, h in cur.items():
        old = prev.get(model)
        if h.bounds != bounds or (old is not None and old.bounds != h.bounds):
            continue
        base = old.cumulative if old is not None else (0.0,) * len(h.bounds)
        buckets[model] = tuple(c - b for c, b in zip(h.cumulative, base, strict=True))
        sums[model] = (h.sum - (old.sum if old else 0.0), h.count - (old.count if old else 0.0))
    return buckets, sums, bounds


def serving_step(prev: MetricsReading, prev_ts: float, cur: MetricsReading,
                 ts: float) -> ServingStep | None:
    """The step from ``prev`` to ``cur``; None when the server restarted in between."""
    if is_reset(prev, cur):
        return None
    buckets, sums, bounds = _latency(prev.latency, cur.latency)
    per_model = {m: since(prev.per_model.get(m, {}), v) for m, v in cur.per_model.items()}
    for model, (total_s, count) in sums.items():
        row = per_model.setdefault(model, {})
        row.update(latency_sum=total_s, latency_count=count)
    totals = since(prev.totals, cur.totals)
    totals["latency_sum"] = sum(s for s, _ in sums.values())
    totals["latency_count"] = sum(c for _, c in sums.values())
    per_client = {c: since(prev.per_client.get(c, {}), v) for c, v in cur.per_client.items()}
    return ServingStep(ts=ts, dt=max(ts - prev_ts, 1e-3), totals=totals, per_model=per_model,
                       per_client=per_client, buckets=buckets, bounds=bounds,
                       gauges=dict(cur.gauges))


@dataclass(frozen=True, slots=True)
class RateStep:
    """One update: each model's rate since the previous reading (None on the first
    reading or when time did not advance); ``reset`` when a count went backwards."""

    rates: dict[str | None, float] | None
    reset: bool = False


class CounterRates:
    """Per-model rates from a ``{model: cumulative count}`` map read each poll.

    A model the previous reading lacked starts from zero: the server creates
    its counter at its first request, already counted. Any count lower than
    before is a restart; as Prometheus' ``rate()`` does, the new counts are
    then taken from zero, so the requests since the restart are not lost.
    """

    def __init__(self) -> None:
        self._last: tuple[float, dict[str | None, float]] | None = None

    def update(self, ts: float, counts: dict[str | None, float]) -> RateStep:
        """Rates since the previous reading."""
        last, self._last = self._last, (ts, dict(counts))
        if last is None:
            return RateStep(None)
        last_ts, before = last
        if ts <= last_ts:
            self._last = last  # a clock step back: keep the baseline
            return RateStep(None)
        reset = went_back(before, counts)
        grown = since({} if reset else before, counts)
        return RateStep({m: n / (ts - last_ts) for m, n in grown.items()}, reset)

    def restarted(self) -> None:
        """The server restarted (seen elsewhere): the next counts are taken from zero."""
        if self._last is not None:
            self._last = (self._last[0], {})

    def forget(self) -> None:
        """Drop the previous reading (after a failed poll)."""
        self._last = None
