"""Every setting the app and the command line read, where it comes from and how it is checked.

Settings come from three places, as the operator expects:

1. ``st.secrets`` (``.streamlit/secrets.toml`` locally, read by
   ``file_secrets`` for the command line; the Secrets box on Community Cloud);
2. the environment (``OPTA_*``);
3. the sidebar connection panel (the app only).

``SETTINGS`` lists every single-valued setting with its secret and its
environment variable, and the readers below look them up there only; the
README's settings table is checked against it both ways (tests/test_docs.py).

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

Several servers: ``[[servers]]`` in secrets, an array of tables::

    [[servers]]
    name = "studio"
    url = "http://studio.local:1234"
    admin_key = "..."
    read_only = true

Without ``[[servers]]`` the single-server settings are a fleet of one, named
after its host and port. No server at all is the demo: an empty fleet. Each
entry's key stays in the entry: it is never reused for another server.
``prometheus_url`` (with ``prometheus_label``, default ``instance``, and
``prometheus_timeout_s``) names the Prometheus that long windows are read
from; each server is matched by that label, whose value is the server's
``host:port`` (what Prometheus calls a target's instance) unless the entry
sets ``prometheus_instance``.

No message built here contains an admin key; URLs are checked by
``inputs.validate_url``, whose errors never echo the URL.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from opta_stream.errors import ConfigError
from opta_stream.inputs import (
    host_label,
    preview,
    same_origin,
    validate_admin_key,
    validate_url,
)

__all__ = [
    "KEY_ORIGINS", "MAX_SERVERS", "PROM_TIMEOUT_S", "RENDER_S", "SETTINGS", "Fleet",
    "HistorySettings", "PromSettings", "ServerEntry", "Setting", "Settings", "Thresholds",
    "entry_settings", "external_url",
    "file_secrets", "history_settings", "key_digest", "make_entry", "parse_bool",
    "resolve_fleet", "resolve_settings", "slug", "thresholds",
]


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its name in secrets and in the environment."""

    secret: str
    env: str


LMX_URL = Setting("lmx_url", "OPTA_LMX_URL")
ADMIN_KEY = Setting("admin_key", "OPTA_LMX_ADMIN_KEY")
READ_ONLY = Setting("read_only", "OPTA_READ_ONLY")
RENDER_INTERVAL = Setting("render_interval_s", "OPTA_STREAM_RENDER_S")
HISTORY_PATH = Setting("history_path", "OPTA_STREAM_HISTORY")
HISTORY_DAYS_SETTING = Setting("history_days", "OPTA_STREAM_HISTORY_DAYS")
HISTORY_MAX_MB_SETTING = Setting("history_max_mb", "OPTA_STREAM_HISTORY_MAX_MB")
PROMETHEUS_URL = Setting("prometheus_url", "OPTA_PROMETHEUS_URL")
PROMETHEUS_LABEL = Setting("prometheus_label", "OPTA_PROMETHEUS_LABEL")
PROMETHEUS_TIMEOUT = Setting("prometheus_timeout_s", "OPTA_PROMETHEUS_TIMEOUT_S")
MEMORY_AMBER = Setting("memory_amber_pct", "OPTA_STREAM_MEMORY_AMBER_PCT")
MEMORY_RED = Setting("memory_red_pct", "OPTA_STREAM_MEMORY_RED_PCT")
ERROR_AMBER = Setting("error_amber_pct", "OPTA_STREAM_ERROR_AMBER_PCT")
ERROR_RED = Setting("error_red_pct", "OPTA_STREAM_ERROR_RED_PCT")
P95_OBJECTIVE = Setting("p95_objective_s", "OPTA_STREAM_P95_OBJECTIVE_S")
EXTERNAL_URL = Setting("external_url", "OPTA_STREAM_EXTERNAL_URL")
SETTINGS = (LMX_URL, ADMIN_KEY, READ_ONLY, RENDER_INTERVAL, HISTORY_PATH, HISTORY_DAYS_SETTING,
            HISTORY_MAX_MB_SETTING, PROMETHEUS_URL, PROMETHEUS_LABEL, PROMETHEUS_TIMEOUT,
            MEMORY_AMBER, MEMORY_RED, ERROR_AMBER, ERROR_RED, P95_OBJECTIVE, EXTERNAL_URL)


