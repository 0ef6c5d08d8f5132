"""The alert state machine: readings at time t, the rules and the previous states →
new states and the transitions between them. No I/O, the time is passed in.

States as Prometheus and Grafana name them::

    inactive ──cond──▶ pending ──held for_s──▶ firing ──not cond──▶ resolved
        ▲                 │ not cond                                    │ cond
        └─────────────────┘                       pending (or firing) ◀─┘

``for_s = 0`` goes from inactive (or resolved) straight to firing. A metric with no
reading (None, NaN or missing: the server is down, or nothing was heard yet) is "no
data": the alert keeps its state, neither firing nor resolving, and a pending alert's
clock keeps running (the condition was never seen false). ``down_s`` is known exactly
when the others are not, so "Server unreachable" fires while every other rule of that
server holds still.

Cheap on purpose: one plain loop over servers and rules, a new state object only when
something changed (bench/alert_bench.py measures it).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opta_stream.alerting.fields import Severity
from opta_stream.alerting.rules import Condition, Rule

__all__ = ["AlertKey", "AlertState", "Evaluation", "Reading", "State", "Transition",
           "evaluate"]

Reading = Mapping[str, float | None]
AlertKey = tuple[str, str]  # (rule name, server)


class State(enum.StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class AlertState:
    """One rule on one server. ``episode`` counts firings (0: never fired), so each firing
    has an identity that notifications are keyed by; ``value`` and ``threshold`` are those
    of the rule's first condition at the last evaluation that had data."""

    rule: str
    server: str
    state: State = State.INACTIVE
    since: float = 0.0  # when it entered ``state``
    active_since: float | None = None  # when the condition last became true
    episode: int = 0
    fired_at: float | None = None
    resolved_at: float | None = None
    value: float | None = None
    threshold: float | None = None
    severity: Severity = Severity.WARNING

    @property
    def key(self) -> AlertKey:
        return (self.rule, self.server)


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of state; ``silenced`` when a silence covered the alert at that moment."""

    rule: str
    server: str
    at: float
    old: State
    new: State
    episode: int
    value: float | None
    threshold: float | None
    severity: Severity
    silenced: bool = False

    @property
    def key(self) -> AlertKey:
        return (self.rule, self.server)


@dataclass(frozen=True)
class Evaluation:
    """All states after the round (unchanged ones included) and what changed."""

    states: dict[AlertKey, AlertState]
    transitions: list[Transition]


def evaluate(rules: Sequence[Rule], readings: Mapping[str, Reading],
             states: Mapping[AlertKey, AlertState], now: float,
             silences: Mapping[AlertKey, float] | None = None) -> Evaluation:
    """One round: every enabled rule on every server of ``readings``.

    ``silences`` maps an alert to the time its silence ends; a silence changes no state,
    it only marks the transitions it covers (notifications are planned elsewhere).
    States of servers not in ``readings`` are carried over untouched.
    """
    out = dict(states)
    transitions: list[Transition] = []
    silenced = silences or {}
    for server, reading in readings.items():
        for rule in rules:
            if not rule.enabled or not rule.applies_to(server):
                continue
            key = (rule.name, server)
            old = out.get(key)
            if old is None:
                old = AlertState(rule.name, server, since=now, severity=rule.severity)
                out[key] = old
            verdict, value, threshold = _check(rule.conditions, reading)
            if verdict is None:
                continue  # no data: neither fires nor resolves
            new = _step(old, rule, verdict, value, threshold, now)
            if new is not old:
                out[key] = new
                if new.state is not old.state:
                    transitions.append(Transition(
                        rule.name, server, now, old.state, new.state, new.episode, value,
                        threshold, rule.severity, silenced.get(key, 0.0) > now))
    return Evaluation(out, transitions)


def _check(conditions: tuple[Condition, ...], reading: Reading
           ) -> tuple[bool | None, float | None, float | None]:
    """(all hold / None for no data, the first condition's value and threshold)."""
    holds = True
    first_value = first_threshold = None
    for i, c in enumerate(conditions):
        value = reading.get(c.metric)
        threshold = c.threshold if c.ref is None else reading.get(c.ref)
        if value is None or threshold is None or math.isnan(value) or math.isnan(threshold):
            return None, None, None
        if i == 0:
            first_value, first_threshold = value, threshold
        if c.op == "above":
            ok = value > threshold
        elif c.op == "below":
            ok = value < threshold
        else:
            ok = value >= threshold
        holds = holds and ok
    return holds, first_value, first_threshold


def _step(old: AlertState, rule: Rule, cond: bool, value: float | None,
          threshold: float | None, now: float) -> AlertState:
    state = old.state
    if cond:
        if state is State.FIRING:
            return _seen(old, rule, value, threshold)
        if state is State.PENDING:
            start = old.active_since if old.active_since is not None else now
            if now - start >= rule.for_s:
                return _fire(old, rule, start, value, threshold, now)
            return _seen(old, rule, value, threshold)
        if rule.for_s <= 0:  # inactive or resolved
            return _fire(old, rule, now, value, threshold, now)
        return AlertState(old.rule, old.server, State.PENDING, now, now, old.episode,
                          old.fired_at, old.resolved_at, value, threshold, rule.severity)
    if state is State.FIRING:
        return AlertState(old.rule, old.server, State.RESOLVED, now, None, old.episode,
                          old.fired_at, now, value, threshold, rule.severity)
    if state is State.PENDING:
        return AlertState(old.rule, old.server, State.INACTIVE, now, None, old.episode,
                          old.fired_at, old.resolved_at, value, threshold, rule.severity)
    return _seen(old, rule, value, threshold)


def _fire(old: AlertState, rule: Rule, start: float, value: float | None,
          threshold: float | None, now: float) -> AlertState:
    return AlertState(old.rule, old.server, State.FIRING, now, start, old.episode + 1, now,
                      None, value, threshold, rule.severity)


def _seen(old: AlertState, rule: Rule, value: float | None, threshold: float | None
          ) -> AlertState:
    """The same state with this round's value: a new object only when a figure moved."""
    if old.value == value and old.threshold == threshold and old.severity is rule.severity:
        return old
    return AlertState(old.rule, old.server, old.state, old.since, old.active_since,
                      old.episode, old.fired_at, old.resolved_at, value, threshold,
                      rule.severity)
