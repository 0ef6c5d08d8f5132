"""store.core: the Store contract, bounds, tiers, gaps, immutability and thread safety."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import numpy as np
import pytest

from opta_stream.events.records import parse_event
from opta_stream.snapshot import ConnState, ModelInfo, Snapshot
from opta_stream.store.core import OTHER, Store
from opta_stream.wire.sse import ServerSentEvent

T0 = 1_800_000_000.0


class Clock:
    """A hand-driven clock: tests move time, nothing sleeps."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def event(etype: str, data: object, at: float = T0):
    text = data if isinstance(data, str) else json.dumps(data)
    return parse_event(ServerSentEvent(event=etype, data=text), at)


def make(clock: Clock | None = None, **kw: int) -> tuple[Store, Clock]:
    clock = clock or Clock()
    return Store("http://lmx.test", clock=clock, **kw), clock


# -- series and tiers ------------------------------------------------------------

def test_fresh_store_snapshot_is_empty() -> None:
    store, _ = make()
    snap = store.snapshot()
    assert isinstance(snap, Snapshot) and snap.server == "http://lmx.test"
    assert len(snap.throughput) == 0 and len(snap.memory_used) == 0
    assert snap.events == () and snap.counters.events == 0 and snap.events_per_s == 0.0
    assert snap.connection.state is ConnState.CONNECTING and snap.connection.since == T0


def test_throughput_window_and_model_names() -> None:
    store, clock = make()
    ts = T0 + np.arange(0.0, 100.0, 0.1)
    store.add_throughput_many(ts, np.arange(1000.0), ["a", None, "b", "a"] * 250)
    store.add_throughput(T0 + 100.0, 5.0, "c")
    clock.now = T0 + 100.0
    snap = store.snapshot(10.0)
    assert snap.throughput.resolution_s == 0.0
    assert snap.throughput.ts[0] == pytest.approx(T0 + 90.0) and len(snap.throughput) == 101
    assert snap.throughput.model_names == ("a", "b", "c")
    assert snap.throughput.model_ids()[-5:] == ["a", None, "b", "a", "c"]
    assert np.array_equal(snap.throughput.lo, snap.throughput.value)


def test_non_finite_samples_are_skipped_and_lengths_checked() -> None:
    store, _ = make()
    store.add_throughput_many([T0, np.nan, T0 + 2], [1.0, 2.0, np.inf])
    store.add_memory(T0, float("nan"), 10.0)
    assert len(store.snapshot().throughput) == 1 and len(store.snapshot().memory_used) == 0
    with pytest.raises(ValueError):
        store.add_throughput_many([T0, T0 + 1], [1.0])
    with pytest.raises(ValueError):
        store.add_throughput_many([T0], [1.0], ["a", "b"])


def test_raw_ring_wraps_to_newest_capacity() -> None:
    store, clock = make(raw_capacity=1_000)
    ts = T0 + np.arange(5_000.0)
    store.add_throughput_many(ts, ts - T0)
    clock.now = T0 + 5_000
    snap = store.snapshot(900.0)  # raw holds 4000..4999: still covers
    assert snap.throughput.resolution_s == 0.0 and len(snap.throughput) == 900
    assert snap.throughput.value[-1] == 4_999.0


@pytest.mark.parametrize("window_s,resolution", [
    (500.0, 0.0), (5_000.0, 1.0), (7_000.0, 1.0), (9_000.0, 10.0),
    (86_000.0, 10.0), (95_000.0, 60.0), (500_000.0, 60.0),
])
def test_window_picks_the_finest_covering_tier(window_s: float, resolution: float) -> None:
    store, clock = make(raw_capacity=1_000)
    ts = T0 + np.arange(0.0, 100_000.0, 1.0)  # 1 Hz for ~28 h: every ring has wrapped
    store.add_throughput_many(ts, np.ones_like(ts))
    clock.now = T0 + 100_000.0
    series = store.snapshot(window_s).throughput
    assert series.resolution_s == resolution
    assert series.ts[0] <= clock.now - min(window_s, 80_000) and series.ts[-1] <= clock.now


