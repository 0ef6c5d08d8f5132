"""Per-tick work shared by every viewer: snapshots, frames, chart specs, Arrow bytes.

``page(src, name, window_s, build)`` runs a page's ``build(store, tz)`` once
per tick slot for each server, window and time zone (``ui.slots``) and hands
every viewer the same ``Recorder``; ``draw`` replays it. While recording,
``chart`` and ``table`` turn data into Arrow once, so a viewer's rerun does no
pandas work at all: Streamlit is handed bytes for chart datasets (it passes
them through) and Arrow tables for tables (it only serialises them).

Sharing is off for an injected test store (AppTest runs on a frozen clock
and changes the store between runs), unless a test turns it on.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Hashable
from datetime import tzinfo
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from opta_stream.charts.plans import ChartPlan, to_spec
from opta_stream.snapshot import Snapshot
from opta_stream.store import Store
from opta_stream.ui.compat import arrow_bytes, arrow_table
from opta_stream.ui.resources import Source
from opta_stream.ui.slots import SlotMemo
from opta_stream.ui.widgets import gauge_spec, tz_name, viewer_tz
from opta_stream.views.recording import Block, Recorder, replay
from opta_stream.views.verdict import banner

__all__ = ["arrow_spec", "chart", "draw", "draw_window", "gauge", "memo", "page", "snapshot",
           "table"]

T = TypeVar("T")

_memos: dict[float, SlotMemo] = {}
_lock = threading.Lock()


def memo(render_s: float) -> SlotMemo:
    """The process's memo for this render interval (slots of half of it)."""
    with _lock:
        found = _memos.get(render_s)
        if found is None:
            found = _memos[render_s] = SlotMemo(render_s / 2.0, max_keys=128)
        return found


def _shared(src: Source, key: Hashable, build: Callable[[], Any]) -> Any:
    if not src.share:
        return build()
    return memo(src.settings.render_s).get((id(src.store), src.store.server, key), build)


def page(src: Source, name: str, window_s: float, build: Callable[[Store, tzinfo], T],
         *extra: Hashable) -> T:
    """This tick's elements (or figures) of page ``name``: built by the slot's first viewer."""
    tz = viewer_tz()
    return _shared(src, ("page", name, window_s, tz_name(tz), *extra),
                   lambda: build(src.store, tz))


def draw_window(src: Source, name: str, window_s: float,
                build: Callable[[Snapshot, tzinfo], Recorder]) -> None:
    """A live fragment's whole rerun, for a page built from one snapshot of ``window_s``."""
    draw(src, page(src, name, window_s, lambda store, tz: build(store.snapshot(window_s), tz)))


def snapshot(src: Source, window_s: float) -> Snapshot:
    """The store's snapshot, taken once per slot (the sidebar badge and the banner)."""
    return _shared(src, ("snapshot", window_s), lambda: src.store.snapshot(window_s))


def draw(src: Source, recording: Recorder) -> None:
    """This viewer's rerun: the health banner (while not live), then the recorded elements."""
    banner(st, snapshot(src, 1.0))
    replay(recording.ops, st)


def arrow_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with each named dataset as Arrow IPC bytes, which Streamlit passes on as is."""
    datasets = spec.get("datasets")
    if not datasets:
        return spec
    return {**spec, "datasets": {name: data if isinstance(data, bytes) else arrow_bytes(data)
                                 for name, data in datasets.items()}}


@functools.lru_cache(maxsize=256)
def _gauge(used_gb: float | None, total_gb: float | None,
           threshold_pct: float | None) -> dict[str, Any]:
    return arrow_spec(gauge_spec(used_gb, total_gb, threshold_pct))


def gauge(used_gb: float | None, total_gb: float | None,
          threshold_pct: float | None) -> dict[str, Any]:
    """The memory gauge's spec with its data already Arrow, made once per process for each
    (rounded) reading: on the Fleet page it was two thirds of a card's cost. Each caller
    gets its own copy, as Streamlit may change the dict it is handed."""
    return copy.deepcopy(_gauge(used_gb, total_gb, threshold_pct))


def chart(out: Block, plan: ChartPlan | dict[str, Any], key: str,
          height: int | None = None) -> None:
    """Record ``st.vega_lite_chart`` of a plan's spec (see ``chart_specs``) or a ready spec,
    its datasets already Arrow; ``height`` in pixels for charts sized by their rows."""
    spec = to_spec(plan) if isinstance(plan, ChartPlan) else plan
    out.vega_lite_chart(spec=arrow_spec(spec), key=key, width="stretch",
                        height=height if height is not None else "content")


def table(out: Block, frame: pd.DataFrame, **kwargs: Any) -> None:
    """Record ``st.dataframe`` of an Arrow table made once from ``frame``."""
    out.dataframe(arrow_table(frame), **kwargs)
