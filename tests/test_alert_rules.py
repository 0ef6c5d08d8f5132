"""Alert rules and receivers from the secrets file: every bad entry is one sentence naming
the entry and the field, the other entries keep working, no sentence shows a URL;
built-in rules are on unless a rule of the same name overrides or disables them."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from opta_stream.alerting.rules import (
    METRICS,
    Condition,
    Severity,
    Thresholds,
    builtin_rules,
    parse_alerts,
    unknown_servers,
)

GOOD = """
[[alerts]]
name = "Memory near the threshold"
metric = "memory_pct"
above = 85
for_s = 60
severity = "critical"
servers = ["studio"]

[[alerts]]
name = "Slow tokens"
metric = "tokens_per_s"
below = 5
"""
TOKEN = "opta-alerts-s3cr3t-topic"


def one_sentence(text: str) -> bool:
    return text.endswith(".") and "\n" not in text and re.search(r"[.!?] [A-Z]", text) is None


def toml(text: str) -> dict[str, Any]:
    return tomllib.loads(text)


def user(config: Any) -> dict[str, Any]:
    return {r.name: r for r in config.rules if not r.builtin}


def test_a_rule_is_read_with_its_defaults() -> None:
    config = parse_alerts(toml(GOOD))
    assert config.errors == ()
    rules = user(config)
    near = rules["Memory near the threshold"]
    assert near.conditions == (Condition("memory_pct", "above", 85.0),)
    assert (near.for_s, near.severity, near.servers) == (60.0, Severity.CRITICAL,
                                                        frozenset({"studio"}))
    slow = rules["Slow tokens"]
    assert slow.conditions == (Condition("tokens_per_s", "below", 5.0),)
    assert (slow.for_s, slow.severity, slow.servers) == (0.0, Severity.WARNING, None)
    assert slow.applies_to("anything") and not near.applies_to("mini")


@pytest.mark.parametrize(("entry", "sentence"), [
    ('name = "A"\nmetric = "vram"\nabove = 1',
     "Alert rule 'A': metric 'vram' is not known (one of memory_pct,"),
    ('name = "A"\nmetric = "memory_pct"\nabove = 1\nbelow = 2',
     "Alert rule 'A': above and below are both set; set one of them."),
    ('name = "A"\nmetric = "memory_pct"',
     "Alert rule 'A': above or below is missing"),
    ('name = "A"\nmetric = "memory_pct"\nabove = 1\nfor_s = -5',
     "Alert rule 'A': for_s must be 0 or more seconds (got -5)."),
    ('name = "A"\nmetric = "memory_pct"\nabove = "high"',
     "Alert rule 'A': above must be a number (got 'high')."),
    ('name = "A"\nmetric = "memory_pct"\nabove = 1\nseverity = "page"',
     "Alert rule 'A': severity must be one of info, warning, critical (got 'page')."),
    ('name = "A"\nmetric = "memory_pct"\nabove = 1\nthreshhold = 3',
     "Alert rule 'A': unknown field 'threshhold' (fields: name, metric,"),
    ('name = "A"\nmetric = "memory_pct"\nabove = 1\nservers = "studio"',
     "Alert rule 'A': servers must be a list of server names"),
    ('name = "A"\nmetric = "memory_pct"\nabove = 1\nenabled = "no"',
     "Alert rule 'A': enabled must be true or false (got 'no')."),
    ('metric = "memory_pct"\nabove = 1', "Alert rule #3 has no name"),
    ('name = "A"\nabove = 1', "Alert rule 'A': metric is missing"),
])
def test_each_bad_rule_is_one_sentence_and_the_others_keep_working(entry: str,
                                                                    sentence: str) -> None:
    config = parse_alerts(toml(GOOD + "\n[[alerts]]\n" + entry))
    assert len(config.errors) == 1
    assert config.errors[0].startswith(sentence), config.errors[0]
    assert one_sentence(config.errors[0])
    assert set(user(config)) == {"Memory near the threshold", "Slow tokens"}


def test_a_duplicate_name_keeps_the_first_and_names_both_positions() -> None:
    config = parse_alerts(toml(GOOD + '\n[[alerts]]\nname = "Slow tokens"\nmetric = "queued"'
                                      '\nabove = 3\n'))
    assert config.errors == ("Alert rule 'Slow tokens' (#3): the name is already used by rule "
                             "#2; names must be unique, so this one is ignored.",)
    assert user(config)["Slow tokens"].metric == "tokens_per_s"


def test_alerts_written_as_one_table_is_one_sentence() -> None:
    config = parse_alerts(toml('[alerts]\nname = "A"\nmetric = "queued"\nabove = 1\n'))
    assert config.errors == ("alerts must be a list of tables: write each entry as [[alerts]] "
                             "(with two brackets); none of them is used.",)
    assert [r.name for r in config.rules] == [r.name for r in builtin_rules()]


def test_a_url_pasted_into_a_rule_is_never_echoed() -> None:
    config = parse_alerts(toml(f'[[alerts]]\nname = "https://ntfy.sh/{TOKEN}"\n'
                               f'metric = "https://ntfy.sh/{TOKEN}"\nabove = 1\n'))
    assert len(config.errors) == 1
    assert TOKEN not in config.errors[0] and "(a URL, not shown)" in config.errors[0]


def test_builtins_are_on_by_default_and_follow_the_thresholds() -> None:
    config = parse_alerts({})
    names = [r.name for r in config.active]
    assert names == ["Server unreachable", "Admin key rejected",
                     "Memory at the server's threshold", "Model quarantined", "Error rate high",
                     "Error rate elevated", "Memory high", "Memory elevated",
                     "Queue with every slot busy", "Latency above objective"]
    rules = {r.name: r for r in config.rules}
    assert rules["Server unreachable"].conditions == (Condition("down_s", "above", 30.0),)
    assert rules["Memory at the server's threshold"].conditions == (
        Condition("memory_pct", "at_or_above", ref="memory_threshold_pct"),)
    assert rules["Queue with every slot busy"].conditions == (
        Condition("queued", "above", 0.0), Condition("in_flight", "at_or_above", ref="slots"))
    assert rules["Error rate high"].conditions[0].threshold == 5.0
    assert rules["Memory elevated"].conditions[0].threshold == 60.0
    assert rules["Latency above objective"].conditions[0].threshold == 30.0
    custom = {r.name: r for r in parse_alerts({}, Thresholds(memory_amber_pct=70.0,
                                                             p95_objective_s=8.0)).rules}
    assert custom["Memory elevated"].conditions[0].threshold == 70.0
    assert custom["Latency above objective"].conditions[0].threshold == 8.0


def test_a_rule_of_a_builtins_name_overrides_it_and_enabled_false_turns_it_off() -> None:
    config = parse_alerts(toml("""
