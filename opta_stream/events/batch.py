"""A chunk's throughput events as one columnar record: the fast path of ingest.

At hundreds of events a second nearly every frame is ``throughput``. Making
one frozen record per frame cost about 3 µs each, more than decoding and
JSON together, so the frames of a chunk are parsed with one ``json.loads``
and kept as arrays in a single ``ThroughputBatch``, which the store appends
in one go. Anything that does not fit the common shape exactly goes through
``parse_event`` instead, so the samples are the same either way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, cast

import numpy as np

from opta_stream.events.records import LmxEvent, SSELike, ThroughputEvent, parse_event
from opta_stream.snapshot import frozen_array

__all__ = ["ThroughputBatch", "parse_frames"]

_TIMESTAMP = itemgetter("timestamp")
_RATE = itemgetter("tokens_per_second")


@dataclass(frozen=True, slots=True)
class ThroughputBatch:
    """Many ``throughput`` events, columnar; arrays are read-only."""

    received_at: float
    timestamps: np.ndarray
    rates: np.ndarray
    model_ids: tuple[str | None, ...]
    type: str = "throughput"
    raw: str = ""

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    @classmethod
    def of(cls, events: Sequence[ThroughputEvent], received_at: float) -> ThroughputBatch:
        """Fold single records (the slow path's output) into one batch."""
        return cls(received_at, frozen_array([e.timestamp for e in events]),
                   frozen_array([e.tokens_per_second for e in events]),
                   tuple(e.model_id for e in events))

    def with_timestamps(self, timestamps: np.ndarray) -> ThroughputBatch:
        """The same samples placed at other times (a server clock correction)."""
        return ThroughputBatch(self.received_at, frozen_array(timestamps), self.rates,
                               self.model_ids)


def parse_frames(frames: Sequence[SSELike], now: float) -> list[LmxEvent | ThroughputBatch]:
    """Parse one chunk's frames in order; its throughput samples come back as one batch, last.

    Samples go last because the store appends a batch's samples after its
    other events anyway; every other record keeps its place.
    """
    texts = [f.data for f in frames if f.event == "throughput"]
    batch = _fast_batch(texts, now) if len(texts) > 1 else None
    out: list[LmxEvent | ThroughputBatch] = []
    singles: list[ThroughputEvent] = []
    for f in frames:
        if f.event != "throughput":
            out.append(parse_event(f, now))
        elif batch is None:
            event = parse_event(f, now)
            if isinstance(event, ThroughputEvent):
                singles.append(event)
            else:
                out.append(event)
    if batch is None and singles:
        batch = ThroughputBatch.of(singles, now)
    return [*out, batch] if batch is not None else out


def _load_objects(texts: list[str]) -> list[object] | None:
    """The JSON value of each text, from one parse; None unless each is exactly one value.

    Exact, because every text is "{...}" with no bracket anywhere and the
    joints are ",\n": a string cannot run across a joint (a raw newline is
    invalid in a JSON string), and an object still open at a text's closing
    "}" would need a key after the comma but finds "{". So every joint is a
    top-level comma, and as many elements as texts means each text is exactly
    one object.
    """
    joined = ",\n".join(texts)
    if "[" in joined or "]" in joined:
        return None
    if not all(t[:1] == "{" and t[-1:] == "}" for t in texts):
        return None
    try:
        objs = json.loads("[" + joined + "]")
    except (ValueError, RecursionError):
        return None
    return objs if len(objs) == len(texts) else None


def _fast_batch(texts: list[str], now: float) -> ThroughputBatch | None:
    """The batch ``parse_event`` would give, for the common shape only; else None."""
    loaded = _load_objects(texts)
    if loaded is None or {type(o) for o in loaded} != {dict}:
        return None
    objs = cast(list[dict[str, Any]], loaded)
    try:
        ts = list(map(_TIMESTAMP, objs))
        tps = list(map(_RATE, objs))
    except KeyError:
        return None
    models = tuple([o.get("model_id") for o in objs])
    if {type(x) for x in ts} | {type(x) for x in tps} != {float}:
        return None
    if not {type(m) for m in models} <= {str, type(None)} or "" in models:
        return None
    t, v = np.array(ts), np.array(tps)
    if not (np.isfinite(t).all() and np.isfinite(v).all() and t.all()):
        return None
    return ThroughputBatch(float(now), frozen_array(t), frozen_array(v), models)
