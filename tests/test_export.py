"""CSV exports compared as exact text, line endings included."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from opta_stream.export.csv_files import (
    events_csv,
    export_filename,
    memory_csv,
    neutralize,
    throughput_csv,
)
from opta_stream.snapshot import LogEntry, Series, empty_series, frozen_array

T = 1795272175.123  # 2026-11-21T14:42:55.123Z


def _series(ts, value, model=None, names=()) -> Series:
    ts = np.asarray(ts, dtype=np.float64)
    value = np.asarray(value, dtype=np.float64)
    return Series(
        ts=frozen_array(ts), value=frozen_array(value), lo=frozen_array(value),
        hi=frozen_array(value), seg=frozen_array(np.zeros(ts.size), np.int64),
        model=frozen_array(np.full(ts.size, -1) if model is None else model, np.int32),
        model_names=tuple(names),
    )


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_throughput_csv_exact():
    s = _series(
        [T - 10.0, T, T + 0.5, T + 60.8766, T + 120.0],
        [1.0, 42.5, np.nan, 1e-05, 7.0],
        model=[0, 0, -1, 1, 0],
        names=("mlx-community/Qwen2.5-7B", "=cmd|' /C calc'!A0"),
    )
    assert throughput_csv(s, T, T + 61.0) == (
        b"timestamp_utc,unix_s,tokens_per_second,model_id\n"
        b"2026-11-21T14:42:55.123Z,1795272175.123,42.5,mlx-community/Qwen2.5-7B\n"
        b"2026-11-21T14:42:55.623Z,1795272175.623,,\n"
        b"2026-11-21T14:43:56.000Z,1795272235.9996,1e-05,'=cmd|' /C calc'!A0\n"
    )


def test_throughput_csv_bounds_are_inclusive_and_rows_are_not_downsampled():
    ts = T + np.arange(5_000) * 0.02
    s = _series(ts, np.arange(5_000.0))
    rows = _rows(throughput_csv(s, ts[10], ts[4_010]))
    assert len(rows) == 1 + 4_001
    assert rows[1][1] == repr(float(ts[10])) and rows[-1][1] == repr(float(ts[4_010]))


def test_empty_exports_are_a_header_line():
    assert throughput_csv(empty_series(), 0, 1) == (
        b"timestamp_utc,unix_s,tokens_per_second,model_id\n")
    assert memory_csv(empty_series(), empty_series(), 0, 1) == (
        b"timestamp_utc,unix_s,used_gb,total_gb\n")
    assert events_csv([]) == (
        b"timestamp_utc,unix_s,type,category,severity,summary,data,updates,first_unix_s\n")


def test_memory_csv_exact_same_times():
    used = _series([T, T + 1.0, T + 2.0], [10.25, 11.0, 12.5])
    total = _series([T, T + 1.0, T + 2.0], [64.0, 64.0, 64.0])
    assert memory_csv(used, total, T, T + 1.0) == (
        b"timestamp_utc,unix_s,used_gb,total_gb\n"
        b"2026-11-21T14:42:55.123Z,1795272175.123,10.25,64.0\n"
        b"2026-11-21T14:42:56.123Z,1795272176.123,11.0,64.0\n"
    )


def test_memory_csv_joins_on_time_and_leaves_missing_cells_empty():
    used = _series([T, T + 2.0], [10.0, 12.0])
    total = _series([T + 1.0, T + 2.0], [64.0, 32.0])
    assert memory_csv(used, total, 0, 2e9) == (
        b"timestamp_utc,unix_s,used_gb,total_gb\n"
        b"2026-11-21T14:42:55.123Z,1795272175.123,10.0,\n"
        b"2026-11-21T14:42:56.123Z,1795272176.123,,64.0\n"
        b"2026-11-21T14:42:57.123Z,1795272177.123,12.0,32.0\n"
    )


def _entry(seq, ts, type_, summary, data="", severity="info", category="model"):
    return LogEntry(seq=seq, ts=ts, type=type_, category=category, severity=severity,
                    summary=summary, data=data)


def test_events_csv_exact_with_quoting_and_injection_guard():
    entries = [
        _entry(2, T + 1.0, "download_failed", "=HYPERLINK(\"http://x\",\"y\")",
               data='{"error": "disk full, 0 bytes"}', severity="error",
               category="download"),
        _entry(1, T, "model_loaded", "Loaded a, b", data='{"model_id": "a"}'),
        _entry(3, T + 2.0, "config_reloaded", "-5 settings", data="line1\nline2"),
        _entry(4, T + 3.0, "odd", "@SUM(A1)", data="\tTAB"),
        _entry(5, T + 4.0, "+x", "cr\rinside", data="\rstart"),
    ]
    assert events_csv(entries) == (
        b"timestamp_utc,unix_s,type,category,severity,summary,data,updates,first_unix_s\n"
        b'2026-11-21T14:42:55.123Z,1795272175.123,model_loaded,model,info,"Loaded a, b",'
        b'"{""model_id"": ""a""}",1,1795272175.123\n'
        b"2026-11-21T14:42:56.123Z,1795272176.123,download_failed,download,error,"
        b'"\'=HYPERLINK(""http://x"",""y"")","{""error"": ""disk full, 0 bytes""}",1,'
        b"1795272176.123\n"
        b"2026-11-21T14:42:57.123Z,1795272177.123,config_reloaded,model,info,'-5 settings,"
        b'"line1\nline2",1,1795272177.123\n'
        b"2026-11-21T14:42:58.123Z,1795272178.123,odd,model,info,'@SUM(A1),'\tTAB,1,"
        b"1795272178.123\n"
        b'2026-11-21T14:42:59.123Z,1795272179.123,\'+x,model,info,"cr\rinside","\'\rstart",1,'
        b"1795272179.123\n"
    )


def test_events_csv_round_trips_through_a_csv_reader():
    text = 'a "quoted", multi\nline\r\nvalue'
    rows = _rows(events_csv([_entry(1, T, "t", text, data=text)]))
    assert rows[1][5] == text and rows[1][6] == text
    assert len(rows) == 2


def test_events_csv_says_how_many_events_a_job_line_folds():
    job = LogEntry(7, T + 9.0, "quantize_progress", "quantize", "info", "Quantize m: 40%",
                   updates=12, first_ts=T)
    rows = _rows(events_csv([job, _entry(3, T + 1.0, "model_loaded", "Loaded m")]))
    assert [r[-2:] for r in rows] == [["updates", "first_unix_s"], ["1", "1795272176.123"],
                                      ["12", "1795272175.123"]]


@pytest.mark.parametrize("cell, expected", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), ("", ""), ("a=b", "a=b"),
    ("'quoted", "'quoted"),
])
def test_neutralize(cell, expected):
    assert neutralize(cell) == expected


def test_negative_numbers_stay_numbers():
    data = memory_csv(_series([T], [-1.5]), _series([T], [-2.0]), T, T)
    assert data.splitlines()[1] == b"2026-11-21T14:42:55.123Z,1795272175.123,-1.5,-2.0"


def test_no_crlf_line_endings():
    data = throughput_csv(_series([T, T + 1], [1.0, 2.0]), 0, 2e9)
    assert b"\r" not in data and data.endswith(b"\n")


@pytest.mark.parametrize("server, expected", [
    ("http://127.0.0.1:8000", "127.0.0.1-8000"),
    ("https://user:hunter2@lmx.local:8443/base?admin_key=hunter2#frag", "lmx.local-8443"),
    ("http://LMX.Example.com", "lmx.example.com"),
    ("http://[::1]:8000", "--1-8000"),
    ("127.0.0.1:9000", "127.0.0.1-9000"),
    ("demo server", "demo-server"),
    ("", "server"),
    ("http://h:notaport", "h"),
])
def test_export_filename_server_part(server, expected):
    name = export_filename(server, "throughput", T, T + 600)
    assert name == f"opta-stream_{expected}_throughput_20261121T144255Z_20261121T145255Z.csv"
    assert "hunter2" not in name and "admin_key" not in name


def test_export_filename_example_and_kind_sanitised():
    assert export_filename("http://127.0.0.1:8000", "throughput", T, T + 600) == (
        "opta-stream_127.0.0.1-8000_throughput_20261121T144255Z_20261121T145255Z.csv")
    assert export_filename("http://h", "../ev ents", 0, 1) == (
        "opta-stream_h_..-ev-ents_19700101T000000Z_19700101T000001Z.csv")
    assert export_filename("http://h", "", 0, 0).startswith("opta-stream_h_export_")
