"""What each kind of receiver is sent for one notice: body bytes and headers. Pure.

- ``webhook``: Alertmanager's webhook JSON, version "4", so anything that takes
  Alertmanager's notifications takes ours. One notification carries one alert's
  transition (grouped by rule and server), so ``alerts`` has one element and the common
  labels are that alert's. ``fingerprint`` is stable per rule and server, ``startsAt``
  is when the firing began, and a firing alert's ``endsAt`` is Go's zero time, as
  Alertmanager sends it.
- ``ntfy``: the text as the body, with ``Title``, ``Priority`` and ``Tags`` headers;
  non-ASCII header text is RFC 2047 encoded (ntfy decodes it since 2.4.0).
- ``slack``, ``discord``: their incoming-webhook JSON; Discord is told to ping nobody,
  whatever a rule's name says.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from opta_stream.alerting.journal import Notice

__all__ = ["ZERO_TIME", "Payload", "alertmanager", "build", "discord", "fingerprint",
           "group_key", "ntfy", "rfc3339", "slack"]

ZERO_TIME = "0001-01-01T00:00:00Z"
_NTFY_PRIORITY = {"critical": "5", "warning": "4", "info": "3"}
_NTFY_TAGS = {"critical": "rotating_light", "warning": "warning", "info": "information_source"}
_COLOURS = {"critical": 0xEF4444, "warning": 0xF59E0B, "info": 0x64748B, "resolved": 0x22C55E}
_JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True, slots=True)
class Payload:
    body: bytes
    headers: dict[str, str]


def fingerprint(rule: str, server: str) -> str:
    """16 hex digits, the same for every notice of this rule on this server."""
    return hashlib.sha256(f"{rule}\x00{server}".encode()).hexdigest()[:16]


def rfc3339(ts: float) -> str:
    """UTC with milliseconds and Z: '2026-11-18T04:26:40.000Z'."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def group_key(notice: Notice) -> str:
    """Alertmanager's form: the route's matchers, then the group's labels."""
    return (f"{{}}:{{alertname={_quoted(notice.rule)}, "
            f"server={_quoted(notice.server)}}}")


def _labels(n: Notice) -> dict[str, str]:
    return {"alertname": n.rule, "severity": n.severity, "server": n.server,
            "instance": n.instance}


def alertmanager(n: Notice, receiver: str, external_url: str = "") -> dict[str, object]:
    """The webhook body (Alertmanager 0.2x's ``version: "4"``) for one notice."""
    labels = _labels(n)
    annotations = {"summary": n.summary, "description": n.description}
    return {
        "version": "4",
        "groupKey": group_key(n),
        "truncatedAlerts": 0,
        "status": n.status,
        "receiver": receiver,
        "groupLabels": {"alertname": n.rule, "server": n.server},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "alerts": [{
            "status": n.status,
            "labels": labels,
            "annotations": annotations,
            "startsAt": rfc3339(n.starts_at),
            "endsAt": ZERO_TIME if n.ends_at is None else rfc3339(n.ends_at),
            "generatorURL": external_url,
            "fingerprint": fingerprint(n.rule, n.server),
        }],
    }


def _title(n: Notice) -> str:
    word = "RESOLVED" if n.status == "resolved" else n.severity.upper()
    return f"[{word}] {n.rule} on {n.server}"


def _header(text: str) -> str:
    """A header value: plain when printable ASCII, else one RFC 2047 encoded word."""
    text = " ".join(text.split())[:200]
    if all(" " <= c <= "~" for c in text):
        return text
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode("ascii") + "?="


def ntfy(n: Notice) -> Payload:
    resolved = n.status == "resolved"
    priority = "3" if resolved else _NTFY_PRIORITY.get(n.severity, "3")
    tags = "white_check_mark" if resolved else _NTFY_TAGS.get(n.severity, "bell")
    return Payload(n.description.encode(), {
        "Title": _header(_title(n)), "Priority": priority, "Tags": f"{tags},opta-stream",
        "Content-Type": "text/plain; charset=utf-8"})


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(n: Notice) -> dict[str, object]:
    return {"text": f"*{_slack_escape(_title(n))}*\n{_slack_escape(n.description)}"}


def discord(n: Notice) -> dict[str, object]:
    colour = _COLOURS["resolved" if n.status == "resolved" else n.severity]
    when = n.ends_at if n.ends_at is not None else n.starts_at
    return {
        "content": _title(n)[:2000],
        "allowed_mentions": {"parse": []},
        "embeds": [{"title": n.summary[:256], "description": n.description[:4096],
                    "color": colour, "timestamp": rfc3339(when)}],
    }


def _json(body: dict[str, object]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def build(kind: str, n: Notice, receiver: str = "", external_url: str = "") -> Payload:
    """The request for ``kind`` (webhook, ntfy, slack, discord); ``receiver`` is the
    receiver's label, which Alertmanager's JSON names."""
    if kind == "ntfy":
        return ntfy(n)
    if kind == "slack":
        return Payload(_json(slack(n)), dict(_JSON))
    if kind == "discord":
        return Payload(_json(discord(n)), dict(_JSON))
    if kind == "webhook":
        return Payload(_json(alertmanager(n, receiver, external_url)), dict(_JSON))
    raise ValueError(f"unknown receiver kind {kind!r}")
