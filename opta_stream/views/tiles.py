"""The headline tiles, coloured as Grafana colours a stat: the figure, its window, its band.

Every tile names its window in its label ("p95 latency · last 5 min") or says
"now"; below the figure, the band it is in, in green, amber or red, with the
threshold in words ("≥ 80 %"), so the threshold is visible where the colour
is. An unknown figure is "—" with no band.
"""

from __future__ import annotations

from opta_stream.figures.headline import Headline
from opta_stream.figures.levels import (
    LEVEL_COLORS,
    Level,
    errors_level,
    latency_level,
    memory_level,
    queue_level,
)
from opta_stream.figures.serving_totals import seconds
from opta_stream.settings import Thresholds
from opta_stream.units import number
from opta_stream.views.recording import Block

__all__ = ["errors_tile", "latency_tile", "memory_tile", "queue_tile", "requests_tile",
           "tile", "tokens_tile"]


def tile(out: Block, label: str, value: str, *, level: Level | None = None,
         band: str | None = None, help: str | None = None) -> None:
    """One metric with its band below it in its level's colour (none while unknown)."""
    if level is None or band is None:
        out.metric(label, value, help=help)
        return
    out.metric(label, value, help=help, delta=band, delta_color=LEVEL_COLORS[level],
               delta_arrow="off")


def _pct(value: float) -> str:
    return f"{value:g} %"


def memory_tile(out: Block, h: Headline, t: Thresholds, label: str = "Memory") -> None:
    level = memory_level(h, t)
    red = t.memory_red_pct if h.memory_threshold_pct is None else min(
        t.memory_red_pct, h.memory_threshold_pct)
    band = {"red": f"≥ {_pct(red)}", "amber": f"≥ {_pct(t.memory_amber_pct)}",
            "ok": f"< {_pct(t.memory_amber_pct)}"}.get(level or "")
    tile(out, f"{label} · now", number(h.memory_pct, ".0f", " %"), level=level, band=band,
         help="Memory in use over the server's total; red from "
              f"{_pct(t.memory_red_pct)} or the server's own threshold, amber from "
              f"{_pct(t.memory_amber_pct)}.")


def errors_tile(out: Block, h: Headline, t: Thresholds) -> None:
    level = errors_level(h, t)
    band = {"red": f"≥ {_pct(t.error_red_pct)}", "amber": f"≥ {_pct(t.error_amber_pct)}",
            "ok": f"< {_pct(t.error_amber_pct)}"}.get(level or "")
    tile(out, f"Error rate · {h.window}", number(h.error_rate_pct, ".1f", " %"), level=level,
         band=band, help=f"Failed over all requests that finished in the {h.window} "
                         "(— while none finished).")


def latency_tile(out: Block, h: Headline, t: Thresholds) -> None:
    level = latency_level(h, t)
    goal, near = f"{t.p95_objective_s:g} s", f"{0.8 * t.p95_objective_s:g} s"
    band = {"red": f"> {goal}", "amber": f"> {near}", "ok": f"≤ {near}"}.get(level or "")
    tile(out, f"p95 latency · {h.window}", seconds(h.p95_latency_s), level=level, band=band,
         help=f"95 % of the requests that finished in the {h.window} took at most this "
              f"(from the server's latency histogram). The objective is {goal}: red above "
              "it, amber above 80 % of it.")


def queue_tile(out: Block, h: Headline) -> None:
    level = queue_level(h)
    band = {"red": "all slots busy", "amber": "waiting", "ok": "none waiting"}.get(level or "")
    tile(out, "Queued · now", number(h.queued, ".0f"), level=level, band=band,
         help="Requests waiting for a free slot now; red while every slot is busy.")


def requests_tile(out: Block, h: Headline) -> None:
    tile(out, f"Requests / s · {h.window}", number(h.requests_per_s, ".2f"),
         help=f"Requests finished per second over the {h.window}.")


def tokens_tile(out: Block, h: Headline) -> None:
    tile(out, "Tokens / s · now", number(h.tokens_per_s),
         help="All loaded models together, the rate over the last 10 s (— when no "
              "reading is fresher than a few seconds).")
