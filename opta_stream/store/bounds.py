"""Bounds on what the server can make the store keep: clipped text, a capped id table.

Text from the server is clipped before it is kept and model ids are interned
into at most a fixed number of codes, so a hostile or runaway feed cannot grow
the store. Both the Store and its per-event handlers use these.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["LOG_DATA_BYTES", "OTHER", "Interner", "clip", "clip_bytes"]

LOG_DATA_BYTES = 4096
OTHER = "(other)"


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def clip_bytes(text: str, limit: int = LOG_DATA_BYTES) -> str:
    """At most ``limit`` UTF-8 bytes, ending in "…" when cut."""
    if len(text) * 4 <= limit:
        return text
    encoded = text.encode("utf-8", "replace")  # "replace": a lone surrogate must not raise
    if len(encoded) <= limit:
        return text
    return encoded[:limit - 3].decode("utf-8", "ignore") + "…"


class Interner:
    """Model id → small int code, for at most ``limit`` ids; the rest share OTHER."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._codes: dict[str, int] = {}
        self.names: tuple[str, ...] = ()

    def code(self, model_id: str | None) -> int:
        if model_id is None:
            return -1
        code = self._codes.get(model_id)
        if code is None:
            real = len(self._codes) - (OTHER in self._codes)
            key = clip(model_id, 256) if real < self._limit else OTHER
            code = self._codes.get(key)
            if code is None:
                code = self._codes[key] = len(self.names)
                self.names += (key,)
        return code

    def nbytes(self) -> int:
        """A rough estimate of the table's Python objects."""
        return 120 * len(self.names)

    def codes(self, model_ids: Iterable[str | None] | None, n: int) -> np.ndarray:
        """Codes for a batch: each distinct id is looked up once, in first-seen order."""
        if model_ids is None:
            return np.full(n, -1, dtype=np.int32)
        ids = list(model_ids)
        lookup = {m: self.code(m) for m in dict.fromkeys(ids)}
        return np.fromiter(map(lookup.__getitem__, ids), dtype=np.int32, count=n)
