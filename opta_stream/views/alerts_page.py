"""Alerts: what is firing or pending on every watched server, the rules, and the history.

Built from each server's snapshot, whose board the process's watch wrote
(``snapshot.AlertBoard``): no journal, no clock, no network here. Firing alerts come
first, then pending ones, each with its server, value against threshold, since when,
and whether and where its notices went; then the rules (a refused rule is one sentence
at the top of the page), then every change over the window with its CSV. The Silence
and test buttons are each viewer's own, on the page (``pages/alerts.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import pandas as pd

from opta_stream.export.csv_files import alerts_csv
from opta_stream.figures.windows import window_label
from opta_stream.snapshot import AlertChange, AlertNow, Health, Snapshot
from opta_stream.units import clock_time, duration, plain, zone
from opta_stream.views.csv_buttons import csv_button
from opta_stream.views.recording import Block, Color, Column, Recording
from opta_stream.views.specs import AlertsSpec

__all__ = ["AlertRow", "AlertsView", "active_rows", "build", "delivery_words", "history_rows"]

_ORDER = {"firing": 0, "pending": 1}
_RANK = {"critical": 0, "warning": 1, "info": 2}
_BADGE: dict[str, Color] = {"critical": "red", "warning": "orange", "info": "blue"}
_DAY_S = 20 * 3600.0  # older than this, a time says its day too
# widths that fit the page's 820 px at 1280 px: the condition and the alert get the room
RULE_COLUMNS = {"rule": Column(width=215), "severity": Column(width=65),
                "condition": Column(width=340), "servers": Column(width=90),
                "origin": Column(width=100)}
HISTORY_COLUMNS = {"time": Column(width=95), "server": Column(width=100),
                   "alert": Column(width=190), "severity": Column(width=70),
                   "change": Column(width=140), "value": Column(width=80),
                   "threshold": Column(width=80), "silenced": Column(width=65)}


@dataclass(frozen=True, slots=True)
class AlertRow:
    """A firing or pending alert's card, and what its Silence control needs."""

    server: str
    rule: str
    silenced_until: float | None
    card: Recording


@dataclass(frozen=True, slots=True)
class AlertsView:
    head: Recording  # refused rules, unwatched servers, the counts and who notifies
    rows: tuple[AlertRow, ...]  # firing, then pending, then silenced others
    rules: Recording
    history: Recording  # the changes over the window and their CSV
    receivers: tuple[str, ...]
    taken_at: float


def _when(ts: float | None, tz: tzinfo, now: float) -> str:
    if ts is None:
        return "—"
    if now - ts < _DAY_S:
        return clock_time(ts, tz)
    return datetime.fromtimestamp(ts, tz).strftime("%b %d %H:%M")


def delivery_words(a: AlertNow, tz: tzinfo, now: float, receivers: Sequence[str]) -> str:
    """Whether and where this alert's notices of its latest firing went."""
    if not a.deliveries:
        if a.state != "firing":
            return ""
        if not receivers:
            return "Not notified: no receiver is configured ([[notify]] in the secrets)."
        if _silenced(a, now):
            return "Not notified: its notices are silenced."
        return "Not notified: no receiver takes this severity."
    parts = []
    for d in a.deliveries:
        what = f"{d.kind} notice to {d.receiver}"
        detail = f": {plain(d.detail)}" if d.detail else ""
        if d.status == "sent":
            parts.append(f"{what} delivered at {_when(d.at, tz, now)}")
        elif d.status == "pending":
            tries = f" (tried {d.attempts}×{detail})" if d.attempts else ""
            parts.append(f"{what} not delivered yet{tries}")
        elif d.status == "rejected":
            parts.append(f"{what} refused{detail}")
        else:
            parts.append(f"{what} failed{detail}")
    return "Notices: " + "; ".join(parts) + "."


