"""SSEDecoder against the WHATWG event-stream rules.

Every table case is fed whole, split into two chunks at every position, and
one byte at a time (with empty chunks in between), and all three must agree.
Hypothesis then checks random chunkings against a spec-literal oracle.
"""

from __future__ import annotations

import dataclasses
import re
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opta_stream.wire.sse import DEFAULT_MAX_LINE_BYTES, ServerSentEvent, SSEDecoder

BOM = b"\xef\xbb\xbf"


def ev(data: str, event: str = "message", id: str = "") -> ServerSentEvent:
    return ServerSentEvent(event=event, data=data, id=id)


def run(chunks: list[bytes], **kwargs: object) -> tuple[list[ServerSentEvent], dict]:
    """Feed ``chunks`` to a fresh decoder; return its events and final state."""
    decoder = SSEDecoder(**kwargs)  # type: ignore[arg-type]
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    state = {
        "retry": decoder.retry,
        "last_event_id": decoder.last_event_id,
        "oversized_lines": decoder.oversized_lines,
    }
    return events, state


def one_byte_at_a_time(stream: bytes) -> list[bytes]:
    """Single bytes with an empty chunk after each: empty feeds change nothing."""
    return [piece for i in range(len(stream)) for piece in (stream[i : i + 1], b"")]


def decode_all_ways(stream: bytes, **kwargs: object) -> tuple[list[ServerSentEvent], dict]:
    """Decode whole, at every two-chunk split and byte by byte; all must agree."""
    whole = run([stream], **kwargs)
    for i in range(len(stream) + 1):
        assert run([stream[:i], stream[i:]], **kwargs) == whole, f"split at {i}"
    assert run(one_byte_at_a_time(stream), **kwargs) == whole, "one byte at a time"
    return whole


def check(
    stream: bytes, expected: list[ServerSentEvent], *, init: dict | None = None, **state: object
) -> None:
    """Assert the events of ``stream`` (any chunking) and the named final state."""
    events, final = decode_all_ways(stream, **(init or {}))
    assert events == expected
    for key, value in state.items():
        assert final[key] == value, key


LINE_ENDINGS = [
    ("lf", b"data: a\n\n", [ev("a")]),
    ("cr", b"data: a\r\r", [ev("a")]),
    ("crlf", b"data: a\r\n\r\n", [ev("a")]),
    ("crlf-within-event", b"data: a\r\ndata: b\r\n\r\n", [ev("a\nb")]),
    ("crlf-then-data", b"data: a\r\n\r\ndata: b\r\n\r\n", [ev("a"), ev("b")]),
    ("mixed", b"data: a\rdata: b\ndata: c\r\n\n", [ev("a\nb\nc")]),
    ("lf-then-crlf", b"data: a\n\r\ndata: b\n\n", [ev("a"), ev("b")]),
    ("cr-then-crlf", b"data: a\r\r\n", [ev("a")]),
    ("crlf-then-cr", b"data: a\r\n\r", [ev("a")]),
    ("cr-crlf-lf", b"data: a\r\r\n\ndata: b\r\r", [ev("a"), ev("b")]),
    ("lf-cr", b"data: a\n\rdata: b\r\n\r\n", [ev("a"), ev("b")]),
    ("cr-inside-value-ends-line", b"data: a\rb\n\n", [ev("a")]),
    ("many-blank-lines", b"\n\r\n\r\r\ndata: a\n\n\n\n", [ev("a")]),
    ("empty-stream", b"", []),
    ("blank-lines-only", b"\n\n\r\n\r", []),
]

UNTERMINATED = [
    ("no-blank-line", b"data: a\n", []),
    ("no-line-end", b"data: a", []),
    ("cr-line-end-only", b"data: a\r", []),
    ("last-event-unfinished", b"data: a\n\ndata: b\n", [ev("a")]),
    ("last-line-unfinished", b"data: a\n\ndata: b", [ev("a")]),
]

BOMS = [
    ("bom-stripped", BOM + b"data: a\n\n", [ev("a")]),
    ("second-bom-kept", BOM + BOM + b"data: a\n\n", []),
    ("bom-in-value-kept", BOM + b"data: " + BOM + b"a\n\n", [ev("\ufeffa")]),
    ("bom-not-at-start", b"data: a\n\n" + BOM + b"data: b\n\n", [ev("a")]),
    ("bom-prefix-only", b"\xef\xbbdata: a\n\n", []),
    ("bom-prefix-own-line", b"\xef\xbb\ndata: a\n\n", [ev("a")]),
    ("bom-then-crlf", BOM + b"\r\ndata: a\r\n\r\n", [ev("a")]),
    ("bom-alone", BOM, []),
    ("bom-comment", BOM + b":c\n\n", []),
]