def test_tier_aggregates_match_numpy() -> None:
    store, clock = make(raw_capacity=500)
    rng = np.random.default_rng(7)
    ts = T0 + np.sort(rng.uniform(0.0, 3_000.0, 20_000))
    v = rng.gamma(2.0, 20.0, ts.shape[0])
    for chunk in np.array_split(np.arange(ts.shape[0]), 37):
        store.add_throughput_many(ts[chunk], v[chunk])
    clock.now = T0 + 3_000.0
    series = store.snapshot(2_990.0).throughput
    assert series.resolution_s == 1.0
    starts = np.floor(ts / 1.0)
    for i in range(0, len(series), 97):
        mask = starts == series.ts[i]
        assert series.value[i] == pytest.approx(v[mask].mean())
        assert (series.lo[i], series.hi[i]) == (v[mask].min(), v[mask].max())


def test_memory_series_and_gauges() -> None:
    store, clock = make(memory_capacity=100)
    for i in range(400):
        store.add_memory(T0 + i, 10.0 + i % 7, 64.0, 90.0 if i == 0 else None)
    clock.now = T0 + 400
    snap = store.snapshot(60.0)
    assert snap.memory_used.resolution_s == 0.0 and len(snap.memory_used) == 60
    assert snap.memory_total.value.tolist() == [64.0] * 60
    assert (snap.gauges.memory_used_gb, snap.gauges.threshold_pct) == (10.0 + 399 % 7, 90.0)
    long = store.snapshot(300.0)  # raw holds 100 s: the 10 s tier answers
    assert long.memory_used.resolution_s == 10.0 and long.memory_used.ts[0] <= T0 + 100
    assert long.memory_used.hi.max() == 16.0 and long.memory_used.lo.min() == 10.0


# -- gaps and segments -----------------------------------------------------------

def test_gaps_and_segments() -> None:
    store, clock = make()
    store.set_connection(ConnState.OPEN, "Connected")
    store.add_throughput(T0, 1.0)
    clock.now = T0 + 10
    store.set_connection(ConnState.RECONNECTING, "down", next_retry_at=T0 + 12, attempt=1)
    clock.now = T0 + 11
    store.set_connection(ConnState.RECONNECTING, "still down", attempt=2)
    store.add_throughput(T0 + 11, 2.0)  # sampled while the feed was down
    clock.now = T0 + 20
    store.set_connection(ConnState.OPEN, "Connected")
    store.add_throughput(T0 + 20, 3.0)
    store.new_segment()
    store.add_throughput(T0 + 21, 4.0)
    snap = store.snapshot()
    assert snap.gaps == ((T0 + 10, T0 + 20),)
    assert snap.throughput.seg.tolist() == [0, 1, 1, 2]
    assert (snap.connection.state, snap.connection.since) == (ConnState.OPEN, T0 + 20)
    clock.now = T0 + 30
    store.set_connection(ConnState.STOPPED, "Feed stopped")
    assert store.snapshot().gaps[-1] == (T0 + 30, None)


def test_connection_since_kept_within_a_state() -> None:
    store, clock = make()
    store.set_connection(ConnState.RECONNECTING, "a", next_retry_at=T0 + 1, attempt=1)
    clock.now = T0 + 5
    store.set_connection(ConnState.RECONNECTING, "b", next_retry_at=T0 + 9, attempt=2)
    conn = store.snapshot().connection
    assert (conn.since, conn.message, conn.next_retry_at, conn.attempt) == (T0, "b", T0 + 9, 2)
    assert store.snapshot().gaps == ()  # never was OPEN: no gap


def test_clock_jump_back_starts_a_new_segment() -> None:
    store, clock = make()
    store.add_throughput_many(T0 + np.arange(10.0), np.ones(10))
    store.add_throughput_many(T0 - 100 + np.arange(5.0), np.full(5, 2.0))
    store.add_memory(T0, 1.0, 2.0)
    store.add_memory(T0 - 50, 1.0, 2.0)
    clock.now = T0 + 10
    snap = store.snapshot(1_000.0)
    assert snap.throughput.seg.tolist() == [0] * 10 + [1] * 5
    assert snap.throughput.ts.tolist()[10:] == list(T0 - 100 + np.arange(5.0))
    assert snap.memory_used.seg.tolist() == [1, 2]
    assert len(store.snapshot(50.0).throughput) == 10  # the jumped samples are older