def active_rows(names: Sequence[str], snaps: Sequence[Snapshot]
                ) -> list[tuple[str, AlertNow, Snapshot]]:
    """Firing, then pending alerts of every server (critical first, the oldest first),
    then the others that are silenced (so a silence shows, and can be lifted)."""
    rows = [(name, a, snap) for name, snap in zip(names, snaps, strict=True)
            for a in snap.alerts.alerts if a.state in _ORDER or _silenced(a, snap.taken_at)]
    return sorted(rows, key=lambda r: (_ORDER.get(r[1].state, 2), _RANK.get(r[1].severity, 3),
                                       r[1].since, r[0], r[1].rule))


def _silenced(a: AlertNow, now: float) -> bool:
    return a.silenced_until is not None and a.silenced_until > now


def _card(name: str, a: AlertNow, snap: Snapshot, tz: tzinfo,
          receivers: Sequence[str]) -> Recording:
    out = Recording()
    now = snap.taken_at
    color = _BADGE.get(a.severity, "gray") if a.state == "firing" else "gray"
    icon = ("notifications_active" if a.state == "firing" else
            "hourglass_top" if a.state == "pending" else "notifications_off")
    out.markdown(f"**{plain(a.rule)}** · {plain(name)} &nbsp; "
                 f":{color}-badge[:material/{icon}: {a.state} · {a.severity}]")
    start = a.fired_at if a.state == "firing" else a.since
    out.caption(f"Now **{a.value_text}**, threshold {a.threshold_text} · "
                f"{plain(a.condition)} · {a.state} since {_when(start, tz, now)} "
                f"(for {duration(now - start) if start is not None else '—'})")
    words = delivery_words(a, tz, now, receivers)
    if words:
        out.caption(words)
    if _silenced(a, now):
        out.caption(f":material/notifications_off: Silenced until "
                    f"{_when(a.silenced_until, tz, now)}: notices are held back, the state "
                    "goes on.")
    return out


def _head(out: Recording, spec: AlertsSpec, snaps: Sequence[Snapshot],
          rows: Sequence[tuple[str, AlertNow, Snapshot]], receivers: Sequence[str]) -> None:
    problems = list(dict.fromkeys(p for s in snaps for p in s.alerts.problems))
    for problem in problems:
        out.note("warning", plain(problem), icon=":material/rule:")
    unwatched = [n for n, s in zip(spec.names, snaps, strict=True) if not s.alerts.watched]
    if unwatched:
        out.note("info", f"No alerts are evaluated for {', '.join(map(plain, unwatched))}: "
                 "this process watches the configured servers only (the secrets' "
                 "[[servers]] or lmx_url), not one added in the sidebar.",
                 icon=":material/visibility_off:")
    firing = sum(1 for _, a, _ in rows if a.state == "firing")
    pending = sum(1 for _, a, _ in rows if a.state == "pending")
    watched = [(n, s) for n, s in zip(spec.names, snaps, strict=True) if s.alerts.watched]
    cols = out.columns(3)
    cols[0].metric("Firing", str(firing), border=True)
    cols[1].metric("Pending", str(pending), border=True,
                   help="The condition holds, but not yet for the rule's time.")
    cols[2].metric("Servers watched", str(len(watched)), border=True)
    others = [n for n, s in watched if s.alerts.notifier != "this process"]
    who = ("notices are sent by this process" if not others else
           f"notices for {', '.join(map(plain, others))} are sent by "
           f"{plain(next(s.alerts.notifier for n, s in watched if n in others))}")
    to = ", ".join(receivers) if receivers else "no receiver ([[notify]] is empty)"
    down = [n for n, s in watched if s.health.state is Health.DOWN]
    every = next((s.alerts.every_s for _, s in watched if s.alerts.every_s), 0.0)
    cadence = f"Rules are evaluated every {duration(every)}; " if every else ""
    out.caption(f"{cadence}{who}, to {to}."
                + (f" Down now: {', '.join(map(plain, down))}." if down else ""))


