"""views.event_rows: the Events page's window, rows, row height and filters."""

from __future__ import annotations

from datetime import UTC

from opta_stream.snapshot import LogEntry
from opta_stream.views.event_rows import (
    SEVERITIES,
    SEVERITY_COLORS,
    counts_frame,
    in_window,
    log_frame,
    oldest,
    row_lines,
    summary_text,
)

T = 1_795_272_175.0  # 2026-11-21 14:42:55 UTC


def line(seq: int, ts: float, summary: str = "Loaded m", *, type: str = "model_loaded",
         severity: str = "info", data: str = "", updates: int = 1,
         first_ts: float | None = None) -> LogEntry:
    return LogEntry(seq, ts, type, "model", severity, summary, data, updates, first_ts)


def test_the_window_keeps_lines_whose_latest_event_is_inside() -> None:
    old, job, new = line(1, T - 400), line(2, T - 10, updates=9, first_ts=T - 900), line(3, T)
    assert in_window([old, job, new], T - 300) == [job, new]  # a job still updating counts
    assert oldest([old, job, new]) == T - 900 and oldest([]) is None


def test_rows_newest_first_with_a_severity_chip_and_the_job_note() -> None:
    rows = [line(1, T, "Loaded a"),
            line(2, T + 5, "Quantize x: quantizing (40%)", type="quantize_progress",
                 severity="warning", updates=12, first_ts=T + 1, data='{"percent": 40}')]
    frame = log_frame(rows, UTC)
    assert list(frame.columns) == ["Time", "Severity", "Summary", "Event", "Details"]
    assert frame["Time"].tolist() == ["14:43:00", "14:42:55"]
    assert [list(s) for s in frame["Severity"]] == [["warning"], ["info"]]
    assert frame["Summary"].tolist() == [
        "Quantize x: quantizing (40%) · 12 events since 14:42:56", "Loaded a"]
    assert frame["Event"].tolist()[0] == "quantize progress"  # words: it wraps between them
    assert frame["Details"].tolist() == ["percent: 40", ""]  # the JSON as key: value
    assert log_frame(rows, UTC, dated=True)["Time"].tolist() == [
        "Nov 21 14:43:00", "Nov 21 14:42:55"]


def test_severity_colours_error_red_warning_amber_info_neutral_debug_muted() -> None:
    assert set(SEVERITY_COLORS) == set(SEVERITIES)

    def rgb(c: str) -> tuple[int, ...]:
        return tuple(int(c[i:i + 2], 16) for i in (1, 3, 5))
    r, g, b = rgb(SEVERITY_COLORS["error"])
    assert r > 200 and g < 100 and b < 100  # red
    r, g, b = rgb(SEVERITY_COLORS["warning"])
    assert r > 200 and 100 < g < 200 and b < 50  # amber
    info, debug = rgb(SEVERITY_COLORS["info"]), rgb(SEVERITY_COLORS["debug"])
    assert max(info) - min(info) < 20 and max(debug) - min(debug) < 20  # greys
    assert sum(debug) < sum(info)  # debug is the dimmer one


def test_rows_are_as_tall_as_the_longest_summary_needs() -> None:
    assert row_lines([line(1, T, "short")], UTC) == 3  # wrapping needs more than one line
    assert row_lines([line(1, T, "x" * 160)], UTC) == 4
    assert row_lines([line(1, T, "x" * 5000)], UTC) == 6  # the rest shows on a click
    assert summary_text(line(1, T, "s"), UTC) == "s"
    assert row_lines([], UTC) == 3


def test_counts_follow_the_filters_most_first() -> None:
    counts = {("quantize_progress", "info"): 40, ("heartbeat", "debug"): 90,
              ("model_loaded", "info"): 2, ("model_readiness_changed", "warning"): 2,
              ("model_readiness_changed", "info"): 1}
    frame = counts_frame(counts, ("model", "quantize", "system"), ("info",), "")
    assert frame.values.tolist() == [["quantize progress", 40], ["model loaded", 2],
                                     ["model readiness changed", 1]]
    assert counts_frame(counts, ("system",), SEVERITIES, "")["Count"].tolist() == [90]
    # the count of a type follows the severity of its lines, as the table does
    warnings = counts_frame(counts, ("model",), ("warning",), "")
    assert warnings.values.tolist() == [["model readiness changed", 2]]