@dataclass(frozen=True)
class Thresholds:
    """Where a figure turns amber and red, as Grafana's stat panels do; the built-in alert
    rules follow the same bands. Memory also turns red at the server's own threshold;
    a queue is amber while requests wait and red while they wait with every slot busy."""

    memory_amber_pct: float = 60.0
    memory_red_pct: float = 80.0
    error_amber_pct: float = 1.0
    error_red_pct: float = 5.0  # where Opta LMX's own diagnostics says critical
    p95_objective_s: float = 30.0  # a whole completion, not a first token

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
    thresholds: Thresholds = Thresholds()

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
    source, url = _first(("secrets", _get(secrets, LMX_URL.secret)),
                         ("environment", _get(environ, LMX_URL.env)))
    key_source, key = _first(("secrets", _get(secrets, ADMIN_KEY.secret)),
                             ("environment", _get(environ, ADMIN_KEY.env)))
    validate_admin_key(key, KEY_ORIGINS.get(key_source, ""))
    read_only = _read_only(secrets, environ)
    render_s = _render_s(secrets, environ)
    history = history_settings(secrets, environ)
    bands = thresholds(secrets, environ)
    url = validate_url(url) if url else None
    panel_url = _clean(_get(panel or {}, "url"))
    if not panel_url:
        return Settings(url, key, read_only, source if url else "none", key_source, render_s,
                        history, bands)
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
    return Settings(panel_url, panel_key, read_only, "panel", key_source, render_s, history,
                    bands)


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
    value = _get(secrets, READ_ONLY.secret)
    if value is None or (isinstance(value, str) and not value.strip()):
        return parse_bool(_get(environ, READ_ONLY.env), READ_ONLY.env)
    return parse_bool(value, READ_ONLY.secret)


def _render_s(secrets: Mapping, environ: Mapping) -> float:
    """Seconds between redraws of the live parts: 0.25 to 5, 0.5 when unset."""
    return _number(secrets, environ, RENDER_INTERVAL, RENDER_S, RENDER_RANGE, "seconds")


def thresholds(secrets: Mapping, environ: Mapping) -> Thresholds:
    """The colour bands (``Thresholds``); amber must not be above red."""
    d = Thresholds()
    memory = (_number(secrets, environ, MEMORY_AMBER, d.memory_amber_pct, (0.0, 100.0), "%"),
              _number(secrets, environ, MEMORY_RED, d.memory_red_pct, (0.0, 100.0), "%"))
    errors = (_number(secrets, environ, ERROR_AMBER, d.error_amber_pct, (0.0, 100.0), "%"),
              _number(secrets, environ, ERROR_RED, d.error_red_pct, (0.0, 100.0), "%"))
    for (amber, red), (a, r) in ((memory, (MEMORY_AMBER, MEMORY_RED)),
                                 (errors, (ERROR_AMBER, ERROR_RED))):
        if amber > red:
            raise ConfigError(f"{a.secret} ({amber:g}) must not be above {r.secret} ({red:g}).")
    objective = _number(secrets, environ, P95_OBJECTIVE, d.p95_objective_s, (0.01, 3600.0),
                        "seconds")
    return Thresholds(*memory, *errors, objective)


def external_url(secrets: Mapping, environ: Mapping) -> str:
    """The dashboard's own address (``external_url`` / ``OPTA_STREAM_EXTERNAL_URL``), sent
    as ``externalURL`` in webhook notifications so a receiver can link back; "" when
    unset. Only its origin and path are checked: it goes to every receiver, so it must
    not carry a secret of its own."""
    _, text = _first((EXTERNAL_URL.secret, _get(secrets, EXTERNAL_URL.secret)),
                     (EXTERNAL_URL.env, _get(environ, EXTERNAL_URL.env)))
    if text is None:
        return ""
    try:
        return validate_url(text)
    except ConfigError as exc:
        raise ConfigError(f"{EXTERNAL_URL.secret}: {exc}") from None


