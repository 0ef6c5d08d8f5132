"""Memory: how close the server is to its memory threshold, and who uses it.

Used vs total over the same windows as Throughput, the server's threshold as
a dashed line (on the dashboard's own chart), gaps shaded, memory per loaded
model, and the window as CSV. With ``prometheus_url`` set, a window of an
hour or more is drawn from Prometheus's memory gauges up to the last five
minutes (the live feed's).
"""

from __future__ import annotations

from datetime import tzinfo

from opta_stream.charts.frames import marker_frame, memory_frame
from opta_stream.charts.long_window import (
    LIVE,
    LOCAL_SOURCE,
    PROM,
    fallback_caption,
    split_at,
    uses_prometheus,
)
from opta_stream.charts.parts import TimeAxis
from opta_stream.charts.small_charts import bars_height, per_model_memory_plan
from opta_stream.charts.time_charts import memory_plan
from opta_stream.export.csv_files import memory_csv
from opta_stream.figures import freshness
from opta_stream.figures.memory import memory_pct
from opta_stream.figures.windows import snapshot_window
from opta_stream.snapshot import RangeAnswer, Snapshot
from opta_stream.units import number, zone
from opta_stream.views.csv_buttons import window_csv
from opta_stream.views.long_chart import live_from, prometheus_chart
from opta_stream.views.reach import first_at, reach
from opta_stream.views.recording import Block, Recording
from opta_stream.views.specs import MemorySpec
from opta_stream.views.verdict import banner

__all__ = ["build"]


def numbers_row(out: Block, snap: Snapshot, tz: tzinfo) -> None:
    g = snap.gauges
    cols = out.columns(4)
    cols[0].metric("Used", number(g.memory_used_gb, ".1f", " GB"))
    cols[1].metric("Total", number(g.memory_total_gb, ".1f", " GB"))
    cols[2].metric("Usage", number(memory_pct(g), ".0f", " %"))
    cols[3].metric("Threshold", number(g.threshold_pct, ".0f", " %"),
                   help="The server refuses loads that would go past this share of memory.")
    note = freshness.status_age(snap).note(tz)
    if note and g.memory_used_gb is not None:
        out.caption(f":material/schedule: {note}: the server has not answered since.")


def prom_history(out: Block, snap: Snapshot, answer: RangeAnswer, tz: str) -> None:
    """Prometheus's gauges, then the live feed's last minutes."""
    start = live_from(snap)
    live = [(f"{name} · {LIVE}", *split_at(series.ts, series.value, start, before=False))
            for name, series in (("used", snap.tail.memory_used),
                                 ("total", snap.tail.memory_total))]
    prometheus_chart(out, snap, answer, tz, kind="prom_memory", field="gb",
                     prom=[(f"used · {PROM}", "memory_used_gb"),
                           (f"total · {PROM}", "memory_total_gb")],
                     live=live, key="memory_chart_prom", height=300,
                     note="Prometheus's gauges do not carry the threshold "
                          f"({number(snap.gauges.threshold_pct, '.0f', ' %')} now, in the "
                          "figures above).")


def history(out: Block, snap: Snapshot, tz: str, answer: RangeAnswer | None) -> None:
    frame = memory_frame(snap.memory_used, snap.memory_total)
    window = snapshot_window(snap)
    r = reach(snap, first_at(snap.memory_used.ts), zone(tz))
    out.chart(memory_plan(frame, threshold_pct=snap.gauges.threshold_pct,
                          gaps=(*snap.gaps, *r.gaps),
                          markers=marker_frame(snap.events, window, r.markers), window=window,
                          axis=TimeAxis.for_window(snap.window_s, tz)),
              key="memory_chart")
    if not len(snap.memory_used):
        out.caption("No memory samples yet — waiting for the first status reading "
                    "from the server.")
    else:
        out.caption(LOCAL_SOURCE)
    if r.note:
        out.caption(r.note)
    if note := fallback_caption(answer):
        out.caption(f":material/info: {note}")


def per_model(out: Block, snap: Snapshot) -> None:
    out.markdown("**Memory per loaded model**")
    if not any(m.memory_gb is not None for m in snap.models):
        out.caption("No loaded model reports its memory yet." if snap.models
                    else "No models loaded.")
        return
    g = snap.gauges
    plan = per_model_memory_plan(snap.models, g.memory_used_gb, g.memory_total_gb)
    out.chart(plan, key="memory_models", height=bars_height(len(plan.frames[0])))
    out.caption("Bars run from 0 to the server's total memory; the grey bar is memory in use "
                "that no loaded model accounts for (the system, caches, other programs).")


def download(out: Block, snap: Snapshot) -> None:
    window_csv(out, snap, "memory",
               lambda start, end: memory_csv(snap.memory_used, snap.memory_total, start, end),
               len(snap.memory_used),
               help="Used and total GB in the window shown, with UTC timestamps.")


def build(spec: MemorySpec, snap: Snapshot) -> Recording:
    """The live part's elements for one tick, shared by every viewer of it."""
    out = Recording()
    banner(out, snap)
    numbers_row(out, snap, zone(spec.tz))
    if uses_prometheus(spec.answer, spec.window_s):
        assert spec.answer is not None
        prom_history(out, snap, spec.answer, spec.tz)
    else:
        history(out, snap, spec.tz, spec.answer)
    download(out, snap)
    per_model(out, snap)
    return out
