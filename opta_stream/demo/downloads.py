"""Downloads of the simulated server: the 202 that asks first, the token, the bytes moving.

A load of a model that is not on disk answers 202: ``download_required`` with
a confirmation token (valid 10 minutes), or ``downloading`` when the body
said ``auto_download``. A started download moves ``bytes_per_s``, publishes
progress a few times a second and, once complete, hands the model back to
the Simulation to load; an id containing ``broken`` fails at 40 %, so the
error path can be seen too. Not thread-safe on its own: the Simulation calls
it under its lock.
"""

from __future__ import annotations

import random
from collections import deque

from opta_stream.demo.model import (
    CatalogueModel,
    Reply,
    auto_download_body,
    envelope,
    estimate_bytes,
    progress_body,
    progress_event,
)

__all__ = ["TOKEN_EXPIRY_S", "Downloads"]

TOKEN_EXPIRY_S = 600.0
_PROGRESS_EVERY_S = 0.25


class Downloads:
    """Pending confirmations, running jobs and the last finished ones."""

    def __init__(self, rng: random.Random, bytes_per_s: float) -> None:
        self._rng = rng
        self.bytes_per_s = bytes_per_s
        self._pending: dict[str, tuple[str, float, dict | None]] = {}
        self._jobs: dict[str, dict] = {}
        self.finished: deque[dict] = deque(maxlen=64)

    def advance(self, now: float, dt: float, events: list) -> list[dict]:
        """Move bytes; return the jobs that completed (their models are to be loaded)."""
        done = []
        for job in list(self._jobs.values()):
            job["done"] = min(job["total"], job["done"] + self.bytes_per_s * dt)
            if "broken" in job["repo_id"] and job["done"] >= 0.4 * job["total"]:
                self._fail(job, events)
            elif job["done"] >= job["total"]:
                self._complete(job, now, events)
                done.append(job)
            elif now - job["emitted"] >= _PROGRESS_EVERY_S:
                job["emitted"] = now
                events.append(("download_progress", progress_event(job)))
        return done

    def _fail(self, job: dict, events: list) -> None:
        del self._jobs[job["download_id"]]
        job["status"] = "failed"
        job["error"] = "Connection reset by peer while fetching model.safetensors"
        self.finished.append(job)
        events.append(("download_failed", {
            "download_id": job["download_id"], "repo_id": job["repo_id"],
            "error": job["error"]}))

    def _complete(self, job: dict, now: float, events: list) -> None:
        del self._jobs[job["download_id"]]
        job["status"] = "completed"
        self.finished.append(job)
        events.append(("download_progress", progress_event(job)))
        events.append(("download_completed", {
            "download_id": job["download_id"], "repo_id": job["repo_id"],
            "local_path": f"/models/{job['repo_id']}",
            "duration_sec": round(now - job["started"], 2),
        }))

    def ask(self, spec: CatalogueModel, now: float, overrides: dict | None) -> Reply:
        """202 ``download_required``: the token a confirmation must bring back."""
        token = f"dl-{self._rng.getrandbits(96):024x}"
        self._pending = {k: v for k, v in self._pending.items()
                         if now - v[1] <= TOKEN_EXPIRY_S}
        self._pending[token] = (spec.model_id, now, overrides)
        return Reply(202, auto_download_body(
            "download_required", spec.model_id, size=estimate_bytes(spec),
            confirmation_token=token, message="Model not found locally. Confirm download?",
            confirm_url="/admin/models/load/confirm"))

    def confirmed(self, token: str, now: float) -> tuple[str, dict | None] | Reply:
        """The model id and overrides a valid token stood for, or the 404 for a bad one."""
        entry = self._pending.pop(token, None)
        if entry is None:
            return Reply(404, envelope("Confirmation token expired or invalid",
                                       code="token_not_found"))
        if now - entry[1] > TOKEN_EXPIRY_S:
            return Reply(404, envelope("Confirmation token expired (10 minute limit)",
                                       code="token_expired"))
        return entry[0], entry[2]

    def start(self, spec: CatalogueModel, now: float, overrides: dict | None, *,
              with_estimate: bool) -> Reply:
        """202 ``downloading`` (a second start of the same model joins the first)."""
        job = next((j for j in self._jobs.values() if j["repo_id"] == spec.model_id), None)
        if job is None:
            job = {"download_id": f"{self._rng.getrandbits(48):012x}", "repo_id": spec.model_id,
                   "total": estimate_bytes(spec), "done": 0.0, "started": now,
                   "emitted": now - _PROGRESS_EVERY_S, "status": "downloading",
                   "overrides": overrides}
            self._jobs[job["download_id"]] = job
        return Reply(202, auto_download_body(
            "downloading", spec.model_id, size=job["total"] if with_estimate else None,
            download_id=job["download_id"],
            message="Download started. Model will auto-load when complete.",
            progress_url=f"/admin/models/download/{job['download_id']}/progress"))

    def progress(self, download_id: str) -> Reply:
        """GET /admin/models/download/{id}/progress (running or among the last finished)."""
        job = self._jobs.get(download_id) or next(
            (j for j in self.finished if j["download_id"] == download_id), None)
        if job is None:
            return Reply(404, envelope(f"Download '{download_id}' not found",
                                       param="download_id", code="download_not_found"))
        return Reply(200, progress_body(job))

    def completed_at(self) -> dict[str, float]:
        """When each finished model's download ended, by repo id."""
        return {j["repo_id"]: j["started"] + j["total"] / self.bytes_per_s
                for j in self.finished if j["status"] == "completed"}
