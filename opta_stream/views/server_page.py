"""Server: what the server says about itself, as one tick's view.

From one snapshot (``Snapshot.report``, each diagnosis route's newest
answer or why its last poll failed, with when): the health verdict and the
rule that produced it, beside the dashboard's own error rate; a crash loop,
quarantined models and each loaded model's readiness and crashes; the
server's recent errors; the machine; routing roles and helper nodes;
stored benchmark results over time (with regressions and coherence flags,
and a CSV); compatibility per model and backend; the predictor and presets.
Each section says how old its answer is, and a failed section says why
while the others carry on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any, TypeVar

import pandas as pd

from opta_stream.charts.bench_charts import bench_frame, bench_plan
from opta_stream.export.csv_files import benchmarks_csv, export_filename
from opta_stream.figures.headline import RECENT_S, headline, window_words
from opta_stream.figures.report_figures import (
    REGRESSION_PCT,
    bench_split,
    compat_counts,
    regressions,
    verdict_rule,
)
from opta_stream.server_report import (
    ALWAYS,
    EVERY_S,
    ON_VIEW,
    ROUTES,
    Answer,
    BenchmarkRun,
    Device,
    HelperNode,
    ServerReport,
)
from opta_stream.snapshot import Snapshot
from opta_stream.units import clock_time, duration, number, plain, span, zone
from opta_stream.views.csv_buttons import csv_button
from opta_stream.views.model_rows import readiness_color
from opta_stream.views.recording import Block, Color, Column, Recording
from opta_stream.views.specs import ServerSpec
from opta_stream.views.verdict import banner

__all__ = ["VERDICT_COLORS", "WANTED", "build"]

T = TypeVar("T")

# The sections this page shows that are polled only while someone looks (``/admin/memory``
# is the Load form's).
WANTED = tuple(s for s in ON_VIEW if s != "memory")
VERDICT_COLORS: dict[str, Color] = {"healthy": "green", "degraded": "orange",
                                    "critical": "red"}
CIRCUIT_WORDS = {"closed": "closed (calls go through)",
                 "open": "open (calls fail at once)",
                 "half_open": "half-open (one trial call)"}
# Model ids are long: a phone would show nothing else, so the column stays in view while the
# rest of a table scrolls under it.
MODEL_COLUMN = Column(width="medium", pinned=True)
FAILURE_ICONS = {"shedding": ":material/memory:", "policy": ":material/gpp_bad:",
                 "missing": ":material/history:", "timeout": ":material/hourglass_empty:",
                 "refused": ":material/power_off:", "auth": ":material/key_off:"}


def _ago(at: float, now: float, tz: tzinfo) -> str:
    return f"{clock_time(at, tz)}, {duration(now - at)} ago"


def section_state(out: Block, answer: Answer[Any], section: str, now: float,
                  tz: tzinfo) -> bool:
    """How old the section's answer is, or why there is none; True when there is one."""
    route, every = ROUTES[section], span(EVERY_S[section])
    when = f"every {every}" + ("" if section in ALWAYS else " while this page is open")
    failure = answer.failure
    if failure is not None:
        kept = (f" Shown below: its answer from {_ago(answer.at, now, tz)}."
                if answer.at is not None else "")
        asked = f" (asked {duration(now - answer.failed_at)} ago)" if answer.failed_at else ""
        out.note("warning", f"**{route}**{asked}: {plain(failure.message)}{kept}",
                 icon=FAILURE_ICONS.get(failure.kind, ":material/error:"))
    elif answer.at is None:
        out.caption(f"Waiting for the first answer of {route} (asked {when}).")
    else:
        out.caption(f"From {route}, {duration(now - answer.at)} ago (asked {when}).")
    return answer.value is not None


def answered(out: Block, title: str, answer: Answer[T], section: str, snap: Snapshot,
             tz: tzinfo) -> T | None:
    """A section's heading and how old its answer is; the answer's value, if there is one."""
    out.subheader(title)
    return answer.value if section_state(out, answer, section, snap.taken_at, tz) else None


def _frame(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(columns), dtype=object)


def _text(value: object) -> str:
    return "—" if value is None or value == "" else str(value)


# -- verdict --------------------------------------------------------------------------


