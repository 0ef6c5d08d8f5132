"""The usage ledger: per model and quarter hour, what finished there (see ``ledger``).

Fed by the same serving steps as the Requests page: a step's per-model deltas
go to the bucket its poll time falls in. Bounded: the oldest buckets go first
once ``max_rows`` (model, bucket) rows are held. The Store holds the lock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from opta_stream.events.counters import ServingStep
from opta_stream.snapshot import ALL_MODELS, USAGE_BUCKET_S, USAGE_VALUES, Usage

__all__ = ["MAX_USAGE_ROWS", "UsageLedger", "UsageRow"]

MAX_USAGE_ROWS = 100_000  # 30 days of quarter hours is 2,880 rows per model
_FROM_STEP = ("requests", "errors", "prompt_tokens", "completion_tokens", "latency_sum")
UsageRow = tuple[float, str, tuple[float, ...]]  # bucket start, model id, USAGE_VALUES


def _count(values: Mapping[str, float], name: str, server: bool = False) -> float:
    if name not in values:  # a model's prompt tokens: not reported; the server's: none
        return 0.0 if server or name != "prompt_tokens" else math.nan
    value = values[name]
    return float(value) if value is not None else 0.0


class UsageLedger:
    """Per (quarter hour, model) counts, and which rows changed since history last asked."""

    def __init__(self, max_rows: int = MAX_USAGE_ROWS) -> None:
        self._rows: dict[tuple[float, str], list[float]] = {}
        self._dirty: set[tuple[float, str]] = set()
        self._max = max_rows

    def add(self, step: ServingStep) -> None:
        """A step's deltas per model, and the server's totals under ``ALL_MODELS``; a count
        the server does not report for a model (its prompt tokens) is NaN."""
        bucket = math.floor(step.ts / USAGE_BUCKET_S) * USAGE_BUCKET_S
        for model, values in (*step.per_model.items(), (ALL_MODELS, step.totals)):
            delta = [_count(values, name, model == ALL_MODELS) for name in _FROM_STEP]
            if any(d for d in delta if d == d):  # NaN (not reported) is no activity
                row = self._rows.setdefault((bucket, model), [0.0] * len(USAGE_VALUES))
                for i, d in enumerate(delta):
                    row[i] += d
                self._dirty.add((bucket, model))
        self._bound()

    def load(self, rows: Iterable[UsageRow]) -> None:
        """Rows read back from history; a bucket already counted here is added to."""
        for bucket, model, values in rows:
            row = self._rows.setdefault((bucket, model), [0.0] * len(USAGE_VALUES))
            for i, v in enumerate(values):
                row[i] += v
        self._bound()

    def take_changed(self) -> list[UsageRow]:
        """The rows changed since the last call, whole (the file replaces its copy)."""
        keys, self._dirty = self._dirty, set()
        return [(b, m, tuple(self._rows[(b, m)])) for b, m in sorted(keys) if (b, m) in self._rows]

    def window(self, t0: float, t1: float) -> Usage:
        """Buckets that start in [t0 rounded down to a bucket, t1]."""
        low = math.floor(t0 / USAGE_BUCKET_S) * USAGE_BUCKET_S
        keys = sorted(k for k in self._rows if low <= k[0] <= t1)
        names = tuple(sorted({m for _, m in keys}))
        code = {m: i for i, m in enumerate(names)}
        ts = np.array([b for b, _ in keys], np.float64)
        model = np.array([code[m] for _, m in keys], np.int32)
        values = np.array([self._rows[k] for k in keys], np.float64).reshape(
            len(keys), len(USAGE_VALUES))
        for arr in (ts, model, values):
            arr.flags.writeable = False
        return Usage(ts, model, values, names)

    def __len__(self) -> int:
        return len(self._rows)

    def nbytes(self) -> int:
        """A rough estimate of the rows' Python objects."""
        return 100 * len(self._rows)

    def _bound(self) -> None:
        if len(self._rows) <= self._max:
            return
        for key in sorted(self._rows)[: len(self._rows) - self._max]:
            del self._rows[key]
            self._dirty.discard(key)
