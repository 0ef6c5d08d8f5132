"""CSV exports of what the dashboard recorded: pure, bytes out.

Format, the same for every export:

- UTF-8 without a byte-order mark, ``\\n`` line endings, a header row, and
  RFC 4180 quoting (a cell holding ``,``, ``"``, CR or LF is wrapped in double
  quotes, with inner quotes doubled).
- ``timestamp_utc`` is ISO 8601 in UTC with milliseconds and a ``Z`` suffix,
  e.g. ``2026-11-21T14:42:55.123Z`` (rounded to the nearest millisecond);
  ``unix_s`` is the exact float the dashboard holds, written in Python's
  shortest round-trip form, so nothing is lost.
- Numbers are written as numbers; a missing or non-finite value is an empty
  cell. Rows are not downsampled: the export is the data, not the picture.

Formula injection: spreadsheet programs run a cell that starts with ``=``,
``+``, ``-`` or ``@`` as a formula (tab and CR are stripped first by some, so
they count too). Model ids, event summaries and raw event data all come from
a server, so any text cell starting with one of those characters gets a
leading ``'``, which makes the spreadsheet show it as plain text. Numbers we
format ourselves are exempt: ``-3.5`` must stay a number.
"""

from __future__ import annotations

import csv
import math
import re
import time
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from opta_stream.figures.serving_totals import newest_bounds
from opta_stream.inputs import split_origin
from opta_stream.server_report import BenchmarkRun
from opta_stream.snapshot import (
    SERVING_GAUGES,
    SERVING_VALUES,
    USAGE_VALUES,
    AlertChange,
    LogEntry,
    Series,
    ServingWindow,
)

