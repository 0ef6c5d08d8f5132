"""What input the dashboard accepts, and how a URL is taken apart.

- ``validate_url``: an http(s) server URL, normalised, or a ConfigError that
  says what is wrong without echoing the URL (it might carry ``user:pass@``
  or a ``?admin_key=`` query).
- ``validate_model_id``: a model id the admin API can take.
- ``split_origin``, ``same_origin``, ``host_label``: the one place a URL is
  split into scheme, host and port.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import SplitResult, urlsplit

from opta_stream.errors import ConfigError

__all__ = [
    "MODEL_ID_MAX",
    "Origin",
    "host_label",
    "preview",
    "same_origin",
    "split_origin",
    "validate_admin_key",
    "validate_model_id",
    "validate_url",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_MODEL_ID_OK = re.compile(r"[A-Za-z0-9._/:@+-]")
MODEL_ID_MAX = 200
_PREVIEW = 60


def validate_url(url: str) -> str:
    """Normalise an http(s) server URL, or raise ConfigError saying what is wrong.

    Lower-cases scheme and host, keeps the port and any path (a reverse
    proxy prefix), drops trailing slashes. Messages never echo the URL.
    """
    text = url.strip() if isinstance(url, str) else ""
    if not text:
        raise ConfigError("The server URL is empty: enter e.g. http://127.0.0.1:8000.")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise ConfigError("The server URL must not contain spaces or control characters.")
    parts = urlsplit(text)
    _check_parts(parts, text)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


def _check_parts(parts: SplitResult, text: str) -> None:
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        got = f"'{scheme[:20]}://'" if "://" in text else "no scheme"
        raise ConfigError(f"The server URL must start with http:// or https:// (got {got}).")
    if "@" in parts.netloc:
        raise ConfigError("The server URL must not contain a user name or password "
                          "(user:pass@): put the admin key in the admin key field instead.")
    if not parts.hostname:
        raise ConfigError("The server URL has no host name: enter e.g. http://127.0.0.1:8000.")
    try:
        port = parts.port  # urlsplit checks the port lazily
    except ValueError:
        port = 0
    if port == 0:
        raise ConfigError("The server URL has an invalid port (use 1-65535).")
    if "?" in text or "#" in text:
        raise ConfigError("The server URL must not contain a query string (?...) or a "
                          "fragment (#...): the admin key goes in the admin key field.")


def validate_admin_key(admin_key: str | None, where: str = "") -> str | None:
    """The key as given, or ConfigError when an HTTP header cannot carry it.

    Headers carry printable ASCII only; anything else would fail deep inside
    the HTTP library with a message quoting the character and its position.
    The message here says neither, so no part of the key is ever echoed.
    """
    if admin_key is None or all(" " <= c <= "~" for c in admin_key):
        return admin_key
    source = f" (from {where})" if where else ""
    raise ConfigError(f"The admin key{source} contains a character an HTTP header cannot "
                      "carry: use printable ASCII only (letters, digits, punctuation). "
                      "It was not sent.")


def validate_model_id(model_id: str) -> str:
    """Strip and check a model id: 1-200 characters from ``[A-Za-z0-9._/:@+-]``.

    That covers Hugging Face repo ids (``org/name``), local paths under ``/``
    and tags (``name:q4``, ``name@rev``). Messages show at most 60 characters.
    """
    text = model_id.strip() if isinstance(model_id, str) else ""
    if not text:
        raise ConfigError("The model id is empty: enter a repo id such as "
                          "'mlx-community/Qwen2.5-7B-Instruct-4bit'.")
    if len(text) > MODEL_ID_MAX:
        raise ConfigError(f"The model id is too long: {len(text)} characters "
                          f"(at most {MODEL_ID_MAX}).")
    bad = next((c for c in text if not _MODEL_ID_OK.fullmatch(c)), None)
    if bad is not None:
        raise ConfigError(f"The model id {preview(text)} contains {bad!r}, which is not "
                          "allowed: use letters, digits and . _ / : @ + - only.")
    return text


def preview(text: str) -> str:
    """Quote at most ~60 characters of input inside a message."""
    short = text if len(text) <= _PREVIEW else text[:_PREVIEW] + "…"
    return repr(short)


def same_origin(a: str, b: str) -> bool:
    """Same scheme, host and port (80/443 when omitted); False if either is invalid."""
    origin = _origin(a)
    return origin is not None and origin == _origin(b)


def _origin(url: str) -> tuple[str, str, int] | None:
    scheme, host, port, port_ok = split_origin(url)
    if scheme not in _DEFAULT_PORTS or not host or not port_ok:
        return None
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]


class Origin(NamedTuple):
    """A URL's scheme, host and explicit port; ``port_ok`` is False for an unreadable port."""

    scheme: str
    host: str
    port: int | None
    port_ok: bool = True


def split_origin(url: str) -> Origin:
    """Scheme, host and port of a URL or a bare ``host:port``; lenient, never raises.

    The one place a URL is taken apart for its host and port: thread names,
    log lines, file names and the same-origin check all go through it, so
    none of them can show a user name, password, path or query.
    """
    text = url.strip() if isinstance(url, str) else ""
    parts = urlsplit(text if "://" in text else "//" + text)
    try:
        port, port_ok = parts.port, True
    except ValueError:
        port, port_ok = None, False
    return Origin(parts.scheme.lower(), parts.hostname or "", port, port_ok)


def host_label(url: str) -> str:
    """``host:port`` of a URL (the scheme's default port when none is given)."""
    scheme, host, port, port_ok = split_origin(url)
    if not port_ok:
        return f"{host or '?'}:?"
    return f"{host or '?'}:{port if port is not None else _DEFAULT_PORTS.get(scheme, 80)}"
