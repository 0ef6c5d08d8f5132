"""``alerts``: the rules, what they are doing, and whether the receivers can be reached.

- ``python -m opta_stream alerts`` prints every rule (built-ins and the secrets file's,
  each in words), the entries that were refused (one sentence each), the receivers, and
  each alert's current state as the history file has it (where the notifying process
  wrote it), with where its latest notices went. It only reads the file.
- ``python -m opta_stream alerts test`` sends one test notification to every receiver
  and prints each result; exit 1 if any failed.

Receivers appear as "kind · host", never with their URL (it carries a token).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from opta_stream.alerting.engine import AlertState, State
from opta_stream.alerting.journal import Delivery, JournalError
from opta_stream.alerting.plan import condition_words, figure
from opta_stream.alerting.rules import Rule
from opta_stream.alerting.sending import send_test
from opta_stream.history.alert_journal import SqliteAlertJournal
from opta_stream.history.files import HistoryUnavailable, open_for_reading
from opta_stream.watch.alert_boards import origin
from opta_stream.watch.watch_plan import WatchPlan, plan_watch

__all__ = ["run_alerts"]

_ORDER = {State.FIRING: 0, State.PENDING: 1, State.RESOLVED: 2, State.INACTIVE: 3}


def _utc(ts: float | None) -> str:
    if ts is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def run_alerts(secrets: Mapping, environ: Mapping, action: str | None, path: str | None,
               out: TextIO, clock: Callable[[], float] = time.time) -> int:
    plan = plan_watch(secrets, environ)
    if action == "test":
        return _test(plan, out)
    _rules(plan, out)
    _states(plan, path, out, clock())
    return 0


def _test(plan: WatchPlan, out: TextIO) -> int:
    receivers = plan.config.receivers
    if not receivers:
        print("No receivers: add [[notify]] entries (kind and url) to "
              ".streamlit/secrets.toml.", file=out)
        for error in plan.config.errors:
            print(f"  {error}", file=out)
        return 1
    outcomes = send_test(receivers, external_url=plan.external_url)
    for outcome in outcomes:
        print(f"{'ok  ' if outcome.ok else 'FAIL'} {outcome}", file=out)
    return 0 if all(o.ok for o in outcomes) else 1


def _rules(plan: WatchPlan, out: TextIO) -> None:
    config = plan.config
    rules = config.rules
    print(f"Rules ({len(config.active)} on, {len(rules) - len(config.active)} off; "
          f"watching {', '.join(t.name for t in plan.targets) or 'no configured server'}):",
          file=out)
    width = max((len(r.name) for r in rules), default=0)
    shipped = {r.name: r for r in plan.builtins}
    for r in rules:
        where = "" if r.servers is None else f" · on {', '.join(sorted(r.servers))}"
        kind = origin(r, shipped)
        state = "" if r.enabled else " · off"
        print(f"  {r.severity.value:<8}  {r.name:<{width}}  {condition_words(r)}  "
              f"({kind}{where}{state})", file=out)
    problems = (*config.errors, *plan.notes)
    if problems:
        print("Refused or questionable entries (only these are ignored):", file=out)
        for problem in problems:
            print(f"  {problem}", file=out)
    labels = ", ".join(r.label for r in config.receivers) or "none ([[notify]] is empty)"
    print(f"Receivers: {labels}", file=out)


def _states(plan: WatchPlan, path: str | None, out: TextIO, now: float) -> None:
    if path is None:
        print("History is turned off, so no alert states are kept (pass --db PATH to read "
              "a history file).", file=out)
        return
    try:
        conn = open_for_reading(path)
    except HistoryUnavailable as exc:
        print(f"No alert states yet: {exc}.", file=out)
        return
    journal = SqliteAlertJournal(conn)
    try:
        states = journal.load_states()
        deliveries = journal.deliveries(limit=1000)
        silences = {s.key: s.until for s in journal.silences(now)}
    except JournalError as exc:
        print(f"No alert states in {path}: {exc}.", file=out)
        return
    finally:
        journal.close()
    rules = {r.name: r for r in plan.config.rules}
    labels = {r.key: r.label for r in plan.config.receivers}
    shown = sorted((s for s in states if s.state is not State.INACTIVE),
                   key=lambda s: (_ORDER[s.state], s.server, s.rule))
    quiet = len(states) - len(shown)
    print(f"States in {path} ({len(shown)} not inactive, {quiet} inactive):", file=out)
    for s in shown:
        print("  " + _state_line(s, rules.get(s.rule), deliveries, silences.get(s.key),
                                 labels), file=out)


def _label(key: str) -> str:
    """A receiver's key (position:kind:host) as its label, for one no longer configured."""
    _, kind, host = (key.split(":", 2) + ["", ""])[:3]
    return f"{kind} · {host}"


def _state_line(s: AlertState, rule: Rule | None, deliveries: Sequence[Delivery],
                silenced_until: float | None, labels: Mapping[str, str]) -> str:
    metric = rule.metric if rule is not None else ""
    when = {State.FIRING: f"since {_utc(s.fired_at)}", State.PENDING: f"since {_utc(s.since)}",
            State.RESOLVED: f"at {_utc(s.resolved_at)}"}.get(s.state, "")
    text = (f"{s.server}  {s.rule}  {s.state.value} {when}  (value {figure(metric, s.value)},"
            f" threshold {figure(metric, s.threshold)}; {s.severity.value})")
    if rule is None:
        text += "  [this rule is no longer configured]"
    if silenced_until is not None:
        text += f"  silenced until {_utc(silenced_until)}"
    mine = [d for d in deliveries if d.rule == s.rule and d.server == s.server
            and d.episode == s.episode and s.episode > 0]
    if mine:
        text += "; notices: " + ", ".join(
            f"{d.kind} to {labels.get(d.receiver) or _label(d.receiver)} {d.status}"
            + (f" {_utc(d.sent_at)}" if d.sent_at else "") for d in reversed(mine))
    elif s.state is State.FIRING:
        text += "; no notice (no receiver takes it, or it is silenced)"
    return text
