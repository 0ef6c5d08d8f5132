"""This browser session's settings: where to connect, with which key, and what it may do.

Settings resolve as secrets → environment → the sidebar panel (see
``config.resolve_settings``). The panel's entries live in this session only,
and a read-only share can be unlocked for this session only by entering the
admin key, of which only a salted digest is kept.

With ``[[servers]]`` in secrets (``servers.resolve_fleet``) the session
watches one of several servers: ``?server=name`` in the URL, else the one
chosen before in this session, else the first. The panel then adds servers
for this session only (each with its own key, or none), beside the listed ones.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets as _secrets
from collections.abc import Mapping
from typing import Any

import streamlit as st

from opta_stream.errors import ConfigError
from opta_stream.inputs import same_origin, validate_admin_key, validate_url
from opta_stream.settings import (
    KEY_ORIGINS,
    Fleet,
    ServerEntry,
    Settings,
    check_unique,
    entry_settings,
    key_digest,
    make_entry,
    resolve_fleet,
    resolve_settings,
)
from opta_stream.ui.throttle import Throttle

__all__ = [
    "ADDED_KEY", "PANEL_KEY", "SALT", "SERVER_KEY", "UNLOCK_KEY", "add_server", "base_settings",
    "connect", "digest", "fleet", "key_matches_origin", "read_only", "remember", "remove_server",
    "selected", "settings", "unlock", "unlock_prompt",
]

PANEL_KEY = "opta_panel"
SERVER_KEY = "opta_server"  # the chosen server's name, kept across page changes
ADDED_KEY = "opta_added_servers"  # servers this session added: ServerEntry, origin "session"
QUERY = "server"
UNLOCK_KEY = "opta_unlocked"
THROTTLE_KEY = "opta_unlock_throttle"
PROCESS_THROTTLE = Throttle()  # every session's wrong entries together
log = logging.getLogger(__name__)

SALT = _secrets.token_bytes(16)  # per process: digests are useless outside it


def digest(admin_key: str | None) -> str:
    """The key's salted digest: what a cache key or the session may hold instead of it."""
    return key_digest(admin_key, SALT)


def base_settings() -> Settings:
    """secrets → environment → the sidebar panel (see config.resolve_settings).

    ``st.secrets`` goes in as is: config reads a missing secrets file as empty.
    """
    return resolve_settings(st.secrets, os.environ, st.session_state.get(PANEL_KEY))


def fleet(base: Settings | None = None) -> Fleet:
    """The servers this session watches: the listed ones, then those it added."""
    found = resolve_fleet(st.secrets, os.environ, base or base_settings())
    added = tuple(st.session_state.get(ADDED_KEY) or ())
    if not found.listed or not added:
        return found
    return Fleet(found.servers + added, found.prometheus, listed=True)


def selected(found: Fleet) -> ServerEntry | None:
    """``?server=`` if it names one, else this session's last choice, else the first."""
    if not found.servers:
        return None
    return (found.named(st.query_params.get(QUERY)) or found.named(st.session_state.get(SERVER_KEY))
            or found.servers[0])


def settings() -> Settings:
    """The selected server's settings (a fleet of one: the single-server settings)."""
    base = base_settings()
    found = fleet(base)
    entry = selected(found) if found.listed else None
    return base if entry is None else entry_settings(entry, base)


def remember(found: Fleet) -> ServerEntry | None:
    """Keep the choice in the session and the URL: a page change clears the query, and a
    copied link opens the same server."""
    entry = selected(found) if found.listed else None
    if entry is not None:
        st.session_state[SERVER_KEY] = entry.name
        if st.query_params.get(QUERY) != entry.name:
            st.query_params[QUERY] = entry.name
    return entry


