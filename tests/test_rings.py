"""rings.py: wrap-around, windows, tier aggregation against numpy, clock jumps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opta_stream.events.counters import ServingStep
from opta_stream.store import rings
from opta_stream.store.rings import INITIAL_ROWS, ColumnRing, EventRate, assign_segments
from opta_stream.store.serving import ROW_WIDTH, ServingHistory
from opta_stream.store.tiers import TieredSeries, TierRing

COLS = {"ts": np.float64, "v": np.float64}


def ring_with(capacity: int, ts: list[float] | np.ndarray) -> ColumnRing:
    ring = ColumnRing(capacity, COLS)
    for t in ts:
        ring.append(ts=float(t), v=float(t) * 10)
    return ring


def test_append_wraps_and_keeps_newest() -> None:
    ring = ring_with(5, range(12))
    assert (ring.size, ring.total, ring.wrapped) == (5, 12, True)
    out = ring.window(-np.inf, np.inf)
    assert out["ts"].tolist() == [7, 8, 9, 10, 11]
    assert out["v"].tolist() == [70, 80, 90, 100, 110]
    assert ring.oldest_ts() == 7 and ring.newest() == 11


@pytest.mark.parametrize("t0,t1,expected", [
    (8, 10, [8, 9, 10]), (8.5, 9.5, [9]), (0, 7, [7]), (11, 99, [11]),
    (12, 20, []), (0, 6.9, []), (10.5, 10.6, []),
])
def test_window_across_the_wrap(t0: float, t1: float, expected: list[float]) -> None:
    ring = ring_with(5, range(12))  # physical rows [10, 11, 7, 8, 9]
    out = ring.window(t0, t1)
    assert out["ts"].tolist() == expected and out["v"].tolist() == [x * 10 for x in expected]


def test_window_is_a_copy() -> None:
    ring = ring_with(4, range(4))
    out = ring.window(0, 10)
    out["ts"][:] = -1
    assert ring.window(0, 10)["ts"].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("capacity,chunks", [
    (7, [3, 3, 3, 3]), (7, [10]), (7, [1, 20, 2]), (7, [7, 7]), (5, [0, 4, 0, 6]),
])
def test_extend_matches_append(capacity: int, chunks: list[int]) -> None:
    a, b = ColumnRing(capacity, COLS), ColumnRing(capacity, COLS)
    start = 0
    for n in chunks:
        ts = np.arange(start, start + n, dtype=np.float64)
        a.extend(ts=ts, v=ts * 10)
        for t in ts:
            b.append(ts=t, v=t * 10)
        start += n
    assert (a.size, a.total, a.head) == (b.size, b.total, b.head)
    for name in COLS:
        assert np.array_equal(a.window(-1, 1e9)[name], b.window(-1, 1e9)[name])


def test_covers() -> None:
    ring = ColumnRing(3, COLS)
    assert ring.covers(1e9)  # empty and never wrapped: holds everything there is
    for t in (10.0, 11.0, 12.0):
        ring.append(ts=t, v=0.0)
    assert ring.covers(0.0)  # full but never wrapped
    ring.append(ts=13.0, v=0.0)
    assert not ring.covers(10.5) and ring.covers(11.0) and ring.covers(12.5)


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ColumnRing(0, COLS)
    with pytest.raises(ValueError):
        TierRing(0, 10)


def test_clock_jump_back_is_kept_in_order_and_windows_still_work() -> None:
    ring = ring_with(6, [10, 11, 12, 5, 6])
    assert not ring.is_sorted()
    assert ring.window(5, 11)["ts"].tolist() == [10, 11, 5, 6]  # insertion order, masked
    ring.extend(ts=np.array([7.0, 8.0, 9.0]), v=np.zeros(3))
    assert not ring.is_sorted()  # 12 → 5 step still held
    ring.append(ts=10.0, v=0.0)  # pushes 12 out: the step back left the ring
    assert ring.is_sorted()
    assert ring.window(6, 9)["ts"].tolist() == [6, 7, 8, 9]


def test_disorder_inside_a_batch_and_against_the_newest() -> None:
    ring = ColumnRing(10, COLS)
    ring.extend(ts=np.array([1.0, 2.0, 3.0]), v=np.zeros(3))
    assert ring.is_sorted()
    ring.extend(ts=np.array([2.5, 4.0]), v=np.zeros(2))
    assert not ring.is_sorted()
    ring2 = ColumnRing(10, COLS)
    ring2.extend(ts=np.array([1.0, 3.0, 2.0, 4.0]), v=np.zeros(4))
    assert not ring2.is_sorted()
    assert ring2.window(2, 3)["ts"].tolist() == [3.0, 2.0]


_ops = st.lists(st.tuples(st.booleans(), st.lists(st.integers(0, 40), min_size=0, max_size=12)),
                max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 9), _ops, st.integers(-1, 41), st.integers(-1, 41))
def test_ring_matches_a_plain_list(capacity: int, ops: list, t0: int, t1: int) -> None:
    """Any mix of append/extend, in or out of time order, windows like a filtered list."""
    ring, ref = ColumnRing(capacity, COLS), []
    for batch, values in ops:
        if batch:
            arr = np.array(values, dtype=np.float64)
            ring.extend(ts=arr, v=arr * 10)
        else:
            for x in values:
                ring.append(ts=float(x), v=float(x) * 10)
        ref = (ref + values)[-capacity:]
    out = ring.window(t0, t1)
    expected = [x for x in ref if t0 <= x <= t1]
    assert out["ts"].tolist() == expected and out["v"].tolist() == [x * 10 for x in expected]
    assert ring.is_sorted() == (ref == sorted(ref))


def test_assign_segments() -> None:
    ts = np.array([5.0, 6.0, 4.0, 4.0, 7.0, 1.0])
    assert assign_segments(ts, None, 3).tolist() == [3, 3, 4, 4, 4, 5]
    assert assign_segments(ts, 5.5, 0).tolist() == [1, 1, 2, 2, 2, 3]
    assert assign_segments(np.array([]), 1.0, 9).tolist() == []


# -- tiers -------------------------------------------------------------------------

def reference_buckets(ts: np.ndarray, v: np.ndarray, width: float) -> dict[float, np.ndarray]:
    starts = np.floor(ts / width) * width
    return {float(s): v[starts == s] for s in np.unique(starts)}


@pytest.mark.parametrize("width", [1.0, 10.0, 60.0])
@pytest.mark.parametrize("batches", [[1], [7, 1000, 3], [5000]])
def test_tier_aggregation_matches_numpy(width: float, batches: list[int]) -> None:
    rng = np.random.default_rng(42)
    n = sum(batches)
    ts = 1_000.0 + np.cumsum(rng.uniform(0.0, 0.3, n))
    v = rng.normal(50.0, 20.0, n)
    seg = np.zeros(n, dtype=np.int64)
    tier, scalar = TierRing(width, 10_000), TierRing(width, 10_000)
    i = 0
    for size in batches:
        tier.add_many(ts[i:i + size], v[i:i + size], seg[i:i + size])
        i += size
    for t, x in zip(ts, v, strict=True):
        scalar.add(float(t), float(x), 0)
    ref = reference_buckets(ts, v, width)
    for got in (tier.window(-np.inf, np.inf), scalar.window(-np.inf, np.inf)):
        assert got.ts.tolist() == list(ref)
        assert np.allclose(got.value, [r.mean() for r in ref.values()])
        assert np.array_equal(got.lo, [r.min() for r in ref.values()])
        assert np.array_equal(got.hi, [r.max() for r in ref.values()])
        assert got.resolution_s == width and (got.model == -1).all()


@pytest.mark.parametrize("batches", [[1], [3, 500, 7], [2000]])
def test_tier_keeps_one_row_per_model_and_bucket(batches: list[int]) -> None:
    """Interleaved models never average into one row: each keeps its own per bucket."""
    rng = np.random.default_rng(7)
    n = sum(batches)
    ts = 100.0 + np.cumsum(rng.uniform(0.0, 0.2, n))
    v = rng.uniform(0.0, 90.0, n)
    models = rng.integers(-1, 3, n).astype(np.int32)
    tier, scalar = TierRing(10.0, 10_000), TierRing(10.0, 10_000)
    i = 0
    for size in batches:
        tier.add_many(ts[i:i + size], v[i:i + size], np.zeros(size, np.int64), models[i:i + size])
        i += size
    for t, x, m in zip(ts, v, models, strict=True):
        scalar.add(float(t), float(x), 0, int(m))
    starts = np.floor(ts / 10.0) * 10.0
    want = {(float(s), int(m)): v[(starts == s) & (models == m)]
            for s, m in set(zip(starts.tolist(), models.tolist(), strict=True))}
    for got in (tier.window(-np.inf, np.inf), scalar.window(-np.inf, np.inf)):
        rows = {(float(t), int(m)): (float(x), float(lo), float(hi))
                for t, m, x, lo, hi in zip(got.ts, got.model, got.value, got.lo, got.hi,
                                           strict=True)}
        assert len(rows) == len(got) == len(want)  # no (bucket, model) split over two rows
        for key, vals in want.items():
            assert rows[key] == pytest.approx((vals.mean(), vals.min(), vals.max()))
        assert (np.diff(got.ts) >= 0).all()


def test_tier_keeps_last_segment_and_counts() -> None:
    tier = TierRing(10.0, 100)
    tier.add_many(np.array([0.0, 1.0, 12.0]), np.array([1.0, 3.0, 5.0]), np.array([0, 1, 1]))
    tier.add(15.0, 7.0, 4)
    cols = tier.ring.window(-1, 100)
    assert cols["count"].tolist() == [2, 2] and cols["seg"].tolist() == [1, 4]
    assert cols["sum"].tolist() == [4.0, 12.0]


def test_tier_clock_jump_back_opens_a_new_row() -> None:
    tier = TierRing(10.0, 100)
    tier.add_many(np.array([100.0, 105.0, 111.0]), np.ones(3), np.zeros(3, np.int64))
    tier.add_many(np.array([50.0, 51.0, 62.0]), np.full(3, 2.0), np.ones(3, np.int64))
    w = tier.window(0, 200)
    assert w.ts.tolist() == [100.0, 110.0, 50.0, 60.0]
    assert w.value.tolist() == [1.0, 1.0, 2.0, 2.0] and w.seg.tolist() == [0, 0, 1, 1]


def test_tier_window_includes_the_bucket_straddling_t0() -> None:
    tier = TierRing(60.0, 100)
    tier.add_many(np.arange(0.0, 300.0), np.ones(300), np.zeros(300, np.int64))
    assert tier.window(130.0, 1e9).ts.tolist() == [120.0, 180.0, 240.0]


def test_tier_ring_wraps() -> None:
    tier = TierRing(1.0, 50)
    ts = np.arange(0.0, 500.0, 0.25)
    tier.add_many(ts, ts, np.zeros(ts.shape[0], np.int64))
    w = tier.window(-np.inf, np.inf)
    assert len(w.ts) == 50 and w.ts[0] == 450.0 and w.ts[-1] == 499.0
    assert w.value[0] == pytest.approx(450.375)


# -- tiered series -----------------------------------------------------------------

def test_tiered_series_picks_finest_covering_tier() -> None:
    series = TieredSeries(100, ((1.0, 1_000), (10.0, 1_000)))
    ts = np.arange(0.0, 500.0)  # 1 Hz for 500 s: raw keeps the last 100 s only
    series.add_many(ts, ts, np.zeros(500, np.int64), np.full(500, 3, np.int32))
    raw = series.window(450.0, 500.0)
    assert raw.resolution_s == 0.0 and raw.ts.tolist() == list(np.arange(450.0, 500.0))
    assert (raw.model == 3).all() and raw.lo is raw.value
    assert series.window(300.0, 500.0).resolution_s == 1.0
    assert series.window(0.0, 500.0).resolution_s == 1.0
    assert series.last_ts() == 499.0


def test_tiered_series_falls_back_to_coarsest() -> None:
    series = TieredSeries(10, ((1.0, 20), (10.0, 5)))
    for t in range(200):
        series.add(float(t), 1.0, 0)
    assert series.window(100.0, 200.0).resolution_s == 10.0  # nothing covers 100: coarsest
    assert series.window(185.0, 200.0).resolution_s == 1.0
    assert series.window(195.0, 200.0).resolution_s == 0.0


def test_tiered_series_nbytes_is_fixed() -> None:
    series = TieredSeries(1_000, ((1.0, 100),))
    before = series.nbytes
    series.add_many(np.arange(5_000.0), np.ones(5_000), np.zeros(5_000, np.int64),
                    np.zeros(5_000, np.int32))
    assert series.nbytes == before == 1_000 * (8 + 8 + 8 + 4) + 100 * (6 * 8 + 4)


# -- event rate --------------------------------------------------------------------

def test_event_rate_counts_the_last_ten_seconds() -> None:
    rate = EventRate(10)
    for t in np.arange(100.0, 130.0, 0.5):  # 2 events per second
        rate.add(float(t))
    assert rate.rate(130.0) == pytest.approx(20 / 10)  # seconds 120..129, 2 each
    assert rate.rate(129.5) == pytest.approx(22 / 10.5)  # seconds 119..129, over 10.5 s
    assert rate.rate(200.0) == 0.0
    rate.add(200.0, 50)
    assert rate.rate(200.0) == pytest.approx(5.0)


# -- growth: capacity is a bound, not an allocation ----------------------------------

def test_a_ring_starts_small_and_doubles_up_to_its_capacity() -> None:
    ring = ColumnRing(10_000, COLS)
    assert ring.allocated == INITIAL_ROWS == 1_024 and ring.nbytes == 1_024 * 16
    ring.extend(ts=np.arange(1_024.0), v=np.zeros(1_024))
    assert ring.allocated == 1_024  # exactly full: no growth yet
    ring.append(ts=1_024.0, v=0.0)
    assert ring.allocated == 2_048
    ring.extend(ts=np.arange(1_025.0, 5_000.0), v=np.zeros(3_975))
    assert ring.allocated == 8_192  # one growth to the next doubling that holds the batch
    ring.extend(ts=np.arange(5_000.0, 30_000.0), v=np.zeros(25_000))
    assert ring.allocated == ring.capacity == 10_000 and ring.nbytes == 10_000 * 16
    assert ring.window(-np.inf, np.inf)["ts"].tolist() == list(np.arange(20_000.0, 30_000.0))


def test_a_big_batch_grows_the_ring_once_to_what_it_needs() -> None:
    ring = ColumnRing(200_000, COLS)
    ring.extend(ts=np.arange(180_000.0), v=np.ones(180_000))
    assert ring.allocated == 200_000  # 262,144 would pass the bound: the bound it is
    small = ColumnRing(200_000, COLS)
    small.extend(ts=np.arange(3_000.0), v=np.ones(3_000))
    assert small.allocated == 4_096


def test_wraps_right_after_growing_one_row_at_a_time() -> None:
    ring = ring_with(3_000, range(5_000))
    assert (ring.allocated, ring.size, ring.total, ring.wrapped) == (3_000, 3_000, 5_000, True)
    out = ring.window(-np.inf, np.inf)
    assert out["ts"].tolist() == list(range(2_000, 5_000))
    assert out["v"].tolist() == [x * 10 for x in range(2_000, 5_000)]
    assert ring.oldest_ts() == 2_000 and ring.newest() == 4_999 and ring.is_sorted()
    assert ring.cols["ts"][ring.physical(4_999)] == 4_999
    assert ring.physical(1_999) is None and ring.physical(5_000) is None


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(1, 5), _ops, st.integers(-1, 41), st.integers(-1, 41))
def test_a_growing_ring_matches_a_plain_list(capacity: int, initial: int, ops: list, t0: int,
                                             t1: int) -> None:
    """As ``test_ring_matches_a_plain_list``, with rings that start at 1-5 rows and grow."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rings, "INITIAL_ROWS", initial)
        ring = ColumnRing(capacity, COLS)
    ref: list[int] = []
    for batch, values in ops:
        if batch:
            arr = np.array(values, dtype=np.float64)
            ring.extend(ts=arr, v=arr * 10)
        else:
            for x in values:
                ring.append(ts=float(x), v=float(x) * 10)
        ref = (ref + values)[-capacity:]
        assert ring.size <= ring.allocated <= capacity
    out = ring.window(t0, t1)
    expected = [x for x in ref if t0 <= x <= t1]
    assert out["ts"].tolist() == expected and out["v"].tolist() == [x * 10 for x in expected]
    assert ring.is_sorted() == (ref == sorted(ref))
    if ref:
        assert ring.newest() == ref[-1] and ring.oldest_ts() == ref[0]


