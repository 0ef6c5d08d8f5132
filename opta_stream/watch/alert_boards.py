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

__all__ = ["board", "changes", "origin", "rule_infos"]


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


def _delivery(d: Delivery, labels: Mapping[str, str]) -> AlertDelivery:
    at = d.sent_at if d.sent_at is not None else d.created_at
    return AlertDelivery(labels.get(d.receiver, "a receiver no longer configured"), d.kind,
                         d.status, at, d.attempts, d.error)


def _now(s: AlertState, metric: str, words: str, mine: tuple[AlertDelivery, ...],
         silenced_until: float | None) -> AlertNow:
    return AlertNow(s.rule, s.severity.value, s.state.value, s.since, words, s.value,
                    s.threshold, figure(metric, s.value), figure(metric, s.threshold),
                    s.episode, s.fired_at, s.resolved_at, silenced_until, mine)


def changes(transitions: Sequence[Transition], metrics: Mapping[str, str],
            kept: int) -> tuple[AlertChange, ...]:
    """The newest ``kept`` transitions (given newest first), oldest first."""
    out = []
    for t in reversed(transitions[:kept]):
        metric = metrics.get(t.rule, "")
        out.append(AlertChange(t.at, t.rule, t.old.value, t.new.value, t.severity.value,
                               t.value, t.threshold, figure(metric, t.value),
                               figure(metric, t.threshold), t.silenced))
    return tuple(out)


def board(states: Sequence[AlertState], rules: Mapping[str, Rule],
          words: Mapping[str, str], changed: tuple[AlertChange, ...],
          deliveries: Sequence[Delivery], silences: Mapping[AlertKey, float],
          labels: Mapping[str, str], *, infos: tuple[AlertRuleInfo, ...],
          problems: tuple[str, ...], notifier: str, now: float,
          changes_kept: int, every_s: float = 0.0) -> AlertBoard:
    """One server's board: its states (each with the deliveries of its latest firing),
    its ``changed`` (from ``changes``), the running silences' ends, each receiver's key →
    label; ``words`` are each rule's condition in words (made once)."""
    by_episode: dict[tuple[str, int], list[Delivery]] = {}
    for d in deliveries:
        by_episode.setdefault((d.rule, d.episode), []).append(d)
    alerts = []
    for s in sorted(states, key=lambda s: s.rule):
        rule = rules.get(s.rule)
        mine = tuple(_delivery(d, labels) for d in sorted(
            by_episode.get((s.rule, s.episode), ()), key=lambda d: d.id)) if s.episode else ()
        alerts.append(_now(s, rule.metric if rule is not None else "", words.get(s.rule, ""),
                           mine, silences.get(s.key)))
    return AlertBoard(True, tuple(alerts), changed, infos, tuple(labels.values()), problems,
                      notifier, now, changes_kept, every_s)
