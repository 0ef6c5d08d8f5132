"""Every error Opta Stream raises, in one place, with messages a person can act on.

    OptaStreamError
    ├── ConfigError            bad URL, bad model id, refused settings
    ├── FeedError              the live feed could not be read
    │   ├── AuthRejected       401/403 with FastAPI's {"detail": ...}: fatal
    │   ├── BadContentType     not text/event-stream (e.g. an HTML 502 page)
    │   ├── HTTPStatusError    any other non-2xx answer on the feed
    │   └── FeedStalled        nothing read for longer than the read timeout
    └── ServerRefused          an admin action answered with an error envelope

No message ever contains the admin key: build them with ``redact`` when any
text came from outside.
"""

from __future__ import annotations

__all__ = [
    "AuthRejected",
    "BadContentType",
    "ConfigError",
    "FeedError",
    "FeedStalled",
    "HTTPStatusError",
    "OptaStreamError",
    "ServerRefused",
    "redact",
]


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of ``secret`` in ``text`` with a mask."""
    if secret and secret in text:
        return text.replace(secret, "***")
    return text


class OptaStreamError(Exception):
    """Base class: catch this to handle anything the library raises."""


class ConfigError(OptaStreamError):
    """A setting or input was refused before anything was sent."""


class FeedError(OptaStreamError):
    """The live feed could not be read; the feed retries (AuthRejected ends it)."""


class AuthRejected(FeedError):
    """The server refused the admin key. Retrying cannot help."""

    def __init__(self, status: int, detail: str = "") -> None:
        self.status = status
        self.detail = detail
        why = f" (server said: {detail})" if detail else ""
        super().__init__(f"Admin key rejected: the server answered {status}{why}.")


class BadContentType(FeedError):
    """The feed answered with something that is not an event stream."""

    def __init__(self, status: int, content_type: str, url: str) -> None:
        self.status = status
        self.content_type = content_type
        super().__init__(
            f"Expected an event stream from {url} but got HTTP {status} with "
            f"content type '{content_type or 'none'}'. Is this an Opta LMX server, "
            "or is a proxy answering in its place?"
        )


class HTTPStatusError(FeedError):
    """The feed answered with a non-2xx status that is not an auth failure."""

    def __init__(self, status: int, url: str, detail: str = "") -> None:
        self.status = status
        why = f": {detail}" if detail else ""
        super().__init__(f"{url} answered HTTP {status}{why}")


class FeedStalled(FeedError):
    """No byte arrived for longer than the read timeout: the link is dead."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(
            f"No data for {seconds:g} s (the server sends a heartbeat at least "
            "every 30 s): the connection looks dead, reconnecting."
        )


class ServerRefused(OptaStreamError):
    """An admin action failed; ``message`` is the server's own words, verbatim."""

    def __init__(
        self, status: int, message: str, code: str | None = None, type_: str | None = None
    ) -> None:
        self.status = status
        self.message = message
        self.code = code
        self.type = type_
        super().__init__(f"HTTP {status}: {message}")
