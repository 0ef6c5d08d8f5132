"""The watch in-process: real demo servers, a real receiver, real history files.

- A dashboard restart between firing and resolving: the new process carries on from the
  states in the file, so the receiver gets one firing notice and one resolved notice.
- A round reads each Store once, logs each firing and resolving as an event-log line the
  time charts mark, and writes each server's board into its Store; a server another
  process notifies for gets the same lines when the file says its alerts changed.
- The watch's threads are named, and stop (idempotently) with it.

Waits are on conditions (the receiver's requests, a Store's writes), never sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alert_receiver import AlertReceiver
from conftest import fill_store
from support import wait_for

from opta_stream.alerting.memory_journal import MemoryJournal
from opta_stream.alerting.rules import parse_alerts
from opta_stream.charts.frames import MARKERS, marker_frame
from opta_stream.demo.server import DemoServer
from opta_stream.store.core import Store
from opta_stream.watch.alert_desk import AlertDesk
from opta_stream.watch.fleet_watch import MONITOR_THREAD, Watch
from opta_stream.watch.watch_plan import plan_watch

RULE = "Memory over 80"


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    server = DemoServer(mode="rich", heartbeat_s=0.5, seed=3).start()
    try:
        yield server
    finally:
        server.stop()


def secrets(url: str, history: Path, hook: str, **extra: Any) -> dict[str, Any]:
    return {"lmx_url": url, "history_path": str(history),
            "alerts": [{"name": RULE, "metric": "memory_pct", "above": 80,
                        "severity": "critical"}],
            "notify": [{"kind": "webhook", "url": hook}], **extra}


def posts(receiver: AlertReceiver, rule: str = RULE) -> list[str]:
    """The statuses of the accepted webhook posts for ``rule``, in order."""
    return [p.json["status"] for p in receiver.accepted
            if p.json["commonLabels"]["alertname"] == rule]


def settled(watch: Watch) -> bool:
    desk = watch.desk
    assert desk is not None
    rows = desk.journal.deliveries()
    return bool(rows) and all(d.status == "sent" for d in rows)


def test_a_restart_between_firing_and_resolving_sends_one_firing_and_one_resolved(
        tmp_path: Path, demo: DemoServer, receiver: AlertReceiver) -> None:
    plan = plan_watch(secrets(demo.url, tmp_path / "h.sqlite3", receiver.url("/wh")), {})
    demo.sim.hold_memory(85.0)
    first = Watch(plan, interval_s=0.2, backoff=(0.05, 0.2)).start()
    try:
        receiver.wait_for(lambda: posts(receiver) == ["firing"], 15, "the firing notice")
        wait_for(lambda: settled(first), 10, "the firing notice marked sent")
    finally:
        first.stop()
    assert first.desk is not None and first.desk.states()  # it evaluated the server
    second = Watch(plan, interval_s=0.2, backoff=(0.05, 0.2)).start()
    try:
        name = plan.targets[0].name
        feed = second.feeds[name]
        # the new process read the firing state from the file: no second firing notice
        wait_for(lambda: any(a.rule == RULE and a.state == "firing" and a.episode == 1
                             for a in feed.store.snapshot(1.0).alerts.alerts), 15,
                 "the second watch to carry on the firing alert", store=feed.store)
        demo.sim.hold_memory(None)
        receiver.wait_for(lambda: posts(receiver) == ["firing", "resolved"], 15,
                          "the resolved notice")
        wait_for(lambda: settled(second), 10, "the resolved notice marked sent")

        def shown() -> Any:  # the board is rewritten every few seconds: deliveries move
            alert = next(a for a in feed.store.snapshot(1.0).alerts.alerts if a.rule == RULE)
            return [(d.kind, d.status) for d in alert.deliveries] == [
                ("firing", "sent"), ("resolved", "sent")] and alert
        alert = wait_for(shown, 10, "the board to show both notices sent", store=feed.store)
        assert alert.state == "resolved" and alert.episode == 1
    finally:
        second.stop()
    assert posts(receiver) == ["firing", "resolved"]


def test_the_watch_threads_are_named_and_stop_with_it(tmp_path: Path, demo: DemoServer,
                                                       receiver: AlertReceiver) -> None:
    import threading

    plan = plan_watch(secrets(demo.url, tmp_path / "h.sqlite3", receiver.url("/wh")), {})
    before = set(threading.enumerate())
    watch = Watch(plan, interval_s=0.2).start()
    mine = {MONITOR_THREAD, "opta-alerts-delivery"}
    try:
        assert watch.alive
        names = {t.name for t in threading.enumerate()}
        assert mine <= names
        assert watch.start() is watch  # once
    finally:
        watch.stop()
        watch.stop()  # idempotent
    assert not watch.alive
    left = [t.name for t in set(threading.enumerate()) - before
            if t.name in mine or t.name.startswith(("opta-sse", "opta-sampler", "opta-history"))]
    assert left == []


# -- rounds on Stores a test fills, on an injected clock --------------------------------


class Clock:
    """A clock a test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def filled(name: str, clock: Clock) -> Store:
    return fill_store(Store(f"http://{name}.test:1234", clock=clock), clock.now)


