"""One Throughput-page tick with a full hour at 50 Hz, stage by stage; store size.

Why stages: the fragment reruns twice a second per viewer, so its cost is the
dashboard's running cost. It mirrors ``pages/throughput.py``: snapshot, stats,
downsample + DataFrame, chart plan and spec (``chart_specs.to_spec``: cached
structure, this tick's data), then what ``st.vega_lite_chart`` does with it
(Arrow datasets and the spec JSON, with Streamlit's own functions). The CSV
of the window is added when the page builds it in every tick
(``widgets.csv_button`` does for small windows). The store
holds 180,000 raw samples (three models, two gaps) on an injected clock that
advances 0.5 s and gains 25 samples between ticks, like the live page.

``python bench/tick.py [ticks] [--profile]``
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.common import median, p95  # noqa: E402
from opta_stream.charts import frames  # noqa: E402
from opta_stream.charts import time_charts as charts  # noqa: E402
from opta_stream.charts.parts import TimeAxis  # noqa: E402
from opta_stream.charts.plans import to_spec  # noqa: E402
from opta_stream.charts.throughput_lines import throughput_view  # noqa: E402
from opta_stream.export import csv_files as export  # noqa: E402
from opta_stream.figures import windows  # noqa: E402
from opta_stream.snapshot import ConnState  # noqa: E402
from opta_stream.store.core import Store  # noqa: E402

__all__ = ["ChartPayload", "FilledStore", "chart_payload", "fill_store", "measure_store_full",
           "measure_tick", "page_builds_csv_each_tick", "run_tick"]

HZ = 50.0
WINDOW_S = 3600.0
MODELS = ("mlx-community/Qwen2.5-7B-Instruct-4bit", "mlx-community/Llama-3.2-3B-Instruct-4bit",
          "mlx-community/Mistral-7B-Instruct-v0.3-4bit")
MIB = 1024 * 1024


@dataclass
class FilledStore:
    """A Store on an injected clock and the sample generator that keeps it live."""

    store: Store
    now: list[float]  # the clock's value: now[0]
    next_i: int = 0

    def advance(self, seconds: float = 0.5) -> None:
        """Move the clock and append the samples those seconds would bring."""
        n = int(round(seconds * HZ))
        self.now[0] += seconds
        # samples fall in (old now, new now]: ending at the old now would overlap
        # the fill and flip the ring into its slow out-of-order path for good.
        self.store.add_throughput_many(*_samples(self.now[0], self.next_i, n))
        self.next_i += n


def _samples(t_end: float, i0: int, n: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    i = np.arange(i0, i0 + n)
    ts = t_end - (n - 1 - np.arange(n)) / HZ
    tps = 40.0 + 12.0 * np.sin(i / 700.0) + (i % 97 == 0) * 60.0  # a spike now and then
    return ts, tps, [MODELS[k % len(MODELS)] for k in i.tolist()]


def fill_store(n: int = 180_000, t0: float = 1_795_000_000.0) -> FilledStore:
    """``n`` raw samples at 50 Hz ending now, with two 1 s feed gaps among them."""
    now = [t0]
    store = Store("http://lmx.bench:1234", clock=lambda: now[0])
    store.set_connection(ConnState.OPEN, "Connected")
    per, done = n // 3, 0
    start = t0 - n / HZ - 2.0
    for part in range(3):
        count = per if part < 2 else n - done
        now[0] = start + (done + count) / HZ + 1.0 * part
        store.add_throughput_many(*_samples(now[0], done, count))
        done += count
        if part < 2:  # a gap: feed down for 1 s
            store.set_connection(ConnState.RECONNECTING, "down")
            now[0] += 1.0
            store.set_connection(ConnState.OPEN, "back")
    now[0] += 0.02
    return FilledStore(store, now, n)


def page_builds_csv_each_tick(rows: int) -> bool:
    """Whether a tick builds the window's CSV (``views.csv_buttons``: exports above
    ``STATIC_CSV_ROWS`` rows are built on click only)."""
    from opta_stream.views.csv_buttons import STATIC_CSV_ROWS

    return rows <= STATIC_CSV_ROWS


@dataclass
class ChartPayload:
    """What one chart sends per tick: Arrow datasets plus the spec JSON."""

    total_bytes: int
    arrow_bytes: int
    spec_bytes: int
    max_rows: int
    how: str = "streamlit"


def _frames_of(chart: Any) -> list[pd.DataFrame]:
    """The DataFrames a spec dict (named datasets) or an Altair chart carries."""
    if isinstance(chart, dict):
        return [d for d in chart.get("datasets", {}).values() if isinstance(d, pd.DataFrame)]
    layers = getattr(chart, "layer", None) or [chart]
    return [layer.data for layer in layers if isinstance(layer.data, pd.DataFrame)]


def chart_payload(chart: Any) -> ChartPayload:
    """What Streamlit sends for a chart, as the proto's size.

    ``chart`` is a Vega-Lite dict with DataFrames as named datasets (what
    ``st.vega_lite_chart(spec=...)`` gets) or an Altair chart (``st.altair_chart``).
    """
    rows = max((len(f) for f in _frames_of(chart)), default=0)
    try:
        from bench import streamlit_internals as compat

        total, arrow, spec_bytes = compat.chart_proto_sizes(chart)
        return ChartPayload(total, arrow, spec_bytes, rows)
    except (ImportError, AttributeError, TypeError) as exc:  # Streamlit internals moved
        return _payload_fallback(chart, rows, f"fallback ({type(exc).__name__})")


def _payload_fallback(chart: Any, rows: int, how: str) -> ChartPayload:
    from streamlit import dataframe_util

    arrow = sum(len(dataframe_util.convert_anything_to_arrow_bytes(f)) for f in _frames_of(chart))
    return ChartPayload(arrow, arrow, 0, rows, how)


@dataclass
class TickTimes:
    """Milliseconds per stage of one tick."""

    stages: dict[str, float] = field(default_factory=dict)

    def timed(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        value = fn(*args, **kwargs)
        self.stages[name] = (time.perf_counter() - start) * 1000.0
        return value

    @property
    def total(self) -> float:
        return sum(self.stages.values())


def run_tick(store: Store, with_csv: bool, window: float = WINDOW_S) -> tuple[TickTimes,
                                                                             ChartPayload]:
    """One fragment tick of the Throughput page, as ``pages/throughput.py`` runs it."""
    t = TickTimes()
    snap = t.timed("snapshot", store.snapshot, window)
    series = snap.throughput
    view = t.timed("rates", throughput_view, snap)
    window = windows.snapshot_window(snap)
    spec = t.timed("chart", lambda: to_spec(charts.throughput_plan(
        view, gaps=snap.gaps, markers=frames.marker_frame(snap.events, window), window=window,
        axis=TimeAxis.for_window(snap.window_s))))
    payload = t.timed("serialize", chart_payload, spec)
    if with_csv:
        start, end = windows.snapshot_window(snap)
        t.timed("csv", export.throughput_csv, series, start, end)
    return t, payload


def measure_tick(ticks: int = 60, warmup: int = 5, n: int = 180_000,
                 with_csv: bool | None = None, time_limit: float = 60.0) -> dict[str, Any]:
    """p95/median of the tick, the per-stage medians, points and bytes per chart."""
    filled = fill_store(n)
    csv = page_builds_csv_each_tick(n) if with_csv is None else with_csv
    totals, no_csv, per_stage = [], [], {}
    payload = None
    deadline = time.monotonic() + time_limit
    for i in range(warmup + ticks):
        filled.advance()
        times, payload = run_tick(filled.store, bool(csv))
        if i >= warmup:
            totals.append(times.total)
            no_csv.append(times.total - times.stages.get("csv", 0.0))
            for name, ms in times.stages.items():
                per_stage.setdefault(name, []).append(ms)
        if time.monotonic() > deadline and i >= warmup + 5:
            break
    assert payload is not None
    return {"tick_ms_p95": p95(totals), "tick_ms_median": median(totals),
            "tick_ms_p95_without_csv": p95(no_csv), "ticks": len(totals),
            "includes_csv": csv, "stages_ms_median": {k: median(v) for k, v in per_stage.items()},
            "points": len(filled.store.snapshot(WINDOW_S).throughput),
            "chart_points_max": payload.max_rows, "bytes_per_chart": payload.total_bytes,
            "arrow_bytes": payload.arrow_bytes, "spec_bytes": payload.spec_bytes,
            "payload_how": payload.how}


def profile_tick(ticks: int = 20, top: int = 25) -> str:
    """cProfile of ``ticks`` ticks (CSV included as the page does), top functions by cumtime."""
    filled = fill_store()
    csv = page_builds_csv_each_tick(180_000)
    prof = cProfile.Profile()
    for _ in range(ticks):
        filled.advance()
        prof.runcall(run_tick, filled.store, csv)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def _fill_every_ring(store: Store, t0: float, log_data: str) -> None:
    """55 h of 1 Hz throughput (raw ring and every tier full), 26 h of memory, a full log."""
    n = 200_000
    ts = t0 - n + np.arange(n, dtype=np.float64)
    store.add_throughput_many(ts, 40.0 + (np.arange(n) % 13), [MODELS[i % 3] for i in range(n)])
    for k in range(9_400):  # every 10 s for 26 h: the raw ring and the 60 s tier
        store.add_memory(t0 - 94_000.0 + 10.0 * k, 20.0 + (k % 7), 64.0, 80.0)
    for k in range(2_000):  # distinct strings: a shared one would be counted once
        store.log("model_loaded", f"Loaded {MODELS[k % 3]}", data=f"{k:06d}{log_data}")


def measure_store_full(log_bytes: int = 300) -> dict[str, float]:
    """Memory of one store with every ring and the log full: traced and self-reported."""
    t0 = 1_795_000_000.0
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        store = Store("http://lmx.bench:1234", clock=lambda: t0)
        _fill_every_ring(store, t0, "x" * (log_bytes - 6))
        traced = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return {"traced_mib": traced / MIB, "memory_bytes_mib": store.memory_bytes() / MIB,
            "log_bytes_per_entry": log_bytes}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if "--profile" in args:
        print(profile_tick())
        return
    ticks = int(args[0]) if args else 60
    res = measure_tick(ticks)
    print(json.dumps(res, indent=1))
    print(json.dumps(measure_store_full()), json.dumps(measure_store_full(4096)))


if __name__ == "__main__":
    main()