def history_settings(secrets: Mapping, environ: Mapping) -> HistorySettings:
    """``history_path`` / ``OPTA_STREAM_HISTORY`` (set but empty: off), ``history_days`` /
    ``OPTA_STREAM_HISTORY_DAYS``, ``history_max_mb`` / ``OPTA_STREAM_HISTORY_MAX_MB``."""
    path: str | None = None
    for mapping, name in ((secrets, HISTORY_PATH.secret), (environ, HISTORY_PATH.env)):
        value = _get(mapping, name)
        if value is not None:
            path = str(value).strip()
            break
    days = _number(secrets, environ, HISTORY_DAYS_SETTING, HISTORY_DAYS, (1 / 24, 3650.0),
                   "days")
    max_mb = _number(secrets, environ, HISTORY_MAX_MB_SETTING, HISTORY_MAX_MB,
                     (1.0, 1_000_000.0), "MB")
    return HistorySettings(path, days, max_mb)


def _number(secrets: Mapping, environ: Mapping, setting: Setting, default: float,
            bounds: tuple[float, float], unit: str) -> float:
    name, text = _first((setting.secret, _get(secrets, setting.secret)),
                        (setting.env, _get(environ, setting.env)))
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




# -- several servers -----------------------------------------------------------
MAX_SERVERS = 20  # each server costs a feed (two threads, ~9 MB of rings): see bench/
PROM_TIMEOUT_S = 3.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_KEYS = frozenset({"name", "url", "admin_key", "read_only", "prometheus_instance"})


@dataclass(frozen=True, repr=False)
class ServerEntry:
    """One watched server. ``origin`` says where it came from: "secrets" (``[[servers]]``),
    "settings" (the fleet of one) or "session" (added in this browser session)."""

    name: str
    url: str
    admin_key: str | None
    read_only: bool
    origin: str = "secrets"
    prometheus_instance: str | None = None

    @property
    def instance(self) -> str:
        """The value of the Prometheus label that names this server's series."""
        return self.prometheus_instance or host_label(self.url)

    def __repr__(self) -> str:
        key = "***" if self.admin_key else "None"
        return (f"ServerEntry(name={self.name!r}, url={self.url!r}, admin_key={key}, "
                f"read_only={self.read_only!r}, origin={self.origin!r})")

    __str__ = __repr__


@dataclass(frozen=True)
class PromSettings:
    """Where fleet history is read from, and how a server's series are found."""

    url: str
    label: str = "instance"
    timeout_s: float = PROM_TIMEOUT_S


@dataclass(frozen=True)
class Fleet:
    """The configured servers (empty: the demo) and the Prometheus, if any."""

    servers: tuple[ServerEntry, ...]
    prometheus: PromSettings | None = None
    listed: bool = False  # from ``[[servers]]``: viewers add servers beside them

    def named(self, name: str | None) -> ServerEntry | None:
        return next((s for s in self.servers if s.name == name), None)