def verdict_section(out: Block, snap: Snapshot, report: ServerReport, tz: tzinfo) -> None:
    diag = answered(out, "Verdict", report.diagnostics, "diagnostics", snap, tz)
    if diag is None:
        return
    threshold = _threshold(snap, report)
    ruled, words = verdict_rule(diag, threshold)
    with out.container(border=True) as box:
        box.badge(diag.verdict, color=VERDICT_COLORS.get(diag.verdict, "gray"),
                  icon=":material/monitor_heart:",
                  help="The server's own health_verdict (GET /admin/diagnostics).")
        box.markdown(plain(words) if ruled == diag.verdict else
                     f"The server says **{plain(diag.verdict)}**; by its rules as the dashboard "
                     f"reads them it would be {plain(words)} (a rule's input may not be shown "
                     "here).")
        box.caption("Its rules, first match wins: a crash loop or more than 5 % of all "
                    "requests since start failed is critical; memory at its threshold or a "
                    "quarantined model is degraded; otherwise healthy.")
    mine = headline(snap, RECENT_S)
    cols = out.columns(2)
    cols[0].metric("Server's error rate · since start", number(diag.error_rate_pct, ".1f", " %"),
                   help="Failed over all requests since the server started: the server's own "
                        "figure, over its whole life, never a window. Its verdict reads this.")
    cols[1].metric(f"Dashboard's error rate · {window_words(RECENT_S)}",
                   number(mine.error_rate_pct, ".1f", " %"),
                   help="From the server's request counters as the dashboard polled them, "
                        f"over the {window_words(RECENT_S)} (as on the Requests page).")
    out.caption(f"The server's rate is lifetime: {number(diag.total_requests, ',d')} requests "
                f"since it started, {duration(diag.uptime_s)} ago. The dashboard's covers the "
                f"{window_words(RECENT_S)} only.")


def _threshold(snap: Snapshot, report: ServerReport) -> float | None:
    """The server's memory threshold: the newer of /admin/memory's and /admin/status's."""
    mem = report.memory
    status_at = snap.gauges.updated_at or 0.0
    if mem.value is not None and mem.value.threshold_pct is not None and \
            (mem.at or 0.0) >= status_at:
        return mem.value.threshold_pct
    return snap.gauges.threshold_pct


# -- crash loop and models ----------------------------------------------------------------


def models_section(out: Block, snap: Snapshot, report: ServerReport, tz: tzinfo) -> None:
    out.subheader("Crash loop and models")
    diag = report.diagnostics.value
    if diag is None:
        out.caption("Waiting for the diagnostics (above).")
        return
    if diag.crash_loop:
        out.note("error", "Crash loop: the server started 3 times or more without a clean "
                 "shutdown, the last under a minute ago. It reports critical for that minute.",
                 icon=":material/restart_alt:")
    quarantined = diag.quarantined_count
    out.markdown(" · ".join([
        "**Crash loop:** " + ("yes" if diag.crash_loop else "no"
                              if diag.crash_loop is False else "—"),
        f"**Quarantined models:** {_text(quarantined)}",
        f"**Loaded:** {_text(diag.loaded_count)}"]),
        help="Quarantined counts every model the server knows, loaded or not.")
    perf_answer = report.performance
    rows = {p.model_id: p for p in perf_answer.value or ()}
    if diag.models:
        table = [(m.model_id, m.readiness or "—",
                  _text(rows[m.model_id].crash_count) if m.model_id in rows else "—",
                  _text(rows[m.model_id].readiness_reason) if m.model_id in rows else "—",
                  m.requests_total, m.memory_gb, m.backend_type or "—")
                 for m in diag.models]
        out.table(_frame(table, ["model", "readiness", "crashes", "readiness reason",
                                 "requests", "memory GB", "format"]),
                  key="server_models", columns={
                      "model": MODEL_COLUMN,
                      "requests": Column("number", format="%d"),
                      "memory GB": Column("number", format="%.2f"),
                      "crashes": Column(help="crash_count from /admin/models/{id}/performance "
                                             "(Opta LMX 0.1.0 always reports 0)")})
        colors = {readiness_color(m.readiness) for m in diag.models}
        if "red" in colors:
            out.caption(":material/error: A quarantined model takes no requests until it "
                        "is unloaded and loaded again.")
    else:
        out.caption("No model is loaded.")
    section_state(out, perf_answer, "performance", snap.taken_at, tz)


