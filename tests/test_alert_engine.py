"""The alert state machine and the monitor around it, on an injected clock.

inactive → pending → firing (after for_s) → resolved; "no data" neither fires nor
resolves, except that down_s is known exactly while the others are not; silences hold
back notices, not states; notices are planned once per firing and receiver, repeated
every repeat_s, resolved only to receivers that were told; a takeover carries on from
the states in the journal and sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from opta_stream.alerting.engine import AlertState, State, Transition, evaluate
from opta_stream.alerting.journal import SENT, DeliveryUpdate, JournalError
from opta_stream.alerting.memory_journal import MemoryJournal
from opta_stream.alerting.monitor import AlertMonitor
from opta_stream.alerting.rules import Condition, Receiver, Rule, Severity, parse_alerts

T0 = 1_795_000_000.0
MEM = Rule("Memory near the threshold", (Condition("memory_pct", "above", 85.0),), 60.0)
NOW_RULE = Rule("Queue", (Condition("queued", "above", 0.0),), 0.0, Severity.CRITICAL)
DOWN = Rule("Server unreachable", (Condition("down_s", "above", 30.0),), 0.0,
            Severity.CRITICAL)
HOOK = Receiver("webhook", "http://hooks.test/t0ken", 1, "webhook · hooks.test")


def run(rules: list[Rule], seq: list[tuple[float, Mapping[str, float | None]]],
        server: str = "studio") -> tuple[dict, list[Transition]]:
    states: dict = {}
    out: list[Transition] = []
    for t, reading in seq:
        ev = evaluate(rules, {server: reading}, states, T0 + t)
        states = ev.states
        out += ev.transitions
    return states, out


def moves(transitions: list[Transition]) -> list[tuple[float, str, str]]:
    return [(t.at - T0, t.old.value, t.new.value) for t in transitions]


def test_pending_then_firing_after_for_s_then_resolved() -> None:
    states, tr = run([MEM], [(0, {"memory_pct": 90.0}), (30, {"memory_pct": 91.0}),
                             (59, {"memory_pct": 92.0}), (60, {"memory_pct": 93.0}),
                             (90, {"memory_pct": 94.0}), (120, {"memory_pct": 80.0}),
                             (150, {"memory_pct": 70.0})])
    assert moves(tr) == [(0, "inactive", "pending"), (60, "pending", "firing"),
                         (120, "firing", "resolved")]
    s = states[(MEM.name, "studio")]
    assert (s.state, s.episode, s.fired_at, s.resolved_at, s.value) == (
        State.RESOLVED, 1, T0 + 60, T0 + 120, 70.0)
    assert tr[1].value == 93.0 and tr[1].threshold == 85.0 and tr[1].episode == 1


def test_a_condition_that_breaks_before_for_s_goes_back_to_inactive() -> None:
    _, tr = run([MEM], [(0, {"memory_pct": 90.0}), (30, {"memory_pct": 80.0}),
                        (40, {"memory_pct": 90.0}), (99, {"memory_pct": 90.0}),
                        (100, {"memory_pct": 90.0})])
    assert moves(tr) == [(0, "inactive", "pending"), (30, "pending", "inactive"),
                         (40, "inactive", "pending"), (100, "pending", "firing")]


def test_for_s_zero_fires_at_once_and_each_firing_is_a_new_episode() -> None:
    states, tr = run([NOW_RULE], [(0, {"queued": 2.0}), (1, {"queued": 0.0}),
                                  (2, {"queued": 1.0})])
    assert moves(tr) == [(0, "inactive", "firing"), (1, "firing", "resolved"),
                         (2, "resolved", "firing")]
    assert [t.episode for t in tr] == [1, 1, 2]


@pytest.mark.parametrize("missing", [None, float("nan"), "absent"])
def test_no_data_neither_fires_nor_resolves(missing: object) -> None:
    gap: dict = {} if missing == "absent" else {"memory_pct": missing}
    states, tr = run([MEM], [(0, {"memory_pct": 90.0}), (30, gap), (70, gap)])
    assert moves(tr) == [(0, "inactive", "pending")]  # no data at 70: not fired
    states, tr = run([MEM], [(0, {"memory_pct": 90.0}), (60, {"memory_pct": 90.0}),
                             (70, gap), (500, gap)])
    assert moves(tr) == [(0, "inactive", "pending"), (60, "pending", "firing")]
    assert states[(MEM.name, "studio")].state is State.FIRING  # not resolved by no data
    _, tr = run([MEM], [(0, {"memory_pct": 90.0}), (30, gap), (70, {"memory_pct": 90.0})])
    assert moves(tr)[-1] == (70, "pending", "firing")  # the clock ran through the gap


def test_a_zero_reading_is_data_not_no_data() -> None:
    below = Rule("Slow", (Condition("tokens_per_s", "below", 5.0),))
    _, tr = run([below], [(0, {"tokens_per_s": 0.0})])
    assert moves(tr) == [(0, "inactive", "firing")]
    _, tr = run([below], [(0, {"tokens_per_s": None})])
    assert tr == []


def test_down_s_fires_while_every_other_rule_holds_still() -> None:
    rules = [DOWN, NOW_RULE, MEM]
    up = {"down_s": 0.0, "queued": 3.0, "memory_pct": 90.0}
    down = {"down_s": 45.0, "queued": None, "memory_pct": None}
    states, tr = run(rules, [(0, up), (60, up), (100, down), (200, down)])
    assert [(t.rule, t.new.value) for t in tr] == [
        ("Queue", "firing"), ("Memory near the threshold", "pending"),
        ("Memory near the threshold", "firing"), ("Server unreachable", "firing")]
    assert states[("Queue", "studio")].state is State.FIRING  # unknown, not resolved
    states, tr = run(rules, [(0, down), (10, {**up, "queued": 0.0, "memory_pct": 50.0})])
    assert [(t.rule, t.new.value) for t in tr] == [("Server unreachable", "firing"),
                                                  ("Server unreachable", "resolved")]


def test_compound_and_reference_conditions_of_the_builtins() -> None:
    rules = {r.name: r for r in parse_alerts({}).rules}
    queue, mem = rules["Queue with every slot busy"], rules["Memory at the server's threshold"]
    _, tr = run([queue], [(0, {"queued": 2.0, "in_flight": 3.0, "slots": 4.0}),
                          (40, {"queued": 2.0, "in_flight": 3.0, "slots": 4.0})])
    assert tr == []  # a free slot: the queue is not the problem
    _, tr = run([queue], [(0, {"queued": 2.0, "in_flight": 4.0, "slots": 4.0}),
                          (30, {"queued": 1.0, "in_flight": 4.0, "slots": 4.0})])
    assert moves(tr) == [(0, "inactive", "pending"), (30, "pending", "firing")]
    _, tr = run([mem], [(0, {"memory_pct": 90.0, "memory_threshold_pct": 90.0})])
    assert moves(tr) == [(0, "inactive", "firing")] and tr[0].threshold == 90.0
    _, tr = run([mem], [(0, {"memory_pct": 99.0})])  # no threshold from the server: no data
    assert tr == []


def test_rules_apply_to_their_servers_and_disabled_rules_not_at_all() -> None:
    only = Rule("Only studio", (Condition("queued", "above", 0.0),), servers=frozenset({"studio"}))
    off = Rule("Off", (Condition("queued", "above", 0.0),), enabled=False)
    ev = evaluate([only, off], {"studio": {"queued": 1.0}, "mini": {"queued": 1.0}}, {}, T0)
    assert [(t.rule, t.server) for t in ev.transitions] == [("Only studio", "studio")]


def test_a_silence_marks_transitions_and_changes_no_state() -> None:
    key = (NOW_RULE.name, "studio")
    ev = evaluate([NOW_RULE], {"studio": {"queued": 1.0}}, {}, T0, {key: T0 + 3600})
    assert ev.transitions[0].silenced and ev.states[key].state is State.FIRING
    ev = evaluate([NOW_RULE], {"studio": {"queued": 1.0}}, {}, T0, {key: T0 - 1})
    assert not ev.transitions[0].silenced


# -- the monitor: planning and the journal ---------------------------------------------

class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def monitor(journal: MemoryJournal, clock: Clock, receivers: tuple[Receiver, ...] = (HOOK,),
            **kw: object) -> AlertMonitor:
    return AlertMonitor([NOW_RULE, MEM], receivers, journal, clock=clock,
                        instances={"studio": "studio.local:1234"}, **kw)  # type: ignore[arg-type]


def deliver_all(journal: MemoryJournal, now: float) -> None:
    """Stand-in for the worker: every pending delivery gets a 2xx at ``now``."""
    for d in journal.pending(None, 100):
        journal.update(d.id, DeliveryUpdate(SENT, 1, d.due_at, now, 200))


def kinds(journal: MemoryJournal) -> list[tuple[str, str, int, int]]:
    return [(d.rule, d.kind, d.n, d.episode) for d in reversed(journal.deliveries())]


def test_one_firing_notice_per_firing_repeats_and_one_resolved() -> None:
    j, clock = MemoryJournal(), Clock()
    m = monitor(j, clock, (HOOK, Receiver("ntfy", "https://ntfy.test/x-topic", 2,
                                          "ntfy · ntfy.test", repeat_s=0.0)))
    for t in range(0, 100):
        clock.t = T0 + t
        m.evaluate({"studio": {"queued": 1.0}})
        deliver_all(j, clock.t)
    assert kinds(j) == [("Queue", "firing", 0, 1)] * 2
    clock.t = T0 + 4 * 3600 + 1  # the webhook repeats after 4 h; ntfy never (repeat_s = 0)
    m.evaluate({"studio": {"queued": 1.0}})
    assert kinds(j)[2:] == [("Queue", "repeat", 1, 1)]
    assert j.pending(None, 10)[0].receiver == HOOK.key
    clock.t += 20  # the repeat is still pending: no second one
    m.evaluate({"studio": {"queued": 1.0}})
    assert len(kinds(j)) == 3
    deliver_all(j, clock.t)
    clock.t += 1
    m.evaluate({"studio": {"queued": 0.0}})
    clock.t += 100
    m.evaluate({"studio": {"queued": 0.0}})
    assert kinds(j)[3:] == [("Queue", "resolved", 0, 1)] * 2
    resolved = j.deliveries()[0].notice
    assert (resolved.status, resolved.ends_at, resolved.starts_at) == ("resolved", T0 + 4 * 3600
                                                                      + 22, T0)


def test_no_repeat_while_a_notice_to_that_receiver_is_still_pending() -> None:
    j, clock = MemoryJournal(), Clock()
    quick = Receiver("webhook", "http://hooks.test/t0ken", 1, "webhook", repeat_s=60.0)
    m = monitor(j, clock, (quick,), reconcile_s=1.0)
    for t in range(0, 600, 5):  # the receiver is down: the firing notice stays pending
        clock.t = T0 + t
        m.evaluate({"studio": {"queued": 1.0}})
    assert kinds(j) == [("Queue", "firing", 0, 1)]
    deliver_all(j, clock.t)
    clock.t += 60
    m.evaluate({"studio": {"queued": 1.0}})
    assert kinds(j) == [("Queue", "firing", 0, 1), ("Queue", "repeat", 1, 1)]


def test_receivers_get_only_the_severities_they_asked_for() -> None:
    j, clock = MemoryJournal(), Clock()
    picky = Receiver("ntfy", "https://ntfy.test/x-topic", 2, "ntfy", Severity.CRITICAL)
    m = AlertMonitor([NOW_RULE, Rule("Warn", (Condition("queued", "above", 0.0),))],
                     [picky], j, clock=clock)
    m.evaluate({"studio": {"queued": 1.0}})
    assert [d.rule for d in j.deliveries()] == ["Queue"]


def test_a_silence_holds_firing_notices_and_one_goes_when_it_ends_still_firing() -> None:
    j, clock = MemoryJournal(), Clock()
    m = monitor(j, clock, reconcile_s=10.0)
    m.silence("Queue", "studio", 3600)
    for t in range(0, 3600, 5):
        clock.t = T0 + t
        m.evaluate({"studio": {"queued": 1.0}})
    assert j.deliveries() == [] and j.transitions()[0].silenced
    clock.t = T0 + 3610
    m.evaluate({"studio": {"queued": 1.0}})
    assert kinds(j) == [("Queue", "firing", 0, 1)]


def test_a_resolved_notice_goes_only_to_receivers_told_of_the_firing() -> None:
    j, clock = MemoryJournal(), Clock()
    m = monitor(j, clock)
    m.silence("Queue", "studio", 3600)
    m.evaluate({"studio": {"queued": 1.0}})
    clock.t += 1
    m.evaluate({"studio": {"queued": 0.0}})
    assert j.deliveries() == []  # never told it fired: no resolved notice either
    m.unsilence("Queue", "studio")
    clock.t += 1
    m.evaluate({"studio": {"queued": 1.0}})  # episode 2, told
    m.silence("Queue", "studio", 3600)  # silenced while it fires...
    clock.t += 1
    m.evaluate({"studio": {"queued": 0.0}})  # ...still hears that it resolved
    assert kinds(j) == [("Queue", "firing", 0, 2), ("Queue", "resolved", 0, 2)]


def test_a_takeover_continues_the_states_and_sends_nothing_twice() -> None:
    j, clock = MemoryJournal(), Clock()
    ours = {"a": True}
    a = monitor(j, clock, owns=lambda s: ours["a"])
    b = monitor(j, clock, owns=lambda s: not ours["a"])
    for t in range(0, 70, 10):
        clock.t = T0 + t
        a.evaluate({"studio": {"queued": 1.0, "memory_pct": 90.0}})
        b.evaluate({"studio": {"queued": 1.0, "memory_pct": 90.0}})
        deliver_all(j, clock.t)
    assert kinds(j) == [("Queue", "firing", 0, 1), ("Memory near the threshold", "firing", 0, 1)]
    assert b.owned() == set() and {s.state for s in b.states("studio")} == {State.FIRING}
    ours["a"] = False  # a's process ends; b takes the lock
    for t in range(70, 200, 10):
        clock.t = T0 + t
        b.evaluate({"studio": {"queued": 1.0, "memory_pct": 90.0}})
    assert len(kinds(j)) == 2  # already sent: not again
    clock.t += 1
    b.evaluate({"studio": {"queued": 0.0, "memory_pct": 90.0}})
    assert kinds(j)[2:] == [("Queue", "resolved", 0, 1)]
    assert [(t.rule, t.new.value) for t in j.transitions()][:1] == [("Queue", "resolved")]


def test_a_takeover_resolves_the_episode_the_receiver_was_told_of() -> None:
    """A fired, resolved and fired again (episode 2) before its process ended: the new
    owner must resolve episode 2, or the receiver would believe it still fires."""
    j, clock = MemoryJournal(), Clock()
    a = monitor(j, clock)
    for queued in (1.0, 0.0, 1.0):
        clock.t += 1
        a.evaluate({"studio": {"queued": queued}})
        deliver_all(j, clock.t)
    assert kinds(j)[-1] == ("Queue", "firing", 0, 2)
    b = monitor(j, clock)
    clock.t += 1
    b.evaluate({"studio": {"queued": 1.0}})
    clock.t += 1
    b.evaluate({"studio": {"queued": 0.0}})
    assert kinds(j)[3:] == [("Queue", "resolved", 0, 2)]


class FailingJournal(MemoryJournal):
    def __init__(self) -> None:
        super().__init__()
        self.failing = True

    def commit(self, *args: object, **kw: object):  # type: ignore[no-untyped-def]
        if self.failing:
            raise JournalError("the disk is full")
        return super().commit(*args, **kw)  # type: ignore[arg-type]


def test_a_commit_that_fails_is_tried_again_next_round_and_said_in_words(
        caplog: pytest.LogCaptureFixture) -> None:
    j, clock = FailingJournal(), Clock()
    m = monitor(j, clock)
    assert m.evaluate({"studio": {"queued": 1.0}}) == []
    assert m.problem == "the disk is full" and "the disk is full" in caplog.text
    assert {s.state for s in m.states()} <= {State.INACTIVE}
    j.failing = False
    clock.t += 1
    assert [t.new for t in m.evaluate({"studio": {"queued": 1.0}})] == [State.FIRING]
    assert m.problem == "" and kinds(j) == [("Queue", "firing", 0, 1)]


def test_states_of_rules_no_longer_configured_are_not_shown() -> None:
    j, clock = MemoryJournal(), Clock()
    j.commit([AlertState("Gone", "studio", State.FIRING, T0, episode=1)], [], [], T0)
    m = monitor(j, clock)
    m.evaluate({"studio": {"queued": 0.0}})
    assert {s.rule for s in m.states()} == {"Queue", "Memory near the threshold"}
