"""Requests: latency, request and error rates, queue and tokens, per model and per client.

Everything here comes from ``/admin/metrics`` (Prometheus text), polled
about once a second: counter and histogram deltas summed over the window.
Quantiles are Prometheus' ``histogram_quantile`` (linear inside a bucket),
so a p95 reads "somewhere in this bucket", not an exact request time. A
real server counts a request when it finishes, so a long request shows up
in one step at its end. With ``prometheus_url`` set, the latency chart of a
window of an hour or more is Prometheus's p95 up to the last five minutes
(the live feed's).
"""

from __future__ import annotations

from opta_stream.charts.frames import marker_frame
from opta_stream.charts.line_charts import lines_plan
from opta_stream.charts.long_window import (
    LIVE,
    LOCAL_SOURCE,
    PROM,
    fallback_caption,
    uses_prometheus,
)
from opta_stream.charts.parts import TimeAxis
from opta_stream.export.csv_files import serving_csv
from opta_stream.figures.headline import Headline, headline
from opta_stream.figures.serving_lines import ServingLines, serving_lines
from opta_stream.figures.serving_totals import ServingTotals, seconds, totals
from opta_stream.figures.windows import snapshot_window
from opta_stream.settings import Thresholds
from opta_stream.snapshot import RangeAnswer, Snapshot
from opta_stream.units import number, span, zone
from opta_stream.views.csv_buttons import window_csv
from opta_stream.views.long_chart import live_from, prometheus_chart
from opta_stream.views.reach import first_at, reach
from opta_stream.views.recording import Block, Column, Recording
from opta_stream.views.request_tables import client_table, model_table
from opta_stream.views.specs import RequestsSpec
from opta_stream.views.tiles import errors_tile, latency_tile, queue_tile, requests_tile
from opta_stream.views.verdict import banner

__all__ = ["build"]

TITLES = {"latency": "Latency", "requests": "Requests and errors per second",
          "queue": "In flight and queued, against the limit",
          "tokens": "Prompt and completion tokens per second"}
# Counts with thousands separators as everywhere else ("16,289"); the id pinned and of
# medium width, so a phone shows the figures beside it and scrolls the rest.
COUNT = Column("number", format="localized")
MODEL_COLUMNS = {"model": Column(width="medium", pinned=True), "requests": COUNT,
                 "errors": COUNT, "error %": Column("number", format="%.1f"),
                 "tokens/s": Column("number", format="%.1f"),
                 "p50 s": Column("number", format="%.2f"),
                 "p95 s": Column("number", format="%.2f"),
                 "mean s": Column("number", format="%.2f")}
CLIENT_COLUMNS = {"client": Column(width="medium", pinned=True), "requests": COUNT,
                  "errors": COUNT, "tokens": COUNT, "error %": Column("number", format="%.1f"),
                  "tokens/s": Column("number", format="%.1f")}


def figures(out: Block, t: ServingTotals, h: Headline, bands: Thresholds) -> None:
    """The window's figures (each label names the window) and the queue now, the
    headline ones coloured by their bands as on the Overview."""
    w = h.window
    row = out.container(horizontal=True)
    requests_tile(row, h)
    errors_tile(row, h, bands)
    queue_tile(row, h)
    row.metric("In flight / limit · now", f"{number(h.in_flight, '.0f')} / "
               f"{number(h.limit, '.0f')}",
               help="Requests running now, against the concurrency limit.")
    row = out.container(horizontal=True)
    row.metric(f"p50 latency · {w}", seconds(t.quantile(0.5)),
               help=f"Half of the requests that finished in the {w} took at most this "
                    "(estimated inside a histogram bucket, as Prometheus does).")
    latency_tile(row, h, bands)
    row.metric(f"p99 latency · {w}", seconds(t.quantile(0.99)),
               help=f"99 % of the requests that finished in the {w} took at most this.")
    row.metric(f"Mean latency · {w}", seconds(t.mean_latency),
               help="Total request time over the number of requests.")
    row = out.container(horizontal=True)
    row.metric(f"Errors / s · {w}", number(t.per_s("errors"), ".2f"),
               help=f"{t.get('errors'):,.0f} failed requests in the {w}.")
    row.metric(f"Prompt tokens / s · {w}", number(t.per_s("prompt_tokens")))
    row.metric(f"Completion tokens / s · {w}", number(t.per_s("completion_tokens")),
               help="Counted when a request finishes, so it can trail the Throughput page.")
    row.metric(f"Speculative acceptance · {w}", number(100.0 * t.acceptance, ".0f", " %"),
               help="Draft tokens accepted over accepted + rejected "
                    "(— when no request used speculative decoding).")