UTF8 = [
    ("euro", b"data: \xe2\x82\xac\n\n", [ev("\u20ac")]),
    ("emoji", b"data: \xf0\x9f\x98\x80!\n\n", [ev("\U0001f600!")]),
    ("invalid-byte", b"data: a\xffb\n\n", [ev("a\ufffdb")]),
    ("truncated-before-lf", b"data: \xe2\x82\n\n", [ev("\ufffd")]),
    ("surrogate", b"data: \xed\xa0\x80\n\n", [ev("\ufffd" * 3)]),
    ("overlong", b"data: \xc0\xaf\n\n", [ev("\ufffd\ufffd")]),
    ("invalid-in-field-name", b"d\xffata: x\n\n", []),
    ("non-ascii-event-type", b"event: \xc3\xa9t\xc3\xa9\ndata: x\n\n", [ev("x", "\xe9t\xe9")]),
]

FIELDS = [
    ("comment", b": hello\ndata: a\n\n", [ev("a")]),
    ("comment-only", b":\n\n: x\r\n\r\n", []),
    ("no-colon-data", b"data\n\n", [ev("")]),
    ("empty-data", b"data:\n\n", [ev("")]),
    ("two-empty-data", b"data\ndata\n\n", [ev("\n")]),
    ("one-space-removed", b"data:  a\n\n", [ev(" a")]),
    ("no-space", b"data:a\n\n", [ev("a")]),
    ("trailing-space-kept", b"data: a \n\n", [ev("a ")]),
    ("tab-kept", b"data:\ta\n\n", [ev("\ta")]),
    ("colons-in-value", b"data: a:b: c\n\n", [ev("a:b: c")]),
    ("multi-line-data", b"data: a\ndata: b\ndata: c\n\n", [ev("a\nb\nc")]),
    ("one-trailing-lf-stripped", b"data: a\ndata:\n\n", [ev("a\n")]),
    ("empty-data-lines", b"data:\ndata:\n\n", [ev("\n")]),
    ("case-sensitive", b"Data: a\nEVENT: x\n\n", []),
    ("leading-space-name", b" data: a\n\n", []),
    ("space-before-colon", b"data : a\n\n", []),
    ("unknown-field", b"foo: bar\ndata: a\nfoo\n\n", [ev("a")]),
    ("nul-in-data", b"data: a\x00b\n\n", [ev("a\x00b")]),
]

EVENT_TYPES = [
    ("typed", b"event: add\ndata: a\n\n", [ev("a", "add")]),
    ("type-reset-without-data", b"event: add\n\ndata: b\n\n", [ev("b")]),
    ("type-reset-after-dispatch", b"event: x\ndata: a\n\ndata: b\n\n", [ev("a", "x"), ev("b")]),
    ("empty-type-is-message", b"event:\ndata: a\n\n", [ev("a")]),
    ("no-colon-type", b"event\ndata: a\n\n", [ev("a")]),
    ("last-type-wins", b"event: a\nevent: b\ndata: x\n\n", [ev("x", "b")]),
    ("type-after-data", b"data: x\nevent: e\n\n", [ev("x", "e")]),
    ("type-one-space-removed", b"event:  spaced\ndata: x\n\n", [ev("x", " spaced")]),
]

IDS = [
    ("id", b"id: 1\ndata: a\n\n", [ev("a", id="1")]),
    ("id-persists", b"id: 1\ndata: a\n\ndata: b\n\n", [ev("a", id="1"), ev("b", id="1")]),
    ("empty-id-resets", b"id: 1\ndata: a\n\nid\ndata: b\n\n", [ev("a", id="1"), ev("b")]),
    ("empty-id-colon", b"id: 1\ndata: a\n\nid:\ndata: b\n\n", [ev("a", id="1"), ev("b")]),
    (
        "nul-id-ignored",
        b"id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n",
        [ev("a", id="1"), ev("b", id="1")],
    ),
    ("id-after-data", b"data: a\nid: 5\n\n", [ev("a", id="5")]),
    ("id-one-space-removed", b"id:  x\ndata: a\n\n", [ev("a", id=" x")]),
    ("id-non-ascii", b"id: \xc3\xa9\ndata: a\n\n", [ev("a", id="\xe9")]),
    ("id-last-wins", b"id: 1\nid: 2\ndata: a\n\n", [ev("a", id="2")]),
]

