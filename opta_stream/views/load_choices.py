"""The Load form's fields as the real server takes them, and the on-disk model list.

``settings(choices)`` builds the body of ``POST /admin/models/load`` (without
``model_id``) from what the user set, and only that: a field left at "server
default" is not sent, so the server's own default applies. The fields are
the server's (see docs/PROTOCOL.md, "Load body fields"): ``auto_download``,
``keep_alive_sec`` (0 = never evict), ``backend``, ``performance_overrides``
(``kv_bits``, ``kv_group_size``, ``prefix_cache``, ``speculative`` with
``draft_model`` and ``num_tokens``) and ``allow_unsupported_runtime``.

``disk_models(rows)`` reads ``GET /admin/models/available``
(``[{repo_id, local_path, size_bytes, downloaded_at}]``) for the picker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opta_stream.inputs import validate_model_id
from opta_stream.units import byte_size

__all__ = [
    "BACKENDS", "DEFAULT", "KV_BITS", "KV_GROUP_SIZES", "PREFIX_CACHE", "DiskModel",
    "LoadChoices", "choice_label", "chosen", "disk_label", "disk_models", "settings", "summary",
]

# Each select box's first choice is DEFAULT, not None: a select box whose value
# can be None offers a "clear" button, and clearing would only mean DEFAULT again.
DEFAULT = "(server default)"
BACKENDS: tuple[str, ...] = (DEFAULT, "vllm-mlx", "mlx-lm", "gguf")
KV_BITS: tuple[str | int, ...] = (DEFAULT, 4, 8)
KV_GROUP_SIZES: tuple[str | int, ...] = (DEFAULT, 32, 64, 128)
PREFIX_CACHE: tuple[str | bool, ...] = (DEFAULT, True, False)


def choice_label(value: object) -> str:
    """How a choice reads in a select box."""
    if value == DEFAULT and isinstance(value, str):
        return "Server default"
    if isinstance(value, bool):
        return "On" if value else "Off"
    return str(value)


def chosen(value: Any) -> Any:
    """A select box's value as a setting: None (not sent) for DEFAULT."""
    return None if isinstance(value, str) and value == DEFAULT else value


@dataclass(frozen=True, slots=True)
class LoadChoices:
    """What the Load form holds; None and False mean "not set, not sent"."""

    auto_download: bool = False
    keep_alive_sec: int | None = None
    backend: str | None = None
    kv_bits: int | None = None
    kv_group_size: int | None = None
    prefix_cache: bool | None = None
    draft_model: str = ""
    draft_tokens: int | None = None
    allow_unsupported_runtime: bool = False


def settings(choices: LoadChoices) -> dict[str, Any]:
    """The load body's settings: only the fields the user set.

    Raises ConfigError (from ``validate_model_id``) for a draft model id the
    admin API cannot take, and ValueError for a negative keep-alive or a
    backend the server does not know, before anything is sent.
    """
    out: dict[str, Any] = {}
    if choices.auto_download:
        out["auto_download"] = True
    if choices.keep_alive_sec is not None:
        if choices.keep_alive_sec < 0:
            raise ValueError("Keep alive must be 0 (never evict) or more seconds.")
        out["keep_alive_sec"] = int(choices.keep_alive_sec)
    if choices.backend is not None:
        if choices.backend not in BACKENDS[1:]:
            raise ValueError(f"Unknown backend {choices.backend[:40]!r}.")
        out["backend"] = choices.backend
    perf = _overrides(choices)
    if perf:
        out["performance_overrides"] = perf
    if choices.allow_unsupported_runtime:
        out["allow_unsupported_runtime"] = True
    return out


def _overrides(choices: LoadChoices) -> dict[str, Any]:
    perf: dict[str, Any] = {}
    if choices.kv_bits is not None:
        perf["kv_bits"] = int(choices.kv_bits)
    if choices.kv_group_size is not None:
        perf["kv_group_size"] = int(choices.kv_group_size)
    if choices.prefix_cache is not None:
        perf["prefix_cache"] = bool(choices.prefix_cache)
    speculative: dict[str, Any] = {}
    if choices.draft_model.strip():
        speculative["draft_model"] = validate_model_id(choices.draft_model)
    if choices.draft_tokens is not None:
        if choices.draft_tokens < 1:
            raise ValueError("Draft tokens must be 1 or more.")
        speculative["num_tokens"] = int(choices.draft_tokens)
    if speculative:
        perf["speculative"] = speculative
    return perf


def summary(sent: Mapping[str, Any]) -> str:
    """The settings that were sent, in a line ("" when none: server defaults)."""
    parts = []
    for key, value in sent.items():
        if isinstance(value, Mapping):
            parts.append(f"{key}={{{summary(value)}}}")
        else:
            parts.append(f"{key}={str(value).lower() if isinstance(value, bool) else value}")
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class DiskModel:
    """One model on the server's disk (``GET /admin/models/available``)."""

    repo_id: str
    size_bytes: int | None = None
    downloaded_at: float | None = None
    local_path: str = ""


def disk_models(rows: Iterable[Any]) -> tuple[DiskModel, ...]:
    """The usable rows, sorted by id; a row without a ``repo_id`` string is skipped."""
    out: dict[str, DiskModel] = {}
    for row in rows:
        if not isinstance(row, Mapping) or not isinstance(row.get("repo_id"), str):
            continue
        repo_id = row["repo_id"].strip()
        if not repo_id:
            continue
        out[repo_id] = DiskModel(repo_id, _number(row.get("size_bytes"), int),
                                 _number(row.get("downloaded_at"), float),
                                 str(row.get("local_path") or ""))
    return tuple(out[k] for k in sorted(out, key=str.lower))


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return kind(value)


def disk_label(model: DiskModel) -> str:
    """``org/model · 4.4 GB``: the id first, so the picker can be searched by it."""
    return f"{model.repo_id} · {byte_size(model.size_bytes)}" if model.size_bytes else \
        model.repo_id
