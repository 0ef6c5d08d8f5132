"""The server's self-report in figures: the verdict's rule, benchmark trends, compatibility.

- ``verdict_rule``: which of Opta LMX's fixed rules produced its
  ``health_verdict``, in words. The rules, first match wins: a crash loop,
  or more than 5 % of all requests since start failed, is critical; memory at
  or over the threshold, or any quarantined model, is degraded; else healthy.
  The error rate is the server's own, over its whole life, not a window.
- ``bench_split``, ``regressions``: stored benchmark results by model and
  time, apart from those with too few runs to mean anything, and a model's
  newest result more than 10 % slower than the one before it.
- ``compat_counts``: the compatibility registry per model and backend.

Pure: frozen ``server_report`` values in, numbers and words out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from opta_stream.server_report import BenchmarkRun, CompatRow, Diagnostics

__all__ = [
    "CRITICAL_ERROR_PCT",
    "REGRESSION_PCT",
    "CompatCount",
    "Regression",
    "bench_split",
    "compat_counts",
    "regressions",
    "verdict_rule",
]

CRITICAL_ERROR_PCT = 5.0  # the server's rule: strictly more than this is critical
REGRESSION_PCT = 10.0  # a newest result this much slower than the one before is marked


def _pct(value: float) -> str:
    return f"{value:.1f} %"


def verdict_rule(diag: Diagnostics, threshold_pct: float | None) -> tuple[str, str]:
    """(the verdict the server's rules give, the rule in words). ``threshold_pct`` is the
    server's memory threshold (``/admin/status`` or ``/admin/memory``), None when unknown;
    the diagnostics do not carry it."""
    errors, memory = diag.error_rate_pct, diag.memory_percent
    quarantined = diag.quarantined_count or 0
    if diag.crash_loop:
        return "critical", ("critical: a crash loop (3 starts or more, the last under a "
                            "minute ago, without a clean shutdown)")
    if errors is not None and errors > CRITICAL_ERROR_PCT:
        return "critical", (f"critical: {_pct(errors)} of all requests since start failed "
                            f"(over {CRITICAL_ERROR_PCT:.0f} %)")
    if memory is not None and threshold_pct is not None and memory >= threshold_pct:
        return "degraded", (f"degraded: memory at {_pct(memory)}, at or over its "
                            f"{threshold_pct:.0f} % threshold")
    if quarantined > 0:
        models = "model" if quarantined == 1 else "models"
        return "degraded", f"degraded: {quarantined} {models} quarantined"
    bits = ["no crash loop" if diag.crash_loop is False else "",
            f"{_pct(errors)} of requests since start failed (critical over "
            f"{CRITICAL_ERROR_PCT:.0f} %)" if errors is not None else "",
            (f"memory {_pct(memory)}, under its {threshold_pct:.0f} % threshold"
             if threshold_pct is not None else f"memory {_pct(memory)}")
            if memory is not None else "",
            "no model quarantined" if diag.quarantined_count == 0 else ""]
    return "healthy", "healthy: " + ", ".join(b for b in bits if b)


# -- benchmarks ----------------------------------------------------------------------


def _charted(run: BenchmarkRun) -> bool:
    return run.status == "ok" and run.at is not None and run.tokens_per_s_p50 is not None


def bench_split(runs: Iterable[BenchmarkRun]) -> tuple[list[BenchmarkRun], list[BenchmarkRun]]:
    """(results to chart, by model then time; results set apart: too few measured runs
    ("insufficient_data"), or no time or speed to place them by)."""
    charted: list[BenchmarkRun] = []
    apart: list[BenchmarkRun] = []
    for run in runs:
        (charted if _charted(run) else apart).append(run)
    charted.sort(key=lambda r: (r.model_id, r.at or 0.0))
    return charted, apart


@dataclass(frozen=True, slots=True)
class Regression:
    """A model's newest result, slower than the one before it by ``slower_pct``."""

    model_id: str
    newest: BenchmarkRun
    previous: BenchmarkRun
    slower_pct: float


def regressions(charted: Sequence[BenchmarkRun],
                limit_pct: float = REGRESSION_PCT) -> dict[str, Regression]:
    """Per model: its newest result when it is more than ``limit_pct`` % slower (tokens/s
    p50) than its previous one. ``charted`` as ``bench_split`` gives it."""
    by_model: dict[str, list[BenchmarkRun]] = {}
    for run in charted:
        by_model.setdefault(run.model_id, []).append(run)
    out = {}
    for model_id, runs in by_model.items():
        if len(runs) < 2:
            continue
        previous, newest = runs[-2], runs[-1]
        before, now = previous.tokens_per_s_p50 or 0.0, newest.tokens_per_s_p50 or 0.0
        if before > 0 and now < before * (1.0 - limit_pct / 100.0):
            out[model_id] = Regression(model_id, newest, previous,
                                       100.0 * (before - now) / before)
    return out


# -- compatibility ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompatCount:
    """One model on one backend: its passes and failures, and the newest row's outcome."""

    model_id: str
    backend: str
    passed: int
    failed: int
    latest_outcome: str
    latest_reason: str | None
    latest_ts: float | None


def compat_counts(rows: Iterable[CompatRow]) -> list[CompatCount]:
    """Per (model, backend), newest first by their latest row."""
    groups: dict[tuple[str, str], list[CompatRow]] = {}
    for row in rows:
        groups.setdefault((row.model_id, row.backend), []).append(row)
    out = []
    for (model_id, backend), items in groups.items():
        latest = max(items, key=lambda r: r.ts if r.ts is not None else float("-inf"))
        out.append(CompatCount(model_id, backend, sum(r.outcome == "pass" for r in items),
                               sum(r.outcome == "fail" for r in items), latest.outcome,
                               latest.reason, latest.ts))
    out.sort(key=lambda c: -(c.latest_ts or 0.0))
    return out
