"""Lenient value coercion for parsed event JSON: wrong types become None, never raise.

Split out of ``records`` so the record definitions and the parser table read
on their own, and so the coercion rules (finite floats only, integral ints,
ISO 8601 or Unix times, deep freezing) can be read and changed in one place.
A required field that is missing raises ``FieldError``, which ``parse_event``
turns into a ``Malformed`` record; nothing else here raises.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

__all__ = ["FieldError", "Reader", "as_int", "as_num", "as_text", "as_time", "error_text",
           "freeze", "percent_of", "str_attr"]


class FieldError(ValueError):
    """A required field is missing or unusable; parse_event turns it into Malformed."""


def str_attr(obj: object, name: str) -> str:
    """A str attribute of an event-like object; "" when missing or not a str."""
    value = getattr(obj, name, "")
    return value if isinstance(value, str) else ""


def error_text(exc: Exception) -> str:
    """Why the input was rejected, short enough for a Malformed record's ``error``."""
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)[:200] or type(exc).__name__


def as_num(v: object) -> float | None:
    """A finite float from a number or numeric string; None for anything else."""
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        return None
    try:
        f = float(v)
    except (ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def as_int(v: object) -> int | None:
    """An int only when the value is integral and fits in 64 bits (no silent rounding)."""
    f = as_num(v)
    return int(f) if f is not None and f.is_integer() and abs(f) < 2**63 else None


def as_text(v: object) -> str | None:
    """Strings as they are, numbers as text (ids are sometimes numeric), else None."""
    if isinstance(v, str):
        return v
    return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def as_time(v: object) -> float | None:
    """Unix seconds from a number or an ISO 8601 string (naive means UTC)."""
    f = as_num(v)
    if f is not None or not isinstance(v, str):
        return f
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


class Reader:
    """Typed, lenient access to one JSON object's fields (first usable key wins)."""

    __slots__ = ("d",)

    def __init__(self, d: dict[str, Any]) -> None:
        self.d = d

    def _first(self, conv: Callable[[object], Any], keys: tuple[str, ...]) -> Any:
        for key in keys:
            value = conv(self.d.get(key))
            if value is not None and value != "":
                return value
        return None

    def text(self, *keys: str) -> str | None:
        return self._first(as_text, keys)

    def num(self, *keys: str) -> float | None:
        return self._first(as_num, keys)

    def int(self, *keys: str) -> int | None:
        return self._first(as_int, keys)

    def time(self, *keys: str) -> float | None:
        return self._first(as_time, keys)

    def need_text(self, *keys: str) -> str:
        return self._need(self.text(*keys), keys)

    def need_num(self, *keys: str) -> float:
        return self._need(self.num(*keys), keys)

    @staticmethod
    def _need(value: Any, keys: tuple[str, ...]) -> Any:
        if value is None:
            raise FieldError(f"field '{keys[0]}' is missing or not usable")
        return value


def freeze(value: object) -> Any:
    """Deep read-only copy of parsed JSON: dicts → MappingProxyType, lists → tuples."""
    if isinstance(value, dict):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def percent_of(d: Mapping[str, Any]) -> float | None:
    """0..100 from ``percent``, ``progress`` (0..1 or 0..100, or a nested object) or bytes."""
    pct = as_num(d.get("percent"))
    progress = d.get("progress")
    if pct is None and isinstance(progress, dict):
        return percent_of(progress)
    if pct is None and (pct := as_num(progress)) is not None and pct <= 1.0:
        pct *= 100.0
    if pct is None:
        done, total = as_num(d.get("downloaded_bytes")), as_num(d.get("total_bytes"))
        pct = 100.0 * done / total if done is not None and total else None
    return None if pct is None else min(100.0, max(0.0, pct))
