"""A firing critical alert at the top of every page, where the health banner goes.

From the page's own snapshot (the board the watch wrote into the Store), so it costs a
page nothing when nothing fires and needs no fragment of its own; the Alerts page has
the rest (value, threshold, deliveries, silences).
"""

from __future__ import annotations

from opta_stream.snapshot import Snapshot
from opta_stream.units import duration, plain
from opta_stream.views.recording import Block

__all__ = ["firing_banner"]


def firing_banner(out: Block, snap: Snapshot) -> None:
    """One error note naming every critical alert firing on this server (else nothing)."""
    firing = [a for a in snap.alerts.firing if a.severity == "critical"]
    if not firing:
        return
    parts = []
    for a in firing:
        held = (f" for {duration(snap.taken_at - a.fired_at)}" if a.fired_at is not None
                else "")
        quiet = (", its notices silenced" if a.silenced_until is not None
                 and a.silenced_until > snap.taken_at else "")
        parts.append(f"**{plain(a.rule)}** ({a.value_text}, threshold {a.threshold_text})"
                     f"{held}{quiet}")
    word = "Alert" if len(parts) == 1 else f"{len(parts)} critical alerts"
    out.note("error", f"{word} firing: " + "; ".join(parts) + ". The Alerts page has the "
             "details.", icon=":material/notifications_active:")
