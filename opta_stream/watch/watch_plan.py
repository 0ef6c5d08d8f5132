"""What one process watches: the servers, the alert rules and receivers, the history.

The app and ``python -m opta_stream record`` read the same settings (the secrets file,
then the environment; never a viewer's sidebar), so they watch the same servers with
the same rules: every ``[[servers]]`` entry, or the single-server settings as a fleet
of one, or, in the app with no server configured, the embedded demo.

A plan holds secrets (admin keys, receiver URLs) and never shows them: its ``repr``
names servers and receivers only, and ``digest`` (what the app's cache is keyed by) is
an HMAC under a per-process salt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from opta_stream.alerting.rules import (
    AlertConfig,
    Rule,
    builtin_rules,
    parse_alerts,
    unknown_servers,
)
from opta_stream.errors import ConfigError
from opta_stream.inputs import validate_url
from opta_stream.settings import (
    HistorySettings,
    ServerEntry,
    external_url,
    history_settings,
    resolve_fleet,
    resolve_settings,
    slug,
    thresholds,
)

__all__ = ["DEMO_NAME", "WatchPlan", "WatchTarget", "plan_watch"]

DEMO_NAME = "demo"  # the embedded demo's name in rules and on pages; also its history identity


@dataclass(frozen=True, slots=True)
class WatchTarget:
    """One watched server: its name (as rules and pages name it), URL, key, and the
    identity its history is kept under (None: the URL)."""

    name: str
    url: str
    admin_key: str | None = field(repr=False, default=None)
    identity: str | None = None


@dataclass(frozen=True)
class WatchPlan:
    """The servers to record and watch, and the alerting that goes with them."""

    targets: tuple[WatchTarget, ...]
    config: AlertConfig
    history: HistorySettings
    external_url: str = ""
    notes: tuple[str, ...] = ()  # rules that name servers the fleet does not have
    builtins: tuple[Rule, ...] = ()  # the built-in rules as shipped, with these bands

    def __repr__(self) -> str:
        names = ", ".join(t.name for t in self.targets)
        labels = ", ".join(r.label for r in self.config.receivers)
        return (f"WatchPlan(servers=[{names}], rules={len(self.config.active)}, "
                f"receivers=[{labels}])")

    __str__ = __repr__

    def digest(self, salt: bytes) -> str:
        """A key for a cache of watches that changes with anything in the plan, and
        reveals nothing of its secrets (HMAC-SHA256 under ``salt``)."""
        parts = {
            "targets": [(t.name, t.url, t.admin_key, t.identity) for t in self.targets],
            "rules": [repr(r) for r in self.config.rules],
            "receivers": [(r.kind, r.url, r.index, r.min_severity.value, r.repeat_s,
                           r.send_resolved) for r in self.config.receivers],
            "errors": list(self.config.errors),
            "history": [self.history.path, self.history.days, self.history.max_mb,
                        self.history.batch_s],
            "external_url": self.external_url,
        }
        blob = json.dumps(parts, sort_keys=True, default=str).encode("utf-8")
        return hmac.new(salt, blob, hashlib.sha256).hexdigest()


def _targets(entries: tuple[ServerEntry, ...]) -> tuple[WatchTarget, ...]:
    return tuple(WatchTarget(e.name, e.url, e.admin_key) for e in entries)


def plan_watch(secrets: Mapping, environ: Mapping, *,
               demo: Callable[[], str] | None = None, server: str | None = None,
               identity: str | None = None) -> WatchPlan:
    """The plan from the settings. ``server`` (the command line's ``--server URL``)
    watches that one server: the configured entry with that URL (its name and key), or
    a new one named after its host, with the configured key only if it is the
    configured server's URL. With no server at all, ``demo()`` gives the embedded
    demo's URL (the app); without ``demo`` the plan is empty. Raises ``ConfigError``."""
    base = resolve_settings(secrets, environ)
    fleet = resolve_fleet(secrets, environ, base)
    targets = _targets(fleet.servers)
    if server is not None:
        url = validate_url(server)
        same = [t for t in targets if t.url == url]
        targets = (same[0] if same and identity is None else
                   WatchTarget(same[0].name if same else slug(url), url,
                               same[0].admin_key if same else None, identity),)
    elif not targets and demo is not None:
        targets = (WatchTarget(DEMO_NAME, demo(), None, DEMO_NAME),)
    bands = thresholds(secrets, environ)
    config = parse_alerts(secrets, bands)
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise ConfigError("Two watched servers have the same name.")
    return WatchPlan(targets, config, history_settings(secrets, environ),
                     external_url(secrets, environ),
                     tuple(unknown_servers(config.active, names)), builtin_rules(bands))