# -- recent errors -----------------------------------------------------------------------


def errors_section(out: Block, snap: Snapshot, report: ServerReport) -> None:
    out.subheader("Recent errors")
    diag = report.diagnostics.value
    if diag is not None and diag.recent_errors:
        out.table(_frame([(e.timestamp or "—", e.severity, e.event_type, e.model_id or "—",
                           e.message or "—") for e in diag.recent_errors],
                         ["time", "severity", "event", "model", "message"]),
                  key="server_errors", columns={"message": Column(width="large")})
    elif diag is not None:
        version = f" (Opta LMX {plain(snap.gauges.version)})" if snap.gauges.version else ""
        out.caption(f"This server version{version} reports none: its list of recent errors "
                    "stays empty. The errors the dashboard saw itself (failed polls, refused "
                    "loads, quarantines, failed downloads) are on the Events page.")
    else:
        out.caption("Waiting for the diagnostics (above). The errors the dashboard saw "
                    "itself are on the Events page.")
    out.page_link("pages/events.py", label="Events: what the dashboard saw",
                  icon=":material/list_alt:")


# -- device ------------------------------------------------------------------------------


def device_section(out: Block, snap: Snapshot, report: ServerReport, tz: tzinfo) -> None:
    dev = answered(out, "Device", report.device, "device", snap, tz)
    if dev is None:
        return
    who = " · ".join(b for b in (dev.name, dev.purpose, dev.role.replace("_", " ")) if b)
    if _no_metal(dev):
        chip = f" Its processor: {plain(dev.chip_name)}." if dev.chip_name else ""
        out.markdown(f"**{plain(dev.hostname or 'The server')}** runs without Metal (not on "
                     "Apple silicon), so it reports no GPU family, unified memory or working "
                     f"set.{chip} CPU cores: **{_text(dev.cpu_cores)}**.")
    else:  # a two-column table: compact on a phone, where six cards would fill a screen
        facts = [("Chip", dev.chip_name or "—", ""),
                 ("Unified memory", number(dev.memory_gb, ".0f", " GB"), ""),
                 ("Max working set", number(dev.max_working_set_gb, ".1f", " GB"),
                  " (what Metal recommends a process keep in use)"),
                 ("CPU cores", number(dev.cpu_cores, "d"), ""),
                 ("GPU family", dev.gpu_family or "—", ""),
                 ("Metal", "available" if dev.metal_available else "not available", "")]
        out.markdown(f"| Host | {plain(dev.hostname or '—')} |\n| --- | --- |\n"
                     + "\n".join(f"| {name} | **{plain(value)}**{note} |"
                                  for name, value, note in facts))
    if who:
        out.caption(f"Configured as: {plain(who)}")


def _no_metal(dev: Device) -> bool:
    return not dev.metal_available and all(
        v is None for v in (dev.architecture, dev.memory_gb, dev.max_working_set_gb,
                            dev.gpu_family))


# -- routing and helpers ----------------------------------------------------------------


def routing_section(out: Block, snap: Snapshot, report: ServerReport, tz: tzinfo) -> None:
    out.subheader("Routing and helpers")
    answer = report.stack
    if section_state(out, answer, "stack", snap.taken_at, tz):
        stack = answer.value
        assert stack is not None
        if stack.roles:
            out.table(_frame([(r.alias, r.resolved_model or "—",
                               "loaded" if r.loaded else "not loaded",
                               " → ".join(r.preferences) or "no preference configured")
                              for r in stack.roles],
                             ["role", "resolves to", "state", "preferences, in order"]),
                      key="server_roles", columns={"preferences, in order":
                                                   Column(width="large")})
        else:
            out.caption("No routing roles configured.")
        out.markdown(f"**Default model** (the `auto` alias): "
                     f"{plain(stack.default_model) if stack.default_model else 'none set'}")
    helpers_part(out, snap, report, tz)


