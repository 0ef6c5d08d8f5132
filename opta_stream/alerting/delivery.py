"""Sending the outbox: one named daemon thread (``opta-alerts-delivery``).

No page ever waits on a receiver. The outbox is the queue: the worker reads at most
``batch`` pending rows at a time, oldest first, and a receiver's rows go in order (a
resolved notice never overtakes its firing one; while a receiver's oldest row waits for
its retry, the rows behind it wait too, and other receivers are not held up). ``offer``
only wakes the thread; the thread waits on an Event with a timeout, never sleeps.

Exactly once, and where it is only at least once:

- a delivery is written in the same commit as the transition that calls for it, and is
  unique per (rule, server, episode, receiver, kind, n): a firing has one firing notice
  per receiver, whoever plans it, however often;
- it is marked sent after a 2xx, and only then; a pending row survives a restart or a
  takeover and is sent by whoever notifies for that server next;
- at least once, not exactly: a crash (or a kill, or a full disk refusing the mark)
  between the receiver's 2xx and the mark sends it again after the restart; so does a
  receiver that processed a request but answered after our timeout. Alertmanager's JSON
  carries the fingerprint and ``startsAt`` a receiver can de-duplicate on;
- at most once, not exactly: after ``retry_window_s`` (30 min; at least 10 min) of
  failures the delivery is given up ("failed", with the last reason). While the alert
  still fires, the next repeat tries again.

Retries after base·2^(tries-1), capped, times 1 to 1.5 (jitter from the injected rng),
or after a 429's Retry-After. What is final (4xx, 3xx) is kept as "rejected" with its
status for pages to show. Secrets: see ``sending``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import traceback
from collections.abc import Callable, Collection, Sequence

import requests

from opta_stream.alerting.journal import (
    FAILED,
    PENDING,
    REJECTED,
    SENT,
    AlertJournal,
    Delivery,
    DeliveryUpdate,
)
from opta_stream.alerting.receivers import Receiver
from opta_stream.alerting.sending import SCRUB, TIMEOUT, attempt, guard
from opta_stream.wire.sessions import new_session

__all__ = ["THREAD_NAME", "DeliveryWorker"]

log = logging.getLogger(__name__)
THREAD_NAME = "opta-alerts-delivery"
RETRY_WINDOW_S = 1800.0
BACKOFF_BASE_S, BACKOFF_CAP_S = 2.0, 60.0
RESCAN_S = 5.0


# -- the worker ------------------------------------------------------------------------

class DeliveryWorker:
    """Sends the outbox's pending deliveries for the servers ``owns`` says are ours."""

    def __init__(self, journal: AlertJournal, receivers: Sequence[Receiver], *,
                 owns: Callable[[str], bool] | None = None,
                 clock: Callable[[], float] = time.time,
                 rng: Callable[[], float] = random.random,
                 session_factory: Callable[[], requests.Session] = new_session,
                 timeout: tuple[float, float] = TIMEOUT,
                 retry_window_s: float = RETRY_WINDOW_S,
                 backoff_base_s: float = BACKOFF_BASE_S, backoff_cap_s: float = BACKOFF_CAP_S,
                 batch: int = 256, rescan_s: float = RESCAN_S, external_url: str = "") -> None:
        guard(receivers)
        self.journal = journal
        self._receivers = {r.key: r for r in receivers}
        self._owns, self._clock, self._rng = owns, clock, rng
        self._session = session_factory()
        self._timeout, self._window = timeout, retry_window_s
        self._base, self._cap = backoff_base_s, backoff_cap_s
        self._batch, self._rescan_s, self._external_url = batch, rescan_s, external_url
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status: dict[str, str] = {}
        self.sent = 0

    def start(self) -> DeliveryWorker:
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Idempotent; an attempt in progress ends at its own timeout at the latest."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._session.close()

    def offer(self, deliveries: Sequence[Delivery]) -> None:
        """New rows are in the outbox: look now (the monitor's ``on_deliveries``)."""
        if deliveries:
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def status(self) -> dict[str, str]:
        """Each receiver's last outcome in words, by label."""
        return dict(self._status)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                wait = self.run_once()
            except Exception as exc:  # noqa: BLE001 - a bug or a full disk must not end delivery
                text = SCRUB("".join(traceback.format_exception(exc)))
                log.error("alert delivery: a round failed; trying again in %g s\n%s",
                          self._rescan_s, text)
                wait = self._rescan_s
            self._wake.wait(wait)

    def _servers(self) -> Collection[str] | None:
        if self._owns is None:
            return None
        return {s for s in self.journal.pending_servers() if self._owns(s)}

    def run_once(self, now: float | None = None) -> float:
        """Send what is due now; the seconds until something else falls due."""
        now = self._clock() if now is None else now
        servers = self._servers()
        if servers is not None and not servers:
            return self._rescan_s
        blocked: set[str] = set()
        next_due = now + self._rescan_s
        for d in self.journal.pending(servers, self._batch):
            if self._stop.is_set():
                break
            if d.receiver in blocked:
                continue
            if d.due_at > now:  # its receiver's head waits: the rows behind it wait too
                blocked.add(d.receiver)
                next_due = min(next_due, d.due_at)
                continue
            update = self._deliver(d)
            now = self._clock()
            if update.status == PENDING:
                blocked.add(d.receiver)
                next_due = min(next_due, update.due_at)
        return max(0.0, next_due - now)

    def _deliver(self, d: Delivery) -> DeliveryUpdate:
        rc = self._receivers.get(d.receiver)
        if rc is None:
            update = DeliveryUpdate(FAILED, d.attempts, self._clock(),
                                    error="its receiver is no longer configured")
            self.journal.update(d.id, update)
            return update
        if self._owns is not None and not self._owns(d.server):
            return DeliveryUpdate(PENDING, d.attempts, self._clock() + self._rescan_s)
        outcome = attempt(self._session, rc, d.notice, self._timeout, self._external_url)
        now = self._clock()
        attempts = d.attempts + 1
        what = f"{d.kind} notice of {d.rule} on {d.server} to {rc.label}"
        if outcome.result == "sent":
            update = DeliveryUpdate(SENT, attempts, d.due_at, now, outcome.status)
            self.sent += 1
            log.info("alert: %s %s", what, outcome.words)
        elif outcome.result == "final":
            update = DeliveryUpdate(REJECTED, attempts, now, None, outcome.status, outcome.words)
            log.warning("alert: %s %s; not retried", what, outcome.words)
        else:
            delay = self.delay(attempts, outcome.retry_after)
            if now + delay > d.created_at + self._window:
                update = DeliveryUpdate(FAILED, attempts, now, None, outcome.status,
                                        f"gave up after {attempts} tries: {outcome.words}")
                log.warning("alert: %s given up after %d tries: %s", what, attempts,
                            outcome.words)
            else:
                update = DeliveryUpdate(PENDING, attempts, now + delay, None, outcome.status,
                                        outcome.words)
                log.warning("alert: %s failed (%s); try %d in %.0f s", what, outcome.words,
                            attempts + 1, delay)
        self._status[rc.label] = outcome.words
        self.journal.update(d.id, update)
        return update

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """base·2^(attempts-1), capped, times 1 to 1.5; a receiver's Retry-After (capped)
        when it gave one."""
        if retry_after is not None:
            return min(self._cap, retry_after)
        return min(self._cap, self._base * 2.0 ** max(0, attempts - 1)) * (1.0 + 0.5 * self._rng())
