"""What the simulated server keeps besides its live state: presets, the compatibility
registry, stored benchmark results and its helper node.

The rich mode starts with a past (made from the injected random source and
the start time); the lmx mode starts empty, like a fresh server on Linux.
Both add a compatibility row on every load that passes, as the real canary
does. Not thread-safe on its own: the Simulation calls it under its lock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from opta_stream.demo.benchmarks import past_results
from opta_stream.demo.helper import HelperNode
from opta_stream.demo.inventory import PRESETS, past_compatibility, preset_for

__all__ = ["Books", "BooksView", "estimate_gb"]


@dataclass(frozen=True, slots=True)
class BooksView:
    """A copy for the renderers (rows are never changed once written, so they are shared)."""

    rich: bool
    presets: tuple[dict, ...]
    benchmarks: tuple[dict, ...]
    compatibility: tuple[dict, ...]  # oldest first
    helper_stack: dict | None  # the helper's row in /admin/stack, None when none is configured
    helper_health: dict | None  # and in /admin/health


def estimate_gb(performance: dict) -> float | None:
    """A load's ``memory_estimate_gb`` when it is a positive number, else None."""
    try:
        number = float(performance.get("memory_estimate_gb") or 0.0)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


class Books:
    """Presets, registry rows, benchmark files and the helper node of one simulated server."""

    def __init__(self, rich: bool, rng: random.Random, now: float) -> None:
        self.rich = rich
        self.presets: tuple[dict, ...] = PRESETS if rich else ()
        self.benchmarks = past_results(rng, now) if rich else []
        self.compatibility = past_compatibility(rng, now) if rich else []
        self.helper = HelperNode(rng, now) if rich else None

    def advance(self, now: float, dt: float) -> None:
        if self.helper is not None:
            self.helper.advance(now, dt)

    def performance(self, model_id: str, overrides: dict | None) -> dict:
        """The overrides a load runs with: its preset's, then the request's on top."""
        preset = preset_for(model_id, self.presets)
        return {**(preset["performance"] if preset else {}), **(overrides or {})}

    def record_pass(self, model_id: str, now: float) -> None:
        """A load passed its canary: one more registry row."""
        self.compatibility.append({"ts": now, "model_id": model_id, "backend": "vllm-mlx",
                                   "backend_version": "0.2.6", "outcome": "pass",
                                   "reason": "canary_ok", "metadata": {}})
        del self.compatibility[:-2000]  # the registry keeps the newest 2000 rows

    def check_helpers(self, now: float) -> dict:
        """``GET /admin/helpers``: the statistics first, then this call's live check."""
        helpers, checks = {}, {}
        if self.helper is not None:
            helpers["embedding"] = self.helper.stats(now)
            checks["embedding"] = self.helper.check(now)
        healthy = all(h["healthy"] for h in helpers.values()) if helpers else True
        return {"helpers": helpers, "live_checks": checks, "configured_count": len(helpers),
                "all_healthy": healthy}

    def view(self, now: float) -> BooksView:
        helper = self.helper
        return BooksView(self.rich, self.presets, tuple(self.benchmarks),
                         tuple(self.compatibility),
                         helper.stack_row(now) if helper is not None else None,
                         helper.health_row() if helper is not None else None)
