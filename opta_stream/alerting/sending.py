"""One notification over HTTP, and how a receiver's URL is kept out of every text.

``attempt`` posts one notice to one receiver and says what came of it (``Outcome``):
sent (2xx), retry (connection error, timeout, 5xx, 429) or final (any other 4xx, a 3xx:
redirects are never followed, so a token never reaches another host). Plain
``requests`` on a session that takes no credentials or proxies from the environment.

A receiver's URL carries its token. No outcome, log line or exception text names it:
receivers are named by label (kind · host); a receiver's answer is scrubbed of every
part of its URL before it is kept (``Scrubber``), and urllib3's own debug lines, which
name the request path, are scrubbed by a logging filter installed for every receiver
this process is given. A failure is classified into words, never ``str(exc)``, whose
text names the URL.

``send_test`` sends one test notification to each receiver, for the command line.
"""

from __future__ import annotations

import http
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

import requests

from opta_stream.alerting.journal import Notice
from opta_stream.alerting.payloads import build
from opta_stream.alerting.plan import test_notice
from opta_stream.alerting.receivers import Receiver
from opta_stream.wire.failures import exception_chain
from opta_stream.wire.sessions import USER_AGENT, new_session

__all__ = ["SCRUB", "TIMEOUT", "Outcome", "Scrubber", "attempt", "guard", "send_test"]

TIMEOUT = (3.05, 10.0)  # connect, read
SNIPPET = 160


# -- scrubbing -------------------------------------------------------------------------

class Scrubber:
    """Masks every part of the given URLs that could carry a token: the URL itself, its
    path, query and user info, each path segment and query value of 4 characters or
    more, raw and percent-decoded."""

    def __init__(self, urls: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(urls)

    def add(self, urls: Iterable[str]) -> None:
        for url in urls:
            parts = urlsplit(url)
            pieces = {url, parts.path, parts.query, parts.fragment, parts.netloc.rpartition("@")[0]}
            pieces |= {p for p in parts.path.split("/") if len(p) >= 4}
            for name, value in parse_qsl(parts.query, keep_blank_values=True):
                pieces |= {name + "=" + value, value}
            pieces |= {unquote(p) for p in pieces}
            self._secrets |= {p for p in pieces if len(p) >= 4 and p != "/"}
        self._ordered = sorted(self._secrets, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, "***")
        return text


SCRUB = Scrubber()  # every receiver URL this process was given


class _UrlLogFilter(logging.Filter):
    """urllib3 logs each request's path at DEBUG; for a receiver that path is a token."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad record is the logger's problem
            return True
        clean = SCRUB(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = _UrlLogFilter()


def guard(receivers: Iterable[Receiver]) -> None:
    """Remember these URLs' secrets for scrubbing; filter urllib3's loggers (once)."""
    SCRUB.add(r.url for r in receivers)
    for name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


# -- one attempt -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt in words: ``result`` is sent, retry (worth trying again) or final."""

    label: str
    result: str
    words: str
    status: int | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.result == "sent"

    def __str__(self) -> str:
        return f"{self.label}: {self.words}"


def attempt(session: requests.Session, rc: Receiver, notice: Notice,
             timeout: tuple[float, float], external_url: str) -> Outcome:
    try:
        payload = build(rc.kind, notice, rc.label, external_url)
        headers = {"User-Agent": USER_AGENT, **payload.headers}
        resp = session.post(rc.url, data=payload.body, headers=headers, timeout=timeout,
                            allow_redirects=False, stream=True)
    except requests.Timeout as exc:
        connect = isinstance(exc, requests.ConnectTimeout)
        words = ("timed out connecting" if connect else
                 f"no answer within {timeout[1]:g} s (read timeout)")
        return Outcome(rc.label, "retry", words)
    except (requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader,
            requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema) as exc:
        return Outcome(rc.label, "final", f"the request cannot be made ({type(exc).__name__})")
    except requests.ConnectionError as exc:
        return Outcome(rc.label, "retry", _connection_words(exc))
    except Exception as exc:  # noqa: BLE001 - a failure is an outcome, never a traceback with the URL
        return Outcome(rc.label, "retry", f"the request failed ({type(exc).__name__})")
    try:
        return _answer(rc, resp)
    finally:
        resp.close()


def _answer(rc: Receiver, resp: requests.Response) -> Outcome:
    status = resp.status_code
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    code = f"HTTP {status}" + (f" {phrase}" if phrase else "")
    if 200 <= status < 300:
        return Outcome(rc.label, "sent", f"delivered ({code})", status)
    snippet = _snippet(resp)
    said = f": {snippet}" if snippet else ""
    if 300 <= status < 400:
        return Outcome(rc.label, "final", f"answered {code}, a redirect, which is not "
                       "followed: check the url", status)
    if status == 429:
        return Outcome(rc.label, "retry", f"answered {code}: rate limited", status,
                       _retry_after(resp.headers.get("Retry-After")))
    if 400 <= status < 500:
        return Outcome(rc.label, "final", f"refused with {code}{said}", status)
    return Outcome(rc.label, "retry", f"answered {code}{said}", status)


def _snippet(resp: requests.Response) -> str:
    try:
        raw = resp.raw.read(512, decode_content=True) or b""
    except Exception:  # noqa: BLE001 - the status says enough
        return ""
    text = " ".join(raw.decode("utf-8", "replace").split())
    text = SCRUB(text)
    return text if len(text) <= SNIPPET else text[:SNIPPET] + "…"


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _connection_words(exc: BaseException) -> str:
    chain = exception_chain(exc)
    if any(isinstance(e, socket.gaierror) for e in chain):
        return "its host name cannot be resolved"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused: is the receiver up?"
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return "the TLS handshake failed (a certificate problem?)"
    return "the connection failed or was cut"


def send_test(receivers: Sequence[Receiver], *, session: requests.Session | None = None,
              timeout: tuple[float, float] = TIMEOUT, clock: Callable[[], float] = time.time,
              external_url: str = "") -> list[Outcome]:
    """One test notification to each receiver, no retries; each result in words
    (``str(outcome)``: "ntfy · ntfy.sh: delivered (HTTP 200)")."""
    guard(receivers)
    own = session is None
    s = new_session() if session is None else session
    try:
        notice = test_notice(clock())
        return [attempt(s, rc, notice, timeout, external_url) for rc in receivers]
    finally:
        if own:
            s.close()
