"""``GET /admin/metrics`` (Prometheus text) → one ``MetricsReading``.

Parsed with ``prometheus_client``'s own parser, never by hand, and read by
sample name so that a family the server has not created yet (per-client
counters before the first client; the latency histogram before the first
request) simply reads as absent. Every value is cumulative as the server
reports it; ``feed.deltas`` turns two readings into what happened between.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["CLIENT_FIELDS", "MODEL_FIELDS", "TOTAL_FIELDS", "Histogram", "MetricsError",
           "MetricsReading", "histogram_of", "parse_metrics"]

# Server-wide counters, by the name a reading uses for them.
TOTAL_FIELDS: Mapping[str, str] = MappingProxyType({
    "lmx_requests_total": "requests",
    "lmx_errors_total": "errors",
    "lmx_prompt_tokens_total": "prompt_tokens",
    "lmx_completion_tokens_total": "completion_tokens",
    "lmx_speculative_accepted_tokens_total": "spec_accepted",
    "lmx_speculative_rejected_tokens_total": "spec_rejected",
    "lmx_speculative_ignored_tokens_total": "spec_ignored",
})
MODEL_FIELDS: Mapping[str, str] = MappingProxyType({
    "lmx_model_requests_total": "requests",
    "lmx_model_errors_total": "errors",
    "lmx_model_tokens_total": "completion_tokens",
})
CLIENT_FIELDS: Mapping[str, str] = MappingProxyType({
    "lmx_client_requests_total": "requests",
    "lmx_client_errors_total": "errors",
    "lmx_client_tokens_total": "completion_tokens",
})
_GAUGES: Mapping[str, str] = MappingProxyType({
    "lmx_in_flight_requests": "in_flight",
    "lmx_queued_requests": "queued",
    "lmx_concurrent_limit": "limit",
    "lmx_speculative_acceptance_ratio": "acceptance_ratio",
    "lmx_uptime_seconds": "uptime_s",
})
LATENCY = "lmx_request_duration_seconds"


class MetricsError(ValueError):
    """The text is not Prometheus exposition format (or not a histogram that adds up)."""


@dataclass(frozen=True, slots=True)
class Histogram:
    """One model's latency histogram: cumulative counts at each upper bound (last: +Inf)."""

    bounds: tuple[float, ...]
    cumulative: tuple[float, ...]
    sum: float
    count: float


@dataclass(frozen=True, slots=True)
class MetricsReading:
    """Everything one scrape said, cumulative; a key is absent when the server did not say."""

    totals: Mapping[str, float] = field(default_factory=dict)
    gauges: Mapping[str, float] = field(default_factory=dict)
    per_model: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    per_client: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    latency: Mapping[str, Histogram] = field(default_factory=dict)  # model id → histogram


def parse_metrics(text: str) -> MetricsReading:
    """Read the families Opta LMX exports; unknown families are ignored."""
    totals: dict[str, float] = {}
    gauges: dict[str, float] = {}
    per_model: dict[str, dict[str, float]] = {}
    per_client: dict[str, dict[str, float]] = {}
    parts: dict[str, _Parts] = {}  # model → its bucket/sum/count samples
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                name, labels, value = s.name, s.labels, float(s.value)
                if name in TOTAL_FIELDS and not labels:
                    totals[TOTAL_FIELDS[name]] = value
                elif name in _GAUGES and not labels:
                    gauges[_GAUGES[name]] = value
                elif name in MODEL_FIELDS and "model" in labels:
                    per_model.setdefault(labels["model"], {})[MODEL_FIELDS[name]] = value
                elif name in CLIENT_FIELDS and "client" in labels:
                    per_client.setdefault(labels["client"], {})[CLIENT_FIELDS[name]] = value
                elif name.startswith(LATENCY + "_"):
                    _latency_part(parts, name[len(LATENCY) + 1:], labels, value)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise MetricsError(f"not Prometheus text: {exc}"[:300]) from None
    latency = {model: histogram_of(model, p) for model, p in parts.items()}
    return MetricsReading(totals, gauges, per_model, per_client, latency)


@dataclass(slots=True)
class _Parts:
    """One model's histogram samples as they are read."""

    buckets: dict[float, float] = field(default_factory=dict)
    sum: float = math.nan
    count: float | None = None


def _latency_part(parts: dict[str, _Parts], suffix: str, labels: Mapping[str, str],
                  value: float) -> None:
    entry = parts.setdefault(labels.get("model", ""), _Parts())
    if suffix == "bucket" and "le" in labels:
        entry.buckets[float(labels["le"])] = value
    elif suffix == "sum":
        entry.sum = value
    elif suffix == "count":
        entry.count = value


def histogram_of(model: str, part: _Parts) -> Histogram:
    """The buckets in bound order; they must end at +Inf and never decrease."""
    pairs = sorted(part.buckets.items())
    bounds = tuple(b for b, _ in pairs)
    cumulative = tuple(c for _, c in pairs)
    where = f"the latency histogram of {model!r}" if model else "the latency histogram"
    if not bounds or not math.isinf(bounds[-1]):
        raise MetricsError(f"{where} has no +Inf bucket")
    if any(b < a for a, b in zip(cumulative, cumulative[1:], strict=False)):
        raise MetricsError(f"{where} has bucket counts that decrease")
    count = cumulative[-1] if part.count is None else part.count
    return Histogram(bounds, cumulative, part.sum, count)
