"""A receiver's URL is a secret: a canary token in webhook, ntfy, Slack and Discord URLs
(path and query), new every run, is searched for in everything alerting produces while
a real receiver refuses, fails, echoes the request path, goes down and hangs: every log
record of every logger at DEBUG (urllib3's request lines included), exception texts,
outcomes, the rules' error sentences, the journal's rows, and every byte of the history
file, its WAL and lock files. Plain, percent-encoded and base64'd."""

from __future__ import annotations

import base64
import logging
import secrets
import threading
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from alert_receiver import AlertReceiver

from opta_stream.alerting.delivery import DeliveryWorker
from opta_stream.alerting.journal import PENDING, DeliveryUpdate, JournalError
from opta_stream.alerting.monitor import AlertMonitor
from opta_stream.alerting.rules import Condition, Rule, Severity, parse_alerts
from opta_stream.alerting.sending import Scrubber, send_test
from opta_stream.history.alert_journal import SqliteAlertJournal

CANARY = "opta-canary-" + secrets.token_hex(8)  # new every run: nothing can hard-code it
QUEUE = Rule("Queue", (Condition("queued", "above", 0.0),), 0.0, Severity.CRITICAL)


def forms(token: str) -> list[bytes]:
    return [token.encode(), quote(token, safe="").encode(), base64.b64encode(token.encode()),
            token.upper().encode()]


def leaks(blob: str | bytes) -> list[bytes]:
    data = blob.encode("utf-8", "replace") if isinstance(blob, str) else blob
    return [f for f in forms(CANARY) if f in data]


class Watched:
    """The SQLite journal, with a wake-up on each write and one planted failure whose
    text names a URL (as a careless ``f"...{url}"`` in a bug would)."""

    def __init__(self, inner: SqliteAlertJournal, url: str) -> None:
        self.inner, self.url = inner, url
        self.cond = threading.Condition()
        self.plant = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def pending(self, servers: Any, limit: int) -> Any:
        if self.plant:
            self.plant = False
            raise RuntimeError(f"cannot read the outbox for {self.url}")
        return self.inner.pending(servers, limit)

    def update(self, delivery_id: int, update: DeliveryUpdate) -> None:
        self.inner.update(delivery_id, update)
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, predicate: Any, what: str, timeout: float = 15.0) -> None:
        with self.cond:
            assert self.cond.wait_for(predicate, timeout), f"timed out waiting for {what}"


def test_a_canary_token_in_receiver_urls_appears_nowhere(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's request lines included
    receiver = AlertReceiver()
    urls = {"webhook": receiver.url(f"/hook/{CANARY}?token={CANARY}"),
            "ntfy": receiver.url(f"/{CANARY}"),
            "slack": receiver.url(f"/services/T0/B0/{CANARY}"),
            "discord": receiver.url(f"/api/webhooks/1/{CANARY}")}
    config = parse_alerts({
        "notify": [*({"kind": k, "url": u} for k, u in urls.items()),
                   {"kind": "pager", "url": urls["ntfy"]},
                   {"kind": "ntfy", "url": f"ftp://x/{CANARY}"},
                   {"kind": "ntfy", "url": urls["ntfy"]},
                   {"kind": "ntfy", "url": urls["ntfy"] + "2", "repeat_s": "x"}],
        "alerts": [{"name": urls["ntfy"], "metric": "queued", "above": 1, "below": 2}]})
    assert len(config.receivers) == 4 and len(config.errors) == 5
    texts: list[str] = [*config.errors, repr(config), str(config.receivers)]
    exceptions: list[BaseException] = []

    path = tmp_path / "history.sqlite3"
    journal = Watched(SqliteAlertJournal.open(str(path)), urls["webhook"])
    worker = DeliveryWorker(journal, config.receivers, backoff_base_s=0.01,  # type: ignore[arg-type]
                            backoff_cap_s=0.05, rescan_s=0.1, timeout=(2.0, 1.0)).start()
    monitor = AlertMonitor([QUEUE], config.receivers, journal,  # type: ignore[arg-type]
                           on_deliveries=worker.offer)

    def settled() -> bool:
        rows = journal.inner.deliveries()
        return bool(rows) and all(d.status != PENDING for d in rows)

    try:
        receiver.answer(500, times=3, body="server error at {path}")
        monitor.evaluate({"studio": {"queued": 1.0}})
        receiver.wait_for(lambda: len(receiver.arrived) >= 3, what="three 500s")
        receiver.answer(404, times=1, body="no such topic {path}")
        receiver.wait_for(lambda: any(p.status == 404 for p in receiver.arrived), what="a 404")
        receiver.ok()
        journal.wait_for(settled, "the firing notices to settle")
        receiver.down()
        monitor.evaluate({"studio": {"queued": 0.0}})
        journal.wait_for(lambda: any(d.kind == "resolved" and d.attempts >= 2
                                     for d in journal.inner.deliveries()),
                         "refused connections")
        assert "connection refused" in str(journal.inner.deliveries())
        receiver.slow(3.0)
        receiver.up()
        receiver.wait_for(lambda: any(p.status is None for p in receiver.arrived),
                          what="a timed-out try")
        receiver.ok()
        journal.wait_for(settled, "the resolved notices to settle")
        texts += [str(o) for o in send_test(config.receivers, timeout=(2.0, 1.0))]
        texts += [str(worker.status()), str(journal.inner.deliveries()),
                  str(journal.inner.transitions())]
        texts += [t.name for t in threading.enumerate()]
        blobs = {p.name: p.read_bytes() for p in tmp_path.iterdir()}  # the WAL is open
        assert any(name.endswith("-wal") for name in blobs)
    finally:
        worker.stop()
        receiver.stop()
    try:
        monitor.silence("Queue", "studio", -1)
    except ValueError as exc:
        exceptions.append(exc)
    statuses = {d.status for d in journal.inner.deliveries()}
    journal.inner.close()
    try:
        journal.inner.pending(None, 1)
    except JournalError as exc:
        exceptions.append(exc)
    blobs.update({p.name: p.read_bytes() for p in tmp_path.iterdir()})

    assert statuses == {"sent", "rejected"}
    records = [r for r in caplog.records]
    assert any(r.name.startswith("urllib3") for r in records)  # its request lines were seen
    assert any("a round failed" in r.getMessage() for r in records)  # the planted failure
    texts += [r.getMessage() for r in records] + [caplog.text]
    texts += ["".join(traceback.format_exception(e)) for e in exceptions]
    found = {what: leaks(t) for what, t in [*enumerate(texts), *blobs.items()]}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_scrubber_masks_every_part_of_a_url_that_can_hold_a_token() -> None:
    url = f"https://user:{CANARY}@hooks.test/a/{CANARY}/b?token={CANARY}&x=1#{CANARY}"
    scrub = Scrubber([url])
    said = (f"POST {url} failed; path /a/{CANARY}/b, query token={CANARY}, "
            f"quoted {quote(CANARY)}, alone {CANARY}")
    clean = scrub(said)
    assert leaks(clean) == [] and clean.count("***") == 5
    assert scrub("connecting to hooks.test:443") == "connecting to hooks.test:443"
    assert scrub("nothing secret here") == "nothing secret here"
