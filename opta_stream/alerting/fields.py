"""Reading the secrets file's fields: numbers, booleans, severities, and how a refusal
is said (one sentence, ``Refused``). A value that looks like a URL is never echoed: it
may carry a token.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from opta_stream.inputs import preview

__all__ = ["Refused", "Severity", "boolean", "entries", "get", "number", "severity", "show"]

_URLISH = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|www\.", re.IGNORECASE)


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class Refused(Exception):
    """One entry refused; its message is the sentence."""


def get(mapping: Mapping[str, Any], name: str) -> object:
    """``mapping.get``, reading a missing ``st.secrets`` file as empty."""
    try:
        return mapping.get(name)
    except FileNotFoundError:  # StreamlitSecretNotFoundError subclasses it
        return None


def entries(raw: object, table: str, errors: list[str]) -> list[object]:
    if raw is None:
        return []
    if isinstance(raw, Mapping) or isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        errors.append(f"{table} must be a list of tables: write each entry as [[{table}]] "
                      f"(with two brackets); none of them is used.")
        return []
    return list(raw)


def number(entry: Mapping[str, Any], key: str, where: str, default: float) -> float:
    if key not in entry:
        return default
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Refused(f"{where}: {key} must be a number (got {show(str(value))}).")
    return float(value)


def boolean(entry: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = entry.get(key, default)
    if not isinstance(value, bool):
        raise Refused(f"{where}: {key} must be true or false (got {show(str(value))}).")
    return value


def severity(entry: Mapping[str, Any], key: str, where: str, default: Severity) -> Severity:
    value = entry.get(key, default.value)
    try:
        return Severity(value)
    except ValueError:
        raise Refused(f"{where}: {key} must be one of info, warning, critical "
                      f"(got {show(str(value))}).") from None


def show(text: str) -> str:
    """A value quoted in a message, unless it looks like a URL (which may carry a token)."""
    if _URLISH.search(text):
        return "(a URL, not shown)"
    return preview(text)
