"""Models: what is loaded, and the downloads and quantize jobs, as one tick's view.

The rows' words (id, readiness, memory, context, requests, last use, tokens/s
now and p95) are the same for every viewer and built once per tick; the
buttons beside them are each viewer's own (``pages/models.py``), so the view
hands over each row's recording with its model id, plus what the buttons
need to know: why actions cannot start now, and how many requests are in
flight.
"""

from __future__ import annotations

from dataclasses import dataclass

from opta_stream.figures import freshness
from opta_stream.figures.headline import window_words
from opta_stream.figures.serving_totals import totals
from opta_stream.figures.tokens import current_rates
from opta_stream.snapshot import ModelInfo, Progress, Snapshot
from opta_stream.units import duration, zone
from opta_stream.views.model_rows import model_facts, readiness_color
from opta_stream.views.recording import Block, Recording
from opta_stream.views.specs import ModelsSpec
from opta_stream.views.verdict import banner

__all__ = ["MAX_JOBS_SHOWN", "ModelsView", "build"]

MAX_JOBS_SHOWN = 8


@dataclass(frozen=True, slots=True)
class ModelsView:
    """One tick of the Models page: the shared recordings and the facts its buttons need."""

    head: Recording
    rows: tuple[tuple[str, Recording], ...]  # (model id, its row's words), in server order
    jobs: Recording
    blocked: str | None  # why no action can start now (the server's state), or None
    in_flight: int  # requests running now: unloading asks first while there are any
    listed: frozenset[str]


def _row(model: ModelInfo, snap: Snapshot, rates: dict[str, float]) -> Recording:
    out = Recording()
    out.text(model.model_id)
    if model.readiness:
        out.badge(model.readiness, color=readiness_color(model.readiness))
    t1 = snap.taken_at
    t0 = t1 - snap.window_s
    loaded = model.loaded_at if model.loaded_at is not None and model.loaded_at > t0 else None
    over = (f"since loaded {duration(t1 - loaded)} ago" if loaded is not None
            else window_words(snap.window_s))
    p95 = totals(snap.serving, "model", model.model_id, t0=loaded or t0, t1=t1).quantile(0.95)
    out.caption(model_facts(model, t1, tokens_per_s=rates.get(model.model_id), p95_s=p95,
                            over=over))
    return out


def _job(out: Block, job: Progress) -> None:
    percent = f" · {job.percent:.0f} %" if job.percent is not None else ""
    box = out.container(border=True)
    box.text(f"{job.kind.capitalize()} · {job.label}")
    if job.percent is not None:
        box.progress(job.percent / 100.0)
    box.text(" · ".join(x for x in (job.status + percent, job.message) if x))


def _jobs(snap: Snapshot) -> Recording:
    """Running jobs first, then the most recent finished ones."""
    out = Recording()
    out.subheader("Downloads and quantize jobs")
    if not snap.jobs:
        out.caption("No downloads or quantize jobs yet.")
    ordered = sorted(snap.jobs, key=lambda j: (j.status != "running", -j.updated_at))
    for job in ordered[:MAX_JOBS_SHOWN]:
        _job(out, job)
    if len(ordered) > MAX_JOBS_SHOWN:
        out.caption(f"{len(ordered) - MAX_JOBS_SHOWN} older jobs not shown.")
    return out


def build(spec: ModelsSpec, snap: Snapshot) -> ModelsView:
    head = Recording()
    banner(head, snap)
    age = freshness.models_age(snap)
    head.subheader(f"Loaded models ({len(snap.models) if age.known else '—'})")
    if not age.known:
        head.caption("The model list has not been received from the server yet.")
    elif age.stale:
        head.caption(f"{age.note(zone(spec.tz))}: the list may have changed since.")
    elif not snap.models:
        head.caption("No models loaded. Load one with the form below.")
    rates = current_rates(snap.tail.throughput)
    rows = tuple((m.model_id, _row(m, snap, rates)) for m in snap.models)
    return ModelsView(head, rows, _jobs(snap), freshness.actions_blocked(snap),
                      snap.gauges.active_requests or 0,
                      frozenset(m.model_id for m in snap.models))
