"""A server's alert reading: every metric a rule can name, from one snapshot.

The figures come from ``headline`` over the last 5 minutes, the same
function the pages show them with, so an alert and a tile never disagree. A
metric that is not known is None ("no data"): everything while the server
cannot be reached, except ``down_s`` (seconds since it was last heard) and
``key_rejected``, which are known exactly then.
"""

from __future__ import annotations

from opta_stream.figures.headline import RECENT_S, headline
from opta_stream.snapshot import Health, Snapshot

__all__ = ["RESTART_TYPES", "reading"]

RESTART_TYPES = frozenset({"server_restarted", "counter_reset"})
_ANSWERING = (Health.LIVE, Health.DEGRADED)


def _down_s(snap: Snapshot) -> float | None:
    health = snap.health
    if health.state in _ANSWERING or health.state is Health.KEY_REJECTED:
        return 0.0
    if health.state is Health.DOWN:
        since = health.last_seen_at if health.last_seen_at is not None else health.since
        return max(0.0, snap.taken_at - since)
    return None  # connecting, stopped, or a bug of ours: not known


def reading(snap: Snapshot) -> dict[str, float | None]:
    """``alerting.rules.METRICS`` and ``AUXILIARY`` for one server, now."""
    health = snap.health.state
    out: dict[str, float | None] = {
        "down_s": _down_s(snap),
        "key_rejected": 1.0 if health is Health.KEY_REJECTED else (
            0.0 if health in _ANSWERING else None),
    }
    if health not in _ANSWERING:
        return {**out, **dict.fromkeys(
            ("memory_pct", "memory_gb", "tokens_per_s", "requests_per_s", "error_rate_pct",
             "p95_latency_s", "queued", "in_flight", "quarantined_models", "restarts_1h",
             "memory_threshold_pct", "slots"))}
    h = headline(snap, RECENT_S)
    models_known = snap.models_at is not None
    hour = snap.taken_at - 3600.0
    restarts = sum(1 for e in snap.events if e.type in RESTART_TYPES and e.ts >= hour)
    return {**out,
            "memory_pct": h.memory_pct, "memory_gb": h.memory_gb,
            "tokens_per_s": h.tokens_per_s, "requests_per_s": h.requests_per_s,
            "error_rate_pct": h.error_rate_pct, "p95_latency_s": h.p95_latency_s,
            "queued": h.queued, "in_flight": h.in_flight,
            "quarantined_models": float(sum(1 for m in snap.models
                                            if m.readiness == "quarantined"))
            if models_known else None,
            "restarts_1h": float(restarts),
            "memory_threshold_pct": h.memory_threshold_pct, "slots": h.limit}
