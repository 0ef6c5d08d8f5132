"""The simulated Opta LMX behind the demo server: models, requests, memory, counters.

Pure: no sockets, no threads, no sleeps. Time comes in as ``now`` (or from the
injected clock) and randomness from the injected ``random.Random``, so a seed
replays a run. One lock guards the state, because HTTP handler threads, the
ticker and every stream writer read it at the same time.

``step(now)`` advances the world and returns the lifecycle events to publish;
a model id containing ``broken`` fails its download at 40 %;
``load``/``unload``/``confirm`` answer like the real routes (status, body,
events); ``view()`` copies out what the endpoint renderers need.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable

from opta_stream.demo.model import (
    CATALOGUE,
    DOWNLOADS_DISABLED,
    UNSUPPORTED_ARCH,
    CatalogueModel,
    Reply,
    SimView,
    envelope,
    guess_model,
)
from opta_stream.demo.world import World
from opta_stream.units import byte_size

__all__ = ["CATALOGUE", "CatalogueModel", "Reply", "SimView", "Simulation"]

TOKEN_EXPIRY_S = 600.0
_PROGRESS_EVERY_S = 0.25


class Simulation:
    """A believable LMX: requests come and go, tokens/s and memory follow them."""

    def __init__(
        self, mode: str = "rich", *, rng: random.Random | None = None,
        clock: Callable[[], float] = time.time, download_bytes_per_s: float = 2.5e9,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._rng = rng or random.Random(0)
        self.mode = mode
        self.download_bytes_per_s = download_bytes_per_s
        now = clock()
        self._world = World(self._rng, now, rich=mode == "rich")
        self._last = now
        self._pending: dict[str, tuple[str, float]] = {}
        self._downloads: dict[str, dict] = {}
        self._finished: deque[dict] = deque(maxlen=64)
        if mode == "rich":
            for model_id in (CATALOGUE[1].model_id, CATALOGUE[0].model_id):
                self._world.add_model(self._spec(model_id), now)
            self._world.warm_up(now)

    # --- time -----------------------------------------------------------

    def step(self, now: float | None = None) -> list[tuple[str, dict]]:
        """Advance to ``now``; return the lifecycle events that happened meanwhile."""
        with self._lock:
            now = self._clock() if now is None else now
            dt = min(now - self._last, 5.0)
            if dt <= 0:
                return []
            self._last = now
            events = self._world.advance(now, dt)
            self._advance_downloads(now, dt, events)
            return events

    def _advance_downloads(self, now: float, dt: float, events: list) -> None:
        """Move bytes; publish progress a few times a second, then complete and load."""
        for job in list(self._downloads.values()):
            job["done"] = min(job["total"], job["done"] + self.download_bytes_per_s * dt)
            if "broken" in job["repo_id"] and job["done"] >= 0.4 * job["total"]:
                self._fail_download(job, events)
            elif job["done"] >= job["total"]:
                self._complete_download(job, now, events)
            elif now - job["emitted"] >= _PROGRESS_EVERY_S:
                job["emitted"] = now
                events.append(("download_progress", _progress_event(job)))

    def _fail_download(self, job: dict, events: list) -> None:
        """Ids containing "broken" fail at 40 %, so the error path can be seen too."""
        del self._downloads[job["download_id"]]
        job["status"] = "failed"
        job["error"] = "Connection reset by peer while fetching model.safetensors"
        self._finished.append(job)
        events.append(("download_failed", {
            "download_id": job["download_id"], "repo_id": job["repo_id"],
            "error": job["error"]}))

    def _complete_download(self, job: dict, now: float, events: list) -> None:
        del self._downloads[job["download_id"]]
        job["status"] = "completed"
        self._finished.append(job)
        self._world.on_disk.add(job["repo_id"])
        events.append(("download_progress", _progress_event(job)))
        events.append(("download_completed", {
            "download_id": job["download_id"], "repo_id": job["repo_id"],
            "local_path": f"/models/{job['repo_id']}",
            "duration_sec": round(now - job["started"], 2),
        }))
        reply = self._load_from_disk(job["repo_id"], now)
        events.extend(reply.events)  # a failed auto-load publishes nothing (faithful)

    # --- actions --------------------------------------------------------

    def load(self, model_id: str, *, auto_download: bool = False,
             now: float | None = None) -> Reply:
        """POST /admin/models/load: 200 loaded, 202 download, 403/422/507 refused."""
        with self._lock:
            now = self._clock() if now is None else now
            if model_id in self._world.loaded:
                return Reply(200, _load_ok(model_id, None, None))
            if "x86-only" in model_id:
                return Reply(422, UNSUPPORTED_ARCH)
            if model_id in self._world.on_disk:
                return self._load_from_disk(model_id, now)
            if model_id.startswith("blocked/"):
                return Reply(403, DOWNLOADS_DISABLED)
            if auto_download:
                return self._start_download(model_id, now, with_estimate=True)
            return self._ask_confirmation(model_id, now)

    def confirm(self, token: str, now: float | None = None) -> Reply:
        """POST /admin/models/load/confirm: start the download a 202 asked about."""
        with self._lock:
            now = self._clock() if now is None else now
            entry = self._pending.pop(token, None)
            if entry is None:
                return Reply(404, envelope("Confirmation token expired or invalid",
                                           code="token_not_found"))
            if now - entry[1] > TOKEN_EXPIRY_S:
                return Reply(404, envelope("Confirmation token expired (10 minute limit)",
                                           code="token_expired"))
            return self._start_download(entry[0], now, with_estimate=False)

    def unload(self, model_id: str, now: float | None = None) -> Reply:
        """POST /admin/models/unload: 200 with memory freed, 404 if not loaded."""
        with self._lock:
            freed = self._world.remove_model(model_id)
            if freed is None:
                return Reply(404, envelope(
                    f"The model '{model_id}' does not exist or is not loaded",
                    param="model", code="model_not_found"))
            body = {"success": True, "model_id": model_id, "memory_freed_gb": round(freed, 2)}
            data = {"model_id": model_id, "memory_freed_gb": round(freed, 2), "reason": "manual"}
            return Reply(200, body, (("model_unloaded", data),))

    def download_progress(self, download_id: str) -> Reply:
        """GET /admin/models/download/{id}/progress."""
        with self._lock:
            job = self._downloads.get(download_id)
            job = job or next((j for j in self._finished if j["download_id"] == download_id),
                              None)
            if job is None:
                return Reply(404, envelope(f"Download '{download_id}' not found",
                                           param="download_id", code="download_not_found"))
            return Reply(200, _progress_body(job))

    def _load_from_disk(self, model_id: str, now: float) -> Reply:
        spec = self._spec(model_id)
        world = self._world
        limit = world.total_gb * world.threshold_percent / 100.0
        if world.used_gb() + spec.memory_gb > limit:
            return Reply(507, envelope(
                f"Cannot load '{model_id}': it needs {spec.memory_gb:.1f} GB but only "
                f"{max(limit - world.used_gb(), 0.0):.1f} GB is free under the "
                f"{world.threshold_percent}% memory threshold. Unload a model first.",
                type_="insufficient_memory", code="insufficient_memory"))
        duration = spec.memory_gb * 0.21 + self._rng.uniform(0.2, 0.9)
        world.add_model(spec, now)
        body = _load_ok(model_id, world.used_gb(), round(duration * 1000.0, 1))
        data = {"model_id": model_id, "format": "mlx", "memory_gb": spec.memory_gb,
                "duration_sec": round(duration, 2)}
        return Reply(200, body, (("model_loaded", data),))

    def _ask_confirmation(self, model_id: str, now: float) -> Reply:
        token = f"dl-{self._rng.getrandbits(96):024x}"
        self._pending = {k: v for k, v in self._pending.items()
                         if now - v[1] <= TOKEN_EXPIRY_S}
        self._pending[token] = (model_id, now)
        size = _estimate_bytes(self._spec(model_id))
        return Reply(202, _auto_download_body(
            "download_required", model_id, size=size, confirmation_token=token,
            message="Model not found locally. Confirm download?",
            confirm_url="/admin/models/load/confirm"))

    def _start_download(self, model_id: str, now: float, *, with_estimate: bool) -> Reply:
        job = next((j for j in self._downloads.values() if j["repo_id"] == model_id), None)
        if job is None:
            job = {"download_id": f"{self._rng.getrandbits(48):012x}", "repo_id": model_id,
                   "total": _estimate_bytes(self._spec(model_id)), "done": 0.0,
                   "started": now, "emitted": now - _PROGRESS_EVERY_S, "status": "downloading"}
            self._downloads[job["download_id"]] = job
        return Reply(202, _auto_download_body(
            "downloading", model_id, size=job["total"] if with_estimate else None,
            download_id=job["download_id"],
            message="Download started. Model will auto-load when complete.",
            progress_url=f"/admin/models/download/{job['download_id']}/progress"))

    def _spec(self, model_id: str) -> CatalogueModel:
        return next((m for m in CATALOGUE if m.model_id == model_id), None) or guess_model(
            model_id)

    # --- reads ----------------------------------------------------------

    def view(self, now: float | None = None) -> SimView:
        """An immutable copy of everything the endpoint renderers need."""
        with self._lock:
            return self._world.view(self._clock() if now is None else now)

    def throughput_samples(self) -> list[tuple[str | None, float]]:
        """Current smoothed tokens/s per loaded model; ``[(None, 0.0)]`` when none."""
        with self._lock:
            return self._world.throughput_samples()

    def catalogue_on_disk(self) -> list[str]:
        """Model ids that load without a download: unloaded ones that fit come first."""
        with self._lock:
            world = self._world
            room = world.total_gb * world.threshold_percent / 100.0 - world.used_gb()
            order = {m.model_id: i for i, m in enumerate(CATALOGUE)}
            return sorted(world.on_disk, key=lambda k: (
                k in world.loaded, self._spec(k).memory_gb > room, order.get(k, 99), k))

    def available_models(self) -> list[dict]:
        """GET /admin/models/available: every model on disk, as the real server lists it."""
        with self._lock:
            world = self._world
            done = {j["repo_id"]: j["started"] + j["total"] / self.download_bytes_per_s
                    for j in self._finished if j["status"] == "completed"}
            return [{"repo_id": k, "local_path": f"/models/{k}",
                     "size_bytes": _estimate_bytes(self._spec(k)),
                     "downloaded_at": round(done.get(k, world.started - 86400.0 * (i + 1)), 3)}
                    for i, k in enumerate(sorted(world.on_disk))]


def _load_ok(model_id: str, memory_gb: float | None, load_ms: float | None) -> dict:
    return {"success": True, "model_id": model_id, "memory_after_load_gb": memory_gb,
            "time_to_load_ms": load_ms}


def _estimate_bytes(spec: CatalogueModel) -> int:
    return int(spec.memory_gb * 1024**3 * 1.02)


def _auto_download_body(status: str, model_id: str, *, size: int | None = None,
                        **fields: str | None) -> dict:
    """The real server's AutoDownloadResponse, every field present (None when unset)."""
    body = {"status": status, "model_id": model_id, "estimated_size_bytes": size,
            "estimated_size_human": byte_size(size) if size else None,
            "confirmation_token": None, "download_id": None, "message": None,
            "confirm_url": None, "progress_url": None}
    body.update(fields)
    return body


def _progress_event(job: dict) -> dict:
    percent = 100.0 * job["done"] / job["total"] if job["total"] else 0.0
    return {"download_id": job["download_id"], "repo_id": job["repo_id"],
            "status": job["status"], "percent": round(percent, 1),
            "downloaded_bytes": int(job["done"]), "total_bytes": job["total"]}


def _progress_body(job: dict) -> dict:
    files_total = max(1, math.ceil(job["total"] / 5e9)) + 3
    done_files = files_total if job["status"] == "completed" else int(
        files_total * job["done"] / job["total"])
    return {"download_id": job["download_id"], "repo_id": job["repo_id"],
            "status": job["status"],
            "progress_percent": round(100.0 * job["done"] / job["total"], 1),
            "downloaded_bytes": int(job["done"]), "total_bytes": job["total"],
            "files_completed": done_files, "files_total": files_total,
            "error": job.get("error"),
            "error_code": "download_failed" if job.get("error") else None}
