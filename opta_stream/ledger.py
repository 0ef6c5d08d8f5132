"""What is kept over days: the usage ledger's rows and the history file's state.

The ledger answers "how many tokens did each model generate this week". It is
kept in quarter-hour buckets per model, not per day, because a day is the
*viewer's* local date: every time zone in use is a whole number of quarter
hours from UTC, so any viewer's days are exact sums of buckets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ALL_MODELS", "USAGE_BUCKET_S", "USAGE_VALUES", "HistoryState", "Usage"]

USAGE_BUCKET_S = 900.0
# The whole server's row: Opta LMX counts prompt tokens only server-wide
# (``lmx_prompt_tokens_total``; its per-model families have requests, errors and
# completion tokens), so a model's prompt_tokens is NaN, "not reported", and the
# server's total is in this row. No model id is "*".
ALL_MODELS = "*"
# busy_s: the seconds the model spent on the requests that finished in the bucket (the
# latency histogram's sum), so two requests served at once count twice.
USAGE_VALUES = ("requests", "errors", "prompt_tokens", "completion_tokens", "busy_s")


@dataclass(frozen=True, slots=True)
class Usage:
    """Ledger rows: ``ts`` the bucket start (UTC), ``model`` codes into ``names``,
    ``values`` one column per ``USAGE_VALUES``. Read-only arrays."""

    ts: np.ndarray
    model: np.ndarray
    values: np.ndarray
    names: tuple[str, ...] = ()
    codes: tuple[int, ...] = ()  # each name's code in the Store's interner: its colour

    def __len__(self) -> int:
        return int(self.ts.shape[0])


@dataclass(frozen=True, slots=True)
class HistoryState:
    """Where this server's history is kept, in words a page can show.

    ``state``: "off" (no history path), "recording", "reading" (another process
    records this server; this one only read what was there), "memory" (the file
    cannot be written: recording in memory only) or "starting".
    ``since`` is the oldest recorded time; ``ephemeral`` says the disk is wiped
    on restart (Streamlit Community Cloud).
    """

    state: str = "off"
    message: str = ""
    path: str = ""
    since: float | None = None
    size_bytes: int | None = None
    written_at: float | None = None
    ephemeral: bool = False

    @property
    def trouble(self) -> bool:
        return self.state == "memory"
