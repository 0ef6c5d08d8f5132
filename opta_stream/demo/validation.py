"""The demo's request-body checks, answering with FastAPI's own 422 bodies.

The real server validates load/unload bodies with pydantic; these helpers give
the same ``{"detail": [...]}`` shapes, so the app's error wording is tested
against what users will see.
"""

from __future__ import annotations

import json

__all__ = ["bool_field", "parse_body", "string_field", "validation_error"]

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