def test_scalar_and_batch_paths_agree() -> None:
    ts = [T0, T0 + 1, T0 + 0.5, T0 + 2, T0 + 2]
    one, clock = make()
    for t in ts:
        one.add_throughput(t, t - T0, "m")
    many, _ = make(clock)
    many.add_throughput_many(ts, [t - T0 for t in ts], ["m"] * 5)
    clock.now = T0 + 2
    sa, sb = one.snapshot(3_600.0).throughput, many.snapshot(3_600.0).throughput
    assert sa.ts.tolist() == sb.ts.tolist() == ts
    assert sa.seg.tolist() == sb.seg.tolist() == [0, 0, 1, 1, 1]
    assert sa.model_ids() == sb.model_ids() == ["m"] * 5


def test_window_tolerates_a_server_clock_slightly_ahead() -> None:
    store, clock = make()
    store.apply_many(event("throughput", {"timestamp": T0 + dt, "tokens_per_second": 1})
                     for dt in (-20.0, -1.0, 0.0, 4.0, 60.0))
    ts = store.snapshot(10.0).throughput.ts - T0
    assert ts.tolist() == [-1.0, 0.0, 4.0]  # up to CLOCK_SKEW_S ahead still shows


# -- events ----------------------------------------------------------------------

def test_apply_every_event_type() -> None:
    store, clock = make()
    store.apply_many([
        event("heartbeat", {"timestamp": T0}),
        event("model_loaded", {"model_id": "m1", "format": "mlx", "memory_gb": 4.3,
                               "duration_sec": 2.1}),
        event("model_loaded", {"model_id": "m2", "memory_gb": 2}),
        event("model_unloaded", {"model_id": "m2", "memory_freed_gb": 2, "reason": "ttl"}),
        event("download_progress", {"download_id": "d1", "repo_id": "org/x", "progress": 0.5,
                                    "downloaded_bytes": 2e9, "total_bytes": 4e9}),
        event("download_failed", {"download_id": "d1", "repo_id": "org/x", "error": "disk"}),
        event("quantize_progress", {"model_id": "/m/q", "status": "quantizing", "percent": 10}),
        event("config_reloaded", {"log_level": "INFO"}),
        event("throughput", {"timestamp": T0 - 1, "tokens_per_second": 40, "model_id": "m1"}),
        event("throughput", {"timestamp": T0, "tokens_per_second": 42, "model_id": "m1"}),
        event("mystery", {"a": 1}),
        event("status", "{oops"),
    ])
    snap = store.snapshot()
    assert [m.model_id for m in snap.models] == ["m1"] and snap.models[0].format == "mlx"
    jobs = {j.job_id: j for j in snap.jobs}
    assert (jobs["d1"].status, jobs["d1"].percent, jobs["d1"].message) == ("failed", 50.0, "disk")
    store.apply(event("download_progress", {"download_id": "d2", "downloaded_bytes": 420,
                                            "total_bytes": 12_500_000}))
    assert store.snapshot().jobs[-1].message == "420 B of 12.5 MB"
    assert (jobs["/m/q"].kind, jobs["/m/q"].status, jobs["/m/q"].percent) == (
        "quantize", "running", 10.0)
    assert snap.throughput.value.tolist() == [40.0, 42.0]
    assert snap.throughput.model_ids() == ["m1", "m1"] and snap.gauges.tokens_per_s == 42.0
    c = snap.counters
    assert (c.events, c.malformed, c.unknown) == (12, 1, 1)
    assert snap.event_counts["heartbeat"] == 1 and snap.event_counts["throughput"] == 2
    types = [e.type for e in snap.events]
    assert "heartbeat" not in types and "throughput" not in types
    assert types == ["model_loaded", "model_loaded", "model_unloaded", "download_failed",
                     "quantize_progress", "config_reloaded", "mystery", "status"]
    # d1's progress line (seq 4) became its outcome, the newest line (see test_joblog)
    assert [e.seq for e in snap.events] == [1, 2, 3, 5, 6, 7, 8, 9]
    assert snap.events[3].updates == 2
    assert snap.events[-1].severity == "error" and snap.events[-2].severity == "warning"
    assert snap.events[0].summary == "Loaded m1 (4.3 GB in 2.1 s, mlx)"
    assert snap.connection.last_event_at == T0


