"""One streaming GET of ``/admin/events``, readable chunk by chunk.

The transport only moves bytes: it checks the answer is really an event
stream, then hands over raw chunks as soon as they arrive. Decoding and
retrying belong to the feed. ``close()`` may be called from any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import requests
import urllib3

from opta_stream.errors import BadContentType, FeedStalled, HTTPStatusError, redact
from opta_stream.wire.replies import error_message, raise_for_auth
from opta_stream.wire.sessions import admin_headers, new_session, shutdown_response

__all__ = ["SSETransport"]

EVENTS_PATH = "/admin/events"


class SSETransport:
    """Opens the event stream and yields its bytes; closable from outside."""

    def __init__(
        self,
        base_url: str,
        admin_key: str | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 75.0,
        chunk_size: int = 65536,
    ) -> None:
        self.url = base_url.rstrip("/") + EVENTS_PATH
        self._key = admin_key
        self._timeouts = (connect_timeout, read_timeout)
        self._chunk = chunk_size
        self._session = new_session()
        self._resp: requests.Response | None = None
        self._lock = threading.Lock()
        self._closed = False

    def open(self, last_event_id: str = "") -> None:
        """Connect; raises a FeedError subclass when the answer is not a stream."""
        extra = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if last_event_id:
            extra["Last-Event-ID"] = last_event_id
        resp = self._session.get(
            self.url, headers=admin_headers(self._key, extra), stream=True,
            timeout=self._timeouts, allow_redirects=False,
        )
        with self._lock:
            self._resp = resp
            if self._closed:
                shutdown_response(resp)
        self._check(resp)

    def _check(self, resp: requests.Response) -> None:
        raise_for_auth(resp, self._key)
        ctype = resp.headers.get("content-type", "")
        is_stream = ctype.split(";")[0].strip().lower() == "text/event-stream"
        if 300 <= resp.status_code < 400:
            raise HTTPStatusError(resp.status_code, self.url, "redirects are not followed")
        if resp.status_code != 200 and not is_stream and "json" in ctype:
            message, _, _ = error_message(resp)
            if resp.status_code == 404:
                message += ". Is this the address of an Opta LMX server?"
            raise HTTPStatusError(resp.status_code, self.url, redact(message[:200], self._key))
        if not is_stream:
            raise BadContentType(resp.status_code, ctype, self.url)
        if resp.status_code != 200:
            raise HTTPStatusError(resp.status_code, self.url)

    def chunks(self) -> Iterator[bytes]:
        """Raw body bytes as they arrive; ends when the server closes cleanly."""
        resp = self._resp
        if resp is None:
            return
        read1 = resp.raw.read1
        try:
            while not self._closed:
                data = read1(self._chunk)
                if not data:
                    return
                yield data
        except (urllib3.exceptions.ReadTimeoutError, requests.exceptions.ReadTimeout):
            raise FeedStalled(self._timeouts[1]) from None
        except urllib3.exceptions.ProtocolError as exc:
            raise requests.exceptions.ChunkedEncodingError(str(exc)) from None

    def close(self) -> None:
        """Idempotent; wakes a reader blocked in ``chunks()``."""
        with self._lock:
            self._closed = True
            resp, self._resp = self._resp, None
        shutdown_response(resp)
        self._session.close()
