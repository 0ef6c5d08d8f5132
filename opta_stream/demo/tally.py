"""What the simulated server counts, the way the real one does: once, when a request ends.

Totals, per model, per client, the latency histogram per model (the real
bounds, 0.1 … 60 s and +Inf) and speculative-decoding tokens. A client's or
a model's counters exist only once it has finished a request, so the
Prometheus families for clients are absent until then, as on the real server.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

__all__ = ["BUCKETS", "CLIENTS", "SPECULATIVE_MODELS", "Finished", "Tally", "TallyView"]

BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, math.inf)
CLIENTS = ("opta-cli", "open-webui", "continue-vscode")
# Models the demo runs with a draft model, so speculative counters move.
SPECULATIVE_MODELS = ("mlx-community/Qwen2.5-7B-Instruct-4bit",)
_TOTAL_KEYS = ("requests", "errors", "stream_requests", "prompt_tokens", "completion_tokens",
               "spec_accepted", "spec_rejected", "spec_ignored")


@dataclass(frozen=True, slots=True)
class Finished:
    """One request as it ends."""

    model_id: str
    client: str
    prompt: int
    completion: int
    seconds: float
    stream: bool
    error: bool
    accepted: int = 0  # speculative draft tokens accepted / rejected
    rejected: int = 0
    ignored: bool = False  # a speculative model skipped its draft for this request


@dataclass(frozen=True, slots=True)
class TallyView:
    """A copy for the renderers (no live references)."""

    totals: dict[str, int]
    per_model: dict[str, dict[str, int]]
    per_client: dict[str, dict[str, int]]
    histograms: dict[str, tuple[tuple[int, ...], float]]  # model → (cumulative counts, sum)
    requests_last_minute: int

    @property
    def acceptance_ratio(self) -> float | None:
        seen = self.totals["spec_accepted"] + self.totals["spec_rejected"]
        return self.totals["spec_accepted"] / seen if seen else None


@dataclass
class Tally:
    """Mutable counts; the World calls ``record`` under the simulation's lock."""

    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_TOTAL_KEYS, 0))
    per_model: dict[str, dict[str, int]] = field(default_factory=dict)
    per_client: dict[str, dict[str, int]] = field(default_factory=dict)
    counts: dict[str, list[int]] = field(default_factory=dict)  # model → cumulative buckets
    sums: dict[str, float] = field(default_factory=dict)
    recent: deque[float] = field(default_factory=deque)

    def record(self, req: Finished, now: float) -> None:
        per = self.per_model.setdefault(req.model_id, dict.fromkeys(
            ("requests", "errors", "prompt_tokens", "completion_tokens"), 0))
        client = self.per_client.setdefault(req.client, dict.fromkeys(
            ("requests", "errors", "completion_tokens"), 0))
        for row in (self.totals, per, client):
            row["requests"] += 1
        self.totals["stream_requests"] += int(req.stream)
        if req.error:
            for row in (self.totals, per, client):
                row["errors"] += 1
            return
        for key, value in (("prompt_tokens", req.prompt), ("completion_tokens", req.completion)):
            self.totals[key] += value
            per[key] += value
        client["completion_tokens"] += req.completion
        if req.accepted or req.rejected:
            self.totals["spec_accepted"] += req.accepted
            self.totals["spec_rejected"] += req.rejected
        elif req.ignored:
            self.totals["spec_ignored"] += req.completion
        buckets = self.counts.setdefault(req.model_id, [0] * len(BUCKETS))
        for i, bound in enumerate(BUCKETS):
            if req.seconds <= bound:
                buckets[i] += 1
        self.sums[req.model_id] = self.sums.get(req.model_id, 0.0) + req.seconds
        self.recent.append(now)

    def view(self, now: float) -> TallyView:
        while self.recent and self.recent[0] < now - 60.0:
            self.recent.popleft()
        return TallyView(
            totals=dict(self.totals), per_model={k: dict(v) for k, v in self.per_model.items()},
            per_client={k: dict(v) for k, v in self.per_client.items()},
            histograms={k: (tuple(v), self.sums[k]) for k, v in self.counts.items()},
            requests_last_minute=len(self.recent))
