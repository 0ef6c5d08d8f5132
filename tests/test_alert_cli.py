"""``python -m opta_stream alerts`` and ``alerts test``: the rules in words, refused entries
in one sentence each, receivers by kind and host, each alert's state and notices as the
history file has them; a test notification to every receiver with each result."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from alert_receiver import AlertReceiver
from conftest import T0, fill_store

from opta_stream.alerting.rules import parse_alerts
from opta_stream.cli.alerts_command import run_alerts
from opta_stream.history.alert_journal import SqliteAlertJournal
from opta_stream.store.core import Store
from opta_stream.watch.alert_desk import AlertDesk


def config(hook: str) -> dict[str, Any]:
    return {"lmx_url": "http://studio.test:1234",
            "alerts": [{"name": "Tokens flowing", "metric": "tokens_per_s", "above": 1,
                        "severity": "critical"},
                       {"name": "Memory elevated", "enabled": False},
                       {"name": "Broken", "metric": "vibes", "above": 1}],
            "notify": [{"kind": "webhook", "url": hook}]}


def alerts(secrets: dict[str, Any], *args: Any) -> tuple[int, str]:
    out = io.StringIO()
    code = run_alerts(secrets, {}, *args, out, clock=lambda: T0 + 5)
    return code, out.getvalue()


def test_alerts_prints_the_rules_and_the_states_in_the_file(
        tmp_path: Path, receiver: AlertReceiver) -> None:
    secrets = config(receiver.url("/wh/cli-token"))
    path = tmp_path / "history.sqlite3"
    journal = SqliteAlertJournal.open(str(path))
    store = fill_store(Store("http://studio.test:1234", clock=lambda: T0), T0)
    desk = AlertDesk(parse_alerts(secrets), {"studio.test-1234": store}, journal,
                     clock=lambda: T0)
    desk.round()
    desk.worker.run_once(T0 + 1)  # one pass of the delivery thread: the notices are sent
    desk.silence("Tokens flowing", "studio.test-1234", 3600)
    journal.close()

    code, text = alerts(secrets, None, str(path))
    assert code == 0
    assert "critical  Tokens flowing" in text and "tokens/s (10 s) above 1  (yours)" in text
    assert "Memory elevated" in text and "(built-in, changed · off)" in text
    assert re.search(r"Server unreachable +unreachable for more than 30 s +\(built-in\)", text)
    assert "Alert rule 'Broken': metric 'vibes' is not known" in text  # one sentence
    assert f"Receivers: webhook · 127.0.0.1:{receiver.port}" in text
    line = next(x for x in text.splitlines() if "Tokens flowing  firing since" in x)
    assert line.strip().startswith("studio.test-1234  Tokens flowing  firing since 2026-11-18")
    assert "(value 90.4, threshold 1; critical)" in line
    assert "silenced until 2026-11-18" in line
    assert f"notices: firing to webhook · 127.0.0.1:{receiver.port} sent" in line
    assert "cli-token" not in text

    missing = alerts(secrets, None, str(tmp_path / "none.sqlite3"))
    assert missing[0] == 0 and "No alert states yet: there is no history file at" in missing[1]
    off = alerts(secrets, None, None)
    assert "History is turned off" in off[1]


def test_alerts_test_sends_one_notice_to_each_receiver_and_prints_each_result(
        receiver: AlertReceiver) -> None:
    secrets = config(receiver.url("/wh/cli-token"))
    secrets["notify"].append({"kind": "ntfy", "url": receiver.url("/topic-cli-token")})
    code, text = alerts(secrets, "test", None)
    assert code == 0
    assert text.splitlines() == [
        f"ok   webhook · 127.0.0.1:{receiver.port}: delivered (HTTP 200 OK)",
        f"ok   ntfy · 127.0.0.1:{receiver.port}: delivered (HTTP 200 OK)"]
    assert [p.path for p in receiver.accepted] == ["/wh/cli-token", "/topic-cli-token"]
    receiver.answer(503, times=1, body="busy at {path}")
    code, text = alerts(secrets, "test", None)
    assert code == 1 and text.startswith(f"FAIL webhook · 127.0.0.1:{receiver.port}: "
                                         "answered HTTP 503 Service Unavailable: busy at ***")
    assert "cli-token" not in text
    code, text = alerts({"notify": []}, "test", None)
    assert code == 1 and text.startswith("No receivers: add [[notify]]")
