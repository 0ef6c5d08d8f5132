"""What the rich demo is configured with: its machine, presets, routing roles, LAN backends.

On a real server these come from ``config.yaml`` and the presets folder and
do not move while it runs. The lmx mode has none of them (a default config on
Linux: no preset, empty roles, every Metal field null), exactly as captured.
Words and numbers here are made up; the shapes are the server's.
"""

from __future__ import annotations

import os
import platform
import random
import socket

from opta_stream.demo.benchmarks import HARDWARE

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "GLOBAL_DEFAULTS",
    "PRESETS",
    "ROLES",
    "STACK_PRESETS",
    "device",
    "past_compatibility",
    "preset_for",
    "python_version",
]

_QWEN7 = "mlx-community/Qwen2.5-7B-Instruct-4bit"
_QWEN14 = "mlx-community/Qwen2.5-14B-Instruct-4bit"
_LLAMA3 = "mlx-community/Llama-3.2-3B-Instruct-4bit"
_MISTRAL = "mlx-community/Mistral-7B-Instruct-v0.3-4bit"
_LLAMA70 = "mlx-community/Meta-Llama-3.1-70B-Instruct-4bit"
_GEMMA = "mlx-community/gemma-2-9b-it-4bit"


def _preset(name: str, description: str, model: str, parameters: dict, system_prompt: str | None,
            alias: str | None, auto_load: bool, performance: dict) -> dict:
    return {"name": name, "description": description, "model": model, "parameters": parameters,
            "system_prompt": system_prompt, "routing_alias": alias, "auto_load": auto_load,
            "performance": performance, "chat_template": None}


PRESETS: tuple[dict, ...] = (  # sorted by name, as the server lists them
    _preset("chat-small", "Quick answers on the smallest model", _LLAMA3,
            {"temperature": 0.7, "top_p": 0.95, "max_tokens": 1024},
            "You answer briefly and say when you are unsure.", "chat", True,
            {"prefix_cache": True, "memory_estimate_gb": 1.9}),
    _preset("code-qwen", "Low temperature for code review and patches", _QWEN7,
            {"temperature": 0.15, "top_p": 0.9, "max_tokens": 3072},
            "You write small, tested changes and explain why.", "code", True,
            {"prefix_cache": True, "max_concurrent": 2, "memory_estimate_gb": 4.3}),
    _preset("long-context-70b", "Overnight reading of long documents", _LLAMA70,
            {"temperature": 0.3, "max_tokens": 4096}, None, "reasoning", False,
            {"kv_bits": 8, "memory_estimate_gb": 40}),
)
ROLES: dict[str, list[str]] = {"code": [_QWEN7, _QWEN14],
                               "reasoning": [_LLAMA70, _QWEN14, _MISTRAL],
                               "chat": [_LLAMA3, _MISTRAL]}
DEFAULT_MODEL = _QWEN7
BACKENDS: dict[str, dict] = {"mini-lab": {"url": "http://192.168.1.41:1234",
                                          "name": "Mac mini in the lab", "gpu": "M4",
                                          "vram_gb": 16.0, "roles": ["chat"]}}
STACK_PRESETS: dict[str, dict] = {
    "everyday": {"description": "Small models for the working day",
                 "roles": {"code": _QWEN7, "chat": _LLAMA3}},
    "deep-work": {"description": "One large model for long reasoning",
                  "roles": {"reasoning": _LLAMA70}},
}
# The server's inference defaults as /admin/models/{id}/performance reports them.
GLOBAL_DEFAULTS: dict = {
    "kv_bits": None, "kv_group_size": 64, "quantized_kv_start": None,
    "prefix_cache_enabled": True, "speculative_model": None, "speculative_num_tokens": 5,
    "speculative_require_supported": False, "warmup_on_load": True, "stream_interval": 1,
    "adaptive": {"enabled": True, "latency_target_ms": 2500.0, "latency_window_size": 128,
                 "latency_p95_sec": None, "min_concurrent_requests": 1,
                 "last_reason": "startup"},
    "scheduler": {"max_num_seqs": 256, "prefill_batch_size": 8, "completion_batch_size": 32,
                  "cache_memory_percent": 0.2},
}


def preset_for(model_id: str, presets: tuple[dict, ...]) -> dict | None:
    """The first preset (by name) that targets ``model_id``."""
    return next((p for p in presets if p["model"] == model_id), None)


def device(rich: bool, total_gb: float) -> dict:
    """``GET /admin/device``. On Linux (lmx mode) every Metal-derived field is null."""
    hardware: dict = {"hostname": socket.gethostname(), "chip_name": None, "architecture": None,
                      "memory_gb": None, "max_working_set_gb": None,
                      "cpu_cores": os.cpu_count(), "metal_available": False, "gpu_family": None}
    identity = {"name": "", "purpose": "", "role": "inference_server"}
    if rich:
        hardware.update(hostname="studio-demo.local", chip_name=HARDWARE,
                        architecture="applegpu_g16s", memory_gb=float(round(total_gb)),
                        max_working_set_gb=round(total_gb * 0.75, 1), cpu_cores=14,
                        metal_available=True, gpu_family="g16s")
        identity = {"name": "Demo Studio", "purpose": "Simulated server for Opta Stream",
                    "role": "inference_server"}
    return {"hardware": hardware, "identity": identity}


def python_version() -> str:
    """What diagnostics report as the server's Python."""
    return platform.python_version()


def past_compatibility(rng: random.Random, now: float) -> list[dict]:
    """Registry rows from before this start, oldest first: passes, and one model that fails."""
    rows = []
    plan = ((_LLAMA3, "vllm-mlx", "pass", "canary_ok", 6.5), (_QWEN7, "vllm-mlx", "pass",
            "canary_ok", 5.9), (_GEMMA, "vllm-mlx", "fail",
            "canary_failed:empty completion after warmup", 4.8), (_GEMMA, "mlx-lm", "fail",
            "model_loader_crashed:loader exited with signal 6", 4.7),
            (_MISTRAL, "mlx-lm", "pass", "canary_ok", 3.1), (_QWEN7, "vllm-mlx", "pass",
            "canary_ok", 1.2))
    for model_id, backend, outcome, reason, days in plan:
        metadata: dict = {}
        if reason.startswith("model_loader_crashed"):
            metadata = {"exit_code": None, "signal": 6, "loader_timeout_sec": 120}
        rows.append({"ts": now - days * 86400.0 + rng.uniform(0.0, 3600.0), "model_id": model_id,
                     "backend": backend, "backend_version": _version(backend),
                     "outcome": outcome, "reason": reason, "metadata": metadata})
    return rows


def _version(backend: str) -> str:
    return {"vllm-mlx": "0.2.6", "mlx-lm": "0.26.3", "gguf": "0.3.9"}.get(backend, "unknown")
