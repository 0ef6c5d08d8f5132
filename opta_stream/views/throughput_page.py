"""Throughput: tokens per second over a chosen window, and its CSV.

Every point is a windowed rate (10 s in the live views, a minute or more in
the long ones; the caption says which), one line per model plus the total,
the same definition as the Overview's card. Lines break where the feed was
down (gaps are shaded), amber rules mark loads, unloads, downloads, reloads
and restarts, and a labelled dashed line marks the window's average. The CSV
holds the raw samples of exactly the window on screen.

With ``prometheus_url`` set, a window of an hour or more is drawn from
Prometheus (the server's completion-token counter as a rate) up to the last
five minutes, which come from the live feed; its figures are that line's.
When Prometheus gives nothing, the chart says why and shows the dashboard's
own history.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from opta_stream.charts.frames import marker_frame
from opta_stream.charts.long_window import (
    LIVE,
    LOCAL_SOURCE,
    PROM,
    fallback_caption,
    line_stats,
    split_at,
    uses_prometheus,
)
from opta_stream.charts.parts import TimeAxis
from opta_stream.charts.throughput_lines import ThroughputView, throughput_view
from opta_stream.charts.time_charts import throughput_plan
from opta_stream.export.csv_files import export_filename, rate_lines_csv, throughput_csv
from opta_stream.figures.headline import headline, window_words
from opta_stream.figures.tokens import LONG_OVER_S, RateGrid, rate_grid
from opta_stream.figures.windows import snapshot_window
from opta_stream.snapshot import RangeAnswer, Snapshot
from opta_stream.units import number, span, zone
from opta_stream.views.csv_buttons import csv_button, window_csv
from opta_stream.views.long_chart import live_from, prometheus_chart
from opta_stream.views.reach import first_at, reach
from opta_stream.views.recording import Block, Recording
from opta_stream.views.specs import ThroughputSpec
from opta_stream.views.verdict import banner

__all__ = ["build"]

Stats = tuple[float | None, float | None, float | None]  # average, p95, peak


def stats_row(out: Block, stats: Stats, now: float | None, over_s: float, line: str,
              window: str) -> None:
    average, p95, peak = stats
    row = out.container(horizontal=True)
    row.metric("Tokens / s · now", number(now),
               help="All models together over the last 10 s: the Overview's figure, and "
                    "where the 'all models' line ends.")
    row.metric(f"Average tokens/s · {window}", number(average),
               help=f"The mean of the {line} line's points over the window (each the rate "
                    f"over {span(over_s)}; its last one, now), idle time included.")
    row.metric(f"p95 tokens/s · {window}", number(p95),
               help=f"95 % of the {line} line's points are at or below this.")
    row.metric(f"Peak tokens/s · {window}", number(peak),
               help=f"The highest point of the {line} line, now included.")


def _tail(snap: Snapshot, now: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The live feed's part of a long chart: its rate line over the last minutes, ending
    with the rate now (the page's "now"), as on the dashboard's own chart."""
    start, t1 = live_from(snap), snap.taken_at
    grid: RateGrid = rate_grid(snap.tail.throughput, start, t1,
                               step_s=max(1.0, min(5.0, (t1 - start) / 10.0)),
                               over_s=LONG_OVER_S)
    if now is None or (grid.t.size and grid.t[-1] >= t1):
        return grid.t, grid.total
    return np.append(grid.t, t1), np.append(grid.total, now)


def prom_chart(out: Block, snap: Snapshot, answer: RangeAnswer, tz: str,
               now: float | None) -> None:
    """Prometheus's line, then the live feed's last minutes."""
    prometheus_chart(out, snap, answer, tz, kind="prom_throughput", field="tokens_per_second",
                     prom=[(PROM, "tokens_per_s")], live=[(LIVE, *_tail(snap, now))],
                     key="throughput_chart_prom", height=340,
                     note="All models together: Prometheus counts a request's tokens when it "
                          "finishes; the line ends at the rate now.")


def chart(out: Block, snap: Snapshot, view: ThroughputView, tz: str,
          answer: RangeAnswer | None) -> None:
    window = snapshot_window(snap)
    r = reach(snap, first_at(snap.throughput.ts), zone(tz))
    out.chart(throughput_plan(view, gaps=(*snap.gaps, *r.gaps),
                              markers=marker_frame(snap.events, window, r.markers),
                              window=window, axis=TimeAxis.for_window(snap.window_s, tz)),
              key="throughput_chart")
    if not len(snap.throughput):
        out.caption("No throughput samples yet — waiting for the first tokens/s reading "
                    "from the server.")
    else:
        split = " One line per model; 'all models' is their sum." if view.per_model else ""
        out.caption(f"Each point is the rate over the {span(view.grid.over_s)} before it, "
                    f"every {span(view.grid.step_s)}, and the 'all models' line ends at the "
                    f"rate now (the last 10 s).{split} A real server counts a request's "
                    f"tokens when it finishes. {LOCAL_SOURCE}")
    if r.note:
        out.caption(r.note)
    if note := fallback_caption(answer):
        out.caption(f":material/info: {note}")


def download(out: Block, snap: Snapshot, view: ThroughputView | None) -> None:
    """Two files: what the chart draws (the rates, per point), and the raw samples."""
    start, end = snapshot_window(snap)
    reach_note = _reach_words(snap)
    row = out.container(horizontal=True)
    if view is not None:
        csv_button(row, lambda: rate_lines_csv(view.lines, view.grid.over_s), len(view.lines),
                   file_name=export_filename(snap.server, "throughput-rates", start, end),
                   key="throughput_rates_csv", label="Download the chart (CSV)",
                   help="What the chart draws: each model's line and 'all models', one row a "
                        "point, each the rate over the seconds in rate_over_s before it (the "
                        f"last 'all models' point is now).{reach_note}")
    window_csv(row, snap, "throughput",
               lambda start, end: throughput_csv(snap.throughput, start, end),
               len(snap.throughput), label="Download the samples (CSV)",
               help="The raw samples in the window shown (per poll or per streamed reading), "
                    f"with UTC timestamps.{reach_note}")


def _reach_words(snap: Snapshot) -> str:
    first = first_at(snap.throughput.ts)
    if first is None or first <= snap.taken_at - snap.window_s + 60.0:
        return ""
    return (" The recording starts at "
            f"{datetime.fromtimestamp(first, UTC):%Y-%m-%d %H:%M:%S} UTC: the file starts "
            "there, not at the window's start.")


def build(spec: ThroughputSpec, snap: Snapshot) -> Recording:
    """The live part's elements for one tick, shared by every viewer of it."""
    out = Recording()
    banner(out, snap)
    answer = spec.answer
    now = headline(snap).tokens_per_s
    window = window_words(spec.window_s)
    if uses_prometheus(answer, spec.window_s):
        assert answer is not None
        # The figures are the drawn line's: Prometheus's points before the live minutes,
        # the live tail's, and now.
        line = answer.lines["tokens_per_s"]
        before = split_at(line.t, line.values, live_from(snap), before=True)[1]
        drawn = np.concatenate([before, _tail(snap, now)[1]])
        stats_row(out, line_stats(drawn), now, max(LONG_OVER_S, line.step_s),
                  "Prometheus and live", window)
        prom_chart(out, snap, answer, spec.tz, now)
        view = None
    else:
        view = throughput_view(snap, now=now)
        stats_row(out, (view.average, view.p95, view.peak), now, view.grid.over_s,
                  "'all models'", window)
        chart(out, snap, view, spec.tz, answer)
    download(out, snap, view)
    return out
