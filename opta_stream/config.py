"""Where the dashboard connects, with which key, and what input it accepts.

Settings come from three places, as the operator expects:

1. ``st.secrets``: ``lmx_url``, ``admin_key``, ``read_only``
   (``.streamlit/secrets.toml`` locally, the Secrets box on Community Cloud);
2. the environment: ``OPTA_LMX_URL``, ``OPTA_LMX_ADMIN_KEY``, ``OPTA_READ_ONLY``;
3. the sidebar connection panel.

Secrets win over the environment, field by field: together they are the
*defaults* the deployment was given. The panel comes last in that list but is
an explicit action: when a viewer presses Connect with a URL, that URL (and
its key) is used for that browser session only, and nothing is written back.
Two guards apply to the panel:

- the configured admin key is reused only for a panel URL of the *same
  origin* as the configured URL; pointing the panel elsewhere never sends the
  deployment's key to another server;
- ``read_only`` can be turned on from the panel but never off: it is the
  operator's decision, not the viewer's.

No message built here contains the admin key, and URL errors never echo the
URL (it might carry ``user:pass@`` or a ``?admin_key=`` query).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import SplitResult, urlsplit

from opta_stream.errors import ConfigError

__all__ = [
    "MODEL_ID_MAX",
    "Origin",
    "Settings",
    "host_label",
    "key_digest",
    "parse_bool",
    "resolve_settings",
    "same_origin",
    "split_origin",
    "validate_model_id",
    "validate_url",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
_MODEL_ID_OK = re.compile(r"[A-Za-z0-9._/:@+-]")
MODEL_ID_MAX = 200
_PREVIEW = 60


@dataclass(frozen=True, repr=False)
class Settings:
    """Resolved connection settings; ``source`` says where the URL came from:
    "secrets", "environment", "panel" or "none" (no server: run the demo)."""

    url: str | None
    admin_key: str | None
    read_only: bool
    source: str

    def __repr__(self) -> str:
        key = "***" if self.admin_key else "None"
        return (f"Settings(url={self.url!r}, admin_key={key}, "
                f"read_only={self.read_only!r}, source={self.source!r})")

    __str__ = __repr__


def resolve_settings(
    secrets: Mapping, environ: Mapping, panel: Mapping | None = None
) -> Settings:
    """Secrets, then environment, as defaults; a panel URL overrides them.

    ``secrets`` may be ``st.secrets`` itself: a missing secrets file reads as
    empty. ``panel`` holds ``url``, ``admin_key`` and optionally
    ``read_only`` from the sidebar, or is None before Connect was pressed.
    Raises ConfigError for a bad URL or an unreadable boolean.
    """
    source, url = _first(("secrets", _get(secrets, "lmx_url")),
                         ("environment", _get(environ, "OPTA_LMX_URL")))
    _, key = _first(("secrets", _get(secrets, "admin_key")),
                    ("environment", _get(environ, "OPTA_LMX_ADMIN_KEY")))
    read_only = _read_only(secrets, environ)
    url = validate_url(url) if url else None
    panel_url = _clean(_get(panel or {}, "url"))
    if not panel_url:
        return Settings(url, key, read_only, source if url else "none")
    panel_url = validate_url(panel_url)
    panel_key = _clean(_get(panel or {}, "admin_key"))
    if panel_key is None and url is not None and same_origin(panel_url, url):
        panel_key = key
    read_only = read_only or parse_bool(_get(panel or {}, "read_only"), "read_only")
    return Settings(panel_url, panel_key, read_only, "panel")


def _get(mapping: Mapping, name: str) -> object:
    """``mapping.get``, reading a missing ``st.secrets`` file as empty."""
    try:
        return mapping.get(name)
    except FileNotFoundError:  # StreamlitSecretNotFoundError subclasses it
        return None


def _clean(value: object) -> str | None:
    """Stripped text, or None for missing/blank (a blank secret means unset)."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _first(*candidates: tuple[str, object]) -> tuple[str, str | None]:
    for source, value in candidates:
        if (text := _clean(value)) is not None:
            return source, text
    return "none", None


def _read_only(secrets: Mapping, environ: Mapping) -> bool:
    value = _get(secrets, "read_only")
    if value is None or (isinstance(value, str) and not value.strip()):
        return parse_bool(_get(environ, "OPTA_READ_ONLY"), "OPTA_READ_ONLY")
    return parse_bool(value, "read_only")


def parse_bool(value: object, name: str = "setting") -> bool:
    """True for 1/true/yes/on, False for 0/false/no/off/blank/missing."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigError(
        f"{name} must be one of 1, true, yes, on or 0, false, no, off "
        f"(got {_preview(str(value))})."
    )


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
        raise ConfigError(f"The model id {_preview(text)} contains {bad!r}, which is not "
                          "allowed: use letters, digits and . _ / : @ + - only.")
    return text


def _preview(text: str) -> str:
    """Quote at most ~60 characters of input inside a message."""
    short = text if len(text) <= _PREVIEW else text[:_PREVIEW] + "…"
    return repr(short)


def key_digest(admin_key: str | None, salt: bytes) -> str:
    """HMAC-SHA256 of the key, hex: a cache key that does not reveal the key."""
    if not admin_key:
        return ""
    return hmac.new(salt, admin_key.encode("utf-8"), hashlib.sha256).hexdigest()


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
    scheme, host, port, _ = split_origin(url)
    return f"{host or '?'}:{port if port is not None else _DEFAULT_PORTS.get(scheme, 80)}"
