"""A server's alert board: the monitor's states and the journal's rows, in the words the
notices use, frozen for the snapshot (``snapshot.AlertBoard``).

Pure: states, transitions, deliveries and silences in, a board out. Receivers are named
by their label (kind · host), never their URL; a rule that is no longer configured
keeps its history, with its figures as bare numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opta_stream.alerting.engine import AlertKey, AlertState, Transition
from opta_stream.alerting.journal import Delivery
from opta_stream.alerting.plan import condition_words, figure
from opta_stream.alerting.rules import Rule
from opta_stream.snapshot import (
    AlertBoard,
    AlertChange,
    AlertDelivery,
    AlertNow,
    AlertRuleInfo,
)

__all__ = ["board", "change", "origin", "rule_infos"]


def origin(rule: Rule, defaults: Mapping[str, Rule]) -> str:
    """"built-in", "built-in, changed" (a rule of its name in [[alerts]]) or "yours"."""
    if not rule.builtin:
        return "yours"
    return "built-in" if defaults.get(rule.name) == rule else "built-in, changed"


def rule_infos(rules: Sequence[Rule], defaults: Mapping[str, Rule]) -> tuple[AlertRuleInfo, ...]:
    """Every configured rule (disabled built-ins too) in words; ``defaults`` are the
    built-ins as shipped (with the configured colour bands)."""
    return tuple(AlertRuleInfo(r.name, r.severity.value, condition_words(r),
                               "every server" if r.servers is None else
                               ", ".join(sorted(r.servers)), origin(r, defaults), r.enabled)
                 for r in rules)


def _metric(rules: Mapping[str, Rule], name: str) -> str:
    rule = rules.get(name)
    return rule.metric if rule is not None else ""


def _delivery(d: Delivery, labels: Mapping[str, str]) -> AlertDelivery:
    at = d.sent_at if d.sent_at is not None else d.created_at
    return AlertDelivery(labels.get(d.receiver, "a receiver no longer configured"), d.kind,
                         d.status, at, d.attempts, d.error)


def _now(s: AlertState, rules: Mapping[str, Rule], deliveries: Sequence[Delivery],
         labels: Mapping[str, str], silenced_until: float | None) -> AlertNow:
    rule = rules.get(s.rule)
    metric = _metric(rules, s.rule)
    mine = tuple(_delivery(d, labels) for d in sorted(deliveries, key=lambda d: d.id)
                 if d.rule == s.rule and d.episode == s.episode and s.episode > 0)
    return AlertNow(s.rule, s.severity.value, s.state.value, s.since,
                    condition_words(rule) if rule is not None else "",
                    s.value, s.threshold, figure(metric, s.value), figure(metric, s.threshold),
                    s.episode, s.fired_at, s.resolved_at, silenced_until, mine)


def change(t: Transition, rules: Mapping[str, Rule]) -> AlertChange:
    metric = _metric(rules, t.rule)
    return AlertChange(t.at, t.rule, t.old.value, t.new.value, t.severity.value, t.value,
                       t.threshold, figure(metric, t.value), figure(metric, t.threshold),
                       t.silenced)


def board(states: Sequence[AlertState], rules: Mapping[str, Rule],
          transitions: Sequence[Transition], deliveries: Sequence[Delivery],
          silences: Mapping[AlertKey, float], labels: Mapping[str, str], *,
          infos: tuple[AlertRuleInfo, ...], problems: tuple[str, ...], notifier: str,
          now: float, changes_kept: int) -> AlertBoard:
    """One server's board. ``transitions`` newest first (as the journal gives them);
    ``silences`` the running ones' ends; ``labels`` each receiver's key → label."""
    alerts = tuple(_now(s, rules, deliveries, labels, silences.get(s.key))
                   for s in sorted(states, key=lambda s: s.rule))
    changes = tuple(change(t, rules) for t in reversed(transitions[:changes_kept]))
    return AlertBoard(True, alerts, changes, infos, tuple(labels.values()), problems,
                      notifier, now, changes_kept)
