"""Data shared by the demo server's parts: the model catalogue, replies, views, envelopes.

Bodies that the real Opta LMX serves verbatim (the two policy refusals in the
captured fixtures) live here byte-for-byte, so the demo cannot drift from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opta_stream.demo.tally import TallyView

__all__ = [
    "CATALOGUE",
    "DOWNLOADS_DISABLED",
    "UNSUPPORTED_ARCH",
    "VERSION",
    "CatalogueModel",
    "LoadedView",
    "Reply",
    "SimView",
    "envelope",
    "guess_model",
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
    body: dict
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
