"""The Alerts page in AppTest, and alerts on the other pages.

The test hands the app its Stores and an ``AlertDesk`` over them (a memory journal, a
frozen clock, the real receiver) through the app's data seam,
``StoreSources(stores, alerts=desk)``: the page reads the boards the desk wrote into
the Stores, exactly as it reads the watch's, and its controls act on the desk.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import streamlit_internals as compat
from alert_receiver import AlertReceiver
from app_sources import StoreSources
from conftest import T0, fill_store
from streamlit.testing.v1 import AppTest
from test_app_pages import APP, download_bytes
from test_fleet_pages import server_tables

from opta_stream.alerting.memory_journal import MemoryJournal
from opta_stream.alerting.rules import parse_alerts
from opta_stream.snapshot import AlertBoard, AlertNow, Snapshot
from opta_stream.store.core import Store
from opta_stream.ui import actions, sources
from opta_stream.views.alert_banner import firing_banner
from opta_stream.views.fleet_page import build_card
from opta_stream.views.recording import Recording
from opta_stream.views.specs import FleetCardSpec
from opta_stream.watch.alert_desk import AlertDesk

KEY = "alert-page-admin-key"
RULES = [{"name": "Tokens flowing", "metric": "tokens_per_s", "above": 1,
          "severity": "critical"},
         {"name": "Broken", "metric": "vibes", "above": 1}]
ACTION_WAIT_S = 10.0


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    compat.use_navigation_mode(monkeypatch)


def secrets(hook: str, **server: Any) -> dict[str, Any]:
    return {"history_path": "", "servers": server_tables("studio", "mini", **server),
            "alerts": RULES, "notify": [{"kind": "webhook", "url": hook}]}


def desk_over(conf: dict[str, Any]) -> tuple[AlertDesk, dict[str, Store]]:
    """studio filled (tokens flow, 5 % errors, p95 60 s), mini never answered; one round,
    and one pass of the delivery thread: the firing notices are sent."""
    stores = {"studio": fill_store(Store("http://studio.test:1234", clock=lambda: T0), T0),
              "mini": Store("http://mini.test:1234", clock=lambda: T0)}
    desk = AlertDesk(parse_alerts(conf), stores, MemoryJournal(), clock=lambda: T0,
                     board_s=0.0)
    desk.round()
    desk.worker.run_once(T0 + 1)
    desk.publish()
    return desk, stores


def alerts_page(conf: dict[str, Any], desk: AlertDesk | None, stores: dict[str, Store]
                ) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=20)
    at.secrets.update(conf)
    sources.install(StoreSources(stores, alerts=desk))
    at.run()
    at.switch_page("pages/alerts.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.main.caption)


def test_the_alerts_page_lists_firing_then_pending_with_value_threshold_and_delivery(
        receiver: AlertReceiver, clean_env: None, media_files: dict) -> None:
    conf = secrets(receiver.url("/wh/page-token"))
    desk, stores = desk_over(conf)
    at = alerts_page(conf, desk, stores)
    assert at.header[0].value == "Alerts"
    # a refused rule is one sentence, at the top
    top = at.main.warning[0].value.replace("\\", "")  # markdown escapes
    assert top.startswith("Alert rule 'Broken': metric 'vibes' is not known")
    cards = [m.value for m in at.main.markdown if "-badge[" in m.value and m.value.startswith("**")]
    # firing first (critical before warning), then pending
    assert cards == [
        "**Tokens flowing** · studio &nbsp; :red-badge[:material/notifications_active: "
        "firing · critical]",
        "**Error rate elevated** · studio &nbsp; :orange-badge[:material/notifications_active: "
        "firing · warning]",
        "**Latency above objective** · studio &nbsp; :gray-badge[:material/hourglass_top: "
        "pending · warning]"]
    assert {m.label: m.value for m in at.main.metric} == {
        "Firing": "2", "Pending": "1", "Servers watched": "2"}
    text = captions(at)
    assert "Rules are evaluated every" not in text  # the desk was not told how often
    assert "Now **90.4**, threshold 1 · tokens/s \\(10 s\\) above 1 · firing since" in text
    assert (f"Notices: firing notice to webhook · 127.0.0.1:{receiver.port} delivered at"
            in text)
    assert "Now **60 s**, threshold 30 s" in text  # the pending latency rule
    rules = at.main.dataframe[0].value
    assert "Tokens flowing" in rules["rule"].tolist()
    assert "built-in" in rules["origin"].tolist()
    history = at.main.dataframe[1].value
    assert history["change"].tolist().count("inactive → firing") == 2
    got = download_bytes(at, media_files, "alerts_csv").decode()
    table = list(csv.DictReader(io.StringIO(got)))
    tokens = next(r for r in table if r["alert"] == "Tokens flowing")
    assert (tokens["server"], tokens["from"], tokens["to"], tokens["value"],
            tokens["threshold"], tokens["silenced"]) == (
        "studio", "inactive", "firing", "90.4", "1.0", "0")
    assert "page-token" not in got


def test_silence_is_kept_in_the_journal_shown_and_lifted(
        receiver: AlertReceiver, clean_env: None) -> None:
    conf = secrets(receiver.url("/wh"))
    desk, stores = desk_over(conf)
    at = alerts_page(conf, desk, stores)
    at.button(key="silence::studio::Tokens flowing::3600").click().run()
    assert [(s.rule, s.server, s.until) for s in desk.journal.silences(T0)] == [
        ("Tokens flowing", "studio", T0 + 3600)]
    at.run()
    assert "Silenced until" in captions(at)
    assert at.button(key="unsilence::studio::Tokens flowing").label == "Lift the silence"
    at.button(key="unsilence::studio::Tokens flowing").click().run()
    assert desk.journal.silences(T0) == []
    at.run()
    assert "Silenced until" not in captions(at)


def test_send_test_notification_posts_to_every_receiver_and_shows_each_result(
        receiver: AlertReceiver, clean_env: None) -> None:
    conf = secrets(receiver.url("/wh/page-token"))
    desk, stores = desk_over(conf)
    at = alerts_page(conf, desk, stores)
    before = len(receiver.accepted)
    at.button(key="alerts_send_test").click().run()
    assert at.session_state[actions.ACTION_KEY].wait(ACTION_WAIT_S)
    at.run()
    shown = [t.value for t in at.main.text]
    assert f"webhook · 127.0.0.1:{receiver.port}: delivered (HTTP 200 OK)" in shown
    test_post = receiver.accepted[before]
    assert test_post.json["commonLabels"]["alertname"] == "Opta Stream test notification"
    assert not any("page-token" in s for s in shown)


def test_read_only_disables_the_controls_until_this_session_unlocks(
        receiver: AlertReceiver, clean_env: None) -> None:
    conf = secrets(receiver.url("/wh"), read_only=True, admin_key=KEY)
    desk, stores = desk_over(conf)
    at = alerts_page(conf, desk, stores)
    assert at.button(key="alerts_send_test").disabled
    assert "Read-only mode" in at.button(key="alerts_send_test").help
    at.text_input(key="alerts_unlock_key").input("wrong")
    at.button(key="alerts_unlock_submit").click().run()
    assert at.button(key="alerts_send_test").disabled
    at.text_input(key="alerts_unlock_key").input(KEY)
    at.button(key="alerts_unlock_submit").click().run()
    assert not at.button(key="alerts_send_test").disabled
    at.button(key="silence::studio::Tokens flowing::14400").click().run()
    assert [s.until for s in desk.journal.silences(T0)] == [T0 + 4 * 3600]


def test_without_alerting_in_the_process_the_page_says_so(clean_env: None) -> None:
    conf = secrets("http://127.0.0.1:9/wh")
    stores = {"studio": fill_store(Store("http://studio.test:1234", clock=lambda: T0), T0),
              "mini": Store("http://mini.test:1234", clock=lambda: T0)}
    at = alerts_page(conf, None, stores)
    assert at.button(key="alerts_send_test").disabled
    assert at.button(key="alerts_send_test").help == "Alerting does not run in this process."
    assert "No alerts are evaluated for studio" in at.main.info[0].value
    assert "Nothing is firing or pending." in captions(at)


def test_a_firing_critical_alert_tops_every_page_and_the_fleet_cards_count_them(
        receiver: AlertReceiver, clean_env: None) -> None:
    conf = secrets(receiver.url("/wh"))
    desk, stores = desk_over(conf)
    at = alerts_page(conf, desk, stores)
    at.query_params["server"] = "studio"
    for page in ("overview", "throughput", "events"):
        at.switch_page(f"pages/{page}.py").run()
        first = at.main.error[0].value
        assert first.startswith("Alert firing: **Tokens flowing** (90.4, threshold 1)"), page
    events = at.main.dataframe[0].value
    assert any(s.startswith("Tokens flowing: 90.4") for s in events["Summary"].tolist())
    at.switch_page("pages/fleet.py").run()
    badges = [b.proto.label for b in at.main.get("badge")] if at.main.get("badge") else []
    markdown = " ".join(m.value for m in at.main.markdown)
    assert "2 alerts firing" in " ".join(badges) + markdown
    assert "2 alerts firing" in captions(at)  # the trouble line ranks it


def snap_with(alerts: tuple[AlertNow, ...], taken_at: float = T0) -> Snapshot:
    return Snapshot("http://studio.test:1234", taken_at, 1.0,
                    alerts=AlertBoard(True, alerts))


def test_the_banner_names_critical_firing_alerts_only() -> None:
    def notes(snap: Snapshot) -> list[str]:
        out = Recording()
        firing_banner(out, snap)
        return [op.body for op in out.walk() if hasattr(op, "body")]

    warning = AlertNow("Queue", "warning", "firing", T0, "queued above 0", fired_at=T0)
    pending = AlertNow("Down", "critical", "pending", T0, "unreachable for more than 30 s")
    assert notes(snap_with((warning, pending))) == []
    down = AlertNow("Server *down*", "critical", "firing", T0 - 90, "", 45.0, 30.0, "45 s",
                    "30 s", 1, T0 - 90, silenced_until=T0 + 60)
    assert notes(snap_with((warning, down))) == [
        "Alert firing: **Server \\*down\\*** (45 s, threshold 30 s) for 1 min 30 s, its "
        "notices silenced. The Alerts page has the details."]


def test_a_fleet_card_counts_its_firing_alerts() -> None:
    critical = AlertNow("Down", "critical", "firing", T0, "", fired_at=T0)
    card = build_card(FleetCardSpec("s", "UTC", "studio", "http://studio.test:1234"),
                      snap_with((critical,)))
    assert card.facts.alerts_firing == 1
    badges = [op for op in card.card.walk() if type(op).__name__ == "Badge"]
    assert [(b.label, b.color) for b in badges][-1] == ("1 alert firing", "red")
    calm = build_card(FleetCardSpec("s", "UTC", "studio", "http://studio.test:1234"),
                      snap_with(()))
    assert calm.facts.alerts_firing == 0
    assert any(getattr(op, "body", "") == ":material/notifications: No alert firing."
               for op in calm.card.walk())
