"""Work done once per tick slot and shared by every viewer of it.

A page's live fragment reruns for each viewer twice a second, and what it
draws depends only on the server, the window, the viewer's time zone and the
moment. Time is cut into slots (half the render interval), and the first
viewer whose rerun falls in a slot builds the page's elements; every other
viewer of that slot gets the very same result, so the element messages they
are sent are identical too. A viewer that asks while the build runs waits for
it instead of building again. Pure: the clock is injected, nothing is drawn.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SlotMemo"]


@dataclass
class _Entry:
    slot: int
    ready: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class SlotMemo:
    """``get(key, build)``: ``build()`` at most once per key and slot; LRU-bounded keys.

    Only the newest slot of a key is kept, so memory is bounded by
    ``max_keys`` results whatever the uptime, and a result nobody asked for in
    ``max_age_slots`` slots is dropped (a 24 h page's recording holds its
    snapshot; it should not outlive its last viewer by long). A build that
    raises is not kept: every viewer waiting on it gets the same exception,
    and the next call builds again.
    """

    def __init__(self, slot_s: float, *, max_keys: int = 64, max_age_slots: int = 240,
                 clock: Callable[[], float] = time.monotonic, wait_s: float = 10.0) -> None:
        if slot_s <= 0:
            raise ValueError("slot_s must be positive")
        self.slot_s, self.max_keys, self.wait_s = slot_s, max_keys, wait_s
        self.max_age_slots = max_age_slots
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.builds = 0  # how many times a build ran (tests and the benchmark read it)
        self.hits = 0

    def slot(self) -> int:
        return int(self._clock() // self.slot_s)

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        slot = self.slot()
        with self._lock:
            entry = self._entries.get(key)
            mine = entry is None or entry.slot != slot
            if mine:
                entry = _Entry(slot)
                self._entries[key] = entry
                self._entries.move_to_end(key)
                self._evict(slot)
            else:
                self.hits += 1
            self._entries.move_to_end(key)
        assert entry is not None
        if mine:
            return self._build(key, entry, build)
        if not entry.ready.wait(self.wait_s):  # the builder is stuck: do not wait forever
            return build()
        if entry.error is not None:
            raise entry.error
        return entry.value

    def _evict(self, slot: int) -> None:
        """Oldest-used first: past the key bound, or not asked for in ``max_age_slots``."""
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if len(self._entries) <= self.max_keys and oldest.slot >= slot - self.max_age_slots:
                return
            self._entries.popitem(last=False)

    def _build(self, key: Hashable, entry: _Entry, build: Callable[[], Any]) -> Any:
        try:
            entry.value = build()
            with self._lock:
                self.builds += 1
            return entry.value
        except BaseException as exc:
            entry.error = exc
            with self._lock:
                if self._entries.get(key) is entry:
                    del self._entries[key]
            raise
        finally:
            entry.ready.set()
