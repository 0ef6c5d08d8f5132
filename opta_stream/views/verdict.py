"""The server's health in words: one verdict, at the top of every page.

The verdict (a coloured badge, when the server was last heard, and while it
is not live what is wrong) is the first thing each page's view records,
from the same snapshot as the page's figures, so what the page shows is
never contradicted elsewhere on screen: the sidebar has no verdict of its
own. It is not a fragment of its own either: every extra ``run_every``
fragment of a session adds rerun requests that collide with the page's,
and with 30 viewers the page's 2 Hz fragment lost a fifth of its runs to
those collisions (bench/RESULTS.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from opta_stream.snapshot import ConnState, Health, Snapshot
from opta_stream.units import byte_size, duration
from opta_stream.views.alert_banner import firing_banner
from opta_stream.views.recording import Block, Color

__all__ = ["BADGES", "badge_label", "banner", "history_caption", "verdict_text"]

BADGES: dict[Health, tuple[str, Color]] = {  # health → (label, colour); "Live" is live's alone
    Health.CONNECTING: ("Connecting…", "orange"),
    Health.LIVE: ("Live", "green"),
    Health.DEGRADED: ("Degraded", "orange"),
    Health.DOWN: ("Down", "red"),
    Health.KEY_REJECTED: ("Admin key rejected", "red"),
    Health.INTERNAL_ERROR: ("Internal error", "red"),
    Health.STOPPED: ("Stopped", "gray"),
}


def badge_label(snap: Snapshot) -> tuple[str, Color]:
    """The badge's words and colour; a stream waiting to reconnect says when."""
    label, color = BADGES[snap.health.state]
    conn = snap.connection
    if conn.state is ConnState.RECONNECTING and conn.next_retry_at is not None:
        label += f" · reconnecting in {max(0.0, conn.next_retry_at - snap.taken_at):.0f} s"
    return label, color


def verdict_text(snap: Snapshot) -> str:
    """What is wrong, in one sentence that names the state once ("Down: …")."""
    health = snap.health
    label, _ = BADGES[health.state]
    message = health.message.strip()
    if not message:
        return label
    if message.lower().startswith(label.lower().rstrip("…")):
        return message  # the message already names the state: no "X: X: …"
    return f"{label}: {message}"


def _heard(snap: Snapshot) -> str:
    seen = snap.health.last_seen_at
    return (f"server last heard {duration(snap.taken_at - seen)} ago" if seen is not None
            else "nothing heard from the server yet")


def banner(out: Block, snap: Snapshot) -> None:
    """The verdict: a badge and when the server was last heard, then, while it is not
    live, what is wrong; and a history file that cannot be written. A critical alert
    firing on this server comes first."""
    firing_banner(out, snap)
    if snap.history.trouble:  # the file cannot be written: say so on every page
        out.note("warning", snap.history.message, icon=":material/save:")
    health = snap.health
    label, color = badge_label(snap)
    row = out.container(horizontal=True)
    row.badge(label, color=color, icon=":material/circle:")
    c = snap.counters
    row.caption(f"{_heard(snap)} · {snap.events_per_s:.1f} events/s · reconnected "
                f"{c.reconnects}× in {c.reconnect_attempts} tries")
    if health.state in (Health.LIVE, Health.CONNECTING):
        return
    figures = (" Figures older than a few seconds say how old they are."
               if health.last_seen_at is not None else "")
    degraded = health.state is Health.DEGRADED
    out.note("warning" if degraded else "error", verdict_text(snap) + figures,
             icon=":material/warning:" if degraded else ":material/error:")


def history_caption(snap: Snapshot, tz: tzinfo = UTC) -> str:
    """One line for the sidebar: where history goes, since when it reaches, its size.

    The sidebar is drawn with the page, not with its live part, so the line says since
    when in clock time (in ``tz``, the viewer's zone): an age ("from 22 s ago") would
    stand still while the page stays open."""
    h = snap.history
    if h.state == "off":
        return "History: off (the history path is empty); a restart forgets what was seen."
    if h.state in ("memory", "reading"):
        return f"History: {h.message}"
    if h.state == "loading":
        # the sidebar is drawn with the page, not with its live part: say when this held
        return (f"History: loading what was kept in {h.path} when this page opened; the live "
                "figures do not wait.")
    reach = f", since {since_words(h.since, snap.taken_at, tz)}" if h.since else ""
    size = f", {byte_size(h.size_bytes)}" if h.size_bytes is not None else ""
    text = f"History: kept in {h.path}{reach}{size}."
    if h.ephemeral:
        text += (" This disk is wiped when the app restarts or sleeps (Streamlit Community "
                 "Cloud): point history_path at lasting storage to keep it.")
    return text


def since_words(since: float, now: float, tz: tzinfo) -> str:
    """"14:03:12" today, "Dec 4, 14:03" before today (in ``tz``)."""
    at = datetime.fromtimestamp(since, tz)
    if at.date() == datetime.fromtimestamp(now, tz).date():
        return f"{at:%H:%M:%S}"
    return f"{at:%b} {at.day}, {at:%H:%M}"