def helpers_part(out: Block, snap: Snapshot, report: ServerReport, tz: tzinfo) -> None:
    out.markdown("**Helper nodes**")
    answer = report.helpers
    section_state(out, answer, "helpers", snap.taken_at, tz)
    stats = answer.value
    stack = report.stack.value
    nodes: Sequence[HelperNode] = stats.nodes if stats is not None else (
        stack.helper_nodes if stack is not None else ())
    if not nodes:
        if stats is not None or stack is not None:
            out.caption("No helper node is configured (embedding and reranking run locally).")
        return
    rows = [(n.name, CIRCUIT_WORDS.get(n.circuit_state or "", _text(n.circuit_state)),
             _healthy(n), n.success_rate_pct, n.p95_latency_ms,
             _ago(n.last_check_at, snap.taken_at, tz) if n.last_check_at else "never",
             n.last_error or "—", n.url or "—") for n in nodes]
    out.table(_frame(rows, ["node", "circuit", "healthy", "success %", "p95 ms", "last check",
                            "last error", "url"]),
              key="server_helpers", columns={
                  "healthy": Column(width="medium", help="From before this answer's live "
                                    "check of the node, and that check's result."),
                  "success %": Column("number", format="%.1f"),
                  "p95 ms": Column("number", format="%.1f",
                                   help="Over its last 100 calls (the server's figure)."),
                  "last error": Column(width="medium")})
    opened = [n.name for n in nodes if n.circuit_state in ("open", "half_open")]
    if opened:
        out.caption(f":material/electrical_services: {plain(', '.join(opened))}: circuit "
                    "open after 3 failures in a row; calls fall back "
                    "(local or skipped) until a trial call succeeds, 60 s after the last "
                    "failure.")
    if stats is None:
        out.caption("The circuit states are from /admin/stack; the numbers come with "
                    "/admin/helpers.")


def _healthy(node: HelperNode) -> str:
    base = "yes" if node.healthy else "no" if node.healthy is False else "—"
    if node.live_check is not None:
        base += f" · live check {'passed' if node.live_check else 'failed'}"
    return base


# -- benchmarks ----------------------------------------------------------------------------


def benchmarks_section(out: Block, snap: Snapshot, report: ServerReport, tz: tzinfo,
                       tz_name: str) -> None:
    runs = answered(out, "Benchmarks", report.benchmarks, "benchmarks", snap, tz)
    if runs is None:
        return
    if not runs:
        out.caption("No stored benchmark result: POST /admin/benchmark/run stores one.")
        return
    charted, apart = bench_split(runs)
    slow = regressions(charted)
    for reg in slow.values():
        out.note("warning", f"**{plain(reg.model_id)}**: its newest result "
                 f"({clock_time(reg.newest.at, tz)} {_day(reg.newest, tz)}, "
                 f"{number(reg.newest.tokens_per_s_p50)} tokens/s) is "
                 f"{reg.slower_pct:.0f} % slower than the one before "
                 f"({number(reg.previous.tokens_per_s_p50)} tokens/s): more than "
                 f"{REGRESSION_PCT:.0f} %.", icon=":material/trending_down:")
    if charted:
        models = sorted({r.model_id for r in charted})
        ringed = frozenset((r.model_id, r.newest.at or 0.0) for r in slow.values())
        for measure, key in (("tokens", "server_bench_tokens"), ("ttft", "server_bench_ttft")):
            out.chart(bench_plan(bench_frame(charted, measure, ringed), measure, models,
                                 zone=tz_name), key=key)
        out.caption("Tokens/s and time to first token of each stored result: the point is "
                    "its p50, the band reaches its p95. A hollow diamond is output the server "
                    "flagged (repetitive, truncated or garbled); a red ring, a newest result "
                    "more than 10 % slower than the one before.")
    out.table(_runs_frame(charted, tz), key="server_bench_table", columns=_RUN_COLUMNS)
    if apart:
        out.markdown(f"**Set apart** ({len(apart)}): too few measured runs "
                     "(insufficient_data: fewer than 2), or no time or speed to place them; "
                     "not charted.")
        out.table(_runs_frame(apart, tz), key="server_bench_apart", columns=_RUN_COLUMNS)
    times = [r.at for r in runs if r.at is not None]
    start, end = (min(times), max(times)) if times else (snap.taken_at, snap.taken_at)
    csv_button(out, lambda: benchmarks_csv(runs), len(runs),
               file_name=export_filename(snap.server, "benchmarks", start, end),
               key="benchmarks_csv", help="Every stored result the server listed, one row each.")


