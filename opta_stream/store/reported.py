"""What the server reports it is now: gauges, the loaded models, download and quantize jobs.

Several sources report the same things (status events, polls, lifecycle
events), so a model's row merges them: a field the newer source does not
report keeps what an older one said. Both tables are capped. Not
thread-safe: the Store calls it under its lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, replace
from typing import Any

from opta_stream.snapshot import Gauges, ModelInfo, Progress

__all__ = ["MAX_JOBS", "MAX_MODELS", "Reported"]

MAX_MODELS, MAX_JOBS = 256, 100


def _merge_model(old: ModelInfo | None, new: ModelInfo) -> ModelInfo:
    """Fields the new source does not report keep what an older source said."""
    if old is None:
        return new
    fill = {f.name: getattr(old, f.name) for f in fields(new) if getattr(new, f.name) is None}
    return replace(new, **fill)


class Reported:
    """The latest gauges, the models table (and when it was refreshed), the jobs table."""

    def __init__(self) -> None:
        self._gauges = Gauges()
        self._models: dict[str, ModelInfo] = {}
        self._models_at: float | None = None
        self._jobs: dict[str, Progress] = {}

    # -- gauges ---------------------------------------------------------------
    @property
    def gauges(self) -> Gauges:
        return self._gauges

    def update_gauges(self, **values: Any) -> None:
        """Replace the named gauges; the others keep their values."""
        self._gauges = replace(self._gauges, **values)

    # -- models ---------------------------------------------------------------
    def set_models(self, models: Iterable[ModelInfo], at: float) -> None:
        """The loaded models now (status event or poll), merged with what was known."""
        new: dict[str, ModelInfo] = {}
        for model in models:
            if len(new) >= MAX_MODELS:
                break
            new[model.model_id] = _merge_model(self._models.get(model.model_id), model)
        self._models, self._models_at = new, at

    def model_loaded(self, model: ModelInfo) -> None:
        """One model loaded (an event); ignored when the table is full."""
        mid = model.model_id
        if mid in self._models or len(self._models) < MAX_MODELS:
            self._models[mid] = _merge_model(self._models.get(mid), model)

    def model_gone(self, model_id: str) -> None:
        self._models.pop(model_id, None)

    def set_readiness(self, model_id: str, readiness: str) -> None:
        """A known model's readiness ("routable", "degraded", …)."""
        if model_id in self._models:
            self._models[model_id] = replace(self._models[model_id], readiness=readiness)

    def models(self) -> tuple[ModelInfo, ...]:
        return tuple(self._models.values())

    @property
    def models_at(self) -> float | None:
        """When the models table was last refreshed; None: never."""
        return self._models_at

    # -- jobs -----------------------------------------------------------------
    def job(self, key: str) -> Progress | None:
        return self._jobs.get(key)

    def put_job(self, key: str, job: Progress) -> None:
        """Insert or update; when full, evict the oldest finished job (else the oldest)."""
        if key not in self._jobs and len(self._jobs) >= MAX_JOBS:
            done = (k for k, j in self._jobs.items() if j.status != "running")
            del self._jobs[next(done, next(iter(self._jobs)))]
        self._jobs[key] = job

    def jobs(self) -> tuple[Progress, ...]:
        return tuple(self._jobs.values())

    def nbytes(self) -> int:
        """A rough estimate of the tables' Python objects."""
        return 400 * (len(self._models) + len(self._jobs))