[[alerts]]
name = "Server unreachable"
above = 120
severity = "warning"

[[alerts]]
name = "Memory elevated"
enabled = false

[[alerts]]
name = "Queue with every slot busy"
for_s = 5
"""))
    assert config.errors == ()
    rules = {r.name: r for r in config.rules}
    down = rules["Server unreachable"]
    assert down.conditions == (Condition("down_s", "above", 120.0),)  # metric kept
    assert down.severity is Severity.WARNING and down.builtin
    assert not rules["Memory elevated"].enabled
    assert "Memory elevated" not in [r.name for r in config.active]
    queue = rules["Queue with every slot busy"]
    assert queue.for_s == 5.0 and len(queue.conditions) == 2  # the condition is kept
    assert len(config.rules) == len(builtin_rules())  # overrides replace, never add


def test_receivers_are_named_by_kind_and_host_and_never_show_their_url() -> None:
    config = parse_alerts(toml(f"""
[[notify]]
kind = "ntfy"
url = "https://ntfy.sh/{TOKEN}"
min_severity = "warning"
repeat_s = 0
send_resolved = false

[[notify]]
kind = "webhook"
url = "http://127.0.0.1:9093/hook?token={TOKEN}"

[[notify]]
kind = "pager"
url = "https://pager.test/{TOKEN}"

[[notify]]
kind = "slack"
url = "ftp://hooks.slack.com/{TOKEN}"

[[notify]]
kind = "discord"
url = "https://discord.test/{TOKEN}"
repeat_s = -1

[[notify]]
kind = "ntfy"
url = "https://ntfy.sh/{TOKEN}"

[[notify]]
kind = "slack"
url = "https://hooks.slack.test/{TOKEN}"
colour = "red"
"""))
    ntfy, hook = config.receivers
    assert (ntfy.label, ntfy.min_severity, ntfy.repeat_s, ntfy.send_resolved) == (
        "ntfy · ntfy.sh", Severity.WARNING, 0.0, False)
    assert (hook.label, hook.repeat_s, hook.send_resolved) == (
        "webhook · 127.0.0.1:9093", 4 * 3600.0, True)
    assert ntfy.key == "1:ntfy:ntfy.sh" and hook.key == "2:webhook:127.0.0.1:9093"
    assert config.errors == (
        "Receiver #3: kind must be one of webhook, ntfy, slack, discord (got 'pager').",
        "Receiver #4 (slack): url must start with https:// (or http://); it is not shown "
        "here because it carries a token.",
        "Receiver #5 (discord · discord.test): repeat_s must be 0 (never) or more seconds "
        "(got -1).",
        "Receiver #6 (ntfy · ntfy.sh): url is the same as receiver #1's; each receiver gets "
        "every notice once, so this one is ignored.",
        "Receiver #7 (slack): unknown field 'colour' (fields: kind, url, min_severity, "
        "repeat_s, send_resolved).",
    )
    assert all(one_sentence(e) for e in config.errors)
    shown = " ".join([*config.errors, repr(config), str(config.receivers), repr(ntfy), str(hook)])
    assert TOKEN not in shown


def test_receivers_of_the_same_kind_and_host_get_their_position_in_the_label() -> None:
    config = parse_alerts(toml('[[notify]]\nkind = "ntfy"\nurl = "https://ntfy.sh/a-topic"\n'
                               '[[notify]]\nkind = "ntfy"\nurl = "https://ntfy.sh/b-topic"\n'))
    assert [r.label for r in config.receivers] == ["ntfy · ntfy.sh (#1)", "ntfy · ntfy.sh (#2)"]


def test_a_missing_secrets_file_reads_as_no_alerts() -> None:
    class NoFile(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            raise FileNotFoundError("no secrets.toml")

    config = parse_alerts(NoFile())
    assert config.errors == () and config.receivers == ()
    assert len(config.active) == len(builtin_rules())


def test_a_rule_naming_an_unknown_server_is_reported_against_the_fleet() -> None:
    config = parse_alerts(toml(GOOD))
    assert unknown_servers(config.rules, ["mini"]) == [
        "Alert rule 'Memory near the threshold': servers names 'studio', which is not a "
        "configured server; the rule watches the others."]
    assert unknown_servers(config.rules, ["studio"]) == []


def test_every_metric_can_be_named() -> None:
    for metric in METRICS:
        config = parse_alerts({"alerts": [{"name": metric, "metric": metric, "above": 1}]})
        assert config.errors == ()
