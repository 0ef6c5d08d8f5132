"""What the server says about itself: its diagnosis routes' answers, typed and frozen.

Opta LMX diagnoses itself (``/admin/diagnostics`` with its health verdict,
``/admin/device``, ``/admin/stack``, ``/admin/helpers``, stored benchmark
results, the compatibility registry, the predictor, presets, each loaded
model's performance row) and reports memory (``/admin/memory``) and health
(``/admin/health``, the one route it still answers while shedding load).
These are the shared words for those answers: the feed parses a body into
them (``events.report_bodies``), the Store keeps the newest of each section
with when it came, or why the last poll failed (``store.reports``), and the
Server page's view reads them from a snapshot.

``None`` in a field is "not reported" (a JSON null, or a value of the wrong
type), never 0. Every collection is a tuple, so a snapshot stays immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Generic, TypeVar

__all__ = [
    "ALWAYS",
    "EVERY_S",
    "ROUTES",
    "ON_VIEW",
    "SECTIONS",
    "Answer",
    "BenchmarkRun",
    "Compatibility",
    "CompatRow",
    "Device",
    "DiagModel",
    "Diagnostics",
    "Failure",
    "HealthReport",
    "HelperNode",
    "Helpers",
    "MemoryReport",
    "ModelPerformance",
    "Predictor",
    "Preset",
    "RecentError",
    "Role",
    "ServerReport",
    "Stack",
]

T = TypeVar("T")

# Sections polled whatever is viewed (the alerts read the diagnostics; the device barely
# changes), and those polled only while a page that shows them is open.
ALWAYS = ("diagnostics", "device")
ON_VIEW = ("stack", "helpers", "benchmarks", "compatibility", "predictor", "presets",
           "performance", "memory")
SECTIONS = (*ALWAYS, *ON_VIEW, "health")
# The route each section is read from (``performance``: one GET per loaded model).
ROUTES: Mapping[str, str] = MappingProxyType({
    "diagnostics": "/admin/diagnostics", "device": "/admin/device", "stack": "/admin/stack",
    "helpers": "/admin/helpers", "benchmarks": "/admin/benchmark/results",
    "compatibility": "/admin/models/compatibility", "predictor": "/admin/predictor",
    "presets": "/admin/presets", "performance": "/admin/models/{model_id}/performance",
    "memory": "/admin/memory", "health": "/admin/health"})
# How often each section is asked for, in seconds: what it is decides. The diagnostics
# feed the alerts; the device barely changes; /admin/helpers checks each helper live, so
# once a minute at most; /admin/health only while polls are refused for load shedding.
EVERY_S: Mapping[str, float] = MappingProxyType({
    "diagnostics": 10.0, "device": 300.0, "stack": 30.0, "predictor": 30.0,
    "performance": 30.0, "memory": 30.0, "benchmarks": 60.0, "compatibility": 60.0,
    "presets": 60.0, "helpers": 60.0})


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a poll of a section failed, in words.

    ``kind`` says what a person can do about it: "policy" (a 403 in the
    OpenAI envelope: the server's policy, not the key), "missing" (404: this
    server version does not serve the route), "timeout", "refused" (nothing
    listens: stopped or stopping), "shedding" (503 ``overloaded``), "auth"
    (the key was rejected), "unreachable" (any other network failure),
    "bad_answer" (not the shape this route answers with) or "error" (any
    other HTTP error).
    """

    kind: str
    message: str
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Answer(Generic[T]):
    """One section: the newest good answer and when it came, and the last poll's failure.

    A failure does not erase the answer before it: the page shows both, the
    answer with its age. ``failure`` is None once a poll answers again.
    """

    value: T | None = None
    at: float | None = None
    failure: Failure | None = None
    failed_at: float | None = None

    @property
    def known(self) -> bool:
        return self.value is not None


# -- /admin/diagnostics ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiagModel:
    """One loaded model in the diagnostics: readiness, requests, memory."""

    model_id: str
    readiness: str | None = None
    loaded_at: float | None = None
    requests_total: int | None = None
    backend_type: str | None = None
    memory_gb: float | None = None


@dataclass(frozen=True, slots=True)
class RecentError:
    """One of ``recent_errors`` (a list Opta LMX 0.1.0 never fills)."""

    event_type: str
    message: str = ""
    model_id: str | None = None
    severity: str = "error"
    timestamp: str = ""  # whatever the server's journal held, as text


@dataclass(frozen=True, slots=True)
class Diagnostics:
    """``GET /admin/diagnostics``. ``error_rate_pct`` is over the server's whole life."""

    verdict: str
    timestamp: float | None = None
    memory_percent: float | None = None
    memory_gb_used: float | None = None
    memory_gb_total: float | None = None
    uptime_s: float | None = None
    python_version: str | None = None
    crash_loop: bool | None = None
    loaded_count: int | None = None
    quarantined_count: int | None = None
    models: tuple[DiagModel, ...] = ()
    total_requests: int | None = None
    active_requests: int | None = None
    avg_latency_ms: float | None = None
    error_rate_pct: float | None = None
    tokens_generated: int | None = None
    agents_active: int | None = None
    agents_completed: int | None = None
    agents_failed: int | None = None
    recent_errors: tuple[RecentError, ...] | None = None  # None: the field was missing