def desk_for(stores: dict[str, Store], journal: MemoryJournal, clock: Clock, *,
             owns: Any = None) -> AlertDesk:
    config = parse_alerts({"alerts": [{"name": "Tokens flowing", "metric": "tokens_per_s",
                                       "above": 1, "severity": "critical"}]})
    return AlertDesk(config, stores, journal, owns=owns, clock=clock, board_s=0.0)


def test_a_round_logs_firing_and_resolving_and_writes_each_board(fixed_now: float) -> None:
    clock = Clock(fixed_now)
    store = filled("studio", clock)
    desk = desk_for({"studio": store}, MemoryJournal(), clock)
    moved = desk.round()
    assert ("Tokens flowing", "firing") in {(t.rule, t.new.value) for t in moved}
    snap = store.snapshot(600.0)
    firing = [e for e in snap.events if e.type == "alert_firing"
              and e.summary.startswith("Tokens flowing")]
    assert [e.summary for e in firing] == ["Tokens flowing: 90.4 (tokens/s (10 s) above 1)"]
    assert firing[0].severity == "error" and firing[0].category == "alert"  # critical
    assert "alert_firing" in MARKERS  # the time charts draw it as they draw loads
    labels = marker_frame(snap.events, (fixed_now - 600, fixed_now + 1))["label"].tolist()
    assert any(label.startswith("alert firing: Tokens flowing") for label in labels)
    board = snap.alerts
    assert board.watched and board.notifier == "this process"
    tokens = next(a for a in board.alerts if a.rule == "Tokens flowing")
    assert (tokens.state, tokens.value_text, tokens.threshold_text) == ("firing", "90.4", "1")
    assert [c.new for c in board.changes if c.rule == "Tokens flowing"] == ["firing"]
    assert any(r.name == "Tokens flowing" and r.origin == "yours" for r in board.rules)
    # a minute later with no sample: tokens/s is unknown, and the alert holds still
    clock.now += 60.0
    assert not [t for t in desk.round() if t.rule == "Tokens flowing"]
    assert next(a for a in store.snapshot(1.0).alerts.alerts
                if a.rule == "Tokens flowing").state == "firing"
    # then 10 s of zeros: it resolves
    store.add_throughput_many([clock.now - 10 + i for i in range(11)], [0.0] * 11)
    desk.round()
    lines = [e for e in store.snapshot(600.0).events if e.type == "alert_resolved"]
    assert [e.summary for e in lines if e.summary.startswith("Tokens flowing")] == [
        "Tokens flowing: back to 0"]
    assert [c.new for c in store.snapshot(1.0).alerts.changes
            if c.rule == "Tokens flowing"] == ["firing", "resolved"]


def test_a_server_another_process_notifies_for_gets_the_same_lines(fixed_now: float) -> None:
    """Two desks on one journal, as two dashboards on one file: the owner evaluates and
    notifies; the other reads the states and logs the same changes in its own Store."""
    journal = MemoryJournal()
    clock = Clock(fixed_now)
    ours, theirs = filled("studio", clock), filled("studio", clock)
    owner = desk_for({"studio": ours}, journal, clock, owns=lambda s: True)
    reader = desk_for({"studio": theirs}, journal, clock, owns=lambda s: False)
    reader.round()  # the first look only remembers
    owner.round()
    assert not [e for e in theirs.snapshot(600.0).events if e.type == "alert_firing"]
    clock.now += 1.0
    reader.round()  # it reads the file's states each round
    lines = [e.summary for e in theirs.snapshot(600.0).events if e.type == "alert_firing"]
    assert "Tokens flowing: 90.4 (tokens/s (10 s) above 1)" in lines
    board = theirs.snapshot(1.0).alerts
    assert board.notifier == "another process"
    assert any(a.rule == "Tokens flowing" and a.state == "firing" for a in board.alerts)
    assert not reader.monitor.owned() and owner.monitor.owned() == {"studio"}
