"""Viewers of one tick slot share its work and get identical elements (AppTest, two sessions).

The other page tests hand the app Sources whose every read is a new slot;
here the Sources' slots run on a clock the test moves, so two AppTest
sessions stand for two browser tabs of the same slot, on the same path the
running app takes.
"""

from __future__ import annotations

from typing import Any

import pytest
from app_sources import StoreSources
from conftest import MODEL_A, SERVER, fill_store
from streamlit.testing.v1 import AppTest
from test_app_pages import PAGES, FakeClient, make_app, open_page

from opta_stream.settings import RENDER_S
from opta_stream.store.core import Store
from opta_stream.ui import sources
from opta_stream.ui.tick_memo import SlotMemo


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def memo() -> tuple[SlotMemo, Clock]:
    """The Sources' memo of the render interval's slots, on a clock the test moves."""
    clock = Clock()
    return SlotMemo(RENDER_S / 2.0, clock=clock), clock


class SharedSources(StoreSources):
    def __init__(self, store: Store, memo: SlotMemo) -> None:
        super().__init__(store, FakeClient())
        self.memo = memo

    def ticks(self, slot_s: float) -> SlotMemo:
        return self.memo if slot_s == self.memo.slot_s else super().ticks(slot_s)


def elements(at: AppTest) -> list[tuple[str, bytes]]:
    """What the page's main area sends, element by element (download buttons aside: their
    media URLs are per session)."""
    return [(el.type, el.proto.SerializeToString(deterministic=True)) for el in _walk(at.main)
            if el.type != "download_button" and hasattr(el, "proto")]


def _walk(node: Any) -> list[Any]:
    children = getattr(node, "children", None)
    if not children:
        return [node]
    return [leaf for child in children.values() for leaf in _walk(child)]


def shared_app(store: Store, memo: tuple[SlotMemo, Clock]) -> AppTest:
    at = make_app(None)
    sources.install(SharedSources(store, memo[0]))
    return at


@pytest.mark.parametrize("page", PAGES)
def test_a_shared_tick_draws_what_an_unshared_one_does(page, filled_store, clean_env, memo):
    alone = elements(open_page(make_app(filled_store, client=FakeClient()), page))
    together = elements(open_page(shared_app(filled_store, memo), page))
    assert together == alone and len(alone) > 3


@pytest.mark.parametrize("page", ["overview", "throughput", "requests", "memory", "events"])
def test_two_viewers_of_one_slot_share_one_build_and_identical_elements(page, fixed_now,
                                                                        clean_env, memo):
    memo_, clock = memo
    store = fill_store(Store(SERVER, clock=lambda: fixed_now), fixed_now)
    first = elements(open_page(shared_app(store, memo), page))
    builds, hits = memo_.builds, memo_.hits
    second = elements(open_page(shared_app(store, memo), page))
    assert memo_.builds == builds  # the second tab built nothing…
    assert memo_.hits > hits  # …because it was handed the first one's
    assert second == first


def test_the_next_slot_shows_new_data_and_the_same_slot_does_not(fixed_now, clean_env, memo):
    _, clock = memo
    store = fill_store(Store(SERVER, clock=lambda: fixed_now), fixed_now)
    at = open_page(shared_app(store, memo), "overview")
    before = next(m.value for m in at.metric if m.label == "Tokens / s · now")
    store.add_throughput(fixed_now - 0.5, 9_999.0, MODEL_A)
    at.run()
    assert next(m.value for m in at.metric if m.label == "Tokens / s · now") == before
    clock.t += RENDER_S / 2.0
    at.run()
    assert next(m.value for m in at.metric if m.label == "Tokens / s · now") != before