def slug(url: str) -> str:
    """A name for a server given by URL only: ``host-port``, safe in a URL query."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", host_label(url)).strip("-.") or "server"
    return text[:40]


def make_entry(raw: Mapping, where: str, origin: str = "secrets") -> ServerEntry:
    """One ``[[servers]]`` table (or the sidebar's entries) → ServerEntry, or ConfigError
    naming ``where`` and the field, never the key."""
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"{where} has unknown settings: {', '.join(map(preview, unknown))} "
                          f"(known: {', '.join(sorted(_KEYS))}).")
    url_text = str(raw.get("url") or "").strip()
    if not url_text:
        raise ConfigError(f"{where} needs a url.")
    try:
        url = validate_url(url_text)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    name = str(raw.get("name") or "").strip() or slug(url)
    if not _NAME.match(name):
        raise ConfigError(f"{where}: the name {preview(name)} must be 1 to 40 letters, digits, "
                          "dots, dashes or underscores, starting with a letter or digit.")
    key = raw.get("admin_key")
    key = str(key).strip() or None if key is not None else None
    validate_admin_key(key, f"{where} (admin_key)")
    instance = str(raw.get("prometheus_instance") or "").strip() or None
    return ServerEntry(name, url, key, parse_bool(raw.get("read_only"), f"{where} read_only"),
                       origin, instance)


def check_unique(entries: Sequence[ServerEntry]) -> None:
    """Two entries with one name or one URL would share a card, a feed and a link."""
    if len(entries) > MAX_SERVERS:
        raise ConfigError(f"At most {MAX_SERVERS} servers can be watched (got {len(entries)}).")
    names: set[str] = set()
    urls: dict[str, str] = {}
    for entry in entries:
        if entry.name in names:
            raise ConfigError(f"Two servers are named {preview(entry.name)}: names must differ.")
        if entry.url in urls:
            raise ConfigError(f"Servers {preview(urls[entry.url])} and {preview(entry.name)} "
                              "have the same URL.")
        names.add(entry.name)
        urls[entry.url] = entry.name


def _servers(secrets: Mapping) -> object:
    try:
        return secrets.get("servers")
    except FileNotFoundError:  # a missing st.secrets file reads as empty
        return None


def _prometheus(secrets: Mapping, environ: Mapping) -> PromSettings | None:
    def get(setting: Setting) -> str:
        value = _get(secrets, setting.secret)
        return str(value if value is not None else environ.get(setting.env) or "").strip()

    url = get(PROMETHEUS_URL)
    if not url:
        return None
    try:
        url = validate_url(url)
    except ConfigError as exc:
        raise ConfigError(f"prometheus_url: {exc}") from None
    label = get(PROMETHEUS_LABEL) or "instance"
    if not _LABEL.match(label):
        raise ConfigError(f"prometheus_label must be a Prometheus label name (got "
                          f"{preview(label)}).")
    timeout = get(PROMETHEUS_TIMEOUT)
    try:
        seconds = float(timeout) if timeout else PROM_TIMEOUT_S
    except ValueError:
        seconds = float("nan")
    if not 0.1 <= seconds <= 60:
        raise ConfigError(f"prometheus_timeout_s must be 0.1 to 60 seconds (got "
                          f"{preview(timeout)}).")
    return PromSettings(url, label, seconds)


def resolve_fleet(secrets: Mapping, environ: Mapping, base: Settings) -> Fleet:
    """``[[servers]]`` if present, else a fleet of one from ``base`` (empty: the demo)."""
    prometheus = _prometheus(secrets, environ)
    raw = _servers(secrets)
    if raw is None:
        if not base.url:
            return Fleet((), prometheus)
        one = ServerEntry(slug(base.url), base.url, base.admin_key, base.read_only, "settings")
        return Fleet((one,), prometheus)
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes) or not raw:
        raise ConfigError("servers must be a list of tables: write each as [[servers]] with "
                          "name and url.")
    entries = []
    for i, table in enumerate(raw, 1):
        if not isinstance(table, Mapping):
            raise ConfigError(f"Server {i} in servers is not a table: write it as [[servers]].")
        entries.append(make_entry(table, f"Server {i} ({preview(str(table.get('name', '')))})"))
    check_unique(entries)
    return Fleet(tuple(entries), prometheus, listed=True)


def entry_settings(entry: ServerEntry, base: Settings) -> Settings:
    """The connection settings a page reads for ``entry``: its URL, key and read-only,
    the deployment's render interval, history and colour bands."""
    key_source = {"secrets": "secrets", "session": "sidebar"}.get(entry.origin, base.key_source)
    source = {"secrets": "secrets", "session": "panel"}.get(entry.origin, base.source)
    history: HistorySettings = base.history
    return Settings(entry.url, entry.admin_key, entry.read_only, source,
                    key_source if entry.admin_key else "none", base.render_s, history,
                    base.thresholds)


def file_secrets(cwd: Path | None = None) -> Mapping:
    """``.streamlit/secrets.toml`` in ``cwd`` (where ``streamlit run`` looks), as the app's
    ``st.secrets`` would read it; empty when there is none. A file that cannot be read
    is a ``ConfigError`` in words."""
    path = (cwd or Path.cwd()) / ".streamlit" / "secrets.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read: {exc}") from None