def test_the_open_bucket_still_merges_after_the_tier_grew(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setattr(rings, "INITIAL_ROWS", 4)
    tier = TierRing(1.0, 100)
    for t in (0.0, 1.0, 2.0, 3.0, 3.5):  # four buckets: the ring is full, not grown
        tier.add(t, t, 0)
    assert tier.ring.allocated == 4
    tier.add(4.0, 1.0, 0)  # a fifth bucket: the ring grows to 8
    tier.add_many(np.array([4.25, 4.5]), np.array([2.0, 3.0]), np.zeros(2, np.int64))
    tier.add(4.75, 6.0, 0)
    assert tier.ring.allocated == 8
    w = tier.window(-np.inf, np.inf)
    assert w.ts.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert w.value.tolist() == [0.0, 1.0, 2.0, 3.25, 3.0] and w.hi[-1] == 6.0


def test_rows_since_a_mark_are_right_across_a_growth(monkeypatch: pytest.MonkeyPatch) -> None:
    """What history collects batch by batch (the open bucket again each time) adds up to
    the tier, whether a batch came before, across or after a growth or the wrap."""
    monkeypatch.setattr(rings, "INITIAL_ROWS", 4)
    tier = TierRing(1.0, 40)
    kept: dict[int, float] = {}  # absolute row → its sum, as the file keeps it
    mark, t = 0, 0.0
    for n in (3, 1, 2, 5, 9, 30, 1, 60):
        for _ in range(n):
            tier.add(t, 1.0, 0)
            t += 0.5  # two samples a bucket: the open bucket changes after a batch
        cols, first, mark = tier.rows_since(mark)
        kept.update(zip(range(first, first + len(cols["ts"])), cols["sum"].tolist(),
                        strict=True))
        held = tier.ring.window(-np.inf, np.inf)
        start = tier.ring.total - tier.ring.size
        assert [kept[i] for i in range(start, tier.ring.total)] == held["sum"].tolist()
    assert tier.ring.allocated == 40 and tier.ring.wrapped


def test_serving_rows_grow_up_to_their_bound() -> None:
    history = ServingHistory(raw_rows=1_000, minute_rows=100)
    assert history.nbytes() == (256 + 100) * ROW_WIDTH * 8  # 256 to start, or the bound
    for k in range(1_500):  # one total row a poll; 24 minutes close
        history.add(ServingStep(float(k), 1.0, {"requests": 1.0}, {}, {}, {}, None), 0)
    assert history.nbytes() == (1_000 + 100) * ROW_WIDTH * 8
    w = history.window(500.0, 1_499.0)  # the oldest row held is at 500
    assert w.ts.tolist() == list(np.arange(501.0, 1_500.0)) and w.resolution_s == 0.0
