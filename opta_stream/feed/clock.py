"""The server's clock as seen in streamed samples, and re-timing when it is far off ours.

Streamed throughput samples carry the server's timestamps. When the server's
clock is more than ``CLOCK_JUMP_S`` off this computer's, every new sample would
land outside the chart's window (or in its future) and the live view would go
blank, so such samples are placed on this computer's clock instead, with a log
line and a new line segment at each jump.
"""

from __future__ import annotations

import numpy as np

from opta_stream.events.batch import ThroughputBatch
from opta_stream.store import Store

__all__ = ["CLOCK_JUMP_S", "ServerClock"]

CLOCK_JUMP_S = 60.0  # server timestamps this far off this computer's clock are re-timed


class ServerClock:
    """Tracks the server's clock offset from streamed samples; used by one feed thread."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._skew = 0.0  # server clock minus ours, applied to streamed samples
        self._skew_known = False  # a streamed sample has shown the server's clock

    def retime(self, batch: ThroughputBatch) -> ThroughputBatch:
        """Place samples on this computer's clock when the server's is far off.

        A server clock an hour off would put every new sample outside the
        chart's window (or in its future), so the live view would go blank.
        Each jump inside the batch is found and reported where it happens.
        """
        skew = batch.timestamps - batch.received_at
        shift = np.empty_like(skew)
        start = 0
        while start < skew.shape[0]:
            jumped = np.abs(skew[start:] - self._skew) > CLOCK_JUMP_S
            end = start + int(jumped.argmax()) if jumped.any() else skew.shape[0]
            shift[start:end] = self._skew
            if end < skew.shape[0]:
                self._clock_jumped(float(skew[end]) - self._skew, float(skew[end]))
                shift[end] = self._skew
                end += 1
            self._skew_known = True
            start = end
        return batch.with_timestamps(batch.timestamps - shift) if shift.any() else batch

    def _clock_jumped(self, jump: float, skew: float) -> None:
        self._skew = skew if abs(skew) > CLOCK_JUMP_S else 0.0
        self._store.new_segment()
        where = f"{abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} this computer" \
            if self._skew else "in step with this computer again"
        what = f"jumped {'forward' if jump > 0 else 'back'} by {abs(jump):.0f} s (now {where})" \
            if self._skew_known else f"is {where}"
        tail = "its samples are placed on this computer's clock" if self._skew \
            else "its own timestamps are used again"
        self._store.log("feed_clock_jump", f"The server's clock {what}; {tail}.",
                        severity="warning")