# -- /admin/device -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Device:
    """``GET /admin/device``: without Metal every Metal-derived field is None."""

    hostname: str | None = None
    chip_name: str | None = None
    architecture: str | None = None
    memory_gb: float | None = None
    max_working_set_gb: float | None = None
    cpu_cores: int | None = None
    metal_available: bool | None = None
    gpu_family: str | None = None
    name: str = ""
    purpose: str = ""
    role: str = ""


# -- /admin/stack and /admin/helpers ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Role:
    """A routing alias, its preferences and what it resolves to now."""

    alias: str
    preferences: tuple[str, ...] = ()
    resolved_model: str | None = None
    loaded: bool = False


@dataclass(frozen=True, slots=True)
class HelperNode:
    """A helper node (embedding, reranking): the stack's row, or /admin/helpers' stats."""

    name: str
    url: str | None = None
    model: str | None = None
    healthy: bool | None = None
    fallback: str | None = None
    circuit_state: str | None = None
    total_requests: int | None = None
    successes: int | None = None
    failures: int | None = None
    success_rate_pct: float | None = None
    avg_latency_ms: float | None = None
    p95_latency_ms: float | None = None
    last_check_at: float | None = None  # None: never checked (the server says 0.0)
    last_error: str | None = None
    live_check: bool | None = None  # this answer's own live check (/admin/helpers only)


@dataclass(frozen=True, slots=True)
class Stack:
    """``GET /admin/stack``: routing roles, helper nodes, the default model."""

    roles: tuple[Role, ...] = ()
    helper_nodes: tuple[HelperNode, ...] = ()
    loaded_models: tuple[str, ...] = ()
    default_model: str | None = None


@dataclass(frozen=True, slots=True)
class Helpers:
    """``GET /admin/helpers``: the numbers from before this call's live checks."""

    nodes: tuple[HelperNode, ...] = ()
    configured_count: int | None = None
    all_healthy: bool | None = None


# -- benchmarks, compatibility, predictor, presets, performance ---------------------


@dataclass(frozen=True, slots=True)
class BenchmarkRun:
    """One stored ``POST /admin/benchmark/run`` result."""

    model_id: str
    at: float | None  # the run's time (its ISO timestamp), None when unreadable
    status: str  # "ok" or "insufficient_data"
    backend: str | None = None
    hardware: str | None = None
    lmx_version: str | None = None
    tokens_per_s_p50: float | None = None
    tokens_per_s_p95: float | None = None
    tokens_per_s_mean: float | None = None
    ttft_p50_s: float | None = None
    ttft_p95_s: float | None = None
    runs_completed: int | None = None
    output_tokens: int | None = None
    coherence_flag: str | None = None  # "ok", "repetitive", "truncated", "garbled"
    repetition_ratio: float | None = None
    timestamp: str = ""  # as the server wrote it


@dataclass(frozen=True, slots=True)
class CompatRow:
    """One row of the compatibility registry."""

    ts: float | None
    model_id: str
    backend: str
    outcome: str  # "pass" or "fail"
    reason: str | None = None
    backend_version: str | None = None


@dataclass(frozen=True, slots=True)
class Compatibility:
    """``GET /admin/models/compatibility``: rows newest first, and the registry's summary
    per model (``(model, total, pass, fail)``) when the server sent one."""

    rows: tuple[CompatRow, ...] = ()
    summary: tuple[tuple[str, int, int, int], ...] | None = None
    limit: int = 0  # the most rows asked for: ``len(rows) == limit`` means there are more


@dataclass(frozen=True, slots=True)
class Predictor:
    """``GET /admin/predictor``: the most used models and the one it would load next."""

    top_models: tuple[tuple[str, int], ...] = ()
    predicted_next: str | None = None
    total_accesses: int | None = None
    unique_models: int | None = None


@dataclass(frozen=True, slots=True)
class Preset:
    """One of ``GET /admin/presets``."""

    name: str
    model: str = ""
    description: str = ""
    routing_alias: str | None = None
    auto_load: bool | None = None
    memory_estimate_gb: float | None = None


@dataclass(frozen=True, slots=True)
class ModelPerformance:
    """``GET /admin/models/{id}/performance``: readiness and crashes of a loaded model."""

    model_id: str
    readiness: str | None = None
    readiness_reason: str | None = None
    crash_count: int | None = None
    memory_gb: float | None = None
    request_count: int | None = None


# -- /admin/memory and /admin/health ------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemoryReport:
    """``GET /admin/memory``: the figures the load admission check reads."""

    total_gb: float | None = None
    used_gb: float | None = None
    available_gb: float | None = None
    threshold_pct: float | None = None


@dataclass(frozen=True, slots=True)
class HealthReport:
    """``GET /admin/health``: still answered while the server sheds load."""

    status: str | None = None
    reason: str | None = None
    memory_usage_percent: float | None = None


@dataclass(frozen=True, slots=True)
class ServerReport:
    """Every section's newest answer, as a snapshot carries it."""

    diagnostics: Answer[Diagnostics] = Answer()
    device: Answer[Device] = Answer()
    stack: Answer[Stack] = Answer()
    helpers: Answer[Helpers] = Answer()
    benchmarks: Answer[tuple[BenchmarkRun, ...]] = Answer()
    compatibility: Answer[Compatibility] = Answer()
    predictor: Answer[Predictor] = Answer()
    presets: Answer[tuple[Preset, ...]] = Answer()
    performance: Answer[tuple[ModelPerformance, ...]] = Answer()
    memory: Answer[MemoryReport] = Answer()
    health: Answer[HealthReport] = Answer()
