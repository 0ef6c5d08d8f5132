"""Data shared by the demo server's parts: the model catalogue, replies, views, envelopes,
and the bodies of the load and download answers.

Bodies that the real Opta LMX serves verbatim (the two policy refusals in the
captured fixtures) live here byte-for-byte, so the demo cannot drift from them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from opta_stream.demo.tally import TallyView
from opta_stream.units import byte_size

__all__ = [
    "CATALOGUE",
    "DOWNLOADS_DISABLED",
    "UNSUPPORTED_ARCH",
    "VERSION",
    "CatalogueModel",
    "LoadedView",
    "Reply",
    "SimView",
    "auto_download_body",
    "envelope",
    "estimate_bytes",
    "guess_model",
    "load_ok",
    "model_not_found",
    "progress_body",
    "progress_event",
]

VERSION = "0.1.0"


@dataclass(frozen=True, slots=True)
class CatalogueModel:
    """A model the simulated server knows: its size, speed and whether it is on disk."""

    model_id: str
    memory_gb: float
    base_tps: float
    context_length: int
    quantization: str
    on_disk: bool


CATALOGUE: tuple[CatalogueModel, ...] = (
    CatalogueModel("mlx-community/Llama-3.2-3B-Instruct-4bit", 1.82, 96.0, 131072, "4bit", True),
    CatalogueModel("mlx-community/Qwen2.5-7B-Instruct-4bit", 4.28, 52.0, 32768, "4bit", True),
    CatalogueModel("mlx-community/Mistral-7B-Instruct-v0.3-4bit", 4.08, 49.0, 32768, "4bit", True),
    CatalogueModel("mlx-community/gemma-2-9b-it-4bit", 5.21, 37.0, 8192, "4bit", False),
    CatalogueModel("mlx-community/Qwen2.5-14B-Instruct-4bit", 8.31, 24.0, 32768, "4bit", False),
    CatalogueModel(
        "mlx-community/Meta-Llama-3.1-70B-Instruct-4bit", 39.7, 8.0, 131072, "4bit", True
    ),
)


def guess_model(model_id: str) -> CatalogueModel:
    """A plausible spec for an id outside the catalogue (not on disk, ~7B-sized)."""
    match = re.search(r"(\d+)bit", model_id)
    quant = f"{match.group(1)}bit" if match else "bf16"
    return CatalogueModel(model_id, 4.0, 40.0, 8192, quant, False)


def envelope(message: str, *, type_: str = "invalid_request_error",
             param: str | None = None, code: str | None = None) -> dict:
    """The OpenAI error envelope the real server uses for every refusal."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def model_not_found(model_id: str) -> dict:
    """The real 404 for a model that is not loaded (unload, performance)."""
    return envelope(f"The model '{model_id}' does not exist or is not loaded",
                    param="model", code="model_not_found")


UNSUPPORTED_ARCH = envelope(
    "MLX backend requires Apple Silicon/arm64; detected architecture 'x86_64'.",
    type_="not_supported_error", param="model_id", code="model_unsupported_arch",
)
DOWNLOADS_DISABLED = envelope(
    "Model downloads are disabled by policy on this device. Enable "
    "`security.downloads_enabled=true` in config to allow downloads.",
    code="downloads_disabled",
)


@dataclass(frozen=True, slots=True)
class Reply:
    """What an admin action answers: HTTP status, JSON body, events to publish."""

    status: int
    body: dict | list  # a list for the routes that answer a bare JSON array
    events: tuple[tuple[str, dict], ...] = ()


@dataclass(frozen=True, slots=True)
class LoadedView:
    """One loaded model as the renderers see it."""

    model_id: str
    memory_gb: float
    loaded_at: float
    request_count: int
    last_used_at: float
    context_length: int
    quantization: str
    tokens_per_second: float
    readiness: str
    in_flight: int
    performance: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SimView:
    """A consistent copy of the simulation at one instant (no live references)."""

    now: float
    uptime_s: float
    total_gb: float
    used_gb: float
    threshold_percent: int
    models: tuple[LoadedView, ...]
    in_flight: int
    queued: int
    max_concurrent: int
    tally: TallyView
    temperature_c: float
    peak_gb: float
    predictor: dict = field(default_factory=dict)  # GET /admin/predictor's body

    @property
    def totals(self) -> dict[str, int]:
        return self.tally.totals

    @property
    def per_model(self) -> dict[str, dict[str, int]]:
        return self.tally.per_model

    @property
    def tokens_per_second(self) -> float:
        """All models together."""
        return sum(m.tokens_per_second for m in self.models)

    @property
    def usage_percent(self) -> float:
        """The server's one memory figure: use in per cent, to one decimal place."""
        return round(100.0 * self.used_gb / self.total_gb, 1)


# --- bodies of the load and download answers --------------------------------


def load_ok(model_id: str, memory_gb: float | None, load_ms: float | None) -> dict:
    """A 200 to ``POST /admin/models/load``."""
    return {"success": True, "model_id": model_id, "memory_after_load_gb": memory_gb,
            "time_to_load_ms": load_ms}


def estimate_bytes(spec: CatalogueModel) -> int:
    """What a download of ``spec`` is said to weigh."""
    return int(spec.memory_gb * 1024**3 * 1.02)


def auto_download_body(status: str, model_id: str, *, size: int | None = None,
                       **fields: str | None) -> dict:
    """The real server's AutoDownloadResponse, every field present (None when unset)."""
    body = {"status": status, "model_id": model_id, "estimated_size_bytes": size,
            "estimated_size_human": byte_size(size) if size else None,
            "confirmation_token": None, "download_id": None, "message": None,
            "confirm_url": None, "progress_url": None}
    body.update(fields)
    return body


def progress_event(job: dict) -> dict:
    """A ``download_progress`` event's data."""
    percent = 100.0 * job["done"] / job["total"] if job["total"] else 0.0
    return {"download_id": job["download_id"], "repo_id": job["repo_id"],
            "status": job["status"], "percent": round(percent, 1),
            "downloaded_bytes": int(job["done"]), "total_bytes": job["total"]}


def progress_body(job: dict) -> dict:
    """``GET /admin/models/download/{id}/progress``."""
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
