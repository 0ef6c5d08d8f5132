"""minmax_downsample: bounded output, peaks and segment ends kept."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opta_stream.figures.downsample import downsample_series, minmax_downsample
from opta_stream.snapshot import Series, frozen_array


def _series(value, seg=None, model=None, lo=None, hi=None, step=0.02) -> Series:
    value = np.asarray(value, dtype=np.float64)
    n = value.size
    return Series(
        ts=frozen_array(1_800_000_000.0 + np.arange(n) * step),
        value=frozen_array(value),
        lo=frozen_array(value if lo is None else lo),
        hi=frozen_array(value if hi is None else hi),
        seg=frozen_array(np.zeros(n) if seg is None else seg, np.int64),
        model=frozen_array(np.full(n, -1) if model is None else model, np.int32),
        model_names=("a", "b", "c"),
    )


def _ds(s: Series, max_points: int, with_model: bool = False) -> np.ndarray:
    model = s.model if with_model else None
    return minmax_downsample(s.ts, s.value, s.seg, model, max_points)


def test_short_series_is_returned_whole():
    s = _series(np.arange(10.0))
    assert _ds(s, 10).tolist() == list(range(10))
    assert _ds(s, 1000).tolist() == list(range(10))


def test_empty_series():
    s = _series([])
    assert _ds(s, 5).tolist() == []


def test_rejects_a_budget_below_one():
    s = _series(np.arange(10.0))
    with pytest.raises(ValueError):
        _ds(s, 0)


def test_long_series_is_capped_sorted_unique():
    rng = np.random.default_rng(1)
    s = _series(rng.random(50_000))
    idx = _ds(s, 1000)
    assert 0 < idx.size <= 1000
    assert np.all(np.diff(idx) > 0)
    assert idx[0] == 0 and idx[-1] == 49_999


def test_a_single_spike_and_dip_survive():
    value = np.full(100_000, 10.0)
    value[31_337] = 900.0
    value[77_001] = -5.0
    idx = _ds(_series(value), 100)
    assert 31_337 in idx and 77_001 in idx


def test_every_bucket_keeps_its_extremes():
    # 49 buckets of ~204 rows; one spike and one dip every 500 rows, so no
    # bucket holds two of them and every one must be kept.
    rng = np.random.default_rng(7)
    value = rng.random(10_000)
    spikes, dips = np.arange(100, 10_000, 500), np.arange(350, 10_000, 500)
    value[spikes], value[dips] = 5.0 + np.arange(spikes.size), -5.0
    idx = set(_ds(_series(value), 100).tolist())
    assert set(spikes.tolist()) <= idx and set(dips.tolist()) <= idx


def test_segment_ends_are_kept_so_gaps_stay_visible():
    seg = np.repeat(np.arange(4), 5_000)
    idx = set(_ds(_series(np.ones(20_000), seg=seg), 200).tolist())
    for k in range(4):
        assert {k * 5_000, k * 5_000 + 4_999} <= idx


def test_too_many_segments_still_respects_the_budget():
    seg = np.arange(20_000) // 2  # 10,000 segments
    idx = _ds(_series(np.sin(np.arange(20_000.0)), seg=seg), 300)
    assert 0 < idx.size <= 300


def test_each_model_keeps_its_own_peak():
    n = 30_000
    model = np.tile(np.array([0, 1, -1]), n // 3)
    value = np.where(model == 0, 100.0, np.where(model == 1, 10.0, 1.0))
    value[3 * 4_000 + 1] = 55.0  # a peak of model 1, far below model 0's level
    idx = _ds(_series(value, model=model), 300, with_model=True)
    assert idx.size <= 300
    assert 3 * 4_000 + 1 in idx
    assert set(model[idx].tolist()) == {0, 1, -1}


def test_more_models_than_budget_falls_back_to_striding():
    model = np.arange(1_000) % 20
    idx = _ds(_series(np.ones(1_000), model=model), 30, with_model=True)
    assert idx.size <= 30 and np.all(np.diff(idx) > 0)


def test_aggregated_series_uses_lo_and_hi():
    n = 5_000
    value = np.full(n, 50.0)
    lo, hi = value.copy(), value.copy()
    hi[1_234] = 400.0  # a peak inside a bucket whose mean hides it
    lo[4_321] = 0.0
    s = _series(value, lo=lo, hi=hi, step=1.0)
    idx = downsample_series(s, 100)
    assert 1_234 in idx and 4_321 in idx and idx.size <= 100


def test_nan_values_never_win_and_never_crash():
    value = np.full(10_000, np.nan)
    value[5_000] = 3.0
    idx = _ds(_series(value), 50)
    assert 5_000 in idx and idx.size <= 50


def test_flat_or_unsorted_time_is_still_bounded():
    s = _series(np.arange(5_000.0))
    flat = minmax_downsample(np.zeros(5_000), s.value, s.seg, None, 100)
    shuffled = minmax_downsample(np.random.default_rng(3).permutation(s.ts), s.value,
                                 s.seg, None, 100)
    assert flat.size <= 100 and shuffled.size <= 100
    assert 4_999 in flat and 0 in flat


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 3_000),
    max_points=st.integers(1, 400),
    n_segs=st.integers(1, 40),
    n_models=st.integers(0, 6),
    seed=st.integers(0, 2**16),
)
def test_never_more_than_max_points(n, max_points, n_segs, n_models, seed):
    rng = np.random.default_rng(seed)
    seg = np.sort(rng.integers(0, n_segs, n))
    model = rng.integers(-1, n_models, n) if n_models else None
    s = _series(rng.normal(size=n), seg=seg, model=model)
    idx = minmax_downsample(s.ts, s.value, s.seg, model, max_points)
    assert idx.size <= max(max_points, 0)
    assert idx.size == min(n, idx.size)
    assert np.all(np.diff(idx) > 0)
    if n:
        assert idx.min() >= 0 and idx.max() < n
    if n <= max_points:
        assert idx.size == n
