"""What receivers are sent: Alertmanager's webhook JSON (version 4) exactly, ntfy's text
and headers, Slack's and Discord's incoming-webhook JSON."""

from __future__ import annotations

import base64
import json

from opta_stream.alerting.engine import AlertState, State
from opta_stream.alerting.journal import Notice
from opta_stream.alerting.payloads import build, fingerprint, rfc3339
from opta_stream.alerting.plan import notice_for
from opta_stream.alerting.rules import Condition, Rule, Severity

T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z
RULE = Rule("Memory near the threshold", (Condition("memory_pct", "above", 85.0),), 60.0,
            Severity.CRITICAL)
FIRING = AlertState(RULE.name, "studio", State.FIRING, T0 + 60, T0, 1, T0 + 60, None, 91.25,
                    85.0, Severity.CRITICAL)
RESOLVED = AlertState(RULE.name, "studio", State.RESOLVED, T0 + 600, None, 1, T0 + 60,
                      T0 + 600.5, 70.0, 85.0, Severity.CRITICAL)


def firing() -> Notice:
    return notice_for(RULE, FIRING, "studio.local:1234")


def test_the_notice_says_the_value_and_the_threshold() -> None:
    n = firing()
    assert n.summary == "Firing: Memory near the threshold on studio"
    assert n.description == ("Memory use is 91.2 %, above 85 % for 60 s, on studio "
                             "(studio.local:1234) since 2026-11-18 11:07:40 UTC (critical).")
    r = notice_for(RULE, RESOLVED, "studio.local:1234")
    assert (r.status, r.starts_at, r.ends_at) == ("resolved", T0 + 60, T0 + 600.5)
    assert r.description == ("Memory use is back to 70 %, no longer above 85 %, on studio "
                             "(studio.local:1234) at 2026-11-18 11:16:40 UTC (critical).")


def test_alertmanager_v4_json_exactly() -> None:
    p = build("webhook", firing(), "webhook · hooks.test", "http://dash.test:8501")
    assert p.headers == {"Content-Type": "application/json"}
    labels = {"alertname": "Memory near the threshold", "severity": "critical",
              "server": "studio", "instance": "studio.local:1234"}
    annotations = {"summary": "Firing: Memory near the threshold on studio",
                   "description": firing().description}
    assert json.loads(p.body) == {
        "version": "4",
        "groupKey": '{}:{alertname="Memory near the threshold", server="studio"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "webhook · hooks.test",
        "groupLabels": {"alertname": "Memory near the threshold", "server": "studio"},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "http://dash.test:8501",
        "alerts": [{
            "status": "firing",
            "labels": labels,
            "annotations": annotations,
            "startsAt": "2026-11-18T11:07:40.000Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://dash.test:8501",
            "fingerprint": fingerprint("Memory near the threshold", "studio"),
        }],
    }
    resolved = json.loads(build("webhook", notice_for(RULE, RESOLVED, "studio.local:1234")).body)
    assert resolved["status"] == resolved["alerts"][0]["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"] == "2026-11-18T11:16:40.500Z"
    assert resolved["alerts"][0]["fingerprint"] == json.loads(p.body)["alerts"][0]["fingerprint"]


def test_the_fingerprint_is_stable_per_rule_and_server() -> None:
    fp = fingerprint("Memory near the threshold", "studio")
    assert fp == fingerprint("Memory near the threshold", "studio")
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert fp != fingerprint("Memory near the threshold", "mini")
    assert fp != fingerprint("Memory high", "studio")
    assert fingerprint("a", "bc") != fingerprint("ab", "c")


def test_a_quote_in_a_name_is_escaped_in_the_group_key() -> None:
    n = notice_for(Rule('Say "hi"', RULE.conditions), FIRING, "x:1")
    assert json.loads(build("webhook", n).body)["groupKey"] == (
        '{}:{alertname="Say \\"hi\\"", server="studio"}')


def test_ntfy_is_the_text_with_title_priority_and_tags() -> None:
    p = build("ntfy", firing())
    assert p.body.decode() == firing().description
    assert p.headers == {"Title": "[CRITICAL] Memory near the threshold on studio",
                         "Priority": "5", "Tags": "rotating_light,opta-stream",
                         "Content-Type": "text/plain; charset=utf-8"}
    resolved = build("ntfy", notice_for(RULE, RESOLVED, "x:1")).headers
    assert (resolved["Priority"], resolved["Tags"]) == ("3", "white_check_mark,opta-stream")


def test_ntfy_headers_carry_any_text_as_rfc_2047_and_no_line_break() -> None:
    rule = Rule("Mémoire\npleine", RULE.conditions, severity=Severity.WARNING)
    title = build("ntfy", notice_for(rule, FIRING, "x:1")).headers["Title"]
    assert title.startswith("=?UTF-8?B?") and title.endswith("?=")
    assert base64.b64decode(title[10:-2]).decode() == "[WARNING] Mémoire pleine on studio"
    title.encode("ascii")  # what an HTTP header can carry


def test_slack_and_discord_incoming_webhook_json() -> None:
    rule = Rule("<!channel> & @everyone", RULE.conditions, severity=Severity.WARNING)
    n = notice_for(rule, FIRING, "x:1")
    slack = json.loads(build("slack", n).body)
    assert list(slack) == ["text"]
    assert slack["text"].startswith("*[WARNING] &lt;!channel&gt; &amp; @everyone on studio*\n")
    discord = json.loads(build("discord", n).body)
    assert discord["allowed_mentions"] == {"parse": []}  # pings nobody
    assert discord["content"] == "[WARNING] <!channel> & @everyone on studio"
    assert discord["embeds"] == [{"title": n.summary, "description": n.description,
                                  "color": 0xF59E0B, "timestamp": rfc3339(T0 + 60)}]


def test_a_notice_round_trips_through_json() -> None:
    n = firing()
    assert Notice.from_json(n.to_json()) == n