def test_status_event_sets_gauges_memory_and_models() -> None:
    store, clock = make()
    store.apply(event("model_loaded", {"model_id": "a", "format": "gguf"}))
    store.set_gauges(version="0.1.0", max_concurrent=4)
    store.apply(event("status", {
        "vram_used_gb": 12.0, "vram_total_gb": 64.0, "active_requests": 1,
        "uptime_seconds": 60, "loaded_models": [
            {"id": "a", "name": "A", "vram_gb": 4.0, "context_length": 8192,
             "loaded_at": T0 - 60},
            {"id": "b", "name": "B"}]}, at=T0 + 1))
    clock.now = T0 + 1
    snap = store.snapshot()
    g = snap.gauges
    assert (g.memory_used_gb, g.memory_total_gb, g.active_requests, g.uptime_s) == (
        12.0, 64.0, 1, 60.0)
    assert (g.version, g.max_concurrent, g.updated_at) == ("0.1.0", 4, T0 + 1)
    assert snap.memory_used.ts.tolist() == [T0 + 1] and snap.memory_total.value.tolist() == [64.0]
    a, b = snap.models
    assert (a.model_id, a.memory_gb, a.context_length, a.format) == ("a", 4.0, 8192, "gguf")
    assert b.model_id == "b"
    store.apply(event("status", {"loaded_models": []}))
    assert store.snapshot().models == ()


def test_quantize_and_download_outcomes() -> None:
    store, _ = make()
    store.apply_many([
        event("quantize_progress", {"model_id": "x", "status": "failed: No module named 'mlx_lm'",
                                    "percent": 0}),
        event("quantize_progress", {"job_id": "q2", "model_id": "y", "status": "completed"}),
        event("download_completed", {"download_id": "d", "repo_id": "r", "local_path": "/p"}),
        event("download_cancelled", {"download_id": "e", "repo_id": "r2"}),
    ])
    jobs = {j.job_id: j for j in store.snapshot().jobs}
    assert (jobs["x"].status, jobs["x"].message) == ("failed", "No module named 'mlx_lm'")
    assert (jobs["q2"].status, jobs["q2"].percent, jobs["q2"].label) == ("completed", 100.0, "y")
    assert (jobs["d"].status, jobs["d"].percent, jobs["d"].message) == ("completed", 100.0, "/p")
    assert (jobs["e"].status, jobs["e"].percent) == ("cancelled", None)


def test_log_count_and_set_models() -> None:
    store, clock = make()
    store.log("feed_down", "The server closed the stream.", severity="warning")
    store.log("poll_recovered", "Polling works again")
    store.count(bytes=100, oversized_lines=2)
    store.count(bytes=5, reconnects=1)
    with pytest.raises(TypeError):
        store.count(nonsense=1)
    store.set_models([ModelInfo("a", memory_gb=1.0), ModelInfo("b", request_count=3)])
    snap = store.snapshot()
    first, second = snap.events
    assert (first.type, first.category, first.severity, first.ts) == (
        "feed_down", "feed", "warning", T0)
    assert (second.category, second.severity) == ("feed", "info")
    assert (snap.counters.bytes, snap.counters.oversized_lines, snap.counters.reconnects) == (
        105, 2, 1)
    assert snap.counters.events == 0 and [m.model_id for m in snap.models] == ["a", "b"]


def test_events_per_second_over_ten_seconds() -> None:
    store, clock = make()
    for i in range(40):
        clock.now = T0 + i * 0.5
        store.apply(event("heartbeat", {}))
    clock.now = T0 + 20.0
    assert store.snapshot().events_per_s == pytest.approx(2.0)
    clock.now = T0 + 100.0
    assert store.snapshot().events_per_s == 0.0


# -- bounds ----------------------------------------------------------------------

def test_log_is_bounded_and_snapshot_has_newest_500() -> None:
    store, _ = make(log_capacity=2_000)
    store.apply_many(event("config_reloaded", {"n": i}) for i in range(5_000))
    snap = store.snapshot()
    assert len(snap.events) == 500 and snap.counters.log_dropped == 3_000
    assert snap.events[-1].seq == 5_000 and snap.events[0].seq == 4_501
    assert json.loads(snap.events[-1].data) == {"n": 4_999}


