"""Green, amber and red: where a figure stands against its thresholds, as Grafana colours a stat.

Pure rules over a ``Headline`` and the configured ``settings.Thresholds``;
the pages colour their tiles with them and the built-in alert rules use the
same bands. A figure that is not known has no level (None), not "ok".
"""

from __future__ import annotations

from typing import Literal

from opta_stream.figures.headline import Headline
from opta_stream.settings import Thresholds

__all__ = ["LEVEL_COLORS", "Level", "errors_level", "latency_level", "memory_level",
           "queue_level", "worst"]

Level = Literal["ok", "amber", "red"]
LEVEL_COLORS: dict[Level, Literal["green", "orange", "red"]] = {
    "ok": "green", "amber": "orange", "red": "red"}
_ORDER: dict[Level, int] = {"ok": 0, "amber": 1, "red": 2}


def memory_level(h: Headline, t: Thresholds) -> Level | None:
    """Red at the red band or the server's own threshold, amber from the amber band."""
    pct = h.memory_pct
    if pct is None:
        return None
    red = t.memory_red_pct if h.memory_threshold_pct is None else min(
        t.memory_red_pct, h.memory_threshold_pct)
    return "red" if pct >= red else "amber" if pct >= t.memory_amber_pct else "ok"


def errors_level(h: Headline, t: Thresholds) -> Level | None:
    pct = h.error_rate_pct
    if pct is None:
        return None
    return "red" if pct >= t.error_red_pct else "amber" if pct >= t.error_amber_pct else "ok"


def latency_level(h: Headline, t: Thresholds) -> Level | None:
    """Red above the objective, amber above 80 % of it."""
    p95 = h.p95_latency_s
    if p95 is None:
        return None
    return ("red" if p95 > t.p95_objective_s else
            "amber" if p95 > 0.8 * t.p95_objective_s else "ok")


def queue_level(h: Headline) -> Level | None:
    """Amber while requests wait, red while they wait with every slot busy."""
    if h.queued is None:
        return None
    if h.queued <= 0:
        return "ok"
    busy = h.in_flight is not None and h.limit is not None and h.in_flight >= h.limit
    return "red" if busy else "amber"


def worst(*levels: Level | None) -> Level | None:
    """The worst known level (None when none is known)."""
    best: Level | None = None
    for lv in levels:
        if lv is not None and (best is None or _ORDER[lv] > _ORDER[best]):
            best = lv
    return best
