"""The server's usage predictor: which model it would preload next, from the access history.

Every generation records an access. The predictor keeps counts per model, the
last 50 accesses and the switches between consecutive models; it predicts
the most common successor of the last model (seen twice or more), else the
most used model (three accesses or more), never one that is loaded.
"""

from __future__ import annotations

from collections import Counter, deque

__all__ = ["Predictor"]

_HISTORY = 50
_MIN_ACCESSES = 3
_MIN_SWITCHES = 2


class Predictor:
    """Access counts, switches and the prediction; in memory only, like the server's."""

    def __init__(self) -> None:
        self._history: deque[str] = deque(maxlen=_HISTORY)
        self._counts: Counter[str] = Counter()
        self._switches: dict[str, Counter[str]] = {}
        self._last: str | None = None

    def record(self, model_id: str) -> None:
        self._history.append(model_id)
        self._counts[model_id] += 1
        if self._last is not None and self._last != model_id:
            self._switches.setdefault(self._last, Counter())[model_id] += 1
        self._last = model_id

    def predict(self, loaded: set[str]) -> str | None:
        """The model to preload next, or None."""
        after = self._switches.get(self._last or "", Counter())
        for model_id, count in after.most_common():
            if count >= _MIN_SWITCHES and model_id not in loaded:
                return model_id
        for model_id, count in self._counts.most_common():
            if count >= _MIN_ACCESSES and model_id not in loaded:
                return model_id
        return None

    def stats(self, loaded: set[str]) -> dict:
        """``GET /admin/predictor``: ``top_models`` is a list of ``[model_id, count]`` pairs."""
        return {"total_accesses": sum(self._counts.values()), "unique_models": len(self._counts),
                "history_size": len(self._history),
                "top_models": [[k, n] for k, n in self._counts.most_common(5)],
                "transition_count": sum(sum(c.values()) for c in self._switches.values()),
                "predicted_next": self.predict(loaded)}
