"""The batched throughput parse gives exactly what parse_event gives, frame by frame."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from opta_stream.events.batch import ThroughputBatch, parse_frames
from opta_stream.events.records import ThroughputEvent, parse_event
from opta_stream.wire.sse import ServerSentEvent

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
