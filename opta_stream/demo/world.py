"""The moving parts of the simulated server: requests, tokens/s, memory.

Not thread-safe on its own: ``sim.Simulation`` owns one ``World`` and calls
it under its lock. Everything random comes from the injected ``random.Random``.

The load follows a slow wave (about 75 s per period) so tokens/s visibly rises
and falls. Each model decodes at its own base speed, shared among its
concurrent requests with a small batching penalty, and then smoothed, so no
chart looks like noise. Ambient lifecycle events (readiness, quarantines,
quantize jobs, memory warnings) are ``ambient.Ambient``'s.
"""

from __future__ import annotations

import math
import random
from collections import Counter, deque
from dataclasses import dataclass, field

from opta_stream.demo.ambient import Ambient
from opta_stream.demo.model import CATALOGUE, CatalogueModel, LoadedView, SimView
from opta_stream.demo.predictor import Predictor
from opta_stream.demo.tally import CLIENTS, SPECULATIVE_MODELS, Finished, Tally

__all__ = ["World"]

TOTAL_GB = 23.54058837890625
BASE_GB = 1.1577033996582031
_MAX_QUEUE = 16


@dataclass(slots=True)
class _Model:
    spec: CatalogueModel
    loaded_at: float
    last_used_at: float
    request_count: int = 0
    tps: float = 0.0
    raw: float = 0.0
    readiness: str = "routable"
    degraded_until: float = 0.0
    performance: dict = field(default_factory=dict)  # the load's overrides in effect


@dataclass(slots=True)
class _Request:
    model_id: str
    prompt: int
    target: int
    started: float
    ttft: float
    factor: float
    stream: bool
    client: str
    generated: float = 0.0


