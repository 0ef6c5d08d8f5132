"""What the server refuses because of its memory reading: load admission (507) and shedding (503).

Opta LMX reads one figure, memory use in per cent of the machine, and acts on
it twice. Before a cold load it adds what the load may take and refuses the
load (507 ``insufficient_memory``) when the sum would pass the threshold; at
95 % and above it answers every request but its health checks with 503
``overloaded``. The wording, the rounding and the exact bytes here are the
real server's, so a dashboard shows what it will show in the field.
"""

from __future__ import annotations

from dataclasses import dataclass

from opta_stream.demo.model import envelope

__all__ = [
    "ESTIMATE_MARGIN",
    "OVERLOADED_BODY",
    "SHED_EXEMPT",
    "SHED_PERCENT",
    "Admission",
    "admit",
    "insufficient_memory",
    "pushed_past",
    "sheds",
]

SHED_PERCENT = 95.0
SHED_EXEMPT = frozenset({"/healthz", "/readyz", "/admin/health"})
# Written by hand on the server (not through its JSON encoder), hence the spaces and no param.
OVERLOADED_BODY = (b'{"error": {"message": "Server under memory pressure",'
                   b' "type": "server_error", "code": "overloaded"}}')
ESTIMATE_MARGIN = 1.15  # a stated size is reserved with 15 % to spare


def sheds(path: str, percent: float) -> bool:
    """Whether a request for ``path`` is refused 503 at ``percent`` memory use."""
    return percent >= SHED_PERCENT and path not in SHED_EXEMPT


@dataclass(frozen=True, slots=True)
class Admission:
    """The admission check's figures, in per cent of total memory."""

    current: float
    reserved: float
    requested: float
    threshold: int
    estimated: bool  # the request or a preset said how big the model is

    @property
    def projected(self) -> float:
        return self.current + self.reserved + self.requested

    @property
    def admitted(self) -> bool:
        """At or under the threshold, and something was actually reserved."""
        return self.projected <= self.threshold and (self.estimated or self.requested > 0)

    def refusal(self, model_id: str) -> str:
        """The server's sentence for a refused load (numbers to one decimal place)."""
        why = "in-flight load reservations" if self.reserved > 0 else "current usage"
        return (f"Insufficient memory headroom for loading '{model_id}': "
                f"current={self.current:.1f}% + reserved={self.reserved:.1f}% "
                f"+ requested={self.requested:.1f}% = {self.projected:.1f}% exceeds "
                f"{self.threshold}% threshold ({why}).")


def admit(*, current: float, reserved: float, estimate_gb: float | None, total_gb: float,
          threshold: int) -> Admission:
    """Opta LMX's admission check before a cold load.

    With a size estimate (a preset's or the request's ``memory_estimate_gb``)
    the load reserves the estimate plus 15 %; without one it reserves all the
    headroom left under the threshold, so only one such load passes at a time
    and none passes once usage is at the threshold.
    """
    if estimate_gb is not None and estimate_gb > 0:
        requested = 100.0 * estimate_gb * ESTIMATE_MARGIN / total_gb
    else:
        requested = max(threshold - current - reserved, 0.0)
    return Admission(current, reserved, requested, threshold,
                     estimated=estimate_gb is not None and estimate_gb > 0)


def pushed_past(model_id: str, percent: float, threshold: int) -> str:
    """The sentence when memory, read after a load, is at or past the threshold."""
    return (f"Loading {model_id} pushed memory to {percent:.1f}% \u2014 "
            f"exceeds {threshold}% threshold. Model unloaded.")


def insufficient_memory(message: str) -> dict:
    """The 507 body: the OpenAI envelope with type and code ``insufficient_memory``."""
    return envelope(message, type_="insufficient_memory", code="insufficient_memory")
