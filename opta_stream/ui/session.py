"""This browser session's settings: where to connect, with which key, and what it may do.

Settings resolve as secrets → environment → the sidebar panel (see
``config.resolve_settings``). The panel's entries live in this session only,
and a read-only share can be unlocked for this session only by entering the
admin key, of which only a salted digest is kept.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets as _secrets
from collections.abc import Mapping
from typing import Any

import streamlit as st

from opta_stream.config import KEY_ORIGINS, Settings, key_digest, resolve_settings
from opta_stream.inputs import same_origin, validate_admin_key, validate_url
from opta_stream.ui.throttle import Throttle

__all__ = [
    "PANEL_KEY", "SALT", "UNLOCK_KEY", "connect", "digest", "key_matches_origin", "read_only",
    "settings", "unlock",
]

PANEL_KEY = "opta_panel"
UNLOCK_KEY = "opta_unlocked"
THROTTLE_KEY = "opta_unlock_throttle"
PROCESS_THROTTLE = Throttle()  # every session's wrong entries together
log = logging.getLogger(__name__)

SALT = _secrets.token_bytes(16)  # per process: digests are useless outside it


def digest(admin_key: str | None) -> str:
    """The key's salted digest: what a cache key or the session may hold instead of it."""
    return key_digest(admin_key, SALT)


def settings() -> Settings:
    """secrets → environment → the sidebar panel (see config.resolve_settings).

    ``st.secrets`` goes in as is: config reads a missing secrets file as empty.
    """
    return resolve_settings(st.secrets, os.environ, st.session_state.get(PANEL_KEY))


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
