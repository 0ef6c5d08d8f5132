"""The alert journal: the same contract in memory and in the history file (SQLite), the
file's layout 2 and the upgrade of a layout-1 file in place, all-or-nothing commits, and
failures in words."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from opta_stream.alerting.engine import AlertState, State, Transition
from opta_stream.alerting.journal import (
    FAILED,
    PENDING,
    SENT,
    AlertJournal,
    DeliveryUpdate,
    JournalError,
    NewDelivery,
    Notice,
    Silence,
)
from opta_stream.alerting.memory_journal import MemoryJournal
from opta_stream.alerting.monitor import AlertMonitor
from opta_stream.alerting.rules import Condition, Receiver, Rule, Severity
from opta_stream.history import schema
from opta_stream.history.alert_journal import SqliteAlertJournal
from opta_stream.history.files import open_for_reading
from opta_stream.history.writer import HistoryWriter
from opta_stream.settings import HistorySettings
from opta_stream.store.core import Store

T0 = 1_795_000_000.0


def notice(rule: str = "Queue", server: str = "studio") -> Notice:
    return Notice(rule, server, "studio.local:1234", "critical", "firing", "queued", 3.0, 0.0,
                  T0, None, f"Firing: {rule} on {server}", "Queued requests is 3, above 0.")


def new(kind: str = "firing", n: int = 0, receiver: str = "1:ntfy:ntfy.sh", episode: int = 1,
        rule: str = "Queue", server: str = "studio") -> NewDelivery:
    return NewDelivery(receiver, kind, n, episode, notice(rule, server), T0)


def firing(rule: str = "Queue", server: str = "studio") -> AlertState:
    return AlertState(rule, server, State.FIRING, T0, T0, 1, T0, None, 3.0, 0.0,
                      Severity.CRITICAL)


def moved(rule: str = "Queue", server: str = "studio") -> Transition:
    return Transition(rule, server, T0, State.INACTIVE, State.FIRING, 1, 3.0, 0.0,
                      Severity.CRITICAL)


@pytest.fixture(params=["memory", "sqlite"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AlertJournal]:
    if request.param == "memory":
        yield MemoryJournal()
        return
    j = SqliteAlertJournal.open(str(tmp_path / "history.sqlite3"), T0)
    yield j
    j.close()


def test_a_commit_stores_states_transitions_and_deliveries_once(journal: AlertJournal) -> None:
    made = journal.commit([firing()], [moved()], [new(), new(receiver="2:webhook:h")], T0)
    assert [(d.receiver, d.status, d.created_at) for d in made] == [
        ("1:ntfy:ntfy.sh", PENDING, T0), ("2:webhook:h", PENDING, T0)]
    again = journal.commit([firing()], [], [new(), new(kind="repeat", n=1)], T0 + 1)
    assert [(d.kind, d.n) for d in again] == [("repeat", 1)]  # the firing one: already there
    assert journal.load_states() == [firing()]
    assert journal.load_states(["mini"]) == []
    assert journal.transitions() == [moved()]
    assert made[0].notice == notice()


def test_pending_is_oldest_first_per_server_and_updates_stick(journal: AlertJournal) -> None:
    journal.commit([], [], [new(server="studio"), new(server="mini"),
                            new(kind="repeat", n=1, server="studio")], T0)
    rows = journal.pending(None, 10)
    assert [(d.server, d.kind) for d in rows] == [("studio", "firing"), ("mini", "firing"),
                                                  ("studio", "repeat")]
    assert [d.server for d in journal.pending(["mini"], 10)] == ["mini"]
    assert len(journal.pending(None, 2)) == 2
    assert journal.pending_servers() == {"studio", "mini"}
    journal.update(rows[0].id, DeliveryUpdate(SENT, 2, T0, T0 + 5, 200))
    journal.update(rows[1].id, DeliveryUpdate(FAILED, 9, T0 + 600, None, 503,
                                              "gave up after 9 tries: HTTP 503"))
    assert [d.kind for d in journal.pending(None, 10)] == ["repeat"]
    by_id = {d.id: d for d in journal.deliveries()}
    assert (by_id[rows[0].id].status, by_id[rows[0].id].sent_at, by_id[rows[0].id].attempts) == (
        SENT, T0 + 5, 2)
    assert (by_id[rows[1].id].http_status, by_id[rows[1].id].error) == (
        503, "gave up after 9 tries: HTTP 503")
    episodes = journal.notices([("Queue", "studio", 1), ("Queue", "mini", 1),
                                ("Queue", "studio", 7)])
    assert [d.kind for d in episodes[("Queue", "studio", 1)]] == ["firing", "repeat"]
    assert ("Queue", "studio", 7) not in episodes


def test_silences_run_until_their_end(journal: AlertJournal) -> None:
    journal.set_silence(Silence("Queue", "studio", T0 + 3600, T0))
    journal.set_silence(Silence("Memory", "studio", T0 + 60, T0))
    assert {s.rule for s in journal.silences(T0 + 100)} == {"Queue"}
    journal.clear_silence("Queue", "studio")
    assert journal.silences(T0) == [Silence("Memory", "studio", T0 + 60, T0)]


def test_pruning_keeps_the_newest_notice_of_each_episode_and_receiver(
        journal: AlertJournal) -> None:
    made = journal.commit([], [moved()], [new(), new(kind="repeat", n=1)], T0)
    for d in made:
        journal.update(d.id, DeliveryUpdate(SENT, 1, T0, T0, 200))
    journal.commit([], [], [new(episode=2)], T0 + 10)  # pending: never pruned
    journal.prune(T0 + 1_000_000)
    assert sorted((d.kind, d.episode) for d in journal.deliveries()) == [("firing", 2),
                                                                         ("repeat", 1)]
    assert journal.transitions() == []


# -- the file --------------------------------------------------------------------------

def test_a_failed_commit_leaves_nothing_behind_and_says_why(tmp_path: Path) -> None:
    path = str(tmp_path / "history.sqlite3")
    j = SqliteAlertJournal.open(path, T0)
    other = sqlite3.connect(path)
    other.execute("DROP TABLE alert_transitions")  # the commit fails half way
    other.close()
    with pytest.raises(JournalError, match="cannot be used"):
        j.commit([firing()], [moved()], [new()], T0)
    assert j.load_states() == [] and j.pending(None, 10) == []
    j.close()


def test_a_full_disk_is_said_in_words(tmp_path: Path) -> None:
    j = SqliteAlertJournal.open(str(tmp_path / "history.sqlite3"), T0)
    pages = j._conn.execute("PRAGMA page_count").fetchone()[0]
    j._conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(JournalError, match="^the disk is full$"):
        j.commit([], [], [new(n=i, kind="repeat") for i in range(2000)], T0)
    j.close()


def test_two_processes_on_one_file_see_one_outbox(tmp_path: Path) -> None:
    path = str(tmp_path / "history.sqlite3")
    a, b = SqliteAlertJournal.open(path, T0), SqliteAlertJournal.open(path, T0)
    assert len(a.commit([firing()], [moved()], [new()], T0)) == 1
    assert b.commit([firing()], [moved()], [new()], T0) == []  # planned twice, stored once
    assert [d.kind for d in b.pending(None, 10)] == ["firing"]
    assert b.load_states() == [firing()]
    a.close()
    b.close()


def make_layout_1(path: Path) -> None:
    """A history file as Opta Stream wrote it before the alert tables."""
    conn = sqlite3.connect(path, isolation_level=None)
    v1 = schema._DDL  # the history tables are unchanged since layout 1
    conn.executescript(f"BEGIN; {v1} PRAGMA application_id = {schema.APPLICATION_ID}; "
                       "PRAGMA user_version = 1; COMMIT;")
    conn.execute("INSERT INTO servers (identity) VALUES ('http://studio.local:1234')")
    conn.close()


def test_a_layout_1_file_is_brought_up_to_date_in_place(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    make_layout_1(path)
    reader = open_for_reading(str(path))  # the exporter reads it as it was
    assert reader.execute("PRAGMA user_version").fetchone()[0] == 1
    reader.close()
    j = SqliteAlertJournal.open(str(path), T0)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 2
    assert conn.execute("SELECT identity FROM servers").fetchall() == [
        ("http://studio.local:1234",)]
    assert list(tmp_path.iterdir()) != [] and not any(
        ".unreadable-" in p.name for p in tmp_path.iterdir())  # upgraded, not moved aside
    conn.close()
    assert len(j.commit([firing()], [moved()], [new()], T0)) == 1
    j.close()


def test_a_newer_layout_is_still_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    make_layout_1(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    SqliteAlertJournal.open(str(path), T0).close()
    assert any(".unreadable-" in p.name for p in tmp_path.iterdir())


def test_a_silence_outlives_a_restart_of_the_dashboard(tmp_path: Path) -> None:
    path = str(tmp_path / "history.sqlite3")
    rule = Rule("Queue", (Condition("queued", "above", 0.0),), 0.0, Severity.CRITICAL)
    hook = Receiver("webhook", "http://hooks.test/t0ken", 1, "webhook · hooks.test")
    first = SqliteAlertJournal.open(path, T0)
    AlertMonitor([rule], [hook], first).silence("Queue", "studio", 4 * 3600, now=T0)
    first.close()
    second = SqliteAlertJournal.open(path, T0)
    monitor = AlertMonitor([rule], [hook], second)
    monitor.evaluate({"studio": {"queued": 1.0}}, now=T0 + 3600)
    assert second.deliveries() == []  # silenced, after the restart too
    monitor.evaluate({"studio": {"queued": 1.0}}, now=T0 + 4 * 3600 + 1)
    assert [d.kind for d in second.deliveries()] == ["firing"]  # it ended, still firing
    second.close()


def test_the_history_writer_says_whether_this_process_notifies(tmp_path: Path) -> None:
    settings = HistorySettings(str(tmp_path / "history.sqlite3"))
    a = HistoryWriter(Store("http://studio.local:1234"), settings, "http://studio.local:1234")
    b = HistoryWriter(Store("http://studio.local:1234"), settings, "http://studio.local:1234")
    a.open_and_load()
    b.open_and_load()
    assert a.holds_lock and not b.holds_lock
    a.stop()
    assert not a.holds_lock
    b.flush()  # takes over
    assert b.holds_lock
    b.stop()
