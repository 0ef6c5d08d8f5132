"""The batched throughput parse gives exactly what parse_event gives, frame by frame."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from opta_stream.events.batch import ThroughputBatch, parse_frames
from opta_stream.events.records import ThroughputEvent, parse_event
from opta_stream.store import Store
from opta_stream.wire.sse import ServerSentEvent, SSEDecoder

NOW = 1_795_000_000.0


def frame(data: str, event: str = "throughput") -> ServerSentEvent:
    return ServerSentEvent(event=event, data=data)


def tp(ts: float, rate: float, model: str | None = "m") -> ServerSentEvent:
    return frame(json.dumps({"timestamp": ts, "tokens_per_second": rate, "model_id": model}))


def samples(events: list) -> list[tuple[float, float, str | None]]:
    """(timestamp, rate, model) of every throughput sample, batched or single."""
    out = []
    for e in events:
        if isinstance(e, ThroughputBatch):
            out += list(zip(e.timestamps.tolist(), e.rates.tolist(), e.model_ids, strict=True))
        elif isinstance(e, ThroughputEvent):
            out.append((e.timestamp, e.tokens_per_second, e.model_id))
    return out


def reference(frames: list[ServerSentEvent]) -> list:
    return [parse_event(f, NOW) for f in frames]


def test_common_frames_become_one_batch_at_the_end() -> None:
    frames = [tp(NOW + i / 10, 40.0 + i) for i in range(5)]
    frames.insert(2, frame('{"timestamp": 1.5}', "heartbeat"))
    out = parse_frames(frames, NOW)
    assert [type(e).__name__ for e in out] == ["Heartbeat", "ThroughputBatch"]
    assert samples(out) == samples(reference(frames))
    assert not out[-1].timestamps.flags.writeable


def test_odd_frames_fall_back_to_parse_event_with_the_same_result() -> None:
    odd = [
        frame('{"timestamp": 5, "tokens_per_second": 1.0}'),           # int timestamp
        frame('{"timestamp": 0.0, "tokens_per_second": 1.0}'),         # zero → received_at
        frame('{"timestamp": 2.0, "tokens_per_second": "3.5"}'),       # numeric string
        frame('{"timestamp": 2.0, "tokens_per_second": 1.0, "model_id": ""}'),
        frame('{"timestamp": 2.0, "tokens_per_second": 1.0, "tags": [1]}'),
        frame('{"tokens_per_second": 1.0}'),                           # no timestamp
        frame('{"timestamp": 2.0}'),                                   # no rate: malformed
        frame("not json"),
        frame('{"a": 1}, {"b": 2}'),                                   # two objects in one
    ]
    for bad in odd:
        frames = [tp(NOW, 1.0), bad, tp(NOW + 1, 2.0)]
        out = parse_frames(frames, NOW)
        ref = reference(frames)
        assert samples(out) == samples(ref), bad.data
        assert [e.type for e in out if not isinstance(e, ThroughputBatch | ThroughputEvent)] == \
            [e.type for e in ref if not isinstance(e, ThroughputEvent)], bad.data


def test_objects_split_across_frames_are_not_glued_together() -> None:
    frames = [frame('{"timestamp": 1.0, "tokens_per_second": 2.0'),
              frame('"x": 1}'), frame("{}, {}")]
    out = parse_frames(frames, NOW)
    assert samples(out) == samples(reference(frames)) == []


json_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 5),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({}, optional={
    "timestamp": json_values, "tokens_per_second": json_values, "model_id": json_values,
}), min_size=2, max_size=6))
def test_any_object_shape_matches_parse_event(objs: list[dict]) -> None:
    frames = [frame(json.dumps(o)) for o in objs]
    assert samples(parse_frames(frames, NOW)) == samples(reference(frames))


# -- through the store: a chunk parsed in batch leaves it as parse_event would ---------

_OK = '"timestamp": 1.0, "tokens_per_second": 2.0'
_ODD_DATA = [
    '{"a":[{"b":1}', '{"c":2}]}', '{"t":1},{"t":2}', '{"a":{"b":1}', '{"c":2}}', '{', '}',
    '{"x":"}', '{"y":1}', "{}", '{"timestamp": 1.5}', '{"tokens_per_second": 2.5}',
    '{"timestamp": 0.0, "tokens_per_second": 1.0}', '{"timestamp": NaN, "tokens_per_second": 1}',
    '{"timestamp": 1.0, "tokens_per_second": Infinity}', '{"timestamp": 1e400, "x": 1.0}',
    '{"timestamp": 1, "tokens_per_second": 2}', '{"timestamp": "1.5", "tokens_per_second": "2"}',
    '{"timestamp": true, "tokens_per_second": 2.0}', "{" + _OK + ', "model_id": ""}',
    "{" + _OK + ', "model_id": 7}', "{" + _OK + "}\n", '{"timestamp": 1.0,\n"x": 2.0}',
    " {" + _OK + "}", "{" + _OK + ', "model_id": "m[1]"}', "[1, 2]", "null", "",
    "{" + _OK + ', "timestamp": 3.0}', '\ufeff{"a": 1}', "{" + _OK + ', "model_id": "a\\"b"}',
    '{"s": "x\\\\"}', "{" + _OK + "}", "{" + _OK + ', "model_id": "m"}', "{" + _OK + "}",
]


def _stream(pairs) -> bytes:
    """SSE bytes for (data, event) pairs; a data value with newlines spans data lines."""
    out = []
    for data, event in pairs:
        lines = "".join(f"data: {line}\n" for line in data.split("\n"))
        out.append(f"event: {event}\n{lines}\n")
    return "".join(out).encode("utf-8", "surrogatepass")


def _state(store) -> tuple:
    snap = store.snapshot(1e9)
    tp = snap.throughput
    names = tp.model_ids()
    log = [(e.type, e.summary, e.data) for e in snap.events]
    c = snap.counters
    return (tp.ts.tolist(), tp.value.tolist(), names, dict(snap.event_counts), log,
            (c.events, c.malformed, c.unknown), snap.gauges.tokens_per_s)


def _same_as_parse_event(pairs) -> None:
    """Decoded, batch-parsed and applied, a chunk leaves the store as plain ``parse_event``."""
    chunk = _stream(pairs)
    batched, plain = Store(clock=lambda: NOW), Store(clock=lambda: NOW)
    batched.apply_many(parse_frames(SSEDecoder().feed(chunk), NOW))
    plain.apply_many([parse_event(f, NOW) for f in SSEDecoder().feed(chunk)])
    assert _state(batched) == _state(plain)


def test_batched_parse_equals_parse_event_on_odd_frames():
    for rotate in range(len(_ODD_DATA)):
        datas = _ODD_DATA[rotate:] + _ODD_DATA[:rotate]
        _same_as_parse_event([(d, "throughput") for d in datas])


def test_batched_parse_equals_parse_event_property():
    number = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3),
                       st.booleans(), st.none(), st.text(max_size=3))
    obj = st.fixed_dictionaries({}, optional={"timestamp": number, "tokens_per_second": number,
                                              "model_id": st.one_of(st.none(), st.text(max_size=4),
                                                                    st.integers(0, 2))})
    data = st.one_of(obj.map(json.dumps), st.sampled_from(_ODD_DATA))
    event = st.sampled_from(["throughput", "throughput", "status", "heartbeat", "message"])

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.tuples(data, event), max_size=12))
    def check(pairs):
        _same_as_parse_event(pairs)

    check()
