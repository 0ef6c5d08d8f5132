"""HTTP sessions for the admin API and the alert receivers: no environment credentials, the key
only in its header, no redirects.

One place decides how the admin key is sent (the ``X-Admin-Key`` header, never
the URL), that sessions take no credentials or proxies from the environment,
and how a streaming response is closed from another thread.
"""

from __future__ import annotations

from collections.abc import Mapping

import requests

__all__ = ["USER_AGENT", "admin_headers", "new_session", "shutdown_response"]

USER_AGENT = "opta-stream/0.1"


def new_session() -> requests.Session:
    """A session that ignores proxy/netrc environment credentials.

    ``trust_env = False`` keeps a stray ``.netrc`` or proxy variable from
    adding credentials or routing the admin key somewhere else.
    """
    session = requests.Session()
    session.trust_env = False
    return session


def admin_headers(admin_key: str | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Request headers; the key goes here and nowhere else."""
    headers = {"User-Agent": USER_AGENT}
    if admin_key:
        headers["X-Admin-Key"] = admin_key
    headers.update(extra or {})
    return headers


def shutdown_response(resp: requests.Response | None) -> None:
    """Close a streaming response from another thread, waking a blocked read.

    ``close()`` alone does not interrupt a ``recv`` in progress on Linux;
    urllib3's ``HTTPResponse.shutdown()`` (2.3+) shuts the socket's read side
    down first, which does.
    """
    if resp is None:
        return
    try:
        resp.raw.shutdown()
    except Exception:  # noqa: BLE001 - closing must never raise into stop()
        pass
    try:
        resp.close()
    except Exception:  # noqa: BLE001 - closing must never raise into stop()
        pass
