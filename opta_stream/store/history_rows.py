"""What the Store hands the history file and takes back from it: plain rows and marks.

Models are named, never coded: codes belong to one process, names last.
Tier rows carry their absolute index in this run's ring (``first`` + row),
so a row written again (the open bucket, which still merges) replaces its copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from opta_stream.snapshot import LogEntry
from opta_stream.store.usage import UsageRow

__all__ = ["TIER_COLUMNS", "HistoryRows", "Marks", "ServingRows", "TierRows"]

TIER_COLUMNS = ("ts", "sum", "lo", "hi", "count", "seg")
TierKey = tuple[str, float]  # (series, bucket width): ("throughput", 1.0)


@dataclass(frozen=True, slots=True)
class TierRows:
    series: str  # "throughput", "memory_used" or "memory_total"
    width: float
    first: int  # this run's absolute ring index of row 0 (loaded rows: unused)
    cols: dict[str, np.ndarray]  # TIER_COLUMNS
    models: list[str | None]  # per row; None: the sample named no model

    def __len__(self) -> int:
        return int(self.cols["ts"].shape[0])


@dataclass(frozen=True, slots=True)
class ServingRows:
    rows: np.ndarray  # minute rows, ``store.serving.ROW_WIDTH`` columns
    keys: list[tuple[str, str]]  # per row: ("total", ""), ("model", id) or ("client", id)
    bounds: list[tuple[float, ...]]  # per row: latency bucket bounds, () for none
    ends: np.ndarray | None = None  # per row: its minute's end (the file's key); None: ts

    def __len__(self) -> int:
        return int(self.rows.shape[0])


@dataclass(slots=True)
class HistoryRows:
    """One batch for the file, or what the file gave back on start."""

    tiers: list[TierRows] = field(default_factory=list)
    serving: ServingRows | None = None
    usage: list[UsageRow] = field(default_factory=list)
    events: list[LogEntry] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)  # log seqs no longer in the log
    gaps: list[tuple[float, float | None]] = field(default_factory=list)
    # on load only: when the last run last wrote (the restart gap starts there), and per
    # tier the time from which it holds everything (older rows exist but were not loaded)
    last_at: float | None = None
    complete_from: dict[TierKey, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return (sum(len(t) for t in self.tiers) + (len(self.serving) if self.serving else 0)
                + len(self.usage) + len(self.events) + len(self.removed) + len(self.gaps))


@dataclass(frozen=True, slots=True)
class Marks:
    """How far the file has what the Store holds."""

    tiers: dict[TierKey, int] = field(default_factory=dict)
    minutes: int = 0
    seq: int = 0
    gap_from: float = -np.inf
