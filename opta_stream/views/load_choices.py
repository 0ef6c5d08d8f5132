"""The Load form's fields as the real server takes them, and the on-disk model list.

``settings(choices)`` builds the body of ``POST /admin/models/load`` (without
``model_id``) from what the user set, and only that: a field left at "server
default" is not sent, so the server's own default applies. The fields are
the server's (see docs/PROTOCOL.md, "Load body fields"): ``auto_download``,
``keep_alive_sec`` (0 = never evict), ``backend``, ``performance_overrides``
(``kv_bits``, ``kv_group_size``, ``prefix_cache``, ``speculative`` with
``draft_model`` and ``num_tokens``) and ``allow_unsupported_runtime``.

``disk_models(rows)`` reads ``GET /admin/models/available``
(``[{repo_id, local_path, size_bytes, downloaded_at}]``) for the picker, and
``fit`` says of each whether it would fit before it is loaded: an estimate,
its size on disk × 1.15 (the margin the server's own admission check puts on
a stated size) against the room left under the server's memory threshold
(``headroom``: use and threshold as the admission check counts them, from
``/admin/memory`` while fresh, else the status poll). Memory figures are the
server's GB (2³⁰ bytes), so disk bytes are converted the same way. The server
never estimates from disk, and by default it first evicts its least recently
used model to make room, so "does not fit" is a warning, not a refusal; a
refused load still shows the server's own words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from opta_stream.inputs import validate_model_id
from opta_stream.snapshot import Snapshot
from opta_stream.units import clock_time

__all__ = [
    "BACKENDS", "DEFAULT", "ESTIMATE_MARGIN", "KV_BITS", "KV_GROUP_SIZES", "PREFIX_CACHE",
    "SERVER_GB", "DiskModel", "Fit", "Headroom", "LoadChoices", "choice_label", "chosen",
    "disk_label", "disk_models", "fit", "fit_note", "headroom", "settings", "summary",
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


SERVER_GB = 2**30  # the server's memory "GB" (psutil bytes / 1024³)


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
    """``org/model · 4.08 GB``: the id first, so the picker can be searched by it; the size
    in the server's GB (2³⁰ bytes), like its memory figures, so it compares with them."""
    return f"{model.repo_id} · {model.size_bytes / SERVER_GB:.2f} GB" if model.size_bytes \
        else model.repo_id


# -- will it fit? -----------------------------------------------------------------------

ESTIMATE_MARGIN = 1.15  # the server's admission check reserves a stated size × 1.15
MEMORY_FRESH_S = 60.0  # /admin/memory is read every 30 s while looked at: two reads' worth


@dataclass(frozen=True, slots=True)
class Headroom:
    """The server's memory now, in its GB: what a load may still take under the threshold."""

    used_gb: float
    total_gb: float
    threshold_pct: float
    source: str  # the route the figures came from
    at: float  # when they arrived

    @property
    def free_gb(self) -> float:
        """Room under the threshold (0 when use is already at or over it)."""
        return max(0.0, self.total_gb * self.threshold_pct / 100.0 - self.used_gb)


def headroom(snap: Snapshot) -> Headroom | None:
    """Use and threshold as the server's load admission counts them: from ``/admin/memory``
    while its answer is fresh, else from the status poll (or whichever is newer); None
    while either figure is unknown.

    The admission check compares the server's usage percent with the threshold. That
    percent is psutil's on Linux, (total − available) ÷ total, which counts more than
    ``used_gb`` (the status poll's figure); on macOS available is total − used, so both
    agree. ``/admin/memory`` carries ``available_gb``, so its answer is preferred while it
    is under ``MEMORY_FRESH_S`` old (it is read every 30 s while the Models page is open).
    """
    g, mem = snap.gauges, snap.report.memory
    found = []
    m = mem.value
    if m is not None and m.total_gb and m.threshold_pct is not None and (
            m.available_gb is not None or m.used_gb is not None):
        in_use = m.total_gb - m.available_gb if m.available_gb is not None else m.used_gb
        assert in_use is not None
        own = Headroom(in_use, m.total_gb, m.threshold_pct, "/admin/memory", mem.at or 0.0)
        if snap.taken_at - own.at <= MEMORY_FRESH_S:
            return own
        found.append(own)
    if None not in (g.memory_used_gb, g.memory_total_gb, g.threshold_pct):
        assert g.memory_used_gb is not None and g.memory_total_gb is not None
        assert g.threshold_pct is not None
        found.append(Headroom(g.memory_used_gb, g.memory_total_gb, g.threshold_pct,
                              "/admin/status", g.updated_at or 0.0))
    return max(found, key=lambda h: h.at, default=None)


