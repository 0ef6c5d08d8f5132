"""A receiver's URL is a secret, end to end: a canary token in a webhook URL (path and
query), new every run, is searched for in everything the running app and the command
line produce while alerts fire for real.

The app runs as users run it (``FeedSources``: the watch started by the first run, a
real demo server, a history file of the test's own); the receiver first answers 500
echoing the request path, as some do. Searched, plain, percent-encoded, base64'd and
upper-cased: every page's element tree (Alerts, with its test notification result,
Overview, Events), exceptions, every log record of every logger at DEBUG, the Alerts
CSV, every byte of the history file, its WAL and locks, the output of ``python -m
opta_stream alerts``, ``alerts test`` and ``record``, and thread names.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit_internals as compat
from alert_receiver import AlertReceiver
from streamlit.testing.v1 import AppTest
from support import wait_for
from test_alert_secrets import CANARY, leaks  # one canary: leaks() searches for it
from test_app_pages import APP
from test_secret_hygiene import Hay, all_logs, app_output, downloads  # noqa: F401 - a fixture

from opta_stream.demo.server import DemoServer
from opta_stream.ui import actions, sources
from opta_stream.watch.fleet_watch import Watch

RULE = "Tokens flowing"


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    compat.use_navigation_mode(monkeypatch)


@pytest.fixture
def demo(app_shutdown: None, clean_env: None) -> Iterator[DemoServer]:
    server = DemoServer(mode="rich", heartbeat_s=0.5, seed=5).start()
    try:
        yield server
    finally:
        sources.shutdown()  # the watch and its feeds first
        server.stop()


def config(url: str, db: Path, hook: str) -> dict[str, Any]:
    return {"lmx_url": url, "history_path": str(db), "read_only": False,
            "alerts": [{"name": RULE, "metric": "tokens_per_s", "above": 1,
                        "severity": "critical"}],
            "notify": [{"kind": "webhook", "url": hook}]}


def toml(conf: dict[str, Any]) -> str:
    hook = conf["notify"][0]["url"]
    return (f'lmx_url = "{conf["lmx_url"]}"\nhistory_path = "{conf["history_path"]}"\n'
            f'[[alerts]]\nname = "{RULE}"\nmetric = "tokens_per_s"\nabove = 1\n'
            f'[[notify]]\nkind = "webhook"\nurl = "{hook}"\n')


def the_watch() -> Watch:
    return wait_for(lambda: next(iter(compat.cached_values(sources.shared_watch).values()),
                                 None), 10, "the app's watch")


def command(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OPTA_STREAM_HISTORY"}
    got = subprocess.run([sys.executable, "-m", "opta_stream", *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=60)
    return f"{got.returncode}\n{got.stdout}\n{got.stderr}"


def recorder_output(cwd: Path) -> str:
    """``record`` on the same file: it starts, says what it watches, and is stopped."""
    env = {k: v for k, v in os.environ.items() if k != "OPTA_STREAM_HISTORY"}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "opta_stream", "record"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        lines.extend(proc.stderr)

    reader = threading.Thread(target=read, name="canary-record", daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("alerts:" in line for line in lines), 60, "the recorder's lines")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        reader.join(10)
    return "".join(lines) + out


def test_a_canary_token_in_a_webhook_url_appears_nowhere(
        tmp_path: Path, demo: DemoServer, receiver: AlertReceiver,
        all_logs: Any,  # noqa: F811 - the fixture imported above
        media_files: dict) -> None:
    db = tmp_path / "history" / "h.sqlite3"
    hook = receiver.url(f"/wh/{CANARY}?token={CANARY}")
    conf = config(demo.url, db, hook)
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(toml(conf))
    receiver.answer(500, times=1, body="no hook at {path}")

    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets.update(conf)
    at.run()
    watch = the_watch()
    store = next(iter(watch.feeds.values())).store

    def delivered() -> bool:
        return any(a.rule == RULE and a.deliveries and a.deliveries[0].status == "sent"
                   and a.deliveries[0].attempts == 2 for a in store.snapshot(1.0).alerts.alerts)

    receiver.wait_for(lambda: any(p.status == 200 for p in receiver.arrived), 20,
                      "the firing notice, after one 500")
    wait_for(delivered, 20, "the board to show the notice sent on the second try", store=store)
    hay: Hay = []
    at.switch_page("pages/alerts.py").run()
    hay += app_output(at, "alerts")
    named = any(f"webhook · 127.0.0.1:{receiver.port}" in v for _, v in hay
                if isinstance(v, str))
    at.button(key="alerts_send_test").click().run()
    assert at.session_state[actions.ACTION_KEY].wait(15)
    at.run()
    assert any("delivered (HTTP 200 OK)" in t.value for t in at.main.text)
    hay += app_output(at, "alerts after the test")
    for page in ("overview", "events"):
        at.switch_page(f"pages/{page}.py").run()
        hay += app_output(at, page)
    assert any(b"Tokens flowing" in d if isinstance(d, bytes) else False
               for _, d in downloads(media_files)), "no alerts CSV with rows"
    hay += downloads(media_files)
    assert watch.feeds and all(f.history is not None for f in watch.feeds.values())
    for feed in watch.feeds.values():
        assert feed.history is not None and feed.history.flush()
    hay += [(f"history {p.name}", p.read_bytes()) for p in sorted(db.parent.iterdir())]
    assert any(name.endswith("-wal") for name, _ in hay)
    assert any(name.endswith(".lock") for name, _ in hay)
    hay += [("alerts command", command(tmp_path, "alerts")),
            ("alerts test command", command(tmp_path, "alerts", "test")),
            ("record command", recorder_output(tmp_path))]
    assert "webhook · 127.0.0.1" in hay[-3][1] and "delivered" in hay[-2][1]
    hay += all_logs.hay()
    hay += [(f"thread {t.ident}", t.name) for t in threading.enumerate()]
    assert len(receiver.arrived) >= 3 and CANARY in receiver.arrived[0].path  # it was used
    found = [where for where, what in hay if leaks(what)]
    assert found == []
    assert named, "the Alerts page does not name the receiver by kind and host"
