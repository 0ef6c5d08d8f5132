"""Alert rules and receivers from the secrets file, and the rules that are on by default.

``[[alerts]]`` and ``[[notify]]`` come from a Mapping (``st.secrets`` or a ``tomllib``
dict). A bad entry is one sentence naming the entry and the field, and only that entry
is dropped: the others keep working. No sentence ever contains a URL (a receiver's URL
carries its token), so a receiver is named by kind and host ("ntfy · ntfy.sh") and a
value that looks like a URL is never echoed.

Built-in rules are on unless a rule of the same name overrides them: fields it sets
replace the built-in's, ``enabled = false`` turns it off. Setting ``metric``, ``above``
or ``below`` replaces the built-in's whole condition with that one comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from opta_stream.alerting.fields import (
    Refused,
    Severity,
    boolean,
    entries,
    get,
    number,
    severity,
    show,
)
from opta_stream.alerting.receivers import KINDS, Receiver, parse_receivers
from opta_stream.settings import Thresholds

DEFAULT_BANDS = Thresholds()

# Severity, Receiver and KINDS are re-exported: a config's parts, in one import.
__all__ = ["AUXILIARY", "KINDS", "METRICS", "AlertConfig", "Condition", "Receiver", "Rule",
           "Severity", "Thresholds", "builtin_rules", "parse_alerts", "unknown_servers"]

# What a reading may hold, per server; None (or missing) is "no data", never 0.
METRICS = ("memory_pct", "memory_gb", "tokens_per_s", "requests_per_s", "error_rate_pct",
           "p95_latency_s", "queued", "in_flight", "down_s", "key_rejected",
           "quarantined_models", "restarts_1h")
# Readings that built-in rules compare against, which user rules cannot name: the
# server's own memory threshold (%) and its number of request slots.
AUXILIARY = ("memory_threshold_pct", "slots")
NAME_MAX = 80
_RULE_KEYS = ("name", "metric", "above", "below", "for_s", "severity", "servers", "enabled")


@dataclass(frozen=True, slots=True)
class Condition:
    """``metric op threshold``, the threshold a number or another reading (``ref``)."""

    metric: str
    op: str  # "above" (>), "below" (<) or "at_or_above" (>=)
    threshold: float | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """One alert rule: every condition must hold for ``for_s`` seconds before it fires."""

    name: str
    conditions: tuple[Condition, ...]
    for_s: float = 0.0
    severity: Severity = Severity.WARNING
    servers: frozenset[str] | None = None  # None: every server
    enabled: bool = True
    builtin: bool = False

    @property
    def metric(self) -> str:
        return self.conditions[0].metric

    def applies_to(self, server: str) -> bool:
        return self.servers is None or server in self.servers


@dataclass(frozen=True)
class AlertConfig:
    """Every rule (built-ins first, disabled ones included), the receivers, and one
    sentence per entry that was refused."""

    rules: tuple[Rule, ...] = ()
    receivers: tuple[Receiver, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def active(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)


def builtin_rules(t: Thresholds = DEFAULT_BANDS) -> tuple[Rule, ...]:
    """The rules that are on unless overridden; the tile-colour ones follow ``t``."""
    crit, warn, info = Severity.CRITICAL, Severity.WARNING, Severity.INFO

    def one(name: str, metric: str, op: str, value: float, sev: Severity,
            for_s: float = 0.0) -> Rule:
        return Rule(name, (Condition(metric, op, value),), for_s, sev, builtin=True)

    return (
        one("Server unreachable", "down_s", "above", 30.0, crit),
        one("Admin key rejected", "key_rejected", "above", 0.0, crit),
        Rule("Memory at the server's threshold",
             (Condition("memory_pct", "at_or_above", ref="memory_threshold_pct"),), 0.0, crit,
             builtin=True),
        one("Model quarantined", "quarantined_models", "above", 0.0, crit),
        one("Error rate high", "error_rate_pct", "above", t.error_red_pct, crit),
        one("Error rate elevated", "error_rate_pct", "above", t.error_amber_pct, warn),
        one("Memory high", "memory_pct", "at_or_above", t.memory_red_pct, warn, 60.0),
        one("Memory elevated", "memory_pct", "at_or_above", t.memory_amber_pct, info, 60.0),
        Rule("Queue with every slot busy", (Condition("queued", "above", 0.0),
                                            Condition("in_flight", "at_or_above", ref="slots")),
             30.0, warn, builtin=True),
        one("Latency above objective", "p95_latency_s", "above", t.p95_objective_s, warn, 60.0),
    )


# -- [[alerts]] ------------------------------------------------------------------------

def parse_alerts(secrets: Mapping[str, Any], thresholds: Thresholds = DEFAULT_BANDS
                 ) -> AlertConfig:
    """Rules (built-ins merged with ``[[alerts]]``) and receivers (``[[notify]]``)."""
    errors: list[str] = []
    rules = _rules(get(secrets, "alerts"), builtin_rules(thresholds), errors)
    receivers = parse_receivers(get(secrets, "notify"), errors)
    return AlertConfig(tuple(rules), tuple(receivers), tuple(errors))


def unknown_servers(rules: Sequence[Rule], names: Sequence[str]) -> list[str]:
    """One sentence per rule that names a server the fleet does not have."""
    known = set(names)
    out = []
    for rule in rules:
        missing = sorted((rule.servers or frozenset()) - known)
        if missing:
            out.append(f"Alert rule {show(rule.name)}: servers names "
                       f"{', '.join(show(m) for m in missing)}, which is not a configured "
                       "server; the rule watches the others.")
    return out


def _rules(raw: object, builtins: tuple[Rule, ...], errors: list[str]) -> list[Rule]:
    listed = entries(raw, "alerts", errors)
    by_name = {r.name: r for r in builtins}
    seen: dict[str, int] = {}
    user: list[Rule] = []
    for pos, entry in enumerate(listed, 1):
        try:
            rule = _rule(entry, pos, by_name, seen)
        except Refused as bad:
            errors.append(str(bad))
            continue
        seen[rule.name] = pos
        if rule.name in by_name:
            by_name[rule.name] = rule
        else:
            user.append(rule)
    return [by_name[r.name] for r in builtins] + user


def _rule(entry: object, pos: int, builtins: Mapping[str, Rule], seen: Mapping[str, int]
          ) -> Rule:
    where = f"Alert rule #{pos}"
    if not isinstance(entry, Mapping):
        raise Refused(f"{where} is not a table: write it as [[alerts]] with name = … below.")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Refused(f"{where} has no name: set name = \"…\" (unique, shown everywhere).")
    name = name.strip()
    if len(name) > NAME_MAX or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise Refused(f"{where}: the name must be one line of at most {NAME_MAX} characters.")
    where = f"Alert rule {show(name)}"
    if name in seen:
        raise Refused(f"{where} (#{pos}): the name is already used by rule #{seen[name]}; "
                      "names must be unique, so this one is ignored.")
    for key in entry:
        if key not in _RULE_KEYS:
            raise Refused(f"{where}: unknown field {show(str(key))} "
                          f"(fields: {', '.join(_RULE_KEYS)}).")
    base = builtins.get(name)
    enabled = boolean(entry, "enabled", True, where)
    if base is not None and not enabled:
        return replace(base, enabled=False)
    conditions = _condition(entry, where, base)
    for_s = number(entry, "for_s", where, base.for_s if base else 0.0)
    if for_s < 0:
        raise Refused(f"{where}: for_s must be 0 or more seconds (got {for_s:g}).")
    level = severity(entry, "severity", where, base.severity if base else Severity.WARNING)
    servers = _servers(entry, where, base.servers if base else None)
    return Rule(name, conditions, for_s, level, servers, enabled, builtin=base is not None)


def _condition(entry: Mapping[str, Any], where: str, base: Rule | None
               ) -> tuple[Condition, ...]:
    has = [k for k in ("above", "below") if k in entry]
    if base is not None and "metric" not in entry and not has:
        return base.conditions
    metric = entry.get("metric", base.metric if base else None)
    if metric is None:
        raise Refused(f"{where}: metric is missing (one of {', '.join(METRICS)}).")
    if not isinstance(metric, str) or metric not in METRICS:
        raise Refused(f"{where}: metric {show(str(metric))} is not known "
                      f"(one of {', '.join(METRICS)}).")
    if len(has) == 2:
        raise Refused(f"{where}: above and below are both set; set one of them.")
    if not has:
        raise Refused(f"{where}: above or below is missing: set the threshold, e.g. above = 85.")
    return (Condition(metric, has[0], number(entry, has[0], where, 0.0)),)


def _servers(entry: Mapping[str, Any], where: str, default: frozenset[str] | None
             ) -> frozenset[str] | None:
    if "servers" not in entry:
        return default
    value = entry["servers"]
    if (isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value
            or not all(isinstance(s, str) and s.strip() for s in value)):
        raise Refused(f"{where}: servers must be a list of server names, e.g. "
                      "servers = [\"studio\"] (leave it out for every server).")
    return frozenset(s.strip() for s in value)