def test_log_data_and_texts_are_clipped() -> None:
    store, _ = make()
    big = json.dumps({"model_id": "m", "blob": "é" * 10_000})
    store.apply(event("memory_warning", big))
    store.apply(event("x" * 10_000, {}))
    store.log("feed_note", "s" * 5_000, data="d" * 9_000)
    warn, odd, note = store.snapshot().events
    assert len(warn.data.encode()) <= 4_096 and warn.data.endswith("…")
    assert big.startswith(warn.data[:-1])
    assert len(odd.type) <= 64 and len(note.summary) <= 500 and len(note.data.encode()) <= 4_096
    assert max(len(k) for k in store.snapshot().event_counts) <= 64


def test_event_type_counts_are_bounded() -> None:
    store, _ = make()
    store.apply_many(event(f"type_{i}", {}) for i in range(300))
    store.apply_many(event("type_0", {}) for _ in range(5))
    counts = store.snapshot().event_counts
    assert len(counts) == 201 and counts[OTHER] == 100 and counts["type_0"] == 6
    assert sum(counts.values()) == 305


def test_model_ids_and_models_are_bounded() -> None:
    store, clock = make()
    ids = [f"org/model-{i}" for i in range(400)]
    store.add_throughput_many(T0 + np.arange(400.0), np.ones(400), ids)
    store.apply_many(event("model_loaded", {"model_id": i}) for i in ids)
    clock.now = T0 + 400
    snap = store.snapshot(1e6)
    assert len(snap.throughput.model_names) == 257 and snap.throughput.model_names[-1] == OTHER
    assert snap.throughput.model_ids()[-1] == OTHER and snap.throughput.model_ids()[0] == ids[0]
    assert len(snap.models) == 256
    store.set_models(ModelInfo(i) for i in ids)
    assert len(store.snapshot().models) == 256


def test_jobs_are_bounded_oldest_finished_first() -> None:
    store, _ = make()
    store.apply_many(event("download_progress", {"download_id": f"d{i}", "percent": 1})
                     for i in range(60))
    store.apply_many(event("download_completed", {"download_id": f"d{i}"}) for i in range(10))
    store.apply_many(event("quantize_progress", {"model_id": f"q{i}", "status": "quantizing"})
                     for i in range(45))
    ids = [j.job_id for j in store.snapshot().jobs]
    assert len(ids) == 100
    assert ids[:55] == [f"d{i}" for i in range(5, 60)]  # finished d0..d4 went first
    store.apply_many(event("quantize_progress", {"model_id": f"z{i}", "status": "quantizing"})
                     for i in range(200))
    jobs = store.snapshot().jobs
    assert len(jobs) == 100 and jobs[-1].job_id == "z199"


def test_gaps_are_bounded() -> None:
    store, clock = make()
    for i in range(1_500):
        clock.now = T0 + i
        store.set_connection(ConnState.OPEN)
        store.set_connection(ConnState.RECONNECTING)
    gaps = store.snapshot().gaps
    assert len(gaps) == 1_000 and gaps[-1] == (T0 + 1_499, None) and gaps[0][0] == T0 + 500


def test_memory_bytes_is_fixed_at_capacity() -> None:
    """Rings grow with their data up to their capacity; from then on only the log and the
    small tables can grow (before rings grew, they were allocated whole at the start)."""
    store, clock = make(raw_capacity=10_000, memory_capacity=1_000, log_capacity=100)
    empty = store.memory_bytes()

    def fill(start: float) -> None:  # every ring and tier past its capacity
        ts = start + np.arange(0.0, 6_000_000.0, 60.0)
        store.add_throughput_many(ts, np.ones_like(ts), ["m"] * ts.shape[0])
        for t in ts[-45_000:]:
            store.add_memory(float(t), 1.0, 2.0)

    fill(T0)
    full = store.memory_bytes()
    fill(T0 + 6_000_000.0)
    store.apply_many(event("config_reloaded", {"i": i}) for i in range(1_000))
    assert empty < full <= store.memory_bytes() < full + 100 * 1_000


# -- immutability and threads --------------------------------------------------------

