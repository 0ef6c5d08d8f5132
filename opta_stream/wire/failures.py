"""A network failure in a sentence a person can act on ("Connection refused by ..."), and its
kind: "refused" (nothing listens: the server stopped, or is stopping and refuses new
connections while its open streams still beat), "timeout", or "unreachable" (no name, a cut
connection, anything else)."""

from __future__ import annotations

import socket

import requests

from opta_stream.errors import redact
from opta_stream.inputs import host_label

__all__ = ["REFUSED", "TIMEOUT", "UNREACHABLE", "describe_request_error", "exception_chain",
           "request_failure"]

REFUSED, TIMEOUT, UNREACHABLE = "refused", "timeout", "unreachable"


def describe_request_error(exc: BaseException, url: str, admin_key: str | None = None) -> str:
    """A sentence a person can act on for a requests/socket failure."""
    return request_failure(exc, url, admin_key)[1]


def request_failure(exc: BaseException, url: str,
                    admin_key: str | None = None) -> tuple[str, str]:
    """(kind, sentence) for a requests/socket failure; the kinds are this module's."""
    kind, text = _classify(exc, host_label(url))
    return kind, redact(text, admin_key)


def _classify(exc: BaseException, where: str) -> tuple[str, str]:
    chain = exception_chain(exc)
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolution" in repr(exc):
        return UNREACHABLE, f"Cannot resolve the host of {where}: check the server URL."
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TIMEOUT, f"Timed out connecting to {where}: is the host reachable?"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in repr(exc):
        return REFUSED, f"Connection refused by {where}: is Opta LMX running on that port?"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return TIMEOUT, f"{where} stopped answering (read timeout)."
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return UNREACHABLE, f"{where} redirected; the admin key is never sent across a redirect."
    if isinstance(exc, requests.exceptions.ChunkedEncodingError
                  | requests.exceptions.ConnectionError):
        return UNREACHABLE, (f"The connection to {where} was cut: the server stopped or the "
                             "network dropped.")
    return UNREACHABLE, f"Request to {where} failed ({type(exc).__name__})."


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it (causes, contexts, wrapped args, urllib3's ``reason``):
    requests buries the socket error a few levels down."""
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