__all__ = [
    "alerts_csv",
    "BENCHMARK_COLUMNS",
    "benchmarks_csv",
    "events_csv",
    "export_filename",
    "memory_csv",
    "neutralize",
    "rate_lines_csv",
    "serving_csv",
    "throughput_csv",
    "usage_csv",
]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def neutralize(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would otherwise run as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _text(value: object) -> str:
    """One text cell, neutralized; the csv writer adds RFC 4180 quoting."""
    return neutralize("" if value is None else str(value))


class _Rows(list[str]):
    """A file-like sink for ``csv.writer`` that ends every row in ``\\n``.

    The writer runs with ``\\r\\n`` as its terminator because that is what
    makes it quote a cell holding a lone CR (RFC 4180); each row arrives in
    one ``write`` call, so swapping the terminator here cannot touch a cell.
    """

    def write(self, line: str) -> None:
        self.append(line[:-2] + "\n")


def _numbers(values: np.ndarray) -> list[str]:
    """Shortest round-trip form; empty for NaN and infinities."""
    return [repr(v) if v - v == 0.0 else "" for v in np.asarray(values, np.float64).tolist()]


def _iso(ts: np.ndarray) -> list[str]:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``; each distinct second is formatted once."""
    ms = np.round(np.asarray(ts, np.float64) * 1000.0).astype(np.int64)
    sec, milli = np.divmod(ms, 1000)
    uniq, inv = np.unique(sec, return_inverse=True)
    prefix = np.datetime_as_string(uniq.astype("datetime64[s]"), unit="s").tolist()
    return [f"{prefix[i]}.{m:03d}Z" for i, m in zip(inv.tolist(), milli.tolist(), strict=True)]


def _csv(header: Sequence[str], columns: Sequence[list[str]]) -> bytes:
    """A header row and the columns' cells, written by the standard ``csv`` module."""
    rows = _Rows()
    writer = csv.writer(rows, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(zip(*columns, strict=True))
    return "".join(rows).encode("utf-8", "replace")


def _in_range(ts: np.ndarray, start: float, end: float) -> np.ndarray:
    return np.flatnonzero((ts >= start) & (ts <= end))


def throughput_csv(series: Series, start: float, end: float) -> bytes:
    """``timestamp_utc,unix_s,tokens_per_second,model_id``: every row in [start, end]."""
    idx = _in_range(series.ts, start, end)
    ts = series.ts[idx]
    ids = [_text(m) for m in series.model_ids_at(idx, "").tolist()]
    cols = [_iso(ts), _numbers(ts), _numbers(series.value[idx]), ids]
    return _csv(("timestamp_utc", "unix_s", "tokens_per_second", "model_id"), cols)


def rate_lines_csv(lines: pd.DataFrame, over_s: float) -> bytes:
    """``timestamp_utc,unix_s,series,tokens_per_second,rate_over_s``: what the Throughput
    chart draws, point by point (each model's line and 'all models'; the last 'all models'
    point is the rate now, over the last 10 s), so the file can draw the chart again."""
    shown = lines[lines["show"] > 0] if "show" in lines else lines
    ts = (shown["time"].to_numpy("datetime64[ns]").astype(np.int64) / 1e9
          if len(shown) else np.empty(0))
    last_total = len(shown) - 1 - list(shown["series"].astype(str))[::-1].index("all models") \
        if "all models" in set(shown["series"].astype(str)) else -1
    over = [repr(over_s)] * len(shown)
    if last_total >= 0:
        over[last_total] = "10.0"
    cols = [_iso(ts), _numbers(ts), [_text(x) for x in shown["series"].astype(str)],
            _numbers(shown["tokens_per_second"].to_numpy(np.float64)), over]
    return _csv(("timestamp_utc", "unix_s", "series", "tokens_per_second", "rate_over_s"), cols)


def memory_csv(used: Series, total: Series, start: float, end: float) -> bytes:
    """``timestamp_utc,unix_s,used_gb,total_gb``: one row per sample time.

    The store samples both together; if their times ever differ, rows are
    joined on the exact timestamp and a side without a sample is left empty.
    """
    u_idx, t_idx = _in_range(used.ts, start, end), _in_range(total.ts, start, end)
    u_ts, t_ts = used.ts[u_idx], total.ts[t_idx]
    if np.array_equal(u_ts, t_ts):
        ts, u_val, t_val = u_ts, used.value[u_idx], total.value[t_idx]
    else:
        ts = np.union1d(u_ts, t_ts)
        u_val = _at(ts, u_ts, used.value[u_idx])
        t_val = _at(ts, t_ts, total.value[t_idx])
    cols = [_iso(ts), _numbers(ts), _numbers(u_val), _numbers(t_val)]
    return _csv(("timestamp_utc", "unix_s", "used_gb", "total_gb"), cols)


def _at(times: np.ndarray, src_ts: np.ndarray, src_val: np.ndarray) -> np.ndarray:
    """Values of ``src`` at exactly ``times``; NaN where src has no sample."""
    order = np.argsort(src_ts, kind="stable")
    src_ts, src_val = src_ts[order], src_val[order]
    pos = np.minimum(np.searchsorted(src_ts, times), max(src_ts.size - 1, 0))
    out = np.full(times.shape, np.nan)
    if src_ts.size:
        hit = src_ts[pos] == times
        out[hit] = src_val[pos[hit]]
    return out


def events_csv(entries: Iterable[LogEntry]) -> bytes:
    """``timestamp_utc,unix_s,type,category,severity,summary,data,updates,first_unix_s``
    in log order (seq). A job's line is its latest state: ``updates`` events folded
    into it, the first at ``first_unix_s`` (for any other line 1 and ``unix_s``)."""
    rows = sorted(entries, key=lambda e: e.seq)
    ts = np.array([e.ts for e in rows], dtype=np.float64)
    first = np.array([e.ts if e.first_ts is None else e.first_ts for e in rows], np.float64)
    text = [[_text(getattr(e, f)) for e in rows]
            for f in ("type", "category", "severity", "summary", "data")]
    header = ("timestamp_utc", "unix_s", "type", "category", "severity", "summary", "data",
              "updates", "first_unix_s")
    return _csv(header, [_iso(ts), _numbers(ts), *text, [str(e.updates) for e in rows],
                         _numbers(first)])


def export_filename(server: str, kind: str, start: float, end: float) -> str:
    """``opta-stream_<host>-<port>_<kind>_<start>_<end>.csv``, safe on any OS.

    Only the host and port of ``server`` are used, so a user name, password,
    path or query string in it can never leak into a file name.
    """
    return (f"opta-stream_{_server_label(server)}_{_safe(kind) or 'export'}"
            f"_{_stamp(start)}_{_stamp(end)}.csv")


def _server_label(server: str) -> str:
    _, host, port, _ = split_origin(server)
    return _safe(f"{host}-{port}" if port is not None else host) or "server"


def _safe(text: str) -> str:
    return _UNSAFE_NAME.sub("-", text)[:80]


def _stamp(t: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(int(np.floor(t))))


def usage_csv(days: pd.DataFrame) -> bytes:
    """``date,timestamp_utc,unix_s,model_id,requests,errors,prompt_tokens,
    completion_tokens,busy_s``: one row per local day and model, and the whole server's
    row with model_id ``*``; the times are the local day's start. A count the server
    does not report (a model's prompt tokens) is empty."""
    start = days["day_start"].to_numpy(np.float64)
    cols = [[_text(d) for d in days["date"]], _iso(start), _numbers(start),
            [_text(m) for m in days["model_id"]],
            *[_numbers(days[c].to_numpy(np.float64)) for c in USAGE_VALUES]]
    return _csv(("date", "timestamp_utc", "unix_s", "model_id", *USAGE_VALUES), cols)


def _bound_name(b: float) -> str:
    return "+Inf" if math.isinf(b) else f"{b:g}"


def serving_csv(win: ServingWindow, t0: float, t1: float) -> bytes:
    """Every row ending in [t0, t1]: when, over how long, whose, the deltas, buckets, gauges.

    Columns: ``timestamp_utc, unix_s, interval_s, kind, id``, then the
    counter deltas, ``le_<bound>`` cumulative bucket deltas (the newest
    bounds; rows with other bounds leave them empty), then the gauges.
    """
    idx = np.flatnonzero((win.ts >= t0) & (win.ts <= t1))
    bid = newest_bounds(win)
    bounds = win.bounds[bid] if bid >= 0 else ()
    kinds = [win.keys[k] for k in win.key[idx].tolist()]
    cols = [_iso(win.ts[idx]), _numbers(win.ts[idx]), _numbers(win.dt[idx]),
            [k for k, _ in kinds], [_text(n) for _, n in kinds]]
    cols += [_numbers(win.values[idx, i]) for i in range(len(SERVING_VALUES))]
    same = win.bounds_id[idx] == bid
    for i in range(len(bounds)):
        cols.append(_numbers(np.where(same, win.buckets[idx, i], np.nan)))
    cols += [_numbers(win.gauges[idx, i]) for i in range(len(SERVING_GAUGES))]
    header = ("timestamp_utc", "unix_s", "interval_s", "kind", "id", *SERVING_VALUES,
              *(f"le_{_bound_name(b)}" for b in bounds), *SERVING_GAUGES)
    return _csv(header, cols)


def alerts_csv(changes: Iterable[tuple[str, AlertChange]]) -> bytes:
    """``timestamp_utc,unix_s,server,alert,severity,from,to,value,threshold,silenced``:
    each change of an alert's state, as (server name, change), oldest first. ``value``
    and ``threshold`` are the rule's first figure when the change was made (empty: no
    data); ``silenced`` is 1 when a silence covered it."""
    rows = sorted(changes, key=lambda sc: sc[1].at)
    ts = np.array([c.at for _, c in rows], dtype=np.float64)
    text = [[_text(server) for server, _ in rows],
            *[[_text(getattr(c, f)) for _, c in rows]
              for f in ("rule", "severity", "old", "new")]]
    values = [_numbers(np.array([np.nan if getattr(c, f) is None else getattr(c, f)
                                 for _, c in rows], np.float64)) for f in ("value", "threshold")]
    return _csv(("timestamp_utc", "unix_s", "server", "alert", "severity", "from", "to", "value",
                 "threshold", "silenced"),
                [_iso(ts), _numbers(ts), *text, *values, [str(int(c.silenced)) for _, c in rows]])


BENCHMARK_COLUMNS = ("tokens_per_s_p50", "tokens_per_s_p95", "tokens_per_s_mean", "ttft_p50_s",
                     "ttft_p95_s", "repetition_ratio")
_BENCHMARK_COUNTS = ("runs_completed", "output_tokens")


def benchmarks_csv(runs: Sequence[BenchmarkRun]) -> bytes:
    """``timestamp_utc,unix_s,model_id,backend,status,<BENCHMARK_COLUMNS>,runs_completed,
    output_tokens,coherence_flag,hardware,lmx_version,server_timestamp``: every stored
    result the server listed, in
    time order (a result whose timestamp could not be read last, with empty times)."""
    rows = sorted(runs, key=lambda r: (r.at is None, r.at or 0.0, r.model_id))
    ts = np.array([np.nan if r.at is None else r.at for r in rows], dtype=np.float64)
    iso = [t if r.at is not None else "" for t, r in zip(_iso(np.nan_to_num(ts)), rows,
                                                          strict=True)]
    text = [[_text(getattr(r, f)) for r in rows] for f in ("model_id", "backend", "status")]
    numbers = [_numbers(np.array([np.nan if (v := getattr(r, f)) is None else v for r in rows],
                                 dtype=np.float64)) for f in BENCHMARK_COLUMNS]
    counts = [["" if (v := getattr(r, f)) is None else str(v) for r in rows]
              for f in _BENCHMARK_COUNTS]
    tail = [[_text(getattr(r, f)) for r in rows]
            for f in ("coherence_flag", "hardware", "lmx_version", "timestamp")]
    header = ("timestamp_utc", "unix_s", "model_id", "backend", "status", *BENCHMARK_COLUMNS,
              *_BENCHMARK_COUNTS, "coherence_flag", "hardware", "lmx_version",
              "server_timestamp")
    return _csv(header, [iso, _numbers(ts), *text, *numbers, *counts, *tail])
