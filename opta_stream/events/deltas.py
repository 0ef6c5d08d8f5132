"""Two cumulative ``MetricsReading`` → what happened between them (a ``ServingStep``).

Pure: the caller keeps the previous reading. A key the previous reading did
not have starts from zero (the server creates a model's or client's counters
at its first request, already counted). Any counter lower than before means
the server restarted: no step; the caller starts a new line segment and
counts the new reading from zero (``is_reset`` tells it so). Counts are
never dropped across a failed poll: the next step covers the whole time
since the last good reading, with its real ``dt``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from opta_stream.events.prom import Histogram, MetricsReading

__all__ = ["ServingStep", "is_reset", "serving_step"]


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


def _went_back(prev: Mapping[str, float], cur: Mapping[str, float]) -> bool:
    return any(k in prev and v < prev[k] for k, v in cur.items())


def _diff(prev: Mapping[str, float], cur: Mapping[str, float]) -> dict[str, float]:
    return {k: v - prev.get(k, 0.0) for k, v in cur.items()}


def is_reset(prev: MetricsReading, cur: MetricsReading) -> bool:
    """A counter (or histogram count) lower than before: the server restarted."""
    if _went_back(prev.totals, cur.totals):
        return True
    for older, newer in ((prev.per_model, cur.per_model), (prev.per_client, cur.per_client)):
        if any(_went_back(older.get(k, {}), v) for k, v in newer.items()):
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
    per_model = {m: _diff(prev.per_model.get(m, {}), v) for m, v in cur.per_model.items()}
    for model, (total_s, count) in sums.items():
        row = per_model.setdefault(model, {})
        row.update(latency_sum=total_s, latency_count=count)
    totals = _diff(prev.totals, cur.totals)
    totals["latency_sum"] = sum(s for s, _ in sums.values())
    totals["latency_count"] = sum(c for _, c in sums.values())
    per_client = {c: _diff(prev.per_client.get(c, {}), v) for c, v in cur.per_client.items()}
    return ServingStep(ts=ts, dt=max(ts - prev_ts, 1e-3), totals=totals, per_model=per_model,
                       per_client=per_client, buckets=buckets, bounds=bounds,
                       gauges=dict(cur.gauges))
