"""The server's health in words: the sidebar badge's label and the banner on every page.

The banner is the first thing each page's view records, from the same
snapshot as the page's figures, not by a fragment of its own: every extra
``run_every`` fragment of a session adds rerun requests that collide with the
page's, and with 30 viewers the page's 2 Hz fragment lost a fifth of its runs
to those collisions (bench/RESULTS.md).
"""

from __future__ import annotations

from opta_stream.snapshot import ConnState, Health, Snapshot
from opta_stream.units import byte_size, duration
from opta_stream.views.alert_banner import firing_banner
from opta_stream.views.recording import Block, Color

__all__ = ["BADGES", "badge_label", "banner"]

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


def banner(out: Block, snap: Snapshot) -> None:
    """What is wrong and when the server was last heard, while it is not live, and a history
    file that cannot be written (else nothing)."""
    firing_banner(out, snap)  # a critical alert firing on this server comes first
    if snap.history.trouble:  # the file cannot be written: say so on every page
        out.note("warning", snap.history.message, icon=":material/save:")
    health = snap.health
    if health.state in (Health.LIVE, Health.CONNECTING):
        return
    label, _ = BADGES[health.state]
    seen = (f" Last heard from the server {duration(snap.taken_at - health.last_seen_at)} ago;"
            " figures older than a few seconds say how old they are." if health.last_seen_at
            else " Nothing has been heard from the server yet.")
    text = f"{label}: {health.message}{seen}"
    out.note("warning" if health.state is Health.DEGRADED else "error", text,
             icon=":material/warning:" if health.state is Health.DEGRADED else ":material/error:")


def history_caption(snap: Snapshot) -> str:
    """One line for the sidebar: where history goes, how far back it reaches, its size."""
    h = snap.history
    if h.state == "off":
        return "History: off (the history path is empty); a restart forgets what was seen."
    if h.state in ("memory", "reading"):
        return f"History: {h.message}"
    reach = f", from {duration(snap.taken_at - h.since)} ago" if h.since else ""
    size = f", {byte_size(h.size_bytes)}" if h.size_bytes is not None else ""
    text = f"History: kept in {h.path}{reach}{size}."
    if h.ephemeral:
        text += (" This disk is wiped when the app restarts or sleeps (Streamlit Community "
                 "Cloud): point history_path at lasting storage to keep it.")
    return text
