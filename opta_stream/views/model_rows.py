"""What a Models-page row says about one model: readiness, use, speed and latency.

Pure text, so the page and its tests agree: the tokens/s is the model's
rate over the last 10 s (the Throughput page's line), the p95 comes from
its latency histogram over the last 5 minutes, or since the model was
loaded if that is later, and says which (a model loaded a minute ago has no
p95 from before).
"""

from __future__ import annotations

from opta_stream.figures.serving_totals import seconds
from opta_stream.snapshot import ModelInfo
from opta_stream.units import duration, number
from opta_stream.views.recording import Color

__all__ = ["READINESS_COLORS", "model_facts", "readiness_color"]

READINESS_COLORS: dict[str, Color] = {"routable": "green", "degraded": "orange",
                                      "quarantined": "red", "loading": "blue", "admitted": "blue"}


def readiness_color(state: str | None) -> Color:
    """The badge colour of a readiness state; grey for one we do not know."""
    return READINESS_COLORS.get(state or "", "gray")


def model_facts(model: ModelInfo, now: float, *, tokens_per_s: float | None,
                p95_s: float | None, over: str) -> str:
    """One line: memory, context, requests, last use, tokens/s, p95 (unknowns left out)."""
    bits = [number(model.memory_gb, ".2f", " GB"), model.quantization or "",
            f"{model.context_length:,} ctx" if model.context_length else "",
            f"loaded {duration(now - model.loaded_at)} ago" if model.loaded_at else "",
            f"{model.request_count:,} requests" if model.request_count is not None else "",
            f"last used {duration(now - model.last_used_at)} ago"
            if model.last_used_at and model.last_used_at != model.loaded_at else "",
            f"{number(tokens_per_s)} tokens/s now" if tokens_per_s is not None else "",
            f"p95 {seconds(p95_s)} · {over}" if p95_s is not None and p95_s == p95_s else ""]
    return " · ".join(b for b in bits if b and b != "—") or "no details reported"