def add_server(name: str, url: str, admin_key: str) -> ServerEntry:
    """A server for this session only, beside the listed ones, and select it. Its key is
    the one entered here or none: a configured key is never sent to it."""
    raw = {"name": name, "url": url, "admin_key": admin_key}
    entry = make_entry(raw, "The new server", origin="session")
    found = fleet()
    if not found.listed:
        raise ConfigError("Servers can be added beside a [[servers]] list only.")
    check_unique([*found.servers, entry])
    st.session_state[ADDED_KEY] = [*(st.session_state.get(ADDED_KEY) or ()), entry]
    st.session_state[SERVER_KEY] = entry.name
    st.query_params[QUERY] = entry.name
    return entry


def remove_server(name: str) -> None:
    """Forget a server this session added (the listed ones stay)."""
    kept = [e for e in st.session_state.get(ADDED_KEY) or () if e.name != name]
    st.session_state[ADDED_KEY] = kept
    if st.session_state.get(SERVER_KEY) == name:
        st.session_state.pop(SERVER_KEY, None)
    if st.query_params.get(QUERY) == name:
        del st.query_params[QUERY]


def connect(url: str, admin_key: str) -> Mapping[str, Any]:
    """Validate the panel's entries and keep them for this session only.

    Raises ConfigError for a URL that is not http(s). A blank key keeps the
    key entered before only if the new URL has the same origin: a key is
    never sent to another host without being entered again.
    """
    clean = validate_url(url)
    key = validate_admin_key(admin_key.strip() or None, KEY_ORIGINS["sidebar"])
    old = st.session_state.get(PANEL_KEY) or {}
    if key is None and key_matches_origin(old, clean):
        key = old.get("admin_key")
    panel = {"url": clean, "admin_key": key, "key_origin": clean if key else None}
    st.session_state[PANEL_KEY] = panel
    return panel


def key_matches_origin(panel: Mapping[str, Any] | None, url: str) -> bool:
    """Whether the panel's key was entered for ``url``'s origin."""
    return panel is not None and same_origin(str(panel.get("key_origin") or ""), url)


def read_only(conf: Settings) -> bool:
    """Read-only unless this session unlocked it with the admin key."""
    if not conf.read_only:
        return False
    unlocked = st.session_state.get(UNLOCK_KEY)
    return unlocked is None or unlocked != digest(conf.admin_key)


def unlock(entry: str) -> str | None:
    """Unlock actions for this session only, if ``entry`` is the configured admin key.

    Returns None when unlocked, else why not. Compared in constant time; only a
    salted digest stays in the session. Wrong entries are throttled per session
    and per process (``throttle.Throttle``) and logged without the entry.
    """
    mine = st.session_state.setdefault(THROTTLE_KEY, Throttle())
    wait = max(mine.wait_s(), PROCESS_THROTTLE.wait_s())
    if wait > 0:
        log.warning("unlock refused without checking: too many wrong entries (wait %.0f s)",
                    wait)
        return f"Too many wrong entries: try again in {wait:.0f} s."
    key = settings().admin_key
    if not key or not hmac.compare_digest(entry.encode(), key.encode()):
        mine.failed()
        PROCESS_THROTTLE.failed()
        log.warning("unlock attempt with a wrong admin key (%d in this session)", mine.wrong)
        return "That is not the admin key."
    mine.succeeded()
    st.session_state[UNLOCK_KEY] = digest(key)
    return None


def unlock_prompt(prefix: str, unlocks: str) -> None:
    """The admin-key form that unlocks this browser session (widget keys ``{prefix}unlock*``);
    a right key reruns the page unlocked, a wrong one says why."""
    with st.form(f"{prefix}unlock", border=False, clear_on_submit=True):
        entry = st.text_input("Admin key", type="password", key=f"{prefix}unlock_key",
                              help=f"Unlocks {unlocks} for this browser session only.")
        submitted = st.form_submit_button("Unlock", key=f"{prefix}unlock_submit")
    refusal = unlock(entry) if submitted else None
    if submitted and refusal is None:
        st.rerun()
    elif refusal:
        st.error(refusal)
