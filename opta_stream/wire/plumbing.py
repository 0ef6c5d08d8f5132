"""HTTP plumbing shared by the feed transport and the admin client.

One place decides how the admin key is sent (the ``X-Admin-Key`` header,
never the URL), that redirects are never followed with the key, and how a
network failure is worded for a person.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from opta_stream.errors import AuthRejected, redact

__all__ = [
    "admin_headers",
    "auth_detail",
    "describe_request_error",
    "error_message",
    "host_label",
    "new_session",
    "raise_for_auth",
    "shutdown_response",
]

USER_AGENT = "opta-stream/0.1"


def new_session() -> requests.Session:
    """A session that ignores proxy/netrc environment credentials.

    ``trust_env = False`` keeps a stray ``.netrc`` or proxy variable from
    adding credentials or routing the admin key somewhere else.
    """
    session = requests.Session()
    session.trust_env = False
    return session


def admin_headers(admin_key: str | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Request headers; the key goes here and nowhere else."""
    headers = {"User-Agent": USER_AGENT}
    if admin_key:
        headers["X-Admin-Key"] = admin_key
    headers.update(extra or {})
    return headers


def host_label(url: str) -> str:
    """``host:port`` of a URL, for thread names, logs and file names."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname or '?'}:{port}"


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return json.loads(resp.content[:65536].decode("utf-8", "replace"))
    except ValueError:
        return None


def auth_detail(resp: requests.Response) -> str | None:
    """FastAPI's auth failure: 401/403 with ``{"detail": "<text>"}``.

    A 403 carrying the OpenAI error envelope is a *policy* refusal (for example
    downloads disabled), not a rejected key, so it returns None.
    """
    if resp.status_code not in (401, 403):
        return None
    body = _json_or_none(resp)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"][:200]
    return ""


def raise_for_auth(resp: requests.Response, admin_key: str | None) -> None:
    """Raise AuthRejected when the response is an auth failure."""
    detail = auth_detail(resp)
    if detail is not None:
        raise AuthRejected(resp.status_code, redact(detail, admin_key))


def error_message(resp: requests.Response) -> tuple[str, str | None, str | None]:
    """The server's own words from an error body: (message, code, type).

    Understands the OpenAI envelope, FastAPI's ``detail`` (text or validation
    list) and falls back to naming the status and content type.
    """
    body = _json_or_none(resp)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        return str(err.get("message") or ""), _opt_str(err.get("code")), _opt_str(err.get("type"))
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"], None, None
    if isinstance(body, dict) and isinstance(body.get("detail"), list):
        return _validation_text(body["detail"]), "validation_error", None
    if 300 <= resp.status_code < 400:
        return (f"The server redirected (HTTP {resp.status_code}); redirects are not "
                "followed, so the admin key never leaves the configured server."), None, None
    ctype = resp.headers.get("content-type", "none").split(";")[0]
    return f"HTTP {resp.status_code} ({ctype}) with no error message", None, None


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _validation_text(items: list) -> str:
    parts = []
    for item in items[:5]:
        if isinstance(item, dict):
            loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
            parts.append(f"{loc}: {item.get('msg', 'invalid')}" if loc else str(item.get("msg")))
    return "; ".join(parts) or "request rejected by validation"


def describe_request_error(exc: BaseException, url: str, admin_key: str | None = None) -> str:
    """A sentence a person can act on for a requests/socket failure."""
    where = host_label(url)
    text = _classify(exc, where)
    return redact(text, admin_key)


def _classify(exc: BaseException, where: str) -> str:
    chain = _exception_chain(exc)
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolution" in repr(exc):
        return f"Cannot resolve the host of {where}: check the server URL."
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"Timed out connecting to {where}: is the host reachable?"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in repr(exc):
        return f"Connection refused by {where}: is Opta LMX running on that port?"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"{where} stopped answering (read timeout)."
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return f"{where} redirected; the admin key is never sent across a redirect."
    if isinstance(exc, requests.exceptions.ChunkedEncodingError
                  | requests.exceptions.ConnectionError):
        return f"The connection to {where} was cut: the server stopped or the network dropped."
    return f"Request to {where} failed ({type(exc).__name__})."


def _exception_chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack and len(seen) < 20:
        cur = stack.pop()
        if cur is None or cur in seen:
            continue
        seen.append(cur)
        causes = [a for a in cur.args if isinstance(a, BaseException)]
        stack.extend([cur.__cause__, cur.__context__, *causes])
        reason = getattr(cur, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return seen


def shutdown_response(resp: requests.Response | None) -> None:
    """Close a streaming response from another thread, waking a blocked read.

    ``close()`` alone does not interrupt a ``recv`` in progress on Linux;
    shutting the socket down does.
    """
    if resp is None:
        return
    sock = _find_socket(resp)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    try:
        resp.close()
    except Exception:  # noqa: BLE001 - closing must never raise into stop()
        pass


def _find_socket(resp: requests.Response) -> socket.socket | None:
    raw = getattr(resp, "raw", None)
    conn = getattr(raw, "_connection", None)
    sock = getattr(conn, "sock", None)
    if isinstance(sock, socket.socket):
        return sock
    fp = getattr(getattr(raw, "_fp", None), "fp", None)
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None
