"""Viewers of one tick slot share its work and get identical elements (AppTest, two sessions).

Sharing is off for the injected test store in the other page tests; here it
is on (``TEST_SHARE_KEY``) with the process's memo on a clock the test moves,
so two AppTest sessions stand for two browser tabs of the same slot.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import MODEL_A, SERVER, fill_store
from streamlit.testing.v1 import AppTest
from test_app_pages import PAGES, FakeClient, make_app, open_page

from opta_stream.config import RENDER_S
from opta_stream.store.core import Store
from opta_stream.ui import resources, shared
from opta_stream.ui.slots import SlotMemo


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def memo(monkeypatch: pytest.MonkeyPatch) -> tuple[SlotMemo, Clock]:
    clock = Clock()
    memo = SlotMemo(RENDER_S / 2.0, clock=clock)
    monkeypatch.setattr(shared, "_memos", {RENDER_S: memo})
    return memo, clock


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


def shared_app(store: Store) -> AppTest:
    at = make_app(store, client=FakeClient())
    at.session_state[resources.TEST_SHARE_KEY] = True
    return at


@pytest.mark.parametrize("page", PAGES)
def test_a_shared_tick_draws_what_an_unshared_one_does(page, filled_store, clean_env, memo):
    alone = elements(open_page(make_app(filled_store, client=FakeClient()), page))
    together = elements(open_page(shared_app(filled_store), page))
    assert together == alone and len(alone) > 3


@pytest.mark.parametrize("page", ["overview", "throughput", "requests", "memory", "events"])
def test_two_viewers_of_one_slot_share_one_build_and_identical_elements(page, fixed_now,
                                                                        clean_env, memo):
    memo_, clock = memo
    store = fill_store(Store(SERVER, clock=lambda: fixed_now), fixed_now)
    first = elements(open_page(shared_app(store), page))
    builds, hits = memo_.builds, memo_.hits
    second = elements(open_page(shared_app(store), page))
    assert memo_.builds == builds  # the second tab built nothing…
    assert memo_.hits > hits  # …because it was handed the first one's
    assert second == first


def test_the_next_slot_shows_new_data_and_the_same_slot_does_not(fixed_now, clean_env, memo):
    _, clock = memo
    store = fill_store(Store(SERVER, clock=lambda: fixed_now), fixed_now)
    at = open_page(shared_app(store), "overview")
    before = next(m.value for m in at.metric if m.label == "Tokens / s")
    store.add_throughput(fixed_now - 0.5, 9_999.0, MODEL_A)
    at.run()
    assert next(m.value for m in at.metric if m.label == "Tokens / s") == before
    clock.t += RENDER_S / 2.0
    at.run()
    assert next(m.value for m in at.metric if m.label == "Tokens / s") != before
