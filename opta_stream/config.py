"""Where the dashboard connects and with which key: settings from secrets, environment, panel.

Settings come from three places, as the operator expects:

1. ``st.secrets``: ``lmx_url``, ``admin_key``, ``read_only``, ``render_interval_s``
   (``.streamlit/secrets.toml`` locally, the Secrets box on Community Cloud);
2. the environment: ``OPTA_LMX_URL``, ``OPTA_LMX_ADMIN_KEY``, ``OPTA_READ_ONLY``,
   ``OPTA_STREAM_RENDER_S``;
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

No message built here contains the admin key; URLs are checked by
``inputs.validate_url``, whose errors never echo the URL.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from opta_stream.errors import ConfigError
from opta_stream.inputs import preview, same_origin, validate_admin_key, validate_url

__all__ = ["KEY_ORIGINS", "RENDER_S", "HistorySettings",
           "Settings", "history_settings", "key_digest", "parse_bool", "resolve_settings"]

RENDER_S = 0.5  # how often the live parts of a page redraw, by default
RENDER_RANGE = (0.25, 5.0)

HISTORY_DAYS, HISTORY_MAX_MB, HISTORY_BATCH_S = 30.0, 200.0, 5.0


@dataclass(frozen=True)
class HistorySettings:
    """Where history is kept: ``path`` None is the per-user default (``history.place``),
    "" turns history off. Kept ``days`` and at most ``max_mb`` MB (10⁶ bytes)."""

    path: str | None = None
    days: float = HISTORY_DAYS
    max_mb: float = HISTORY_MAX_MB
    batch_s: float = HISTORY_BATCH_S  # how often the feed writes (tests and the recorder)

    @property
    def enabled(self) -> bool:
        return self.path != ""

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1_000_000)


KEY_ORIGINS = {"secrets": "the app's secrets (admin_key)",
               "environment": "the environment (OPTA_LMX_ADMIN_KEY)",
               "sidebar": "the sidebar's Admin key field"}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True, repr=False)
class Settings:
    """Resolved connection settings; ``source`` says where the URL came from:
    "secrets", "environment", "panel" or "none" (no server: run the demo);
    ``key_source`` where the key came from: "secrets", "environment", "sidebar"
    or "none"."""

    url: str | None
    admin_key: str | None
    read_only: bool
    source: str
    key_source: str = "none"
    render_s: float = RENDER_S  # the live fragments' interval: a share may draw less often
    history: HistorySettings = HistorySettings()

    def key_origin(self) -> str:
        """Where the key came from, in words a message can name."""
        return KEY_ORIGINS.get(self.key_source, "nowhere: no admin key is set")

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
    key_source, key = _first(("secrets", _get(secrets, "admin_key")),
                             ("environment", _get(environ, "OPTA_LMX_ADMIN_KEY")))
    validate_admin_key(key, KEY_ORIGINS.get(key_source, ""))
    read_only = _read_only(secrets, environ)
    render_s = _render_s(secrets, environ)
    history = history_settings(secrets, environ)
    url = validate_url(url) if url else None
    panel_url = _clean(_get(panel or {}, "url"))
    if not panel_url:
        return Settings(url, key, read_only, source if url else "none", key_source, render_s,
                        history)
    panel_url = validate_url(panel_url)
    panel_key = _clean(_get(panel or {}, "admin_key"))
    if panel_key is not None:
        key_source = "sidebar"
        validate_admin_key(panel_key, KEY_ORIGINS[key_source])
    elif url is not None and same_origin(panel_url, url):
        panel_key = key
    else:
        key_source = "none"
    read_only = read_only or parse_bool(_get(panel or {}, "read_only"), "read_only")
    return Settings(panel_url, panel_key, read_only, "panel", key_source, render_s, history)


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


def _render_s(secrets: Mapping, environ: Mapping) -> float:
    """Seconds between redraws of the live parts: 0.25 to 5, 0.5 when unset."""
    return _number(secrets, environ, "render_interval_s", "OPTA_STREAM_RENDER_S", RENDER_S,
                   RENDER_RANGE, "seconds")


def history_settings(secrets: Mapping, environ: Mapping) -> HistorySettings:
    """``history_path`` / ``OPTA_STREAM_HISTORY`` (set but empty: off), ``history_days`` /
    ``OPTA_STREAM_HISTORY_DAYS``, ``history_max_mb`` / ``OPTA_STREAM_HISTORY_MAX_MB``."""
    path: str | None = None
    for mapping, name in ((secrets, "history_path"), (environ, "OPTA_STREAM_HISTORY")):
        value = _get(mapping, name)
        if value is not None:
            path = str(value).strip()
            break
    days = _number(secrets, environ, "history_days", "OPTA_STREAM_HISTORY_DAYS",
                   HISTORY_DAYS, (1 / 24, 3650.0), "days")
    max_mb = _number(secrets, environ, "history_max_mb", "OPTA_STREAM_HISTORY_MAX_MB",
                     HISTORY_MAX_MB, (1.0, 1_000_000.0), "MB")
    return HistorySettings(path, days, max_mb)


def _number(secrets: Mapping, environ: Mapping, secret: str, env: str, default: float,
            bounds: tuple[float, float], unit: str) -> float:
    name, text = _first((secret, _get(secrets, secret)), (env, _get(environ, env)))
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not bounds[0] <= value <= bounds[1]:
        raise ConfigError(f"{name} must be a number of {unit} from {bounds[0]:g} to "
                          f"{bounds[1]:g} (got {preview(text)}).")
    return value


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
        f"(got {preview(str(value))})."
    )


def key_digest(admin_key: str | None, salt: bytes) -> str:
    """HMAC-SHA256 of the key, hex: a cache key that does not reveal the key."""
    if not admin_key:
        return ""
    return hmac.new(salt, admin_key.encode("utf-8"), hashlib.sha256).hexdigest()