@dataclass(frozen=True, slots=True)
class Fit:
    """One on-disk model against the headroom: ``fits`` None when either is unknown."""

    model: DiskModel
    loaded: bool
    needed_gb: float | None
    free_gb: float | None
    threshold_pct: float | None

    @property
    def fits(self) -> bool | None:
        if self.needed_gb is None or self.free_gb is None:
            return None
        return self.needed_gb <= self.free_gb

    @property
    def verdict(self) -> str:
        """"loaded", "fits", "does not fit", or "" when it cannot be told."""
        if self.loaded:
            return "loaded"
        return "" if self.fits is None else "fits" if self.fits else "does not fit"

    def label(self) -> str:
        """The picker's line, short enough for a phone: id, size on disk, and loaded, or fits
        / does not fit with both figures (the threshold is in ``words``)."""
        head = disk_label(self.model)
        if self.loaded or not self.verdict:
            return f"{head} · {self.verdict}" if self.verdict else head
        return (f"{head} · {self.verdict}: needs about {self.needed_gb:.1f} GB, "
                f"{self.free_gb:.1f} GB free")

    def words(self) -> str:
        """The estimate for one model in a sentence (shown once it is picked)."""
        size = f"{self.model.size_bytes / SERVER_GB:.2f} GB" if self.model.size_bytes else ""
        if self.loaded:
            return f"{self.model.repo_id} is loaded already."
        if self.needed_gb is None:
            return f"{self.model.repo_id}: the server lists no size for it, so no estimate."
        if self.free_gb is None:
            return (f"{self.model.repo_id} needs about {self.needed_gb:.1f} GB ({size} on "
                    "disk × 1.15); the server's memory is not known yet.")
        return (f"{self.model.repo_id} needs about {self.needed_gb:.1f} GB ({size} on disk × "
                f"{ESTIMATE_MARGIN:g}); {self.free_gb:.1f} GB is free under the "
                f"{self.threshold_pct:.0f} % threshold: it {self.verdict}.")


def fit(model: DiskModel, room: Headroom | None, loaded: frozenset[str]) -> Fit:
    """``model`` against ``room``: needed = size on disk × 1.15 in the server's GB."""
    needed = (model.size_bytes / SERVER_GB * ESTIMATE_MARGIN) if model.size_bytes else None
    return Fit(model, model.repo_id in loaded, needed,
               room.free_gb if room is not None else None,
               room.threshold_pct if room is not None else None)


def fit_note(room: Headroom | None, tz: tzinfo) -> str:
    """What the fit marks rest on, in one paragraph (the figures, and that they estimate)."""
    if room is None:
        return ("Whether each model fits is shown once the server has reported its memory "
                "and threshold.")
    return (f"**Fit is an estimate:** needed is the size on disk × {ESTIMATE_MARGIN:g} (sizes "
            f"in the server's GB of 2³⁰ bytes); {room.free_gb:.1f} GB is free under the "
            f"{room.threshold_pct:.0f} % threshold ({room.used_gb:.1f} of "
            f"{room.total_gb:.1f} GB in use as the server counts it, from {room.source} "
            f"at {clock_time(room.at, tz)}). By default the server evicts its least "
            "recently used model to make room, so a model that does not fit may still load; "
            "a refused load shows the server's own words below.")
