"""Memory as a share of the server's capacity: one definition for every page and alert."""

from __future__ import annotations

from opta_stream.snapshot import Gauges

__all__ = ["memory_pct"]


def memory_pct(gauges: Gauges) -> float | None:
    """Used over total, in percent; None while either is unknown (never 0)."""
    used, total = gauges.memory_used_gb, gauges.memory_total_gb
    if used is None or not total:
        return None
    return 100.0 * used / total
