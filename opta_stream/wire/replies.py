"""Reading the server's answers: a rejected key, and the server's own words on an error.

Only FastAPI's ``{"detail": ...}`` on 401/403 is a rejected key; a 403 in the
OpenAI error envelope is a policy refusal (for example downloads disabled).
``refusal_kind`` names what any other refusal means for a person: load
shedding, a policy, a route this server version does not have, or an error.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from opta_stream.errors import AuthRejected, redact

__all__ = ["MISSING", "POLICY", "REPLY_ERROR", "SHEDDING", "auth_detail", "error_message",
           "raise_for_auth", "refusal_kind"]

SHEDDING, POLICY, MISSING, REPLY_ERROR = "shedding", "policy", "missing", "error"


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return json.loads(resp.content[:65536].decode("utf-8", "replace"))
    except ValueError:
        return None


def auth_detail(resp: requests.Response) -> str | None:
    """FastAPI's auth failure: 401/403 with ``{"detail": "<text>"}``, else None."""
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


def refusal_kind(status: int, code: str | None) -> str:
    """What a refusal that is not a rejected key means: "shedding" (503 ``overloaded``: the
    server is over 95 % memory and answers only its health check), "policy" (403 in the
    OpenAI envelope), "missing" (404: no such route on this server version, or no such
    model) or "error"."""
    if status == 503 and code == "overloaded":
        return SHEDDING
    if status == 403:
        return POLICY
    if status == 404:
        return MISSING
    return REPLY_ERROR


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _validation_text(items: list[Any]) -> str:
    parts = []
    for item in items[:5]:
        if isinstance(item, dict):
            loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
            parts.append(f"{loc}: {item.get('msg', 'invalid')}" if loc else str(item.get("msg")))
    return "; ".join(parts) or "request rejected by validation"
