"""SlotMemo: one build per key and tick slot, shared by every caller of that slot."""

from __future__ import annotations

import threading

import pytest

from opta_stream.ui.tick_memo import SlotMemo


class Clock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_one_build_per_slot_and_a_new_one_in_the_next():
    clock, calls = Clock(100.0), []
    memo = SlotMemo(0.25, clock=clock)
    build = lambda: calls.append(clock.t) or len(calls)  # noqa: E731
    assert memo.get("k", build) == 1
    clock.t = 100.24  # same slot [100.0, 100.25)
    assert memo.get("k", build) == 1
    assert memo.get("other", build) == 2  # another key builds for itself
    clock.t = 100.25  # the next slot
    assert memo.get("k", build) == 3
    assert (memo.builds, memo.hits) == (3, 1)


def test_callers_during_a_build_wait_for_it_instead_of_building():
    memo = SlotMemo(1.0, clock=Clock())
    started, release = threading.Event(), threading.Event()
    builds: list[int] = []

    def slow() -> str:
        builds.append(1)
        started.set()
        assert release.wait(5.0)
        return "shared"

    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(memo.get("k", slow)))
    first.start()
    assert started.wait(5.0)
    second = threading.Thread(target=lambda: results.append(memo.get("k", slow)))
    second.start()
    second.join(0.05)
    assert second.is_alive()  # waiting on the first build, not building
    release.set()
    first.join(5.0)
    second.join(5.0)
    assert results == ["shared", "shared"] and builds == [1]


def test_a_failed_build_is_not_kept_and_reaches_every_waiter():
    memo = SlotMemo(1.0, clock=Clock())

    def broken() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        memo.get("k", broken)
    assert memo.get("k", lambda: "ok") == "ok"  # the same slot builds again


def test_keys_are_bounded_least_recently_used_first():
    clock = Clock()
    memo = SlotMemo(1.0, max_keys=2, clock=clock)
    for key in ("a", "b"):
        memo.get(key, lambda k=key: k)
    memo.get("a", lambda: "rebuilt")  # a hit: "a" is now the newest
    memo.get("c", lambda: "c")  # evicts "b"
    assert memo.get("a", lambda: "rebuilt") == "a"
    assert memo.get("b", lambda: "new b") == "new b"


def test_a_stuck_builder_does_not_hold_other_viewers_forever():
    memo = SlotMemo(1.0, clock=Clock(), wait_s=0.01)
    release = threading.Event()
    started = threading.Event()

    def stuck() -> str:
        started.set()
        release.wait(5.0)
        return "late"

    worker = threading.Thread(target=lambda: memo.get("k", stuck))
    worker.start()
    assert started.wait(5.0)
    assert memo.get("k", lambda: "own") == "own"  # built for itself after wait_s
    release.set()
    worker.join(5.0)


def test_the_slot_must_be_positive():
    with pytest.raises(ValueError):
        SlotMemo(0.0)


def test_a_result_nobody_asked_for_lately_is_dropped():
    clock = Clock(0.0)
    memo = SlotMemo(1.0, max_age_slots=10, clock=clock)
    memo.get("heavy", lambda: "24 h page")
    clock.t = 5.0
    memo.get("light", lambda: "1 min page")
    clock.t = 11.0  # "heavy" was last built in slot 0: 11 slots ago, past the limit
    memo.get("light", lambda: "1 min page, newer")
    assert len(memo._entries) == 1 and "light" in memo._entries
