"""Backoff schedule and counter-derived rates: pure, exact, no sleeping."""

from __future__ import annotations

import itertools

import pytest

from opta_stream.feed.rates import CounterRate
from opta_stream.wire.backoff import Backoff


def seq(*values: float):
    it = itertools.cycle(values)
    return lambda: next(it)


@pytest.mark.parametrize("u", [0.0, 0.25, 0.999])
def test_delay_follows_formula(u: float) -> None:
    b = Backoff(base=0.5, cap=30.0, rng=lambda: u)
    got = [b.next_delay() for _ in range(8)]
    want = [min(30.0, 0.5 * 2**n * (1 + 0.5 * u)) for n in range(8)]
    assert got == pytest.approx(want)


def test_delay_is_capped_and_jitter_stays_in_range() -> None:
    b = Backoff(base=1.0, cap=30.0, rng=seq(0.0, 0.5, 0.9999))
    delays = [b.next_delay() for _ in range(20)]
    assert max(delays) == 30.0
    assert delays[0] == 1.0 and 2.0 * 1.0 <= delays[1] < 2.0 * 1.5


def test_reset_starts_from_base_again() -> None:
    b = Backoff(base=0.5, rng=lambda: 0.0)
    for _ in range(5):
        b.next_delay()
    b.reset()
    assert b.attempt == 0 and b.next_delay() == 0.5


def test_server_retry_replaces_base() -> None:
    b = Backoff(base=0.5, rng=lambda: 0.0)
    assert b.next_delay(retry_ms=3000) == 3.0
    assert b.next_delay(retry_ms=3000) == 6.0


def test_rate_from_counter_deltas() -> None:
    r = CounterRate()
    assert r.update(10.0, 100).rate is None
    assert r.update(12.0, 300).rate == pytest.approx(100.0)
    assert r.update(13.0, 300).rate == 0.0


def test_counter_going_down_is_a_reset_not_a_negative_rate() -> None:
    r = CounterRate()
    r.update(0.0, 1000)
    step = r.update(1.0, 10)
    assert step.reset and step.rate is None
    assert r.update(2.0, 60).rate == pytest.approx(50.0)


def test_time_not_advancing_gives_no_rate_and_keeps_previous() -> None:
    r = CounterRate()
    r.update(5.0, 10)
    assert r.update(5.0, 20).rate is None
    assert r.update(6.0, 30).rate == pytest.approx(20.0)


def test_forget_drops_the_previous_sample() -> None:
    r = CounterRate()
    r.update(0.0, 0)
    r.forget()
    assert r.update(100.0, 5000).rate is None