RETRIES = [
    ("retry", b"retry: 1500\n", 1500),
    ("retry-zero", b"retry: 0\n", 0),
    ("retry-leading-zeros", b"retry: 007\n", 7),
    ("retry-no-space", b"retry:25\n", 25),
    ("retry-letters", b"retry: 15x\n", None),
    ("retry-empty", b"retry:\n", None),
    ("retry-no-colon", b"retry\n", None),
    ("retry-negative", b"retry: -1\n", None),
    ("retry-two-spaces", b"retry:  5\n", None),
    ("retry-decimal", b"retry: 1.5\n", None),
    ("retry-arabic-indic-digit", b"retry: \xd9\xa3\n", None),
    ("retry-superscript", b"retry: \xc2\xb2\n", None),
    ("retry-invalid-keeps-previous", b"retry: 100\nretry: x\n", 100),
    ("retry-last-valid-wins", b"retry: 100\r\nretry: 200\r\n", 200),
    ("retry-huge-never-raises", b"retry: " + b"9" * 5000 + b"\n", None),
    ("retry-unterminated-line", b"retry: 100", None),
]

TABLE = LINE_ENDINGS + UNTERMINATED + BOMS + UTF8 + FIELDS + EVENT_TYPES + IDS


@pytest.mark.parametrize(("stream", "expected"), [pytest.param(s, e, id=n) for n, s, e in TABLE])
def test_table(stream: bytes, expected: list[ServerSentEvent]) -> None:
    check(stream, expected)


@pytest.mark.parametrize(("stream", "retry"), [pytest.param(s, r, id=n) for n, s, r in RETRIES])
def test_retry(stream: bytes, retry: int | None) -> None:
    check(stream, [], retry=retry)


def test_retry_with_event() -> None:
    check(b"retry: 5\ndata: a\n\n", [ev("a")], retry=5)


def test_last_event_id_set_only_on_blank_line() -> None:
    check(b"id: 7\n\n", [], last_event_id="7")
    check(b"id: 7\ndata: a\n", [], last_event_id="")
    check(b"id: 3\n\nid: 7\n", [], last_event_id="3")


def test_initial_last_event_id() -> None:
    check(b"data: a\n\n", [ev("a", id="42")], init={"last_event_id": "42"}, last_event_id="42")
    check(b"id\n\ndata: a\n\n", [ev("a")], init={"last_event_id": "42"}, last_event_id="")


OVERSIZED = [  # max_line_bytes=8 throughout
    ("at-limit-kept", b"data: 12\n\n", [ev("12")], 0),
    ("over-limit-dropped", b"data: 123\n\n", [], 1),
    ("dropped-then-next-line", b"data: 123\ndata: a\n\n", [ev("a")], 1),
    ("dropped-between", b"data: a\ndata: 123456789\ndata: b\n\n", [ev("a\nb")], 1),
    ("dropped-comment-cr", b":xxxxxxxxxxxx\rdata: a\r\r", [ev("a")], 1),
    ("dropped-crlf", b"data: 123456\r\ndata: a\r\n\r\n", [ev("a")], 1),
    ("two-dropped", b"data: 123456\n\ndata: 654321\ndata: b\n\n", [ev("b")], 2),
    ("unterminated-tail-counted", b"data: a\n\n" + b"x" * 20, [ev("a")], 1),
    ("bom-not-counted", BOM + b"data: 12\n\n", [ev("12")], 0),
    ("bytes-not-characters", b"data: \xe2\x82\xac\n\n", [], 1),
    ("blank-lines-fine", b"\n\n\n\ndata: 1\n\n", [ev("1")], 0),
]


@pytest.mark.parametrize(
    ("stream", "expected", "count"), [pytest.param(*c[1:], id=c[0]) for c in OVERSIZED]
)
def test_oversized_lines(stream: bytes, expected: list[ServerSentEvent], count: int) -> None:
    check(stream, expected, init={"max_line_bytes": 8}, oversized_lines=count)


def test_one_mebibyte_line_decodes() -> None:
    payload = b"x" * (1024 * 1024)
    for size in (4096, 64):  # 64-byte chunks: 16k feeds, fine only if linear
        stream = b"data: " + payload + b"\n\n"
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        events, state = run(chunks)
        assert events == [ev(payload.decode())]
        assert state["oversized_lines"] == 0


def test_long_line_in_tiny_chunks_is_linear() -> None:
    """2 MiB in 32-byte chunks: quadratic buffering would copy ~68 GB and time out."""
    stream = b"data: " + b"y" * (2 * 1024 * 1024) + b"\n\n"
    events, _ = run([stream[i : i + 32] for i in range(0, len(stream), 32)])
    assert len(events) == 1 and len(events[0].data) == 2 * 1024 * 1024


