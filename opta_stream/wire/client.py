"""The admin API's request/response calls: polled endpoints and model actions.

Errors come back as the server's own words (``ServerRefused.message``),
verbatim, so the page can show "MLX backend requires Apple Silicon" rather
than a generic failure. Only FastAPI's ``{"detail": ...}`` on 401/403 is an
auth failure; a 403 in the OpenAI envelope is a policy refusal. A network
failure is ``Unreachable`` with its kind (``wire.failures``: refused, timeout,
unreachable), so a refused poll can be told from a slow one.

The server's diagnosis routes are read with ``report(section)`` (the paths in
``REPORT_PATHS``) and ``performance(model_id)``; ``/admin/helpers`` checks
each helper live before it answers, so it gets a longer timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import requests

from opta_stream.errors import OptaStreamError, ServerRefused, redact
from opta_stream.inputs import validate_model_id
from opta_stream.server_report import ROUTES
from opta_stream.wire.failures import UNREACHABLE, request_failure
from opta_stream.wire.replies import error_message, raise_for_auth
from opta_stream.wire.sessions import admin_headers, new_session

__all__ = ["COMPAT_LIMIT", "HELPERS_TIMEOUT_S", "REPORT_PATHS", "ActionResult", "AdminClient",
           "Unreachable"]

COMPAT_LIMIT = 2000  # the registry keeps at most this many rows: ask for all of them
# GET paths of the server's self-report, by section (``server_report.ROUTES``, with the
# compatibility registry's summary and all of its rows asked for).
REPORT_PATHS: Mapping[str, str] = MappingProxyType({
    **{k: v for k, v in ROUTES.items() if k != "performance"},
    "compatibility": f"{ROUTES['compatibility']}?include_summary=true&limit={COMPAT_LIMIT}",
})
# /admin/helpers checks every helper node live first, each up to its timeout (10 s by
# default, one after another): a one-helper server can take 10 s and still be fine.
HELPERS_TIMEOUT_S = 25.0


class Unreachable(OptaStreamError):
    """The server could not be reached at all; the message says why in words, ``kind``
    what happened (``wire.failures``: "refused", "timeout" or "unreachable")."""

    def __init__(self, message: str, kind: str = UNREACHABLE) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class ActionResult:
    """A load/unload answer. ``needs_confirmation``: 202, a download must be confirmed."""

    status: int
    model_id: str
    message: str
    body: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    needs_confirmation: bool = False


class AdminClient:
    """Thread-safe: one requests session per calling thread."""

    def __init__(
        self, base_url: str, admin_key: str | None = None, *, timeout: float = 5.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = admin_key
        self._timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = new_session()
        return session

    def close_session(self) -> None:
        """Close the calling thread's connections; the next request opens new ones.

        For a thread that asks every 10 s or more: a kept-alive socket between
        its rounds only holds a connection open at the server.
        """
        session = getattr(self._local, "session", None)
        if session is not None:
            self._local.session = None
            session.close()

    def _send(self, method: str, path: str, body: Mapping | None = None,
              timeout: float | None = None) -> requests.Response:
        url = self.base_url + path
        try:
            return self._session().request(
                method, url, json=body, headers=admin_headers(self._key),
                timeout=timeout or self._timeout, allow_redirects=False,
            )
        except requests.RequestException as exc:
            kind, text = request_failure(exc, url, self._key)
            raise Unreachable(text, kind) from None

    def _refuse(self, resp: requests.Response) -> ServerRefused:
        raise_for_auth(resp, self._key)
        message, code, type_ = error_message(resp)
        return ServerRefused(resp.status_code, redact(message, self._key), code, type_)

    def _get_any_json(self, path: str, timeout: float | None = None) -> Any:
        """GET an admin endpoint; its JSON, whatever its shape (a refusal raises)."""
        resp = self._send("GET", path, timeout=timeout)
        if resp.status_code != 200:
            raise self._refuse(resp)
        try:
            return resp.json()
        except ValueError:
            raise ServerRefused(200, f"{path} did not answer JSON") from None

    def get_json(self, path: str) -> dict[str, Any]:
        """GET an admin endpoint and return its JSON object."""
        body = self._get_any_json(path)
        if not isinstance(body, dict):
            raise ServerRefused(200, f"{path} answered JSON that is not an object")
        return body

    def get_text(self, path: str, limit: int = 4 << 20) -> str:
        """GET an endpoint that answers text (Prometheus exposition), at most ``limit`` bytes."""
        resp = self._send("GET", path)
        if resp.status_code != 200:
            raise self._refuse(resp)
        if len(resp.content) > limit:
            raise ServerRefused(200, f"{path} answered {len(resp.content):,} bytes, more than "
                                     f"the {limit:,} a metrics page should take")
        return resp.content.decode("utf-8", "replace")

    def load_model(self, model_id: str, settings: Mapping[str, Any] | None = None,
                   timeout: float = 600.0) -> ActionResult:
        """POST /admin/models/load; loading can take minutes, hence the long timeout."""
        model_id = validate_model_id(model_id)
        resp = self._send("POST", "/admin/models/load", {**(settings or {}), "model_id": model_id},
                          timeout=timeout)
        return self._result(resp, model_id, "Loaded")

    def unload_model(self, model_id: str) -> ActionResult:
        """POST /admin/models/unload."""
        model_id = validate_model_id(model_id)
        resp = self._send("POST", "/admin/models/unload", {"model_id": model_id}, timeout=60.0)
        return self._result(resp, model_id, "Unloaded")

    def _result(self, resp: requests.Response, model_id: str, verb: str) -> ActionResult:
        if resp.status_code not in (200, 202):
            raise self._refuse(resp)
        try:
            body = resp.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if resp.status_code == 202:
            # 202 means either "confirm this download" or "download started".
            ask = body.get("status") != "downloading"
            default = "The model is not on disk: confirm the download." if ask else "Downloading."
            text = str(body.get("message") or default)
            return ActionResult(202, model_id, text, MappingProxyType(body), ask)
        return ActionResult(200, model_id, f"{verb} {model_id}", MappingProxyType(body))

    def available_models(self) -> list[dict[str, Any]]:
        """GET /admin/models/available: the models on disk, a JSON list of objects."""
        path = "/admin/models/available"
        body = self._get_any_json(path)
        if not isinstance(body, list):
            raise ServerRefused(200, f"{path} answered JSON that is not a list")
        return [row for row in body if isinstance(row, dict)]

    def report(self, section: str) -> Any:
        """GET one section of the server's self-report (``REPORT_PATHS``): its JSON, whatever
        its shape (the parser checks it). Raises ``ServerRefused``, ``AuthRejected`` or
        ``Unreachable``; ``KeyError`` for a section that has no path."""
        timeout = HELPERS_TIMEOUT_S if section == "helpers" else None
        return self._get_any_json(REPORT_PATHS[section], timeout)

    def performance(self, model_id: str) -> Any:
        """GET /admin/models/{model_id}/performance (the id's slashes stay as they are)."""
        model_id = validate_model_id(model_id)
        return self._get_any_json(f"/admin/models/{quote(model_id, safe='/')}/performance")
