"""Incremental Server-Sent Events decoder, exact to the WHATWG event-stream rules.

Pure: ``feed(bytes)`` returns the events completed by that chunk and does no
I/O, so the transport owns the socket and the tests own the chunking. The
rules followed are those of the HTML standard, "Interpreting an event stream":

* lines end in CRLF, LF or CR; a CR ending one chunk and an LF starting the
  next are one line end;
* one UTF-8 byte order mark at the very start of the stream is dropped;
* bytes are decoded as UTF-8 with U+FFFD for invalid sequences, one complete
  line at a time (line ends are ASCII, so a character split across chunks is
  never decoded in halves);
* a blank line dispatches the pending event; an unterminated event at the end
  of the stream is never dispatched (there is deliberately no ``flush``).

Speed: a chunk's complete lines are decoded with one ``decode`` and one
``split``, and interpreted in one loop over local variables. A line longer
than ``max_line_bytes`` is dropped and counted rather than buffered without
bound; its pending pieces sit in a list, so a long line arriving in many small
chunks costs linear time.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_LINE_BYTES", "SSEDecoder", "ServerSentEvent"]

DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event; ``id`` is the last event id string after it."""

    event: str = "message"
    data: str = ""
    id: str = ""


class SSEDecoder:
    """Turns the bytes of one event stream into ``ServerSentEvent`` objects.

    ``retry`` holds the reconnection time (ms) of the last valid ``retry:``
    field, else ``None``; ``last_event_id`` the id to send as
    ``Last-Event-ID`` when reconnecting; ``oversized_lines`` how many lines
    were dropped for being longer than ``max_line_bytes``.
    """

    def __init__(
        self, *, last_event_id: str = "", max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    ) -> None:
        if max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be at least 1, got {max_line_bytes}")
        self.max_line_bytes = max_line_bytes
        self.last_event_id = last_event_id
        self.retry: int | None = None
        self.oversized_lines = 0
        self.reset()

    def reset(self) -> None:
        """Start a new connection: drop partial lines and events, keep id and retry."""
        self._pending: list[bytes] = []  # pieces of the unterminated line
        self._pending_len = 0
        self._skipping = False  # discarding the rest of an oversized line
        self._after_cr = False  # the last byte seen was a CR
        self._bom_head: bytes | None = b""  # None once past the stream start
        self._data: str | None = None  # first data value; None: empty buffer
        self._extra: list[str] | None = None  # further data values
        self._event = ""
        self._id_buf = self.last_event_id

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Consume the next bytes of the stream; return the events they complete."""
        chunk = self._normalise(chunk)
        end = chunk.rfind(b"\n")
        if end < 0:
            self._hold(chunk)
            return []
        body = self._complete_lines(chunk[:end])
        self._hold(chunk[end + 1 :])
        if body is None:
            return []
        return self._interpret(body.decode("utf-8", "replace").split("\n"))

    def _normalise(self, chunk: bytes) -> bytes:
        """Strip the leading BOM and turn every line end into a single LF."""
        if self._bom_head is not None:
            chunk = self._strip_bom(chunk)
        if self._after_cr and chunk:
            self._after_cr = False
            if chunk[0] == 0x0A:  # the LF of a CRLF split across chunks
                chunk = chunk[1:]
        if b"\r" in chunk:
            self._after_cr = chunk[-1] == 0x0D
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return chunk

    def _strip_bom(self, chunk: bytes) -> bytes:
        """Hold the first bytes until it is known whether they are a BOM."""
        head = self._bom_head + chunk if self._bom_head else chunk
        if len(head) < 3 and _BOM.startswith(head):
            self._bom_head = head
            return b""
        self._bom_head = None
        return head[3:] if head.startswith(_BOM) else head

    def _hold(self, piece: bytes) -> None:
        """Keep the start of an unterminated line, or drop it once oversized."""
        if not piece or self._skipping:
            return
        size = self._pending_len + len(piece)
        if size > self.max_line_bytes:
            self.oversized_lines += 1
            self._pending = []
            self._pending_len = 0
            self._skipping = True
            return
        self._pending.append(piece)
        self._pending_len = size

    def _complete_lines(self, body: bytes) -> bytes | None:
        """Join held pieces to ``body`` (LF-separated lines); None if no line is left."""
        if self._skipping:
            self._skipping = False
            cut = body.find(b"\n")  # the end of the oversized line
            if cut < 0:
                return None
            body = body[cut + 1 :]
        elif self._pending:
            self._pending.append(body)
            body = b"".join(self._pending)
            self._pending = []
            self._pending_len = 0
        if len(body) > self.max_line_bytes:
            return self._drop_oversized(body)
        return body

    def _drop_oversized(self, body: bytes) -> bytes | None:
        """Remove (and count) the lines of ``body`` longer than the limit."""
        lines = body.split(b"\n")
        kept = [line for line in lines if len(line) <= self.max_line_bytes]
        self.oversized_lines += len(lines) - len(kept)
        return b"\n".join(kept) if kept else None

    def _set_retry(self, value: str) -> None:
        """Honour ``retry:`` only when it is ASCII digits (absurd lengths ignored)."""
        if value.isascii() and value.isdigit():
            try:
                self.retry = int(value)
            except ValueError:  # more digits than int() accepts
                pass

    def _interpret(self, lines: list[str]) -> list[ServerSentEvent]:
        """Apply the field rules to complete lines.

        One long loop over local variables on purpose: this is the hot path.
        The data buffer is held as its first value plus a list of the rest,
        created only for multi-line data, so one-line events allocate nothing
        but their strings and the event itself.
        """
        events: list[ServerSentEvent] = []
        append = events.append
        data, extra, event = self._data, self._extra, self._event
        id_buf, last_id = self._id_buf, self.last_event_id
        for line in lines:
            if not line:  # blank line: dispatch
                last_id = id_buf
                if data is not None:
                    if extra:
                        data = "\n".join([data, *extra])
                        extra = None
                    sse = _new(ServerSentEvent)
                    _set_event(sse, event or "message")
                    _set_data(sse, data)
                    _set_id(sse, last_id)
                    append(sse)
                    data = None
                event = ""
                continue
            field, _, value = line.partition(":")
            if value and value[0] == " ":
                value = value[1:]
            if field == "data":
                if data is None:
                    data = value
                elif extra is None:
                    extra = [value]
                else:
                    extra.append(value)
            elif field == "event":
                event = value
            elif field == "id":
                if "\0" not in value:
                    id_buf = value
            elif field == "retry":
                self._set_retry(value)
        self._data, self._extra, self._event = data, extra, event
        self._id_buf, self.last_event_id = id_buf, last_id
        return events


# Building events through the slot descriptors skips the frozen dataclass
# __init__ (three object.__setattr__ calls), about a third of the cost per event.
_new = object.__new__
_set_event = vars(ServerSentEvent)["event"].__set__
_set_data = vars(ServerSentEvent)["data"].__set__
_set_id = vars(ServerSentEvent)["id"].__set__
