"""The server's self-report, polled off the render path, each section at its own pace.

The diagnostics are read every 10 s whatever anyone looks at (the alerts
read them), the device every 5 min (it barely changes). The rest (routing,
helpers, benchmarks, compatibility, predictor, presets, each loaded model's
performance row, ``/admin/memory``) is read only while someone looks: a page
marks what it shows with ``want()`` on every redraw, as a page asks
``PromReader.answer``, and a section nobody looked at for ``forget_s`` (2 min)
is no longer polled; its last answer stays in the Store with its time.
``/admin/helpers`` checks each helper node live before it answers (up to
10 s a helper), so it is read at most once a minute, and its slow answer
holds up only this thread: never the sampler, whose refused polls are how a
stopping server is noticed, and never a page.

Every answer goes into the Store (``Store.set_report``), every failure in
words with its kind (``set_report_failure``: a 403 policy, a 404 from an
older server, a timeout, load shedding, a refused connection, a body of the
wrong shape), and the other sections carry on. The Feed runs ``run`` in its
thread ``opta-reports <host:port>``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping

from opta_stream.errors import AuthRejected, OptaStreamError, ServerRefused
from opta_stream.events.report_bodies import PARSERS, BadAnswer, performance
from opta_stream.server_report import (
    ALWAYS,
    EVERY_S,
    ON_VIEW,
    ROUTES,
    Failure,
    ModelPerformance,
)
from opta_stream.store.core import Store
from opta_stream.wire.client import AdminClient, Unreachable
from opta_stream.wire.replies import MISSING, POLICY, SHEDDING, refusal_kind

__all__ = ["FORGET_S", "ReportPoller", "failure_of"]

log = logging.getLogger(__name__)

FORGET_S = 120.0  # a section nobody looked at for this long is no longer polled


def _path(section: str) -> str:
    return ROUTES[section]


def failure_of(section: str, exc: Exception) -> Failure:
    """A failed poll in words a person can act on, with its kind (``server_report.Failure``)."""
    path = _path(section)
    if isinstance(exc, AuthRejected):
        return Failure("auth", str(exc), exc.status)
    if isinstance(exc, ServerRefused):
        if exc.status == 200:
            return Failure("bad_answer", f"{exc.message}.")
        kind = refusal_kind(exc.status, exc.code)
        said = f"HTTP {exc.status}: {exc.message}" if exc.message else f"HTTP {exc.status}"
        words = {
            SHEDDING: f"The server is shedding load at ≥ 95 % memory and answers only its "
                      f"health check ({said}).",
            POLICY: f"The server's policy refuses {path} ({said}); the admin key itself "
                    "was accepted.",
            MISSING: f"This server does not serve {path} ({said}): an Opta LMX older than "
                     "this route.",
        }
        return Failure(kind, words.get(kind, f"{path} failed ({said})."), exc.status)
    if isinstance(exc, Unreachable):
        return Failure(exc.kind, str(exc))
    if isinstance(exc, BadAnswer):
        return Failure("bad_answer", f"{exc}; the last good answer is kept.")
    if isinstance(exc, OptaStreamError):
        return Failure("error", str(exc))
    return Failure("error", f"Opta Stream could not read {path} ({type(exc).__name__}): this "
                            "is a bug in Opta Stream, not the server.")


class ReportPoller:
    """Which sections are due, who wants which, and one round of polls."""

    def __init__(self, client: AdminClient, store: Store, *,
                 clock: Callable[[], float] = time.time,
                 loaded: Callable[[], Iterable[str]] = tuple,
                 every: Mapping[str, float] = EVERY_S, forget_s: float = FORGET_S) -> None:
        self._client = client
        self._store = store
        self._clock = clock
        self._loaded = loaded  # the loaded model ids (the sampler's newest /admin/models)
        self._every = dict(every)
        self.forget_s = forget_s
        self._cond = threading.Condition()
        self._wanted: dict[str, float] = {}  # section → when a page last showed it
        self._asked: dict[str, float] = {}  # section → when it was last polled
        self.rounds = 0  # rounds that polled something (tests wait on it)

    # --- the page side: never waits ---------------------------------------------

    def want(self, sections: Iterable[str]) -> None:
        """A page shows these sections now: poll them while it does (at once if new)."""
        now = self._clock()
        with self._cond:
            fresh = False
            for section in sections:
                if section not in ON_VIEW:
                    continue  # ALWAYS sections are polled anyway
                fresh = fresh or section not in self._wanted
                self._wanted[section] = now
            if fresh:
                self._cond.notify_all()

    def wanted(self) -> frozenset[str]:
        """The on-view sections someone looked at in the last ``forget_s``."""
        now = self._clock()
        with self._cond:
            return frozenset(s for s, at in self._wanted.items() if now - at <= self.forget_s)

    # --- the thread side ----------------------------------------------------------

    def due(self, now: float) -> list[str]:
        """Sections to poll now: the always ones and the wanted ones, once their time is up."""
        with self._cond:
            for section in [s for s, at in self._wanted.items() if now - at > self.forget_s]:
                del self._wanted[section]
            live = [*ALWAYS, *(s for s in ON_VIEW if s in self._wanted)]
            return [s for s in live if now - self._asked.get(s, -1e18) >= self._every[s]]

    def poll_once(self) -> int:
        """Poll every section that is due; returns how many were polled."""
        due = self.due(self._clock())
        for section in due:
            self.poll(section)
        if due:
            self._client.close_session()  # rounds are 10 s or more apart: hold no socket
        with self._cond:
            self.rounds += bool(due)
            self._cond.notify_all()
        return len(due)

    def poll(self, section: str) -> None:
        """Ask one section now; its answer or its failure goes into the Store."""
        with self._cond:
            self._asked[section] = self._clock()
        try:
            value = self._performance() if section == "performance" else \
                PARSERS[section](self._client.report(section))
        except Exception as exc:  # noqa: BLE001 - every failure is said, none stops the rest
            if not isinstance(exc, OptaStreamError | BadAnswer):
                log.exception("reading %s failed", _path(section))
            self._store.set_report_failure(section, failure_of(section, exc))
            return
        self._store.set_report(section, value)

    def _performance(self) -> tuple[ModelPerformance, ...]:
        """Each loaded model's row; one unloaded meanwhile (404 ``model_not_found``) is left
        out, and any other failure fails the section."""
        rows = []
        for model_id in self._loaded():
            try:
                rows.append(performance(self._client.performance(model_id)))
            except ServerRefused as exc:
                if exc.status == 404 and exc.code == "model_not_found":
                    continue
                raise
        return tuple(rows)

    def sleep(self, stop: threading.Event, longest: float = 1.0) -> None:
        """Until the next section is due, a page wants a new one, or ``stop``; at most
        ``longest`` seconds (the wanted set may change meanwhile)."""
        with self._cond:
            if not stop.is_set():
                self._cond.wait(longest)

    def wake(self) -> None:
        """End a ``sleep`` now (the Feed's stop)."""
        with self._cond:
            self._cond.notify_all()

    def run(self, stop: threading.Event, paused: Callable[[], bool]) -> None:
        """The thread's body: a round, then sleep; nothing is sent while ``paused()`` (a
        rejected key waits for its re-check)."""
        while not stop.is_set():
            if not paused():
                self.poll_once()
            self.sleep(stop)
