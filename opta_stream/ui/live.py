"""Each viewer's redraw of a live part: the tick's view, built once for every viewer of it.

A page's live fragment reruns for each viewer at the render interval, and
what it shows depends only on its spec (``views.specs``) and the moment.
Time is cut into slots of half the render interval (``ui.slots``): the first
viewer of a slot takes the server's snapshot (shared by every view of that
server, window and slot), builds the view from spec and snapshot, and turns
its data into Arrow (``drawing.prepare``); every other viewer with an equal
spec gets the very same recording, so the element messages are identical
too. The cache key is the build and the spec, nothing assembled by hand: a
spec is all a view reads besides its snapshot.

Every live fragment is declared with ``fragment(src, base_s)``: it runs at
the process's pace (``ui.pace``), which is ``base_s`` until the viewers ask
for more redraws than the process can do and deliver; then every viewer's
interval stretches alike, and each page says so at its top. The interval in use is
always in the sidebar (``pace_slot``), rewritten by each run of the fragment.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ParamSpec, Protocol, TypeVar

import streamlit as st

from opta_stream.snapshot import Health, Snapshot
from opta_stream.ui import sources
from opta_stream.ui._compat import rerun_every
from opta_stream.ui.drawing import draw, prepare
from opta_stream.ui.pace import Pace, PaceState
from opta_stream.ui.sources import Source
from opta_stream.ui.tick_memo import SlotMemo
from opta_stream.views.recording import Recording

__all__ = ["PACE_SLOT_KEY", "busy_text", "fragment", "health_actions", "one_at_a_time",
           "pace_slot", "pace_text", "prepared", "show", "snapshot", "view", "view_many"]

VIEWER_KEY = "opta_viewer"  # one random id per browser session: whom the pace counts
_EVERY_KEY = "opta_rerun_every_{:g}"  # the interval this session's browser was last told
PACE_SLOT_KEY = "opta_pace_slot"  # the sidebar's place for the interval in use

T = TypeVar("T")
P = ParamSpec("P")


class _Spec(Protocol):
    @property
    def server(self) -> str: ...

    @property
    def snapshot_s(self) -> float: ...

    @property
    def usage_s(self) -> float | None: ...


S = TypeVar("S", bound=_Spec)
M = TypeVar("M")


# One live body at a time in the whole process. Why: the GIL runs one thread's Python
# at a time anyway, and 70 runs sharing it each take 70 times as long, so a viewer asks
# again while its run still goes, and the next run's start clears the first's unsent
# output (see ui.pace); one at a time, each run ends soon after it starts and the
# event loop, which sends the output, has one thread to share with, not 70 (70 viewers:
# 642 runs thrown away in a 30 s bench with 70 runs at once, 136 with two, 22 with one).
# Re-entrant, and a body stuck past GATE_WAIT_S does not stop the others.
_GATE = threading.RLock()
GATE_WAIT_S = 5.0


@contextmanager
def one_at_a_time() -> Iterator[None]:
    """The process's live bodies, one after another."""
    got = _GATE.acquire(timeout=GATE_WAIT_S)
    try:
        yield
    finally:
        if got:
            _GATE.release()


def _pace(src: Source) -> Pace:
    return sources.current().pace(src.settings.render_s)


def pace_slot() -> None:
    """Where, in the sidebar, this page's live fragment says its interval: called by the
    page's run inside ``st.sidebar``. The first live fragment the page declares takes it
    (the page's redraw; a slower one below, as the Fleet history's, does not), and every
    run of that fragment rewrites it: an ``st.empty`` holds one element, so reruns
    replace it rather than add lines, and Streamlit clears an outside element that a
    fragment run did not write."""
    st.session_state[PACE_SLOT_KEY] = st.empty()


def pace_text(state: PaceState, base_s: float) -> str:
    """The sidebar's line: the interval in use, and why when it is not the usual one."""
    if state.interval_s <= base_s:
        return f":material/timer: Redrawn every {base_s:g} s."
    return (f":material/hourglass_top: Redrawn every {state.interval_s:g} s instead of "
            f"{base_s:g} s: {state.viewers} viewers share this app.")


def busy_text(state: PaceState, base_s: float) -> str:
    """What a viewer reads while the app is saturated (empty while it is not)."""
    if state.interval_s <= base_s:
        return ""
    return (f":material/hourglass_top: Busy: redrawn every {state.interval_s:g} s instead of "
            f"{base_s:g} s, so that all {state.viewers} viewers keep getting redraws.")