def prom_latency(out: Block, snap: Snapshot, answer: RangeAnswer, tz: str) -> None:
    """Prometheus's p95, then the live feed's over the last minutes."""
    start = live_from(snap)
    tail = serving_lines(snap.tail.serving, start, snap.taken_at,
                         window_s=snap.taken_at - start).latency
    p95 = tail[tail["series"] == "p95"]
    tail_t = p95["time"].to_numpy("datetime64[ns]").astype("int64") / 1e9
    prometheus_chart(out, snap, answer, tz, kind="prom_latency", field="seconds",
                     prom=[(f"p95 · {PROM}", "p95_s")],
                     live=[(f"p95 · {LIVE}", tail_t, p95["seconds"].to_numpy())],
                     key="requests_latency_prom")


def charts(out: Block, snap: Snapshot, lines: ServingLines, tz: str,
           answer: RangeAnswer | None) -> None:
    window = snapshot_window(snap)
    r = reach(snap, first_at(snap.serving.ts), zone(tz))
    marks = marker_frame(snap.events, window, r.markers)
    gaps = (*snap.gaps, *r.gaps)
    axis = TimeAxis.for_window(snap.window_s, tz)
    frames = {"latency": lines.latency, "requests": lines.requests, "queue": lines.queue,
              "tokens": lines.tokens}
    kinds = list(TITLES)
    for pair in (kinds[:2], kinds[2:]):
        for col, kind in zip(out.columns(2), pair, strict=True):
            col.markdown(f"**{TITLES[kind]}**")
            if kind == "latency" and uses_prometheus(answer, snap.window_s):
                assert answer is not None
                prom_latency(col, snap, answer, tz)
                continue
            col.chart(lines_plan(kind, frames[kind], gaps=gaps, markers=marks,
                                 window=window, axis=axis), key=f"requests_{kind}")
    out.caption(f"Rates over the {span(lines.over_s)} before each point and latency over "
                f"the {span(lines.latency_over_s)} before it, every "
                f"{span(lines.step_s)}. Amber lines mark loads, unloads, downloads, "
                f"reloads and restarts. {LOCAL_SOURCE}")
    if r.note:
        out.caption(r.note)
    if not uses_prometheus(answer, snap.window_s) and (note := fallback_caption(answer)):
        out.caption(f":material/info: Latency: {note}")


def tables(out: Block, snap: Snapshot) -> None:
    t0, t1 = snapshot_window(snap)
    models, clients = model_table(snap.serving, t0, t1), client_table(snap.serving, t0, t1)
    out.markdown("**Per model**")
    if models.empty:
        out.caption("No model finished a request in this window.")
    else:
        out.table(models, columns=MODEL_COLUMNS)
    out.markdown("**Per client**")
    if clients.empty:
        out.caption("No client counted in this window (the server lists clients once it "
                    "has seen one).")
    else:
        out.table(clients, columns=CLIENT_COLUMNS)


def download(out: Block, snap: Snapshot) -> None:
    window_csv(out, snap, "requests",
               lambda start, end: serving_csv(snap.serving, start, end), len(snap.serving),
               help="The raw counter and histogram deltas of the window, one row per poll (or "
                    "minute) and per server, model or client, with UTC timestamps.")


def build(spec: RequestsSpec, snap: Snapshot) -> Recording:
    """The live part's elements for one tick, shared by every viewer of it."""
    out = Recording()
    banner(out, snap)
    t0, t1 = snapshot_window(snap)
    win = snap.serving
    if not len(win):
        out.caption(":material/hourglass_empty: No request metrics yet — they come from two "
                    "readings of the server's /admin/metrics, about a second apart.")
    figures(out, totals(win, t0=t0, t1=t1), headline(snap, spec.window_s), spec.bands)
    charts(out, snap, serving_lines(win, t0, t1, window_s=snap.window_s), spec.tz, spec.answer)
    tables(out, snap)
    download(out, snap)
    return out
