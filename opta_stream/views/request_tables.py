"""The Requests page's tables: per model and per client.

The tables sum each key's rows over the window (``serving.totals``), so a
model's tokens/s here is the same number as its line would average to.
The CSV holds every row of the window as recorded: deltas, their interval,
the latency buckets and (on server rows) the gauges. Nothing is smoothed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from opta_stream.figures.serving_totals import ServingTotals, totals
from opta_stream.snapshot import ServingWindow

__all__ = ["client_table", "model_table"]


def _names(win: ServingWindow, kind: str) -> list[str]:
    present = set(np.unique(win.key).tolist())
    return [name for i, (k, name) in enumerate(win.keys) if k == kind and i in present]


def _table(win: ServingWindow, kind: str, t0: float, t1: float,
           row: Callable[[str, ServingTotals], dict[str, object]], columns: list[str]
           ) -> pd.DataFrame:
    """One row per ``kind`` key seen in the window, busiest first."""
    rows = [row(name, totals(win, kind, name, t0=t0, t1=t1)) for name in _names(win, kind)]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("requests", ascending=False, kind="stable", ignore_index=True)


def _model_row(name: str, t: ServingTotals) -> dict[str, object]:
    return {"model": name, "requests": int(t.get("requests")), "errors": int(t.get("errors")),
            "error %": 100.0 * t.error_ratio, "tokens/s": t.per_s("completion_tokens"),
            "p50 s": t.quantile(0.5), "p95 s": t.quantile(0.95), "mean s": t.mean_latency}


def _client_row(name: str, t: ServingTotals) -> dict[str, object]:
    return {"client": name, "requests": int(t.get("requests")), "errors": int(t.get("errors")),
            "error %": 100.0 * t.error_ratio, "tokens": int(t.get("completion_tokens")),
            "tokens/s": t.per_s("completion_tokens")}


def model_table(win: ServingWindow, t0: float, t1: float) -> pd.DataFrame:
    """One row per model that finished a request in the window, busiest first."""
    return _table(win, "model", t0, t1, _model_row, ["model", "requests", "errors", "error %",
                                                      "tokens/s", "p50 s", "p95 s", "mean s"])


def client_table(win: ServingWindow, t0: float, t1: float) -> pd.DataFrame:
    """One row per client the server counted in the window, busiest first."""
    return _table(win, "client", t0, t1, _client_row,
                  ["client", "requests", "errors", "error %", "tokens", "tokens/s"])
