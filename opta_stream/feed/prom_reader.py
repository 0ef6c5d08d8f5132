"""Long windows from the user's Prometheus, fetched off the render path.

A page asks ``PromReader.answer(instance, chart, window_s)`` while it builds
its tick: that never waits on the network. It hands back the newest answer
for that server, chart and window (or "pending" the first time) and notes
the interest; the reader's own thread, ``opta-prometheus``, asks Prometheus
for every chart someone looked at in the last ``forget_s`` seconds, again
once the answer is older than its refresh (at least ``refresh_s``, at most
the query's step or 5 minutes). One thread for the whole process however
many servers and viewers: Prometheus sees one query per chart and refresh,
not one per viewer. When Prometheus is down or slow, the rest of that round
gets the same answer without being sent, so a dead Prometheus costs one
timeout per round, not one per chart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from opta_stream.inputs import preview
from opta_stream.settings import PromSettings
from opta_stream.snapshot import PENDING, RangeAnswer, RangeLine
from opta_stream.wire.promql import CHARTS, PromClient, PromError, query_for, step_for

__all__ = ["MAX_KEYS", "PromReader"]

log = logging.getLogger(__name__)

MAX_KEYS = 256  # server × chart × window combinations kept at once
_Key = tuple[str, str, float]


class PromReader:
    """Range answers per (server instance, chart, window), refreshed in one named thread."""

    def __init__(self, settings: PromSettings, *, client: PromClient | None = None,
                 clock: Callable[[], float] = time.time, refresh_s: float = 15.0,
                 forget_s: float = 120.0) -> None:
        self.settings = settings
        self._client = client or PromClient(settings)
        self._clock = clock
        self.refresh_s, self.forget_s = refresh_s, forget_s
        self._cond = threading.Condition()
        self._wanted: dict[_Key, float] = {}  # key → when a page last asked
        self._answers: dict[_Key, RangeAnswer] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0  # rounds that asked Prometheus (tests wait on it)

    @property
    def source(self) -> str:
        return self._client.where

    # --- the page side: never waits -------------------------------------------------

    def answer(self, instance: str, chart: str, window_s: float) -> RangeAnswer:
        """The newest answer for this chart, or "pending"; notes that someone looks."""
        if chart not in CHARTS:
            raise ValueError(f"unknown chart {chart!r}")
        key = (instance, chart, float(window_s))
        with self._cond:
            fresh = key not in self._wanted
            if fresh and len(self._wanted) >= MAX_KEYS:
                oldest = min(self._wanted, key=self._wanted.__getitem__)
                self._wanted.pop(oldest)
                self._answers.pop(oldest, None)
            self._wanted[key] = self._clock()
            found = self._answers.get(key)
            if fresh:
                self._cond.notify_all()  # the thread asks at once, not at its next round
        return found or RangeAnswer(self.source, PENDING)

    def wait_answered(self, instance: str, chart: str, window_s: float,
                      timeout: float) -> RangeAnswer | None:
        """Ask, then wait until an answer (good or not) is there; None after ``timeout``."""
        self.answer(instance, chart, window_s)
        key = (instance, chart, float(window_s))
        with self._cond:
            self._cond.wait_for(lambda: key in self._answers, timeout)
            return self._answers.get(key)

    # --- the thread ---------------------------------------------------------------

    def start(self) -> PromReader:
        with self._cond:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="opta-prometheus",
                                                daemon=True)
                self._thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Idempotent. Waits at most ``timeout`` (it runs on a viewer's thread when the cache
        lets the reader go); a query under way ends the (daemon) thread after its timeout."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_round()
            except Exception:  # noqa: BLE001 - a bug must not end long windows, nor spin
                log.exception("the Prometheus reader's round failed")
                self._stop.wait(self.refresh_s)
                continue
            with self._cond:
                if not self._due(self._clock()):
                    self._cond.wait(1.0)

    def _refresh(self, key: _Key) -> float:
        """A line is asked again after its step (at most 5 min, at least ``refresh_s``);
        a failure after ``refresh_s``, since Prometheus may be back or have scraped by then."""
        found = self._answers[key]
        if not found.ok:
            return self.refresh_s
        return max(self.refresh_s, min(step_for(key[2]), 300.0))

    def _due(self, now: float) -> list[_Key]:
        for key in [k for k, at in self._wanted.items() if now - at > self.forget_s]:
            self._wanted.pop(key)
            self._answers.pop(key, None)
        return [k for k in self._wanted
                if k not in self._answers or now - self._answers[k].asked_at >= self._refresh(k)]

    def run_round(self) -> int:
        """Ask for every chart that is due; returns how many were asked (tests call it)."""
        with self._cond:
            due = self._due(self._clock())
        unreachable: RangeAnswer | None = None
        for key in due:
            if self._stop.is_set():
                break
            found = unreachable or self._fetch(key)
            if found.status in ("down", "slow"):
                unreachable = found
            with self._cond:
                if key in self._wanted:
                    self._answers[key] = found
                self._cond.notify_all()
        with self._cond:
            self.rounds += bool(due)
            self._cond.notify_all()
        return len(due)

    def _fetch(self, key: _Key) -> RangeAnswer:
        instance, chart, window_s = key
        end = self._clock()
        step = step_for(window_s)
        lines: dict[str, RangeLine] = {}
        selects = f"{self.settings.label} = {preview(instance)}"
        try:
            for series in CHARTS[chart]:
                query = query_for(series, self.settings.label, instance, step)
                lines[series] = self._client.query_range(query, end - window_s, end, step)
        except PromError as exc:
            return RangeAnswer(self.source, exc.kind, problem=str(exc), asked_at=end,
                               selects=selects)
        except Exception as exc:  # noqa: BLE001 - our bug: said, retried after refresh_s
            log.exception("reading %s's answer failed", self.source)
            return RangeAnswer(self.source, "error", asked_at=end, selects=selects,
                               problem=f"Opta Stream could not read {self.source}'s answer "
                                       f"({type(exc).__name__}): this is a bug in Opta Stream.")
        return RangeAnswer(self.source, "ok", lines, asked_at=end, selects=selects)
