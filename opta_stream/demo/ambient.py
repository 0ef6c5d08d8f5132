"""Lifecycle events that happen on their own: readiness changes, quarantines, quantize jobs,
memory warnings.

The rich mode's models now and then fall behind their latency budget for a
few seconds (``degraded``, a state of the dashboard contract) and, every few
minutes, one crashes three times in a row and is quarantined, as Opta LMX
does after three runtime failures; it is taken out of routing until it is
reloaded a little later. The quarantine times come from their own random
source, so the rest of the simulation replays as it did before they existed.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

from opta_stream.demo.model import CATALOGUE
from opta_stream.demo.tally import CLIENTS, Finished

if TYPE_CHECKING:
    from opta_stream.demo.world import World

__all__ = ["Ambient"]

_CRASHES = 3  # runtime failures that quarantine a model
_CRASH = "Inference failed: [METAL] Command buffer execution failed: Caused GPU Hang Error"


class Ambient:
    """The schedule and state of ambient events; ``advance`` appends what happened."""

    def __init__(self, rng: random.Random, quarantine_rng: random.Random, now: float) -> None:
        self._rng = rng
        self._q_rng = quarantine_rng
        self.quantize: dict | None = None
        self.last_warning = -math.inf
        self._next_quarantine = now + quarantine_rng.uniform(40.0, 80.0)
        self._quarantined: dict[str, float] = {}  # model id -> when it is reloaded

    def advance(self, world: World, now: float, dt: float, events: list) -> None:
        self._memory_warning(world, now, events)
        if world.rich:
            self._readiness(world, now, dt, events)
            self._quantize(now, dt, events)
            self._quarantine(world, now, events)

    # --- degraded for a few seconds -------------------------------------

    def _readiness(self, world: World, now: float, dt: float, events: list) -> None:
        for model_id, model in world.loaded.items():
            if model.readiness == "degraded" and now >= model.degraded_until:
                model.readiness = "routable"
                events.append(("model_readiness_changed", {
                    "model_id": model_id, "state": "routable",
                    "previous_state": "degraded", "reason": "canary passed"}))
        healthy = sorted(k for k, m in world.loaded.items() if m.readiness == "routable")
        if healthy and self._rng.random() < dt / 150.0:
            model_id = self._rng.choice(healthy)
            model = world.loaded[model_id]
            model.readiness = "degraded"
            model.degraded_until = now + self._rng.uniform(4.0, 12.0)
            events.append(("model_readiness_changed", {
                "model_id": model_id, "state": "degraded", "previous_state": "routable",
                "reason": "latency above budget"}))

    # --- quarantined after three crashes ----------------------------------

    def _quarantine(self, world: World, now: float, events: list) -> None:
        for model_id, until in list(self._quarantined.items()):
            model = world.loaded.get(model_id)
            if model is None or model.readiness != "quarantined":
                del self._quarantined[model_id]  # unloaded meanwhile: its row went with it
            elif now >= until:
                del self._quarantined[model_id]
                model.readiness = "routable"
                events.append(("model_readiness_changed", {
                    "model_id": model_id, "previous_state": "quarantined", "state": "routable",
                    "reason": None, "crash_count": 0, "updated_at": now}))
        routable = sorted(k for k, m in world.loaded.items() if m.readiness == "routable")
        if now < self._next_quarantine or not routable:
            return
        rng = self._q_rng
        model_id = rng.choice(routable)
        for _ in range(_CRASHES):  # the failed requests count as requests and errors
            world.predictor.record(model_id)
            world.tally.record(Finished(model_id, rng.choice(CLIENTS), rng.randint(40, 900), 0,
                                        rng.uniform(0.2, 2.0), True, True), now)
        previous = world.loaded[model_id].readiness
        world.loaded[model_id].readiness = "quarantined"
        self._quarantined[model_id] = now + rng.uniform(20.0, 40.0)
        self._next_quarantine = self._quarantined[model_id] + rng.uniform(150.0, 300.0)
        events.append(("model_readiness_changed", {
            "model_id": model_id, "previous_state": previous, "state": "quarantined",
            "reason": f"crash_loop:{_CRASHES}", "crash_count": _CRASHES,
            "last_failure_reason": _CRASH, "updated_at": now}))

    # --- a quantize job now and then --------------------------------------

    def _quantize(self, now: float, dt: float, events: list) -> None:
        job = self.quantize
        if job is None:
            if self._rng.random() < dt / 120.0:
                name = self._rng.choice(CATALOGUE[:5]).model_id.split("/")[-1]
                self.quantize = {"model_id": f"/models/{name}-q4", "percent": 0.0, "at": now}
                events.append(("quantize_progress", _quant(self.quantize, "quantizing")))
            return
        job["percent"] = min(100.0, job["percent"] + dt * self._rng.uniform(6.0, 14.0))
        if job["percent"] >= 100.0:
            events.append(("quantize_progress", _quant(job, "completed")))
            self.quantize = None
        elif now - job["at"] >= 1.0:
            job["at"] = now
            events.append(("quantize_progress", _quant(job, "quantizing")))

    # --- memory close to the threshold ------------------------------------

    def _memory_warning(self, world: World, now: float, events: list) -> None:
        used = world.used_gb()
        percent = 100.0 * used / world.total_gb
        if percent >= world.threshold_percent - 5 and now - self.last_warning >= 60.0:
            self.last_warning = now
            events.append(("memory_warning", {
                "used_gb": round(used, 2), "total_gb": round(world.total_gb, 2),
                "usage_percent": round(percent, 1),
                "threshold_percent": world.threshold_percent}))


def _quant(job: dict, status: str) -> dict:
    return {"model_id": job["model_id"], "status": status, "percent": int(job["percent"])}
