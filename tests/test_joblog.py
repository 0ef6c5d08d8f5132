"""store.eventlog: one event-log line per download or quantize job, updated in place.

Ticks rewrite the job's line where it stands; the outcome moves it to the end;
the per-type counts still count every event, so nothing is dropped unseen.
"""

from __future__ import annotations

import json

from support import FIXTURES

from opta_stream.events.records import parse_event
from opta_stream.snapshot import LogEntry
from opta_stream.store.core import Store
from opta_stream.wire.sse import ServerSentEvent

T0 = 1_800_000_000.0


def event(etype: str, data: dict, at: float):
    return parse_event(ServerSentEvent(event=etype, data=json.dumps(data)), at)


def quant(model: str, status: str, percent: float, at: float):
    return event("quantize_progress", {"model_id": model, "status": status, "percent": percent},
                 at)


def lines(store: Store) -> list[LogEntry]:
    return list(store.snapshot().events)


def test_quantize_ticks_update_one_line_that_keeps_its_place() -> None:
    store = Store("http://lmx.test", clock=lambda: T0 + 60)
    store.log("model_loaded", "Loaded a")
    store.apply(quant("/models/x-q4", "quantizing", 0, T0))
    store.log("config_reloaded", "Config reloaded")
    for i in range(1, 8):
        store.apply(quant("/models/x-q4", "quantizing", 10 * i, T0 + i))
    before, job, after = lines(store)
    assert (before.type, after.type) == ("model_loaded", "config_reloaded")
    assert job.type == "quantize_progress" and job.seq == 2  # still where the job started
    assert job.summary == "Quantize /models/x-q4: quantizing (70%)"
    assert (job.ts, job.first_ts, job.updates, job.job) == (
        T0 + 7, T0, 8, "quantize:/models/x-q4")
    assert json.loads(job.data)["percent"] == 70
    snap = store.snapshot()
    assert snap.event_counts["quantize_progress"] == 8 and snap.counters.events == 8


def test_the_outcome_moves_the_line_to_the_end_and_frees_the_key() -> None:
    store = Store("http://lmx.test", clock=lambda: T0 + 60)
    store.apply(quant("/models/x-q4", "quantizing", 0, T0))
    store.apply(quant("/models/x-q4", "quantizing", 50, T0 + 1))
    store.log("config_reloaded", "Config reloaded")
    store.apply(quant("/models/x-q4", "completed", 100, T0 + 2))
    other, done = lines(store)
    assert other.type == "config_reloaded"
    assert (done.summary, done.severity, done.job) == (
        "Quantize /models/x-q4: completed (100%)", "info", "")
    assert (done.ts, done.first_ts, done.updates, done.seq) == (T0 + 2, T0, 3, 3)
    store.apply(quant("/models/x-q4", "quantizing", 5, T0 + 3))  # a new job, same model
    assert [(e.summary, e.updates) for e in lines(store)][-2:] == [
        ("Quantize /models/x-q4: completed (100%)", 3),
        ("Quantize /models/x-q4: quantizing (5%)", 1)]


def test_the_captured_failing_quantize_is_one_error_line() -> None:
    store = Store("http://lmx.test", clock=lambda: T0)
    blocks = (FIXTURES / "events-config-reload-and-quantize.sse").read_text().split("\n\n")
    for block in blocks:
        fields = dict(ln.split(": ", 1) for ln in block.splitlines() if ": " in ln)
        if fields:
            store.apply(parse_event(ServerSentEvent(fields["event"], fields["data"]), T0))
    config, job = lines(store)
    assert config.type == "config_reloaded"
    assert (job.severity, job.updates) == ("error", 2)
    assert job.summary == ("Quantize /models/nonexistent-model: failed: No module named "
                           "'mlx_lm' (0%)")


def test_download_ticks_and_outcomes_one_line_per_download() -> None:
    store = Store("http://lmx.test", clock=lambda: T0 + 60)
    for i in range(5):
        for d in ("d1", "d2"):
            store.apply(event("download_progress", {"download_id": d, "repo_id": f"org/{d}",
                                                    "percent": 20 * i}, T0 + i))
    assert [(e.job, e.updates) for e in lines(store)] == [("download:d1", 5), ("download:d2", 5)]
    store.apply(event("download_failed", {"download_id": "d2", "repo_id": "org/d2",
                                          "error": "disk full"}, T0 + 5))
    store.apply(event("download_completed", {"download_id": "d1", "repo_id": "org/d1",
                                             "local_path": "/m/d1"}, T0 + 6))
    failed, done = lines(store)
    assert (failed.type, failed.severity, failed.updates) == ("download_failed", "error", 6)
    assert failed.summary == "Download failed: org/d2: disk full"
    assert (done.type, done.severity, done.first_ts) == ("download_completed", "info", T0)
    assert store.snapshot().event_counts["download_progress"] == 10


def test_an_outcome_without_a_line_is_an_ordinary_line() -> None:
    store = Store("http://lmx.test", clock=lambda: T0)
    store.apply(event("download_cancelled", {"download_id": "e", "repo_id": "r"}, T0))
    (line,) = lines(store)
    assert (line.type, line.updates, line.first_ts, line.job) == (
        "download_cancelled", 1, None, "")


def test_a_long_job_does_not_flood_the_latest_lines() -> None:
    """Overview's "Latest events" reads the last 8 non-debug lines."""
    store = Store("http://lmx.test", clock=lambda: T0 + 600)
    for i in range(4):
        store.log("model_loaded", f"Loaded m{i}")
    for i in range(300):
        store.apply(quant("/models/x-q4", "quantizing", i / 3, T0 + i))
    latest = [e for e in lines(store) if e.severity != "debug"][-8:]
    assert [e.type for e in latest] == ["model_loaded"] * 4 + ["quantize_progress"]


def test_a_line_evicted_from_a_full_log_is_started_again() -> None:
    store = Store("http://lmx.test", clock=lambda: T0 + 60, log_capacity=3)
    store.apply(quant("q", "quantizing", 1, T0))
    for i in range(3):
        store.log("model_loaded", f"Loaded m{i}")
    store.apply(quant("q", "quantizing", 2, T0 + 1))
    *_, job = lines(store)
    assert (job.summary, job.updates, job.first_ts) == ("Quantize q: quantizing (2%)", 1, None)
    assert store.snapshot().counters.log_dropped == 2