def test_oversized_line_is_not_buffered() -> None:
    """An 8 MiB line over a 1 MiB limit is dropped as it arrives, never held whole."""
    limit, piece = 1024 * 1024, b"z" * 65536
    decoder = SSEDecoder(max_line_bytes=limit)
    tracemalloc.start()
    try:
        decoder.feed(b"data: ")
        for _ in range(128):
            assert decoder.feed(piece) == []
        events = decoder.feed(b"\ndata: next\n\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert events == [ev("next")]
    assert decoder.oversized_lines == 1
    assert peak < 3 * limit


def test_default_limit() -> None:
    assert DEFAULT_MAX_LINE_BYTES == 4 * 1024 * 1024
    assert SSEDecoder().max_line_bytes == DEFAULT_MAX_LINE_BYTES
    with pytest.raises(ValueError):
        SSEDecoder(max_line_bytes=0)


def test_reset_drops_partial_event_and_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: x\ndata: a\n") == []
    decoder.reset()
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"dat") == []
    decoder.reset()
    assert decoder.feed(b"a: x\n\ndata: b\n\n") == [ev("b")]


def test_reset_keeps_id_and_retry_and_rearms_bom() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 5\nretry: 10\ndata: a\n\nid: 9\n") == [ev("a", id="5")]
    decoder.reset()
    assert (decoder.last_event_id, decoder.retry) == ("5", 10)
    assert decoder.feed(BOM + b"data: b\n\n") == [ev("b", id="5")]


def test_reset_stops_skipping_an_oversized_line() -> None:
    decoder = SSEDecoder(max_line_bytes=8)
    assert decoder.feed(b"data: 123456789") == []
    decoder.reset()
    assert decoder.feed(b"data: a\n\n") == [ev("a")]
    assert decoder.oversized_lines == 1


def test_reset_forgets_a_trailing_cr() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\r")
    decoder.reset()
    assert decoder.feed(b"\ndata: b\n\n") == [ev("b")]


def test_event_is_a_frozen_value() -> None:
    assert ServerSentEvent() == ServerSentEvent("message", "", "")
    (decoded,) = SSEDecoder().feed(b"event: e\nid: 1\ndata: d\n\n")
    assert decoded == ServerSentEvent("e", "d", "1")
    assert hash(decoded) == hash(ServerSentEvent("e", "d", "1"))
    assert type(decoded) is ServerSentEvent
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.data = "x"  # type: ignore[misc]


# --- property tests -------------------------------------------------------

_LINE_END = re.compile(rb"\r\n|\r|\n")


def oracle(stream: bytes, max_line_bytes: int) -> tuple[list[ServerSentEvent], dict]:
    """A spec-literal reference: whole stream at once, one field at a time."""
    lines = _LINE_END.split(stream[3:] if stream.startswith(BOM) else stream)
    state = {"retry": None, "last_event_id": "", "oversized_lines": 0}
    state["oversized_lines"] = sum(len(line) > max_line_bytes for line in lines)
    buf = {"data": "", "event": "", "id": ""}
    events: list[ServerSentEvent] = []
    for raw in lines[:-1]:  # the last piece has no line end yet
        if len(raw) <= max_line_bytes:
            oracle_line(raw.decode("utf-8", "replace"), buf, state, events)
    return events, state


def oracle_line(line: str, buf: dict, state: dict, events: list[ServerSentEvent]) -> None:
    if not line:
        state["last_event_id"] = buf["id"]
        if buf["data"]:
            events.append(ServerSentEvent(buf["event"] or "message", buf["data"][:-1], buf["id"]))
        buf["data"] = buf["event"] = ""
        return
    name, colon, value = line.partition(":")
    value = value[1:] if value.startswith(" ") else value
    if name == "data":
        buf["data"] += value + "\n"
    elif name == "event":
        buf["event"] = value
    elif name == "id" and "\0" not in value:
        buf["id"] = value
    elif name == "retry" and value and all("0" <= c <= "9" for c in value):
        state["retry"] = int(value)


TEXT_TOKENS = [t.encode() for t in ("data", "event", "id", "retry", "foo", ":", " ", "x", "12")]
ENDINGS = [b"\n", b"\n", b"\r", b"\r\n"]
ODD_BYTES = [BOM, b"\xe2\x82\xac", b"\xe2\x82", b"\xff", b"\x00", b"\xf0\x9f\x98\x80"]
TOKENS = TEXT_TOKENS + ENDINGS + ODD_BYTES
streams = st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join)


def split_at(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(stream)) for c in cuts})
    return [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.lists(st.integers(0, 400), max_size=12), st.sampled_from([6, 12, 4096]))
def test_random_chunking_matches_whole_and_oracle(
    stream: bytes, cuts: list[int], max_line_bytes: int
) -> None:
    whole = run([stream], max_line_bytes=max_line_bytes)
    assert run(split_at(stream, cuts), max_line_bytes=max_line_bytes) == whole
    assert whole == oracle(stream, max_line_bytes)