class World:
    """State plus dynamics; ``advance`` returns the lifecycle events it produced."""

    def __init__(self, rng: random.Random, now: float, *, rich: bool,
                 quarantine_rng: random.Random | None = None) -> None:
        self.rng = rng
        self.rich = rich
        self.started = now
        self.total_gb = TOTAL_GB
        self.threshold_percent = 90
        self.max_concurrent = 4
        self.on_disk = {m.model_id for m in CATALOGUE if m.on_disk}
        self.loaded: dict[str, _Model] = {}
        self.inflight: list[_Request] = []
        self.queue: deque[_Request] = deque()
        self.tally = Tally()
        self.jitter = 0.0
        self.temperature = 41.0
        self.peak_gb = BASE_GB
        self.serial = 0
        self.held_gb = 0.0  # memory held outside any model (Simulation.hold_memory)
        self.predictor = Predictor()
        self.ambient = Ambient(rng, quarantine_rng or random.Random(0), now)

    # --- models ---------------------------------------------------------

    def add_model(self, spec: CatalogueModel, now: float, performance: dict | None = None) -> None:
        """Mark a model loaded (and on disk)."""
        self.on_disk.add(spec.model_id)
        self.loaded[spec.model_id] = _Model(spec, loaded_at=now, last_used_at=now,
                                            performance=dict(performance or {}))
        self.peak_gb = max(self.peak_gb, self.used_gb())

    def remove_model(self, model_id: str) -> float | None:
        """Unload; its requests are aborted. Returns GB freed, None if not loaded."""
        model = self.loaded.pop(model_id, None)
        if model is None:
            return None
        self.inflight = [r for r in self.inflight if r.model_id != model_id]
        self.queue = deque(r for r in self.queue if r.model_id != model_id)
        return model.spec.memory_gb

    def used_gb(self) -> float:
        """Base + weights + KV cache of requests in flight + a little noise (or what is held)."""
        weights = sum(m.spec.memory_gb for m in self.loaded.values())
        kv = sum(0.02 + (r.prompt + r.generated) * 4e-5 for r in self.inflight)
        return max(BASE_GB, BASE_GB + weights + kv + self.jitter, self.held_gb)

    def usage_percent(self) -> float:
        """The server's one memory figure: use in per cent, to one decimal place."""
        return round(100.0 * self.used_gb() / self.total_gb, 1)

    # --- time -----------------------------------------------------------

    def advance(self, now: float, dt: float) -> list[tuple[str, dict]]:
        """Move the world forward by ``dt`` seconds, ending at ``now``."""
        events: list[tuple[str, dict]] = []
        self._arrive(now, dt)
        self._generate(now, dt, events)
        self._smooth(dt)
        self.jitter = min(0.05, max(-0.05, self.jitter + self.rng.gauss(0.0, 0.004)))
        self.peak_gb = max(self.peak_gb, self.used_gb())
        self.ambient.advance(self, now, dt, events)
        return events

    def _arrive(self, now: float, dt: float) -> None:
        if not self.routable():
            return
        wave = 0.45 * (1.0 + 0.8 * math.sin(2 * math.pi * (now - self.started) / 75.0))
        arrivals = 0
        while arrivals < 8 and self.rng.random() < 1.0 - math.exp(-wave * dt):
            arrivals += 1
            self._admit(self._new_request(now))

    def _new_request(self, now: float) -> _Request:
        rng = self.rng
        model_id = rng.choice(self.routable())
        self.predictor.record(model_id)
        return _Request(model_id, prompt=rng.randint(40, 1200), target=rng.randint(60, 600),
                        started=now, ttft=rng.uniform(0.15, 0.6),
                        factor=rng.uniform(0.85, 1.1), stream=rng.random() < 0.75,
                        client=rng.choice(CLIENTS))

    def routable(self) -> list[str]:
        """Loaded models that take requests (a quarantined one does not), sorted."""
        return sorted(k for k, m in self.loaded.items() if m.readiness != "quarantined")

    def _admit(self, req: _Request) -> None:
        if len(self.inflight) < self.max_concurrent:
            self.inflight.append(req)
        elif len(self.queue) < _MAX_QUEUE:
            self.queue.append(req)

    def _generate(self, now: float, dt: float, events: list) -> None:
        decoding = [r for r in self.inflight if now - r.started >= r.ttft]
        share = Counter(r.model_id for r in decoding)
        raw = dict.fromkeys(self.loaded, 0.0)
        for req in decoding:
            model = self.loaded[req.model_id]
            rate = model.spec.base_tps * req.factor / (1.0 + 0.3 * (share[req.model_id] - 1))
            rate *= 0.6 if model.readiness == "degraded" else 1.0
            req.generated += rate * dt
            raw[req.model_id] += rate
        for req in [r for r in decoding if r.generated >= r.target]:
            self.inflight.remove(req)
            self._complete(req, now, events)
        while self.queue and len(self.inflight) < self.max_concurrent:
            req = self.queue.popleft()
            req.started = now
            self.inflight.append(req)
        for model_id, model in self.loaded.items():
            model.raw = raw[model_id]

    def _smooth(self, dt: float) -> None:
        alpha = 1.0 - math.exp(-dt / 1.2)
        for model in self.loaded.values():
            model.tps += (model.raw - model.tps) * alpha
        target = min(85.0, 38.0 + 0.25 * sum(m.tps for m in self.loaded.values()))
        self.temperature += (target - self.temperature) * (1.0 - math.exp(-dt / 15.0))

    def _complete(self, req: _Request, now: float, events: list) -> None:
        """Count a finished request like the real metrics do (at completion)."""
        rng = self.rng
        error = rng.random() < 0.01
        accepted = rejected = 0
        speculative = req.model_id in SPECULATIVE_MODELS and not error
        ignored = speculative and rng.random() < 0.1
        if speculative and not ignored:
            accepted = round(req.target * rng.uniform(0.45, 0.7))
            rejected = round(req.target * rng.uniform(0.1, 0.25))
        self.tally.record(Finished(req.model_id, req.client, req.prompt, req.target,
                                   now - req.started, req.stream, error, accepted, rejected,
                                   ignored), now)
        if error:
            return
        model = self.loaded[req.model_id]
        model.request_count += 1
        model.last_used_at = now
        if self.rich and rng.random() < 0.08:
            events.append(("request_completed", self._completed_event(req, now)))

    def _completed_event(self, req: _Request, now: float) -> dict:
        self.serial += 1
        seconds = max(now - req.started, 1e-3)
        return {"request_id": f"req-{self.serial:06d}", "model_id": req.model_id,
                "prompt_tokens": req.prompt, "completion_tokens": req.target,
                "duration_sec": round(seconds, 3),
                "tokens_per_second": round(req.target / seconds, 1)}

    # --- reads ----------------------------------------------------------

    def view(self, now: float) -> SimView:
        """Copy out everything the renderers read."""
        counts = Counter(r.model_id for r in self.inflight)
        models = tuple(LoadedView(
            m.spec.model_id, m.spec.memory_gb, m.loaded_at, m.request_count, m.last_used_at,
            m.spec.context_length, m.spec.quantization, round(m.tps, 2), m.readiness,
            counts[k], dict(m.performance)) for k, m in self.loaded.items())
        return SimView(
            now=now, uptime_s=max(0.0, now - self.started), total_gb=self.total_gb,
            used_gb=self.used_gb(), threshold_percent=self.threshold_percent, models=models,
            in_flight=len(self.inflight), queued=len(self.queue),
            max_concurrent=self.max_concurrent, tally=self.tally.view(now),
            temperature_c=round(self.temperature, 1), peak_gb=self.peak_gb,
            predictor=self.predictor.stats(set(self.loaded)))

    def throughput_samples(self) -> list[tuple[str | None, float]]:
        """Smoothed tokens/s per loaded model, for ``throughput`` events."""
        if not self.loaded:
            return [(None, 0.0)]
        return [(k, round(m.tps, 2)) for k, m in self.loaded.items()]

    def warm_up(self, now: float) -> None:
        """Start with a couple of requests mid-flight so the first chart is alive."""
        for _ in range(2):
            req = self._new_request(now)
            req.started = now - 1.0
            req.generated = req.target * 0.3
            self.inflight.append(req)
            model = self.loaded[req.model_id]
            model.tps = model.raw = model.tps + model.spec.base_tps * 0.8

