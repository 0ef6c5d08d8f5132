"""The command line's own words: its error, the history file it reads, ``--since`` spans.

Its settings are the app's (``settings``: the same secrets file and
environment); a bad file or value is a ``CliError`` in words.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from opta_stream.errors import ConfigError
from opta_stream.history.place import default_path
from opta_stream.settings import Settings, file_secrets, resolve_settings

__all__ = ["CliError", "history_file", "parse_span", "secrets", "settings"]

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class CliError(Exception):
    """A message for the user; the command exits 1 after printing it."""


def secrets(cwd: Path | None = None) -> Mapping:
    """``.streamlit/secrets.toml`` in ``cwd`` as the app reads it (empty when there is
    none): the servers, the alert rules and the receivers."""
    try:
        return file_secrets(cwd)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def settings(environ: Mapping[str, str] = os.environ, cwd: Path | None = None) -> Settings:
    """The app's settings: ``.streamlit/secrets.toml`` in ``cwd``, then the environment."""
    try:
        return resolve_settings(file_secrets(cwd), environ)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def history_file(conf: Settings, db: str | None) -> str:
    if db:
        return db
    if not conf.history.enabled:
        raise CliError("History is turned off (history_path or OPTA_STREAM_HISTORY is "
                       "empty); pass --db PATH to read a history file.")
    return conf.history.path or default_path()


def parse_span(text: str) -> float:
    """"90s", "15m", "24h", "7d" or plain seconds → seconds (at most 3,650 days)."""
    match = _SPAN.match(text)
    if not match or float(match.group(1)) <= 0:
        raise CliError(f"--since must look like 90s, 15m, 24h or 7d (got {text[:40]!r}).")
    seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if seconds > 3650 * 86400:
        raise CliError("--since can reach back at most 3650 days.")
    return seconds
