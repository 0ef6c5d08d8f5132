"""Backoff schedule and counter-derived rates: pure, exact, no sleeping."""

from __future__ import annotations

import itertools

import pytest

from opta_stream.events.counters import CounterRates, RateStep
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


def test_rate_is_the_counter_delta_over_time() -> None:
    r = CounterRates()
    assert r.update(10.0, {"m": 100}) == RateStep(None)
    assert r.update(12.0, {"m": 300}).rates == {"m": pytest.approx(100.0)}
    assert r.update(13.0, {"m": 300}).rates == {"m": 0.0}


def test_counter_going_down_is_a_restart_counted_from_zero() -> None:
    """Like Prometheus' rate(): after a restart the counter counts from 0, so the 10
    tokens since the restart are a rate, never a negative one, and never lost."""
    r = CounterRates()
    r.update(0.0, {"m": 1000})
    assert r.update(1.0, {"m": 10}) == RateStep({"m": 10.0}, reset=True)
    assert r.update(2.0, {"m": 60}).rates == {"m": pytest.approx(50.0)}


def test_a_restart_seen_from_uptime_takes_the_next_counts_from_zero() -> None:
    r = CounterRates()
    r.update(0.0, {"m": 5})
    r.restarted()
    assert r.update(2.0, {"m": 8}) == RateStep({"m": 4.0})


def test_time_not_advancing_gives_no_rate_and_keeps_previous() -> None:
    r = CounterRates()
    r.update(5.0, {"m": 10})
    assert r.update(5.0, {"m": 20}) == RateStep(None)
    assert r.update(6.0, {"m": 30}).rates == {"m": pytest.approx(20.0)}


def test_forget_drops_the_previous_sample() -> None:
    r = CounterRates()
    r.update(0.0, {"m": 0})
    r.forget()
    assert r.update(100.0, {"m": 5000}) == RateStep(None)


def test_a_model_first_seen_starts_from_zero() -> None:
    """The server creates a model's counter at its first request, already counted."""
    r = CounterRates()
    r.update(0.0, {"a": 10})
    assert r.update(2.0, {"a": 10, "b": 40}).rates == {"a": 0.0, "b": 20.0}