def fragment(src: Source, base_s: float) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """``st.fragment`` at the process's pace: declared with the interval of the moment,
    and each run first counts itself, tells the browser a new interval when the pace
    moved, and says so while the app is busy."""
    pace = _pace(src)
    key = _EVERY_KEY.format(base_s)
    slot = st.session_state.pop(PACE_SLOT_KEY, None)  # the page's first fragment takes it
    st.session_state[key] = declared = pace.interval_for(base_s)

    def decorate(body: Callable[P, None]) -> Callable[P, None]:
        @functools.wraps(body)
        def run(*args: P.args, **kwargs: P.kwargs) -> None:
            viewer = st.session_state.get(VIEWER_KEY)
            if viewer is None:
                viewer = st.session_state[VIEWER_KEY] = uuid.uuid4().hex
            pace.ran(viewer)
            every = pace.interval_for(base_s)
            if every != st.session_state.get(key) and rerun_every(every):
                st.session_state[key] = every
            state = pace.state()
            if slot is not None:
                slot.caption(pace_text(state, base_s))
            if text := busy_text(state, base_s):
                st.caption(text)
            with one_at_a_time():
                body(*args, **kwargs)

        return st.fragment(run_every=declared)(run)

    return decorate


def _ticks(src: Source) -> SlotMemo:
    return sources.current().ticks(src.settings.render_s / 2.0)


def snapshot(src: Source, window_s: float, usage_s: float | None = None) -> Snapshot:
    """The server's snapshot of ``window_s``, taken once per slot for every view of it."""
    return _ticks(src).get(("snapshot", src.key, window_s, usage_s),
                           lambda: src.store.snapshot(window_s, usage_s=usage_s))


def prepared(value: Any) -> Any:
    """Every recording in a view's result with its data made Arrow (once, for everyone)."""
    if isinstance(value, Recording):
        return prepare(value)
    if isinstance(value, tuple):
        return tuple(prepared(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {f.name: prepared(v) for f in dataclasses.fields(value)
                   if isinstance(v := getattr(value, f.name), Recording | tuple)}
        return dataclasses.replace(value, **changed) if changed else value
    return value


def view(src: Source, spec: S, build: Callable[[S, Snapshot], T]) -> T:
    """``build(spec, snapshot)`` for this slot: made by the slot's first viewer, shared."""
    if spec.server != src.key:
        raise ValueError("a view's spec names another server than its source")
    return _ticks(src).get(
        (build, spec),
        lambda: prepared(build(spec, snapshot(src, spec.snapshot_s, spec.usage_s))))


def show(src: Source, spec: S, build: Callable[[S, Snapshot], Recording]) -> None:
    """This viewer's redraw of one view, and what this viewer can do about its verdict."""
    draw(view(src, spec, build))
    health_actions(src, snapshot(src, spec.snapshot_s, spec.usage_s))


def health_actions(src: Source, snap: Snapshot) -> None:
    """Under the view's verdict, this viewer's buttons for it: check a rejected key again,
    start a stopped feed again. Per viewer (widgets), so not part of the recording."""
    state = snap.health.state
    if state is Health.KEY_REJECTED:
        st.caption(f"The key came from {src.settings.key_origin()}. It is checked again "
                   "every minute.")
        if src.feed is not None and st.button("Retry now", key="retry_key"):
            src.feed.retry_now()
    elif state is Health.STOPPED and st.button(
            "Reconnect", key="reconnect",
            help="This feed was stopped (settings changed or the cache was cleared)."):
        st.rerun(scope="app")


class _ManySpec(Protocol):
    @property
    def servers(self) -> tuple[str, ...]: ...

    @property
    def snapshot_s(self) -> float: ...


MS = TypeVar("MS", bound=_ManySpec)


def view_many(srcs: Sequence[Source], spec: MS,
              build: Callable[[MS, Sequence[Snapshot]], M], slot_s: float) -> M:
    """A view over several servers' snapshots (the Fleet history), once per ``slot_s``."""
    if tuple(s.key for s in srcs) != spec.servers:
        raise ValueError("a view's spec names other servers than its sources")
    memo = sources.current().ticks(slot_s)
    return memo.get((build, spec), lambda: prepared(build(
        spec, [s.store.snapshot(spec.snapshot_s) for s in srcs])))
