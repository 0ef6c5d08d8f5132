"""Delivery against a real HTTP receiver on 127.0.0.1 (tests/alert_receiver.py).

Exactly once per firing, through a receiver that is down, slow or answering 500; a 4xx
is final and kept with its status; retries last at least 10 minutes with backoff and
jitter; a restart of the dashboard between firing and resolving sends one of each; only
the holder of a server's writer lock delivers for it; no redirect is followed; the
place where it is honestly at-least-once (a crash between the 2xx and the mark).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alert_receiver import AlertReceiver
from support import free_port

from opta_stream.alerting.delivery import THREAD_NAME, DeliveryWorker
from opta_stream.alerting.journal import (
    FAILED,
    PENDING,
    REJECTED,
    SENT,
    AlertJournal,
    Delivery,
    DeliveryUpdate,
    JournalError,
)
from opta_stream.alerting.memory_journal import MemoryJournal
from opta_stream.alerting.monitor import AlertMonitor
from opta_stream.alerting.rules import Condition, Receiver, Rule, Severity, parse_alerts
from opta_stream.alerting.sending import send_test
from opta_stream.history.alert_journal import SqliteAlertJournal
from opta_stream.history.lock import WriterLock

QUEUE = Rule("Queue", (Condition("queued", "above", 0.0),), 0.0, Severity.CRITICAL)
# tiny backoff; a read timeout that a loaded machine's local 200 never reaches
FAST: dict[str, Any] = {"backoff_base_s": 0.01, "backoff_cap_s": 0.05, "rescan_s": 0.2,
                        "timeout": (2.0, 1.0)}


class Watched:
    """A journal whose writes wake whoever waits on them (instead of polling)."""

    def __init__(self, inner: AlertJournal) -> None:
        self.inner = inner
        self.cond = threading.Condition()
        self.fail_sent_marks = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def update(self, delivery_id: int, update: DeliveryUpdate) -> None:
        if update.status == SENT and self.fail_sent_marks:
            self.fail_sent_marks -= 1
            raise JournalError("the disk is full")
        self.inner.update(delivery_id, update)
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0,
                 what: str = "condition") -> Any:
        with self.cond:
            got = self.cond.wait_for(predicate, timeout)
        assert got, f"timed out waiting for {what}: {self.inner.deliveries()}"
        return got

    def rows(self) -> list[Delivery]:
        return list(reversed(self.inner.deliveries()))


def hook(r: AlertReceiver, path: str = "/webhook/t0ken-abc", **kw: Any) -> Receiver:
    config = parse_alerts({"notify": [{"kind": "webhook", "url": r.url(path), **kw}]})
    assert config.errors == ()
    return config.receivers[0]


class Clock:
    def __init__(self, t: float = 1_795_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def fire(journal: Any, receivers: list[Receiver], clock: Callable[[], float],
         queued: float = 1.0, worker: DeliveryWorker | None = None) -> AlertMonitor:
    m = AlertMonitor([QUEUE], receivers, journal, clock=clock,
                     on_deliveries=worker.offer if worker else None)
    m.evaluate({"studio": {"queued": queued}})
    return m


def test_each_kind_gets_its_own_body(receiver: AlertReceiver) -> None:
    config = parse_alerts({"notify": [
        {"kind": k, "url": receiver.url(p)} for k, p in (
            ("webhook", "/webhook/t0ken"), ("ntfy", "/ntfy-topic-x"),
            ("slack", "/services/T0/B0/xyz"), ("discord", "/api/webhooks/1/abc"))]})
    j = Watched(MemoryJournal())
    worker = DeliveryWorker(j, config.receivers, **FAST).start()
    try:
        fire(j, list(config.receivers), time.time, worker=worker)
        receiver.wait_for(lambda: len(receiver.accepted) == 4, what="four posts")
    finally:
        worker.stop()
    by_path = {p.path: p for p in receiver.accepted}
    am = by_path["/webhook/t0ken"].json
    assert (am["version"], am["status"], am["alerts"][0]["labels"]["alertname"]) == (
        "4", "firing", "Queue")
    ntfy = by_path["/ntfy-topic-x"]
    assert ntfy.headers["Title"] == "[CRITICAL] Queue on studio" and ntfy.headers[
        "Priority"] == "5" and ntfy.text.startswith("Queued requests is 1")
    assert list(by_path["/services/T0/B0/xyz"].json) == ["text"]
    assert by_path["/api/webhooks/1/abc"].json["allowed_mentions"] == {"parse": []}
    assert all(p.headers["User-Agent"] == "opta-stream/0.1" for p in receiver.accepted)
    assert {d.status for d in j.rows()} == {SENT}


def test_exactly_once_through_a_receiver_down_then_slow_then_failing(
        receiver: AlertReceiver) -> None:
    rc = hook(receiver)
    receiver.down()
    j = Watched(MemoryJournal())
    worker = DeliveryWorker(j, [rc], **FAST)
    assert worker.start() is worker.start()  # a second start starts nothing
    threads = [t for t in threading.enumerate() if t.name == THREAD_NAME]
    assert len(threads) == 1 and threads[0].daemon
    try:
        m = fire(j, [rc], time.time, worker=worker)
        j.wait_for(lambda: j.rows()[0].attempts >= 3, what="three refused tries")
        assert "connection refused" in j.rows()[0].error
        receiver.slow(3.0)  # past the client's 1 s read timeout (released at the end)
        receiver.up()
        receiver.wait_for(lambda: len(receiver.arrived) >= 2, what="two stalled tries")
        receiver.answer(500, times=2)
        receiver.wait_for(lambda: [p.status for p in receiver.arrived].count(500) == 2,
                          what="two 500s")
        receiver.ok()
        j.wait_for(lambda: j.rows()[0].status == SENT, what="the delivery marked sent")
        for _ in range(5):  # still firing: nothing more to send
            m.evaluate({"studio": {"queued": 1.0}})
    finally:
        worker.stop()
        worker.stop()  # idempotent
    assert THREAD_NAME not in [t.name for t in threading.enumerate()]
    assert len(receiver.accepted) == 1
    statuses = [p.status for p in receiver.arrived]
    assert statuses.count(200) == 1 and statuses.count(500) == 2 and None in statuses
    row = j.rows()[0]
    assert (row.status, row.http_status) == (SENT, 200) and row.attempts >= 7
    assert j.pending(None, 10) == []


def test_a_4xx_is_final_kept_with_its_status_and_never_retried(receiver: AlertReceiver) -> None:
    rc = hook(receiver, "/webhook/t0ken-abc")
    receiver.answer(404, body="no such hook: {path}")
    j, clock = Watched(MemoryJournal()), Clock()
    worker = DeliveryWorker(j, [rc], clock=clock, **FAST)
    fire(j, [rc], clock)
    for _ in range(3):
        worker.run_once()
        clock.t += 3600
    row = j.rows()[0]
    assert (row.status, row.http_status, row.attempts) == (REJECTED, 404, 1)
    assert row.error == "refused with HTTP 404 Not Found: no such hook: ***"
    assert len(receiver.arrived) == 1
    assert worker.status() == {rc.label: row.error}


def test_429_is_retried_after_what_the_receiver_asked(receiver: AlertReceiver) -> None:
    rc = hook(receiver)
    receiver.answer(429, times=1, headers={"Retry-After": "7"})
    j, clock = Watched(MemoryJournal()), Clock()
    worker = DeliveryWorker(j, [rc], clock=clock, backoff_cap_s=60.0)
    fire(j, [rc], clock)
    worker.run_once()
    assert j.rows()[0].status == PENDING and j.rows()[0].due_at == clock.t + 7
    clock.t += 7
    worker.run_once()
    assert j.rows()[0].status == SENT and len(receiver.accepted) == 1


def test_no_redirect_is_followed(receiver: AlertReceiver) -> None:
    elsewhere = AlertReceiver()
    try:
        receiver.answer(307, headers={"Location": elsewhere.url("/steal")})
        rc = hook(receiver)
        j, clock = Watched(MemoryJournal()), Clock()
        fire(j, [rc], clock)
        DeliveryWorker(j, [rc], clock=clock).run_once()
        assert elsewhere.arrived == []
        row = j.rows()[0]
        assert (row.status, row.http_status) == (REJECTED, 307)
        assert "a redirect, which is not followed" in row.error
    finally:
        elsewhere.stop()


def test_retries_last_at_least_ten_minutes_with_backoff_and_jitter() -> None:
    dead = Receiver("webhook", f"http://127.0.0.1:{free_port()}/hook-t0ken", 1, "webhook")
    j, clock = Watched(MemoryJournal()), Clock()
    jitter = iter([0.0, 1.0, 0.5] * 100)
    worker = DeliveryWorker(j, [dead], clock=clock, rng=lambda: next(jitter))
    fire(j, [dead], clock)
    start, tries = clock.t, []
    while j.rows()[0].status == PENDING:
        before = j.rows()[0].attempts
        wait = worker.run_once()
        if j.rows()[0].attempts > before:
            tries.append(clock.t - start)
        clock.t += wait
    gaps = [round(b - a, 3) for a, b in zip(tries, tries[1:], strict=False)]
    # base 2 s doubling up to the 60 s cap, times 1 + 0.5·U (U is 0, 1, 0.5 in turn)
    assert gaps[:8] == [2.0, 6.0, 10.0, 16.0, 48.0, 75.0, 60.0, 90.0]
    assert set(gaps[5:]) == {60.0, 75.0, 90.0}
    row = j.rows()[0]
    assert row.status == FAILED and tries[-1] >= 600
    assert row.error.startswith(f"gave up after {len(tries)} tries: connection refused")
    assert 1800 - 90 <= tries[-1] <= 1800


def test_a_receiver_back_within_the_window_gets_it_once(receiver: AlertReceiver) -> None:
    rc = hook(receiver)
    receiver.down()
    j, clock = Watched(MemoryJournal()), Clock()
    worker = DeliveryWorker(j, [rc], clock=clock, rng=lambda: 0.0)
    fire(j, [rc], clock)
    start = clock.t
    while clock.t - start < 700:
        clock.t += worker.run_once()
    assert j.rows()[0].status == PENDING
    receiver.up()
    while j.rows()[0].status == PENDING and clock.t - start < 800:  # the next try: ≤ 90 s
        clock.t += worker.run_once()
    assert j.rows()[0].status == SENT and len(receiver.accepted) == 1


def test_a_receivers_notices_keep_their_order_while_it_is_down(receiver: AlertReceiver) -> None:
    rc = hook(receiver)
    receiver.down()
    j, clock = Watched(MemoryJournal()), Clock()
    worker = DeliveryWorker(j, [rc], clock=clock, rng=lambda: 0.0)
    m = fire(j, [rc], clock)
    worker.run_once()
    clock.t += 1
    m.evaluate({"studio": {"queued": 0.0}})  # resolved while the firing one waits
    worker.run_once()  # the resolved notice is due, but waits behind the firing one
    assert [d.attempts for d in j.rows()] == [1, 0]
    receiver.up()
    clock.t += 60
    worker.run_once()
    assert [p.json["status"] for p in receiver.accepted] == ["firing", "resolved"]


def test_a_restart_between_firing_and_resolving_sends_one_of_each(
        receiver: AlertReceiver, tmp_path: Path) -> None:
    path = str(tmp_path / "history.sqlite3")
    rc = hook(receiver)
    first = Watched(SqliteAlertJournal.open(path))
    worker = DeliveryWorker(first, [rc], **FAST).start()
    monitor = AlertMonitor([QUEUE], [rc], first, on_deliveries=worker.offer)
    monitor.evaluate({"studio": {"queued": 1.0}})
    receiver.wait_for(lambda: len(receiver.accepted) == 1, what="the firing notice")
    first.wait_for(lambda: first.rows()[0].status == SENT, what="the mark")
    worker.stop()
    first.inner.close()  # type: ignore[attr-defined]

    second = Watched(SqliteAlertJournal.open(path))  # the dashboard started again
    worker = DeliveryWorker(second, [rc], **FAST).start()
    try:
        monitor = AlertMonitor([QUEUE], [rc], second, on_deliveries=worker.offer)
        monitor.evaluate({"studio": {"queued": 1.0}})  # still firing: carried on, not resent
        monitor.evaluate({"studio": {"queued": 0.0}})
        receiver.wait_for(lambda: len(receiver.accepted) == 2, what="the resolved notice")
        second.wait_for(lambda: all(d.status == SENT for d in second.rows()), what="marks")
    finally:
        worker.stop()
        second.inner.close()  # type: ignore[attr-defined]
    assert [p.json["status"] for p in receiver.accepted] == ["firing", "resolved"]
    assert len(receiver.arrived) == 2


def test_a_notice_pending_at_a_restart_is_sent_once_after_it(
        receiver: AlertReceiver, tmp_path: Path) -> None:
    path = str(tmp_path / "history.sqlite3")
    rc = hook(receiver)
    receiver.down()
    first = Watched(SqliteAlertJournal.open(path))
    fire(first, [rc], time.time)
    DeliveryWorker(first, [rc], **FAST).run_once()
    assert first.rows()[0].attempts == 1
    first.inner.close()  # type: ignore[attr-defined]
    receiver.up()
    second = Watched(SqliteAlertJournal.open(path))
    worker = DeliveryWorker(second, [rc], **FAST).start()  # it looks at the outbox on start
    try:
        second.wait_for(lambda: second.rows()[0].status == SENT, what="the pending notice")
    finally:
        worker.stop()
        second.inner.close()  # type: ignore[attr-defined]
    assert len(receiver.accepted) == 1


def test_a_crash_between_the_2xx_and_the_mark_sends_it_again(receiver: AlertReceiver) -> None:
    """The honest limit: at least once, not exactly once, in this window."""
    rc = hook(receiver)
    j, clock = Watched(MemoryJournal()), Clock()
    j.fail_sent_marks = 1
    fire(j, [rc], clock)
    with pytest.raises(JournalError):
        DeliveryWorker(j, [rc], clock=clock).run_once()
    DeliveryWorker(j, [rc], clock=clock).run_once()  # "after the restart"
    assert len(receiver.accepted) == 2 and j.rows()[0].status == SENT


def test_only_the_holder_of_the_servers_writer_lock_delivers(
        receiver: AlertReceiver, tmp_path: Path) -> None:
    path = str(tmp_path / "history.sqlite3")
    rc = hook(receiver)
    lock_a, lock_b = WriterLock(path, "studio"), WriterLock(path, "studio")
    assert lock_a.acquire() and not lock_b.acquire()
    ja, jb = SqliteAlertJournal.open(path), SqliteAlertJournal.open(path)
    clock = Clock()
    a = DeliveryWorker(ja, [rc], clock=clock, owns=lambda s: lock_a.held)
    b = DeliveryWorker(jb, [rc], clock=clock, owns=lambda s: lock_b.acquire())
    ma = AlertMonitor([QUEUE], [rc], ja, clock=clock, owns=lambda s: lock_a.held)
    mb = AlertMonitor([QUEUE], [rc], jb, clock=clock, owns=lambda s: lock_b.acquire())
    for m in (ma, mb):
        m.evaluate({"studio": {"queued": 1.0}})
    b.run_once()
    assert receiver.arrived == []  # b reads, a notifies
    a.run_once()
    assert len(receiver.accepted) == 1
    lock_a.release()  # a's process ends
    clock.t += 1
    mb.evaluate({"studio": {"queued": 0.0}})  # b takes over and resolves it
    b.run_once()
    assert [p.json["status"] for p in receiver.accepted] == ["firing", "resolved"]
    lock_b.release()
    ja.close()
    jb.close()


def test_send_test_says_each_result_in_words(receiver: AlertReceiver) -> None:
    refusing = AlertReceiver()
    slow = AlertReceiver()
    try:
        refusing.answer(403, body="forbidden")
        slow.slow(3.0)
        port = free_port()
        config = parse_alerts({"notify": [
            {"kind": "ntfy", "url": receiver.url("/topic-t0ken")},
            {"kind": "slack", "url": refusing.url("/services/x0x0")},
            {"kind": "discord", "url": f"http://127.0.0.1:{port}/api/webhooks/1/a"},
            {"kind": "webhook", "url": slow.url("/hook")}]})
        words = [str(o) for o in send_test(config.receivers, timeout=(2.0, 1.0))]
    finally:
        refusing.stop()
        slow.stop()
    assert words == [
        f"ntfy · 127.0.0.1:{receiver.port}: delivered (HTTP 200 OK)",
        f"slack · 127.0.0.1:{refusing.port}: refused with HTTP 403 Forbidden: forbidden",
        f"discord · 127.0.0.1:{port}: connection refused: is the receiver up?",
        f"webhook · 127.0.0.1:{slow.port}: no answer within 1 s (read timeout)"]
    assert "test" in receiver.accepted[0].text
