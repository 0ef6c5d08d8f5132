"""Where the history file lives by default, and whether that disk outlives a restart.

The default is the per-user data directory (``platformdirs``: e.g.
``~/.local/share/opta-stream`` on Linux, ``~/Library/Application Support``
on macOS). Streamlit Community Cloud gives an app a disk that is wiped when
the app restarts or wakes from sleep; it has no documented marker, but its
apps run from ``/mount/src/<repo>`` as the user ``appuser``, so either sign
counts (``OPTA_STREAM_EPHEMERAL`` = 1 or 0 overrides the guess).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

__all__ = ["default_path", "ephemeral_disk"]

FILE_NAME = "history.sqlite3"


def default_path() -> str:
    return str(platformdirs.user_data_path("opta-stream", appauthor=False) / FILE_NAME)


def ephemeral_disk(environ: Mapping[str, str] = os.environ, cwd: str | None = None) -> bool:
    """Is this Streamlit Community Cloud (or a disk the operator says is wiped)?"""
    forced = environ.get("OPTA_STREAM_EPHEMERAL", "").strip().lower()
    if forced in ("1", "true", "yes", "0", "false", "no"):
        return forced in ("1", "true", "yes")
    here = Path(cwd if cwd is not None else os.getcwd())
    return here.parts[:3] == ("/", "mount", "src") or environ.get("HOME") == "/home/appuser"