_RUN_COLUMNS = {"model": MODEL_COLUMN,
                "tokens/s p50": Column("number", format="%.1f"),
                "tokens/s p95": Column("number", format="%.1f"),
                "TTFT p50 s": Column("number", format="%.3f"),
                "TTFT p95 s": Column("number", format="%.3f")}


def _day(run: BenchmarkRun, tz: tzinfo) -> str:
    return datetime.fromtimestamp(run.at or 0.0, tz).strftime("%a %d %b")


def _runs_frame(runs: Sequence[BenchmarkRun], tz: tzinfo) -> pd.DataFrame:
    newest_first = sorted(runs, key=lambda r: -(r.at or 0.0))
    return _frame([(f"{_day(r, tz)} {clock_time(r.at, tz)}" if r.at else r.timestamp or "—",
                    r.model_id, r.status, r.tokens_per_s_p50, r.tokens_per_s_p95,
                    r.ttft_p50_s, r.ttft_p95_s, r.coherence_flag or "—",
                    _text(r.runs_completed)) for r in newest_first],
                  ["when", "model", "status", "tokens/s p50", "tokens/s p95", "TTFT p50 s",
                   "TTFT p95 s", "coherence", "runs"])


# -- compatibility ---------------------------------------------------------------------------


def compat_section(out: Block, snap: Snapshot, report: ServerReport, tz: tzinfo) -> None:
    compat = answered(out, "Compatibility", report.compatibility, "compatibility", snap, tz)
    if compat is None:
        return
    counts = compat_counts(compat.rows)
    if not counts:
        out.caption("The registry is empty: a row is written when a load passes or fails its "
                    "canary or its loader check.")
        return
    out.table(_frame([(c.model_id, c.backend, c.passed, c.failed, c.latest_outcome,
                       c.latest_reason or "—",
                       _ago(c.latest_ts, snap.taken_at, tz) if c.latest_ts else "—")
                      for c in counts],
                     ["model", "backend", "pass", "fail", "latest", "latest reason", "when"]),
              key="server_compat", columns={"model": MODEL_COLUMN,
                                            "latest reason": Column(width="medium"),
                                            "pass": Column("number", format="%d"),
                                            "fail": Column("number", format="%d")})
    if compat.limit and len(compat.rows) >= compat.limit:
        out.caption(f"Counted over the newest {compat.limit:,} rows the server keeps.")


# -- predictor and presets -------------------------------------------------------------------


def predictor_section(out: Block, snap: Snapshot, report: ServerReport, tz: tzinfo) -> None:
    out.subheader("Predictor and presets")
    answer = report.predictor
    if section_state(out, answer, "predictor", snap.taken_at, tz):
        pred = answer.value
        assert pred is not None
        out.markdown("**Predicted next:** " + (plain(pred.predicted_next)
                     if pred.predicted_next else "none (it needs a model that is not loaded "
                     "and was used 3 times, or followed the last one twice)"))
        if pred.top_models:
            out.table(_frame(list(pred.top_models), ["model", "uses"]), key="server_predictor",
                      columns={"model": MODEL_COLUMN,
                               "uses": Column("number", format="%d")})
        else:
            out.caption("No model used since the server started.")
    answer_p = report.presets
    out.markdown("**Presets**")
    if section_state(out, answer_p, "presets", snap.taken_at, tz):
        presets = answer_p.value or ()
        if presets:
            out.table(_frame([(p.name, p.model or "—", p.description or "—",
                               p.routing_alias or "—", p.memory_estimate_gb)
                              for p in presets],
                             ["name", "model", "description", "role", "memory estimate GB"]),
                      key="server_presets", columns={
                          "model": Column(width="medium"),
                          "description": Column(width="medium"),
                          "memory estimate GB": Column("number", format="%.1f")})
        else:
            out.caption("No presets configured.")


def build(spec: ServerSpec, snap: Snapshot) -> Recording:
    """The live part's elements for one tick, shared by every viewer of it."""
    tz = zone(spec.tz)
    report = snap.report
    out = Recording()
    banner(out, snap)
    verdict_section(out, snap, report, tz)
    models_section(out, snap, report, tz)
    errors_section(out, snap, report)
    device_section(out, snap, report, tz)
    routing_section(out, snap, report, tz)
    benchmarks_section(out, snap, report, tz, spec.tz)
    compat_section(out, snap, report, tz)
    predictor_section(out, snap, report, tz)
    return out

