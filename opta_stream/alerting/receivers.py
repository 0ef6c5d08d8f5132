"""Receivers from ``[[notify]]``: where notifications go.

A receiver's URL carries its token, so it is a secret like the admin key: it is left
out of ``repr`` and of every sentence, a receiver is named by kind and host ("ntfy ·
ntfy.sh"), and the history file knows it by position, kind and host (``key``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from opta_stream.alerting.fields import Refused, Severity, boolean, entries, number, severity, show
from opta_stream.inputs import split_origin

__all__ = ["KINDS", "REPEAT_S", "Receiver", "parse_receivers"]

KINDS = ("webhook", "ntfy", "slack", "discord")
REPEAT_S = 4 * 3600.0
_NOTIFY_KEYS = ("kind", "url", "min_severity", "repeat_s", "send_resolved")


@dataclass(frozen=True, slots=True)
class Receiver:
    """Where notifications go. ``url`` is a secret: it is left out of ``repr`` and of every
    message; ``label`` (kind · host) names it, ``key`` (position, kind, host) identifies it
    in the history file."""

    kind: str
    url: str = field(repr=False)
    index: int  # 1-based position in [[notify]]
    label: str
    min_severity: Severity = Severity.INFO
    repeat_s: float = REPEAT_S
    send_resolved: bool = True

    @property
    def key(self) -> str:
        return f"{self.index}:{self.kind}:{_host(self.url)}"

    def wants(self, severity: Severity) -> bool:
        return severity.rank >= self.min_severity.rank

    def __repr__(self) -> str:
        return f"Receiver({self.label!r}, #{self.index}, min_severity={self.min_severity.value})"

    __str__ = __repr__


def parse_receivers(raw: object, errors: list[str]) -> list[Receiver]:
    """``[[notify]]`` → receivers; each refused entry adds one sentence to ``errors``."""
    made: list[Receiver] = []
    urls: dict[str, int] = {}
    for pos, entry in enumerate(entries(raw, "notify", errors), 1):
        try:
            receiver = _receiver(entry, pos)
        except Refused as bad:
            errors.append(str(bad))
            continue
        if receiver.url in urls:
            errors.append(f"Receiver #{pos} ({receiver.label}): url is the same as receiver "
                          f"#{urls[receiver.url]}'s; each receiver gets every notice once, so "
                          "this one is ignored.")
            continue
        urls[receiver.url] = pos
        made.append(receiver)
    labels = [r.label for r in made]
    return [r if labels.count(r.label) == 1 else replace(r, label=f"{r.label} (#{r.index})")
            for r in made]


def _receiver(entry: object, pos: int) -> Receiver:
    where = f"Receiver #{pos}"
    if not isinstance(entry, Mapping):
        raise Refused(f"{where} is not a table: write it as [[notify]] with kind and url below.")
    kind = entry.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        got = "missing" if kind is None else f"got {show(str(kind))}"
        raise Refused(f"{where}: kind must be one of {', '.join(KINDS)} ({got}).")
    where = f"Receiver #{pos} ({kind})"
    for key in entry:
        if key not in _NOTIFY_KEYS:
            raise Refused(f"{where}: unknown field {show(str(key))} "
                          f"(fields: {', '.join(_NOTIFY_KEYS)}).")
    url = entry.get("url")
    if not isinstance(url, str) or not url.strip():
        raise Refused(f"{where}: url is missing (its token makes it a secret: it is never shown).")
    url = url.strip()
    scheme, host, _, port_ok = split_origin(url)
    if scheme not in ("http", "https") or "://" not in url:
        raise Refused(f"{where}: url must start with https:// (or http://); it is not shown "
                      "here because it carries a token.")
    if not host or not port_ok or any(c.isspace() or ord(c) < 32 for c in url):
        raise Refused(f"{where}: url has no usable host, or a bad port or a space; it is not "
                      "shown here because it carries a token.")
    label = f"{kind} · {_host(url)}"
    where = f"Receiver #{pos} ({label})"
    repeat_s = number(entry, "repeat_s", where, REPEAT_S)
    if repeat_s < 0:
        raise Refused(f"{where}: repeat_s must be 0 (never) or more seconds (got {repeat_s:g}).")
    return Receiver(kind, url, pos, label,
                    severity(entry, "min_severity", where, Severity.INFO), repeat_s,
                    boolean(entry, "send_resolved", True, where))


def _host(url: str) -> str:
    """host, with the port only when it is given and not the scheme's default."""
    scheme, host, port, _ = split_origin(url)
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


