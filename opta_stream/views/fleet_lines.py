"""The Fleet page's history: tokens/s of every server over a long window, a line each.

Each server's line comes from Prometheus when it answered for that server
(``ranges.RangeAnswer``), else from that server's own recording; the
caption names the source of each, and why Prometheus was not used where it
was set but gave nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from opta_stream.charts.line_charts import LineSpec
from opta_stream.charts.long_window import fallback_caption, uses_prometheus
from opta_stream.charts.parts import MODEL_COLORS
from opta_stream.ranges import RangeAnswer

__all__ = ["Line", "history_caption", "history_spec", "pick"]

Line = tuple[str, np.ndarray, np.ndarray]  # server name, unix-second times, tokens/s


def history_spec(names: Sequence[str]) -> LineSpec:
    """One colour per server, in the configured order."""
    colors = tuple(MODEL_COLORS[i % len(MODEL_COLORS)] for i in range(len(names)))
    return ("tokens_per_second", "tokens/s", ",.1f", tuple(names), colors)


def pick(name: str, answer: RangeAnswer | None, window_s: float,
         own: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[Line, str]:
    """The server's line (Prometheus's if it answered, else ``own()``, its own recording's,
    computed only then) and the source it came from."""
    if uses_prometheus(answer, window_s):
        assert answer is not None
        line = answer.lines["tokens_per_s"]
        return (name, line.t, line.values), answer.source
    return (name, *own()), "own"


def history_caption(sources: Sequence[tuple[str, str, RangeAnswer | None]]) -> str:
    """Which server's line came from where, and why Prometheus was not used where it was
    set, e.g. "Source: Prometheus at p:9090 for studio, mini; this dashboard's own
    recording for lab. Prometheus at p:9090 has no series for lab: …"."""
    by_source: dict[str, list[str]] = {}
    for name, source, _ in sources:
        by_source.setdefault(source, []).append(name)
    own = "this dashboard's own recording"
    parts = [f"{own if src == 'own' else src} for {', '.join(names)}"
             for src, names in by_source.items()]
    missing = [(name, answer) for name, src, answer in sources
               if src == "own" and answer is not None and answer.status == "missing"]
    named = ", ".join(f"{n} ({a.selects})" if a.selects else n for n, a in missing)
    why = [] if not missing else [
        f"{missing[0][1].source} has no series for {named}: does it scrape their "
        "/admin/metrics, with that label?"]
    why += sorted({note for _, src, answer in sources
                   if src == "own" and answer is not None and answer.status != "missing"
                   and (note := fallback_caption(answer))})
    return "Source: " + "; ".join(parts) + "." + "".join(f" {w}" for w in why)
