"""Snapshot additions: the tail (the last 5 minutes at their finest, whatever the window),
``events_cut`` (the log reaches back further than the lines shown) and the usage ledger."""

from __future__ import annotations

import numpy as np
import pytest

from opta_stream.events.counters import ServingStep
from opta_stream.snapshot import TAIL_S, Series, Snapshot, Tail
from opta_stream.store.core import CLOCK_SKEW_S, SNAPSHOT_EVENTS, Store

T0 = 1_800_000_000.0
NOW = T0 + 1_000.0
WINDOWS = (10.0, 60.0, 299.0, 300.0, 301.0, 3_600.0, 86_400.0, 30 * 86_400.0)


def step(ts: float) -> ServingStep:
    values = {"requests": 1.0, "completion_tokens": 10.0}
    return ServingStep(ts, 1.0, values, {"a": values}, {}, {}, None)


def filled(raw_capacity: int = 200_000, span: float = 1_000.0) -> Store:
    """``span`` seconds to NOW of throughput at 2 Hz (models a and b in turn), memory and a
    serving step each second, one sample inside the clock-skew allowance and one past it."""
    store = Store("http://lmx.test", clock=lambda: NOW, raw_capacity=raw_capacity)
    ts = NOW - span + np.arange(0.0, span, 0.5)
    store.add_throughput_many(ts, np.arange(ts.shape[0], dtype=float),
                              ["a", "b"] * (ts.shape[0] // 2))
    store.add_throughput(NOW + 4.0, 7.0, "c")
    store.add_throughput(NOW + 6.0, 8.0, "c")
    for t in NOW - span + np.arange(span):
        store.add_memory(float(t), 1.0, 2.0)
        store.add_serving(step(float(t)))
    return store


def same(a: Series, b: Series) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f))
               for f in ("ts", "value", "lo", "hi", "seg", "model")) \
        and (a.model_names, a.resolution_s) == (b.model_names, b.resolution_s)


def test_the_tail_is_the_last_five_minutes_to_the_skew_allowance() -> None:
    tail = filled().snapshot(30 * 86_400.0).tail
    tp = tail.throughput
    assert TAIL_S == 300.0 and tp.resolution_s == 0.0
    assert tp.ts[0] == NOW - TAIL_S and tp.ts[-1] == NOW + 4.0 <= NOW + CLOCK_SKEW_S
    assert len(tp) == 2 * 300 + 1
    assert tp.model_names == ("a", "b", "c")
    assert tp.model_ids()[-3:] == ["a", "b", "c"]
    assert tail.memory_used.ts[0] == NOW - TAIL_S and tail.memory_total.value[-1] == 2.0
    assert tail.serving.resolution_s == 0.0
    assert tail.serving.ts[0] == NOW - TAIL_S + 1 and tail.serving.ts[-1] == NOW - 1.0


def test_the_tail_does_not_depend_on_the_window() -> None:
    store = filled()
    reference = store.snapshot(TAIL_S)
    assert same(reference.tail.throughput, reference.throughput)
    for window in WINDOWS:
        tail = store.snapshot(window).tail
        assert same(tail.throughput, reference.tail.throughput), window
        assert same(tail.memory_used, reference.tail.memory_used), window
        assert same(tail.memory_total, reference.tail.memory_total), window
        assert np.array_equal(tail.serving.ts, reference.tail.serving.ts), window
        assert np.array_equal(tail.serving.values, reference.tail.serving.values), window


def test_the_tail_reads_the_finest_tier_that_covers_it() -> None:
    """With 100 s of raw samples and 2 h of 1 s buckets left (of 3 h), the tail reads the
    1 s buckets; a 10 s window still reads raw samples, a month the 10 s buckets, and the
    tail is the same for both."""
    store = filled(raw_capacity=200, span=3 * 3_600.0)
    short, long = store.snapshot(10.0), store.snapshot(30 * 86_400.0)
    assert short.throughput.resolution_s == 0.0 and long.throughput.resolution_s == 10.0
    for snap in (short, long):
        tp = snap.tail.throughput
        assert tp.resolution_s == 1.0 and tp.model_names == ("a", "b", "c")
        assert tp.ts[0] == NOW - TAIL_S - 1.0 and tp.ts[-1] == NOW + 4.0  # the straddling bucket
    assert same(short.tail.throughput, long.tail.throughput)
    assert long.serving.resolution_s == 60.0 and long.tail.serving.resolution_s == 0.0


@pytest.mark.parametrize("window", [60.0, 300.0, 3_600.0])
def test_a_window_and_its_tail_from_one_tier_share_one_copy(window: float) -> None:
    snap = filled().snapshot(window)
    assert np.shares_memory(snap.tail.throughput.ts, snap.throughput.ts)
    assert np.shares_memory(snap.tail.serving.values, snap.serving.values)
    for arr in (snap.tail.throughput.ts, snap.tail.throughput.value, snap.tail.serving.values):
        assert not arr.flags.writeable


def test_a_snapshot_made_by_hand_has_an_empty_tail() -> None:
    snap = Snapshot(server="s", taken_at=0.0, window_s=300.0)
    assert isinstance(snap.tail, Tail)
    assert len(snap.tail.throughput) == len(snap.tail.memory_used) == 0
    assert len(snap.tail.memory_total) == len(snap.tail.serving) == 0
    assert snap.events_cut is False and snap.usage is None


# -- events_cut --------------------------------------------------------------------

def test_events_cut_when_the_log_holds_more_than_the_snapshot_carries() -> None:
    store = Store("http://lmx.test", clock=lambda: NOW)
    assert store.snapshot().events_cut is False
    for i in range(SNAPSHOT_EVENTS):
        store.log("note", f"line {i}")
    snap = store.snapshot()
    assert len(snap.events) == SNAPSHOT_EVENTS and snap.events_cut is False  # all of it
    store.log("note", "one more")
    snap = store.snapshot()
    assert len(snap.events) == SNAPSHOT_EVENTS and snap.events_cut is True
    assert snap.counters.log_dropped == 0


def test_events_cut_when_the_log_dropped_lines() -> None:
    store = Store("http://lmx.test", clock=lambda: NOW, log_capacity=10)
    for i in range(10):
        store.log("note", f"line {i}")
    assert store.snapshot().events_cut is False
    store.log("note", "the oldest goes")
    snap = store.snapshot()
    assert len(snap.events) == 10 and snap.counters.log_dropped == 1 and snap.events_cut


# -- usage ---------------------------------------------------------------------------

def test_the_usage_ledger_comes_with_the_snapshot_when_asked() -> None:
    store = filled()
    assert store.snapshot().usage is None
    since = T0 + 900.0  # a quarter hour's start: the last 100 steps
    got = store.snapshot(60.0, usage_s=NOW - since).usage
    want = store.usage(since, NOW)
    assert got is not None and len(got) == len(want) > 0
    assert got.names == want.names == ("*", "a") and got.codes == want.codes == (-1, 0)
    assert np.array_equal(got.ts, want.ts)
    assert np.array_equal(got.values, want.values, equal_nan=True)
    assert got.values[:, 0].sum() == 2 * 100  # each step since, server-wide and model a
    assert not got.values.flags.writeable
