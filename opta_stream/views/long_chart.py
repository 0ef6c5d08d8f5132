"""A long window's chart from Prometheus with its last minutes from the live feed: once.

Throughput, Memory and the Requests page's latency draw a window of an hour
or more the same way when Prometheus answered: each Prometheus line up to
``LIVE_TAIL_S`` before the snapshot, then the page's own live line(s) from
the snapshot's tail, every line's legend naming its source, and a caption
with the query and the step. The pages differ only in which lines they ask
for and how their live part is computed, which they hand in.
"""

from __future__ import annotations

from collections.abc import Sequence

from opta_stream.charts import long_window
from opta_stream.charts.frames import marker_frame
from opta_stream.charts.line_charts import lines_plan
from opta_stream.charts.long_window import Part, long_frame, source_caption, split_at
from opta_stream.charts.parts import TimeAxis
from opta_stream.figures.windows import snapshot_window
from opta_stream.snapshot import RangeAnswer, Snapshot
from opta_stream.views.recording import Block

__all__ = ["live_from", "prometheus_chart"]


def live_from(snap: Snapshot) -> float:
    """Where the live feed's part of a long chart begins (``long_window.LIVE_TAIL_S`` before
    the snapshot; read at each call, so a test can shorten it)."""
    return snap.taken_at - long_window.LIVE_TAIL_S


def prometheus_chart(out: Block, snap: Snapshot, answer: RangeAnswer, tz: str, *, kind: str,
                     field: str, prom: Sequence[tuple[str, str]], live: Sequence[Part],
                     key: str, height: int = 300, note: str = "") -> None:
    """``prom``: (legend name, the answer's line) pairs; ``live``: the page's own parts,
    from ``live_from(snap)`` on. ``kind`` names the chart's lines in ``line_charts.SPECS``."""
    start = live_from(snap)
    parts: list[Part] = []
    for name, line_key in prom:
        line = answer.lines[line_key]
        parts.append((name, *split_at(line.t, line.values, start, before=True)))
    parts.extend(live)
    window = snapshot_window(snap)
    out.chart(lines_plan(kind, long_frame(parts, field),
                         markers=marker_frame(snap.events, window), window=window,
                         axis=TimeAxis.for_window(snap.window_s, tz), height=height),
              key=key)
    out.caption(source_caption(answer) + (f" {note}" if note else ""))
