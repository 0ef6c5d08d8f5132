"""Which notices an alert calls for, and what they say. Pure: the outbox so far goes in,
the deliveries to add come out.

Per firing (an alert's episode) and receiver:

- one "firing" notice, when the alert fires, or when a silence ends while it still
  fires, if the receiver takes that severity;
- a "repeat" every ``repeat_s`` after the last one while it still fires, never while a
  notice to that receiver is still pending;
- one "resolved" notice, if ``send_resolved`` and the receiver got (or is getting) a
  notice of this firing. A silence holds back firing notices and repeats, not this one:
  no receiver is left believing an alert still fires.

The outbox makes each of these unique, so planning twice stores it once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Mapping, Sequence

from opta_stream.alerting.engine import AlertKey, AlertState, State
from opta_stream.alerting.fields import Severity
from opta_stream.alerting.journal import PENDING, SENT, Delivery, EpisodeKey, NewDelivery, Notice
from opta_stream.alerting.receivers import Receiver
from opta_stream.alerting.rules import Condition, Rule
from opta_stream.units import span

__all__ = ["METRIC_WORDS", "condition_words", "describe", "figure", "notice_for", "number",
           "plan", "test_notice"]

FIRING, REPEAT, RESOLVED = "firing", "repeat", "resolved"

# metric → (words, unit after the number)
METRIC_WORDS: dict[str, tuple[str, str]] = {
    "memory_pct": ("memory use", " %"), "memory_gb": ("memory use", " GB"),
    "tokens_per_s": ("tokens/s (10 s)", ""), "requests_per_s": ("requests/s (5 min)", ""),
    "error_rate_pct": ("error rate (5 min)", " %"), "p95_latency_s": ("p95 latency (5 min)", " s"),
    "queued": ("queued requests", ""), "in_flight": ("requests in flight", ""),
    "down_s": ("unreachable for", " s"), "key_rejected": ("admin key rejected", ""),
    "quarantined_models": ("quarantined models", ""),
    "restarts_1h": ("restarts in the last hour", ""),
    "memory_threshold_pct": ("the server's memory threshold", " %"),
    "slots": ("the server's request slots", ""),
}
_OPS = {"above": "above", "below": "below", "at_or_above": "at or above"}


def number(value: float | None) -> str:
    """A figure in a message: whole numbers whole, else up to 2 decimals ('91.2', '0.05')."""
    if value is None or math.isnan(value):
        return "no data"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}".rstrip("0").rstrip(".")


def _figure(metric: str, value: float | None) -> str:
    unit = METRIC_WORDS.get(metric, (metric, ""))[1]
    return number(value) + (unit if value is not None else "")


def figure(metric: str, value: float | None) -> str:
    """A reading as the notices say it, with its unit ('91.2 %', '45 s', 'no data'): the
    Alerts page shows the same words the receivers got."""
    return _figure(metric, value)


def condition_words(rule: Rule) -> str:
    """The rule in words: 'tokens/s (10 s) above 1 for 2 s', 'unreachable for more than
    30 s', 'memory use at or above the server's memory threshold', '... for 1 h'."""
    parts = []
    for c in rule.conditions:
        words = METRIC_WORDS.get(c.metric, (c.metric, ""))[0]
        op = "more than" if c.op == "above" and words.endswith(" for") else _OPS[c.op]
        parts.append(f"{words} {op} {_limit_words(c)}")
    held = f" for {span(rule.for_s)}" if rule.for_s > 0 else ""
    return " and ".join(parts) + held


def describe(rule: Rule, state: AlertState, instance: str) -> str:
    """The value against the threshold, the condition, where and since when."""
    c = rule.conditions[0]
    words = METRIC_WORDS.get(c.metric, (c.metric, ""))[0]
    limit = _threshold(c, state.threshold)
    fired = state.state is State.FIRING
    verb = "is" if fired else "is back to"
    held = f" for {number(rule.for_s)} s" if fired and rule.for_s > 0 else ""
    cond = f"{_OPS[c.op]} {limit}" if fired else f"no longer {_OPS[c.op]} {limit}"
    extra = "".join(f" and {METRIC_WORDS.get(x.metric, (x.metric, ''))[0]} "
                    f"{_OPS[x.op]} {_limit_words(x)}" for x in rule.conditions[1:]) if fired else ""
    since = _utc(state.fired_at) if fired else _utc(state.resolved_at)
    what = "since" if fired else "at"
    return (f"{words.capitalize()} {verb} {_figure(c.metric, state.value)}, {cond}{extra}{held}, "
            f"on {state.server} ({instance}) {what} {since} ({rule.severity.value}).")


def _threshold(c: Condition, value: float | None) -> str:
    text = _figure(c.metric, value)
    return text if c.ref is None else f"{text} ({METRIC_WORDS[c.ref][0]})"


def _limit_words(c: Condition) -> str:
    if c.ref is not None:
        return METRIC_WORDS.get(c.ref, (c.ref, ""))[0]
    return _figure(c.metric, c.threshold)


def _utc(ts: float | None) -> str:
    if ts is None:
        return "an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def notice_for(rule: Rule, state: AlertState, instance: str) -> Notice:
    """The notice for the alert as it stands: firing (also a reminder) or resolved."""
    status = RESOLVED if state.state is State.RESOLVED else FIRING
    word = "Resolved" if status == RESOLVED else "Firing"
    return Notice(rule.name, state.server, instance, rule.severity.value, status, rule.metric,
                  state.value, state.threshold, state.fired_at or state.since,
                  state.resolved_at if status == RESOLVED else None,
                  f"{word}: {rule.name} on {state.server}", describe(rule, state, instance))


def test_notice(now: float) -> Notice:
    """What ``send_test`` sends: says plainly that it is a test."""
    return Notice("Opta Stream test notification", "test", "opta-stream", Severity.INFO.value,
                  FIRING, "test", None, None, now, None,
                  "Test: Opta Stream can reach this receiver",
                  "This is a test notification from Opta Stream; no alert is firing.")


def plan(alerts: Sequence[tuple[Rule, AlertState]], receivers: Sequence[Receiver],
         existing: Mapping[EpisodeKey, Sequence[Delivery]], silences: Mapping[AlertKey, float],
         instances: Mapping[str, str], now: float,
         resolving: Collection[AlertKey] = ()) -> list[NewDelivery]:
    """Deliveries to add for these alerts. Resolved notices are planned only for the
    alerts in ``resolving`` (those that resolved this round)."""
    out: list[NewDelivery] = []
    for rule, state in alerts:
        if state.episode == 0 or state.state not in (State.FIRING, State.RESOLVED):
            continue
        if state.state is State.RESOLVED and state.key not in resolving:
            continue
        rows = existing.get((state.rule, state.server, state.episode), ())
        silenced = silences.get(state.key, 0.0) > now
        notice: Notice | None = None
        for rc in receivers:
            mine = [d for d in rows if d.receiver == rc.key]
            kind, n = _due(state, rc, mine, silenced, rule.severity, now)
            if kind:
                notice = notice or notice_for(rule, state, instances.get(state.server,
                                                                         state.server))
                out.append(NewDelivery(rc.key, kind, n, state.episode, notice, now))
    return out


def _due(state: AlertState, rc: Receiver, mine: Sequence[Delivery], silenced: bool,
         severity: Severity, now: float) -> tuple[str, int]:
    if state.state is State.RESOLVED:  # to whoever was told of this firing
        told = any(d.kind != RESOLVED and d.status in (PENDING, SENT) for d in mine)
        done = any(d.kind == RESOLVED for d in mine)
        return (RESOLVED, 0) if rc.send_resolved and told and not done else ("", 0)
    if silenced or not rc.wants(severity):
        return "", 0
    if not mine:
        return FIRING, 0
    if rc.repeat_s <= 0 or any(d.status == PENDING for d in mine):
        return "", 0
    last = max((d.sent_at if d.sent_at is not None else d.due_at) for d in mine)
    if now - last >= rc.repeat_s:
        return REPEAT, max(d.n for d in mine) + 1
    return "", 0