def rules_frame(snaps: Sequence[Snapshot]) -> pd.DataFrame:
    infos = next((s.alerts.rules for s in snaps if s.alerts.rules), ())
    rows = [(r.name, r.severity, r.condition, r.servers,
             r.origin if r.enabled else f"{r.origin}, off") for r in infos]
    return pd.DataFrame(rows, columns=list(RULE_COLUMNS), dtype=object)


def history_rows(names: Sequence[str], snaps: Sequence[Snapshot], start: float
                 ) -> list[tuple[str, AlertChange]]:
    """Every server's changes at or after ``start``, oldest first."""
    rows = [(name, c) for name, snap in zip(names, snaps, strict=True)
            for c in snap.alerts.changes if c.at >= start]
    return sorted(rows, key=lambda r: (r[1].at, r[0], r[1].rule))


def history_frame(rows: Sequence[tuple[str, AlertChange]], tz: tzinfo, now: float
                  ) -> pd.DataFrame:
    """Newest first."""
    data = [(_when(c.at, tz, now), name, c.rule, c.severity, f"{c.old} → {c.new}",
             c.value_text, c.threshold_text, "yes" if c.silenced else "")
            for name, c in reversed(rows)]
    return pd.DataFrame(data, columns=list(HISTORY_COLUMNS), dtype=object)


def _rules(out: Block, snaps: Sequence[Snapshot]) -> None:
    out.subheader("Rules")
    frame = rules_frame(snaps)
    out.caption(f"{len(frame)} rules: the built-in ones (a rule of the same name in "
                "[[alerts]] changes one, enabled = false turns it off) and yours. A rule "
                "fires once its condition has held for its time; no data holds it still.")
    if len(frame):  # every rule in view: the table is as tall as its rows
        out.table(frame, key="alerts_rules", columns=RULE_COLUMNS,
                  height=35 * len(frame) + 38)


def _history(out: Block, spec: AlertsSpec, snaps: Sequence[Snapshot], tz: tzinfo,
             now: float) -> None:
    start = now - spec.window_s
    rows = history_rows(spec.names, snaps, start)
    out.caption(f"{len(rows)} changes of state in the last {window_label(spec.window_s)}, "
                "newest first." + _reach(spec, snaps, start))
    if rows:
        out.table(history_frame(rows, tz, now), key="alerts_history", columns=HISTORY_COLUMNS,
                  height=min(600, 35 * len(rows) + 38))
    csv_button(out, lambda: alerts_csv(rows), len(rows),
               file_name=f"opta-stream_alerts_{int(start)}_{int(now)}.csv", key="alerts_csv",
               help="The changes in the window, oldest first, with UTC timestamps and the "
                    "figures as numbers.")


def _reach(spec: AlertsSpec, snaps: Sequence[Snapshot], start: float) -> str:
    """Where a server's board holds only its newest changes and the window reaches past."""
    cut = [n for n, s in zip(spec.names, snaps, strict=True)
           if s.alerts.changes and len(s.alerts.changes) >= s.alerts.changes_kept > 0
           and s.alerts.changes[0].at > start]
    if not cut:
        return ""
    return (f" For {', '.join(map(plain, cut))} the page holds the newest "
            f"{snaps[0].alerts.changes_kept} changes; `python -m opta_stream alerts` reads "
            "the history file.")


def build(spec: AlertsSpec, snaps: Sequence[Snapshot]) -> AlertsView:
    """The page's shared parts for one tick: head, one card per active alert, the rules,
    the history."""
    tz = zone(spec.tz)
    now = max((s.taken_at for s in snaps), default=0.0)
    receivers = next((s.alerts.receivers for s in snaps if s.alerts.watched), ())
    rows = active_rows(spec.names, snaps)
    head = Recording()
    _head(head, spec, snaps, rows, receivers)
    cards = tuple(AlertRow(name, a.rule, a.silenced_until, _card(name, a, snap, tz, receivers))
                  for name, a, snap in rows)
    rules, history = Recording(), Recording()
    _rules(rules, snaps)
    _history(history, spec, snaps, tz, now)
    return AlertsView(head, cards, rules, history, tuple(receivers), now)
