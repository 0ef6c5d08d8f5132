"""Polls ``/admin/metrics`` (Prometheus text) and records what changed since the last poll.

Its own endpoint on the sampler's schedule: a failure here leaves the JSON
polls updating, and the other way round. Text that is not Prometheus
exposition format is a failed poll with the parser's words; the previous
reading stays the baseline, so the next good poll loses no count. After a
restart (counters lower than before) the new reading counts from zero.
"""

from __future__ import annotations

from collections.abc import Callable

from opta_stream.errors import ServerRefused
from opta_stream.events.counters import is_reset, serving_step
from opta_stream.events.prom import MetricsError, MetricsReading, parse_metrics
from opta_stream.store.core import Store
from opta_stream.wire.client import AdminClient

__all__ = ["METRICS", "ServingPoller"]

METRICS = "/admin/metrics"


class ServingPoller:
    """One reading per ``poll()``; ``on_reset`` is told when the counters went backwards."""

    def __init__(self, client: AdminClient, store: Store, *, clock: Callable[[], float],
                 on_reset: Callable[[str], None]) -> None:
        self._client = client
        self._store = store
        self._clock = clock
        self._on_reset = on_reset
        self._prev: tuple[MetricsReading, float] | None = None

    def poll(self) -> bool:
        text = self._client.get_text(METRICS)
        now = self._clock()
        try:
            reading = parse_metrics(text)
        except MetricsError as exc:
            raise ServerRefused(200, f"{METRICS} answered something that is not Prometheus "
                                     f"metrics ({exc})") from None
        prev, self._prev = self._prev, (reading, now)
        if prev is None:
            return True
        if now <= prev[1]:
            self._prev = prev  # a clock step back: keep the baseline, lose nothing
            return True
        base = prev[0]
        if is_reset(base, reading):
            self._on_reset("Request counters went backwards: the server restarted")
            base = MetricsReading()  # counted from zero since the restart, as rate() does
        step = serving_step(base, prev[1], reading, now)
        if step is not None:
            self._store.add_serving(step)
        return True

    def restarted(self) -> None:
        """The server restarted (seen from its uptime): the next reading counts from zero."""
        if self._prev is not None:
            self._prev = (MetricsReading(), self._prev[1])
