"""Which servers a dashboard watches: ``[[servers]]`` in secrets, or a fleet of one.

An operator lists servers in secrets as an array of tables::

    [[servers]]
    name = "studio"
    url = "http://studio.local:1234"
    admin_key = "..."
    read_only = true

Without ``[[servers]]`` the single-server settings (``lmx_url``, ``admin_key``,
the environment, the sidebar panel; ``config.resolve_settings``) are a fleet
of one, named after its host and port. No server at all is the demo: an
empty fleet. Each entry's key stays in the entry: it is never reused for
another server, and no message built here contains it.

``prometheus_url`` (with ``prometheus_label``, default ``instance``, and
``prometheus_timeout_s``) names the Prometheus that long windows are read
from; each server is matched by that label, whose value is the server's
``host:port`` (what Prometheus calls a target's instance) unless the entry
sets ``prometheus_instance``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opta_stream.config import HistorySettings, Settings, parse_bool
from opta_stream.errors import ConfigError
from opta_stream.inputs import host_label, preview, validate_admin_key, validate_url

__all__ = ["MAX_SERVERS", "PROM_TIMEOUT_S", "Fleet", "PromSettings", "ServerEntry",
           "entry_settings", "make_entry", "resolve_fleet", "slug"]

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
    def get(name: str, env: str) -> str:
        try:
            value = secrets.get(name)
        except FileNotFoundError:
            value = None
        return str(value if value is not None else environ.get(env) or "").strip()

    url = get("prometheus_url", "OPTA_PROMETHEUS_URL")
    if not url:
        return None
    try:
        url = validate_url(url)
    except ConfigError as exc:
        raise ConfigError(f"prometheus_url: {exc}") from None
    label = get("prometheus_label", "OPTA_PROMETHEUS_LABEL") or "instance"
    if not _LABEL.match(label):
        raise ConfigError(f"prometheus_label must be a Prometheus label name (got "
                          f"{preview(label)}).")
    timeout = get("prometheus_timeout_s", "OPTA_PROMETHEUS_TIMEOUT_S")
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
    the deployment's render interval and history."""
    key_source = {"secrets": "secrets", "session": "sidebar"}.get(entry.origin, base.key_source)
    source = {"secrets": "secrets", "session": "panel"}.get(entry.origin, base.source)
    history: HistorySettings = base.history
    return Settings(entry.url, entry.admin_key, entry.read_only, source,
                    key_source if entry.admin_key else "none", base.render_s, history)
