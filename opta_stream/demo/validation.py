"""The demo's request-body and query checks, answering with FastAPI's own 422 bodies.

The real server validates bodies and query parameters with pydantic; these helpers give
the same ``{"detail": [...]}`` shapes, so the app's error wording is tested
against what users will see.
"""

from __future__ import annotations

import json

__all__ = ["bool_field", "dict_field", "parse_body", "query_bool", "query_float", "query_int",
           "query_value", "string_field", "validation_error"]

_TRUE = {True, "true", "True", "1", "yes", "on"}  # True == 1, so 1 is in here too
_FALSE = {False, "false", "False", "0", "no", "off"}  # and 0 here


def validation_error(kind: str, loc: list, msg: str, value: object, **ctx: object) -> dict:
    """FastAPI's 422 body for one failed field."""
    item = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx:
        item["ctx"] = ctx
    return {"detail": [item]}


def parse_body(raw: bytes) -> tuple[object, dict | None]:
    if not raw.strip():
        return {}, None
    try:
        return json.loads(raw), None
    except json.JSONDecodeError as exc:
        return None, validation_error("json_invalid", ["body", exc.pos], "JSON decode error",
                                      {}, error=exc.msg)
    except ValueError as exc:
        return None, validation_error("json_invalid", ["body", 0], "JSON decode error", {},
                                      error=str(exc))


def string_field(body: object, name: str) -> tuple[str, dict | None]:
    """A required, non-empty string field of a JSON object body."""
    if not isinstance(body, dict):
        return "", validation_error(
            "model_attributes_type", ["body"],
            "Input should be a valid dictionary or object to extract fields from", body)
    value = body.get(name)
    if name not in body:
        return "", validation_error("missing", ["body", name], "Field required", body)
    if not isinstance(value, str):
        return "", validation_error("string_type", ["body", name],
                                    "Input should be a valid string", value)
    if not value:
        return "", validation_error("string_too_short", ["body", name],
                                    "String should have at least 1 character", value,
                                    min_length=1)
    return value, None


def bool_field(body: dict, name: str) -> tuple[bool, dict | None]:
    """An optional boolean, as leniently as pydantic parses one."""
    value = body.get(name)
    if value is None:
        return False, None
    if isinstance(value, (bool, int, str)):
        if value in _TRUE:
            return True, None
        if value in _FALSE:
            return False, None
    return False, validation_error("bool_parsing", ["body", name],
                                   "Input should be a valid boolean, unable to interpret input",
                                   value)


def dict_field(body: dict, name: str) -> tuple[dict | None, dict | None]:
    """An optional JSON object field (absent or null: None)."""
    value = body.get(name)
    if value is None or isinstance(value, dict):
        return value, None
    return None, validation_error("dict_type", ["body", name], "Input should be a valid dictionary",
                                  value)


# --- query parameters (FastAPI: the last value of a repeated name wins) -------

_QUERY_TRUE = {"1", "on", "t", "true", "y", "yes"}
_QUERY_FALSE = {"0", "off", "f", "false", "n", "no"}


def query_value(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def query_bool(query: dict[str, list[str]], name: str, default: bool) -> tuple[bool, dict | None]:
    """A boolean query parameter, as pydantic reads one (case does not matter)."""
    raw = query_value(query, name)
    if raw is None:
        return default, None
    if raw.lower() in _QUERY_TRUE | _QUERY_FALSE:
        return raw.lower() in _QUERY_TRUE, None
    return default, validation_error("bool_parsing", ["query", name],
                                     "Input should be a valid boolean, unable to interpret input",
                                     raw)


def query_int(query: dict[str, list[str]], name: str, default: int) -> tuple[int, dict | None]:
    raw = query_value(query, name)
    if raw is None:
        return default, None
    try:
        return int(raw.strip()), None
    except ValueError:
        return default, validation_error(
            "int_parsing", ["query", name],
            "Input should be a valid integer, unable to parse string as an integer", raw)


def query_float(query: dict[str, list[str]], name: str) -> tuple[float | None, dict | None]:
    raw = query_value(query, name)
    if raw is None:
        return None, None
    try:
        return float(raw), None
    except ValueError:
        return None, validation_error(
            "float_parsing", ["query", name],
            "Input should be a valid number, unable to parse string as a number", raw)
