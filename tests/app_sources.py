"""The app's data seam for tests: Stores a test filled itself, handed in as ``Sources``.

``ui.sources`` takes any ``Sources``; the running app uses ``FeedSources``.
``StoreSources`` answers with the test's Stores (one for every server, or one
per server name, falling back to real feeds for names it does not know) and
its own tick memo: by default every read of its clock is a new slot, so no
two redraws share a recording and a test that changes its Store sees the
change at the next run; ``clock`` gives a test the slots it wants instead.
``alerts`` is what the Alerts page's controls act on (e.g. an ``AlertDesk`` over the
test's Stores); without it the app runs no alerting at all.
With ``feed``, the Source carries that Feed too (a page that asks the feed to
poll its sections, the Server page, then does so for real).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from opta_stream.feed.feed import Feed
from opta_stream.settings import Settings
from opta_stream.store.core import Store
from opta_stream.ui import session
from opta_stream.ui.pace import Pace
from opta_stream.ui.sources import AlertControls, FeedSources, Source, Sources
from opta_stream.ui.tick_memo import SlotMemo


def every_read_a_new_slot() -> Callable[[], float]:
    ticks = itertools.count()
    return lambda: next(ticks) * 1e9


class StoreSources:
    """Sources made of a test's Stores (see the module docstring)."""

    def __init__(self, stores: Store | Mapping[str, Store], client: Any = None, *,
                 clock: Callable[[], float] | None = None,
                 fallback: Sources | None = None, alerts: AlertControls | None = None,
                 feed: Feed | None = None) -> None:
        self.stores, self.client, self.controls, self.feed = stores, client, alerts, feed
        self._clock = clock or every_read_a_new_slot()
        self._fallback = fallback or FeedSources()
        self._memos: dict[float, SlotMemo] = {}
        self.memos_made = 0
        self.paces: dict[float, Pace] = {}

    def source(self, conf: Settings, name: str | None, *, demo: bool = False) -> Source:
        store = self.stores if isinstance(self.stores, Store) else self.stores.get(name or "")
        if store is None:
            return self._fallback.source(conf, name, demo=demo)
        return Source(store, self.client, conf, False, session.read_only(conf), self.feed)

    def alerts(self) -> AlertControls | None:
        return self.controls

    def pace(self, render_s: float) -> Pace:
        """A pace whose window never closes (the interval stays ``render_s``) unless a
        test puts its own in ``paces``."""
        if render_s not in self.paces:
            self.paces[render_s] = Pace(render_s, 1.0, clock=lambda: 0.0, cpu=lambda: 0.0)
        return self.paces[render_s]

    def ticks(self, slot_s: float) -> SlotMemo:
        memo = self._memos.get(slot_s)
        if memo is None:
            memo = self._memos[slot_s] = SlotMemo(slot_s, max_keys=256, clock=self._clock)
            self.memos_made += 1
        return memo