def test_snapshot_is_immutable_and_detached() -> None:
    store, clock = make()
    store.add_throughput_many(T0 + np.arange(10.0), np.arange(10.0), ["m"] * 10)
    store.add_memory(T0, 1.0, 2.0)
    store.apply(event("model_loaded", {"model_id": "m"}))
    clock.now = T0 + 9
    snap = store.snapshot()
    for series in (snap.throughput, snap.memory_used, snap.memory_total):
        for arr in (series.ts, series.value, series.lo, series.hi, series.seg, series.model):
            assert not arr.flags.writeable
            with pytest.raises(ValueError):
                arr[:1] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.window_s = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        snap.event_counts["x"] = 1  # type: ignore[index]
    store.add_throughput_many(T0 + 10 + np.arange(10.0), np.zeros(10))
    store.apply(event("model_unloaded", {"model_id": "m"}))
    assert len(snap.throughput) == 10 and snap.throughput.value[-1] == 9.0
    assert len(snap.models) == 1 and len(snap.events) == 1


def test_writer_and_reader_threads() -> None:
    store, clock = make(raw_capacity=5_000, log_capacity=300)
    errors: list[BaseException] = []
    done = threading.Event()

    def writer() -> None:
        try:
            for i in range(400):
                clock.now = T0 + i
                ts = T0 + i + np.arange(0.0, 1.0, 0.02)
                store.add_throughput_many(ts, np.full(50, float(i)), ["m"] * 50)
                store.apply_many([event("throughput", {"timestamp": T0 + i + 0.99,
                                                       "tokens_per_second": 1}),
                                  event("config_reloaded", {"i": i})])
                store.add_memory(T0 + i, 1.0, 2.0)
                if i % 50 == 0:
                    store.set_connection(ConnState.OPEN if i % 100 else ConnState.RECONNECTING)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer, name="test-store-writer", daemon=True)
    thread.start()
    reads = 0
    try:
        while reads < 2_000 and not (done.is_set() and reads >= 20):
            for window in (30.0, 600.0):
                s = store.snapshot(window).throughput
                assert len(s.ts) == len(s.value) == len(s.lo) == len(s.hi) == len(s.seg) \
                    == len(s.model)
            reads += 1
    finally:
        thread.join(timeout=30)
    assert not thread.is_alive() and not errors and reads >= 20
    assert store.snapshot().counters.events == 800


def test_report_memory_and_snapshot_time(capsys: pytest.CaptureFixture[str]) -> None:
    """Not an assertion on speed: prints the figures the benchmark reports."""
    store, clock = make()
    ts = T0 + np.arange(0.0, 20_000.0, 0.1)  # 200,000 samples at 10 Hz: raw ring full
    store.add_throughput_many(ts, np.ones_like(ts), ["m"] * ts.shape[0])
    for i in range(7_200 * 2):
        store.add_memory(T0 + i * 6.0, 1.0, 2.0)
    store.apply_many(event("config_reloaded", {"i": i}) for i in range(2_000))
    full = store.memory_bytes()
    clock.now = T0 + 20_000.0
    started = time.perf_counter()
    snap = store.snapshot(3_600.0)  # 36,000 raw points in the window
    small = time.perf_counter() - started
    store2, clock2 = make()
    store2.add_throughput_many(T0 + np.arange(0.0, 3_600.0, 0.02), np.ones(180_000))
    clock2.now = T0 + 3_600.0
    started = time.perf_counter()
    snap2 = store2.snapshot(3_600.0)
    big = time.perf_counter() - started
    assert len(snap.throughput) == 36_000 and len(snap2.throughput) == 180_000
    assert snap2.throughput.resolution_s == 0.0
    with capsys.disabled():
        print(f"\nstore.memory_bytes() full: {full / 1e6:.2f} MB; snapshot(3600): "
              f"{small * 1e3:.2f} ms (36,000 raw points), {big * 1e3:.2f} ms (180,000 raw points)")


def test_tokens_gauge_sums_the_latest_rate_of_each_model() -> None:
    from opta_stream.events.records import ThroughputEvent

    store = Store("s", clock=lambda: 100.0)
    events = [ThroughputEvent("throughput", 100.0, "", ts, tps, model)
              for ts, tps, model in [(99.0, 10.0, "a"), (99.5, 30.0, "b"), (100.0, 20.0, "a")]]
    store.apply_many(events)
    assert store.snapshot(60).gauges.tokens_per_s == 50.0
    store.apply_many([ThroughputEvent("throughput", 110.0, "", 110.0, 5.0, "a")])
    assert store.snapshot(60).gauges.tokens_per_s == 5.0, "a model silent > 3 s drops out"
