"""Polls the gauges a real Opta LMX does not stream.

A real server streams lifecycle events only, so memory, request counts and
tokens/s come from ``/admin/status``, ``/admin/metrics/json`` (tokens per
model), ``/admin/metrics`` (Prometheus: latency, queue, errors, clients; see
``serving_poll``) and ``/admin/models``. When the feed itself carries
``status`` / ``throughput`` events (the demo's rich mode), the matching
status gauges and tokens/s are not polled; the model rows always are.

Two failures mean more than "this poll failed". A 503 ``overloaded`` is load
shedding (memory at 95 % or more): the poll is marked so, and once a round
``/admin/health`` (the one route the server still answers then) says how
full memory is. A refused connection is a server that stopped, or one that
is stopping and refuses new connections while its open event stream still
beats: ``on_refused`` tells the Feed, which closes the stream so the server
can finish its shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from opta_stream.errors import AuthRejected, OptaStreamError, ServerRefused
from opta_stream.events.counters import CounterRates
from opta_stream.events.report_bodies import health
from opta_stream.feed.report_poll import failure_of
from opta_stream.feed.serving_poll import METRICS, ServingPoller
from opta_stream.snapshot import ModelInfo
from opta_stream.store.core import Store
from opta_stream.units import duration
from opta_stream.wire.client import AdminClient, Unreachable
from opta_stream.wire.failures import REFUSED
from opta_stream.wire.replies import SHEDDING, refusal_kind

__all__ = ["Sampler", "models_from_admin"]

log = logging.getLogger(__name__)

UPTIME_SLACK_S = 1.0  # uptime may read a little lower from one poll to the next


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    num = _num(value)
    return None if num is None else int(num)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _model_counts(body: Mapping[str, Any]) -> dict[str | None, float]:
    """Completion tokens so far per model; before any model has served, the server total."""
    per_model = body.get("per_model")
    counts: dict[str | None, float] = {}
    for model, row in (per_model.items() if isinstance(per_model, dict) else ()):
        value = _num(row.get("completion_tokens")) if isinstance(row, dict) else None
        if isinstance(model, str) and value is not None:
            counts[model] = value
    total = _num(body.get("total_completion_tokens"))
    return counts or ({None: total} if total is not None else {})


def models_from_admin(body: Mapping[str, Any]) -> list[ModelInfo]:
    """``GET /admin/models`` → ModelInfo rows (unknown fields ignored)."""
    rows = body.get("loaded")
    out = []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            out.append(_model_row(row))
    return out


def _model_row(row: Mapping[str, Any]) -> ModelInfo:
    readiness = row.get("readiness")
    return ModelInfo(
        model_id=row["id"],
        memory_gb=_num(row.get("memory_gb")),
        loaded_at=_num(row.get("loaded_at")),
        context_length=_int(row.get("context_length")),
        quantization=_str(row.get("quantization")),
        request_count=_int(row.get("request_count")),
        format=_str(row.get("format")),
        readiness=_str(readiness.get("state")) if isinstance(readiness, dict) else None,
        last_used_at=_num(row.get("last_used_at")),
    )


class Sampler:
    """One poll round per ``sample_once()``; the Feed runs it on a timer."""

    def __init__(
        self,
        client: AdminClient,
        store: Store,
        *,
        clock: Callable[[], float],
        streamed_recently: Callable[[str], bool] = lambda kind: False,
        models_every: int = 2,
        on_refused: Callable[[str], None] = lambda why: None,
    ) -> None:
        self._client = client
        self._store = store
        self._clock = clock
        self._streamed = streamed_recently
        self._on_refused = on_refused
        self._health_round = 0  # the round /admin/health was last read in (while shedding)
        self._health_said = ""
        self._models_every = max(1, models_every)
        self._rate = CounterRates()
        self._serving = ServingPoller(client, store, clock=clock, on_reset=self._counter_reset)
        self._loaded: set[str] = set()  # models the last /admin/models poll listed
        self._reset_round = 0  # the round a reset was last logged in (one line per restart)
        self._round = 0
        self._failing: dict[str, str] = {}  # endpoint → why it fails
        self._uptime: tuple[float, float] | None = None  # (uptime, when it was read)
        self._first_uptime: tuple[float, float] | None = None  # the first reading of it
        self._off_checked = False  # "restarted while the dashboard was off" was decided
        self.key_rejected = False  # an endpoint refused the key in the last round

    @property
    def loaded(self) -> tuple[str, ...]:
        """The model ids the newest ``/admin/models`` poll listed."""
        return tuple(sorted(self._loaded))

    def sample_once(self) -> bool:
        """Poll each endpoint on its own; True when any answered (a sign of life).

        A failure is counted and reported per endpoint, never raised: a 404 on
        one endpoint leaves the others updating.
        """
        self._round += 1
        self.key_rejected = False
        polls: list[tuple[str, Callable[[], bool]]] = [
            ("/admin/status", self._poll_status), ("/admin/metrics/json", self._poll_metrics),
            (METRICS, self._serving.poll)]
        if (self._round % self._models_every == 1 or self._models_every == 1
                or "/admin/models" in self._failing):
            # a failing endpoint is asked again every round: the verdict is live again as
            # soon as the server answers, not a models round later
            polls.append(("/admin/models", self._poll_models))
        answered = False
        for endpoint, poll in polls:
            answered = self._poll(endpoint, poll) or answered
        return answered

    def _poll(self, endpoint: str, poll: Callable[[], bool]) -> bool:
        try:
            polled = poll()
        except AuthRejected as exc:
            self.key_rejected = True
            self._failed(endpoint, str(exc), auth=True)
            return False
        except ServerRefused as exc:
            kind = refusal_kind(exc.status, exc.code)
            said = self._shedding_words(exc) if kind == SHEDDING else str(exc)
            self._failed(endpoint, said, kind=kind)
            return False
        except Unreachable as exc:
            self._failed(endpoint, str(exc), kind=exc.kind)
            if exc.kind == REFUSED:
                self._on_refused(str(exc))
            return False
        except OptaStreamError as exc:
            self._failed(endpoint, str(exc))
            return False
        if polled:
            self._recovered(endpoint)
        return polled

    def _poll_status(self) -> bool:
        body = self._client.get_json("/admin/status")
        now = self._clock()
        self._check_uptime(_num(body.get("uptime_seconds")), now)
        mem = body.get("memory")
        mem = mem if isinstance(mem, dict) else {}
        used, total = _num(mem.get("used_gb")), _num(mem.get("total_gb"))
        threshold = _num(mem.get("threshold_percent"))
        # The threshold is only ever polled: streamed status events do not carry it.
        gauges = dict(
            active_requests=_int(body.get("in_flight_requests")),
            max_concurrent=_int(body.get("max_concurrent_requests")),
            uptime_s=_num(body.get("uptime_seconds")), version=_str(body.get("version")),
            threshold_pct=threshold,
        )
        if self._streamed("status"):
            gauges = {k: v for k, v in gauges.items() if v is not None}
        else:
            gauges.update(memory_used_gb=used, memory_total_gb=total)
            if used is not None and total is not None:
                self._store.add_memory(now, used, total, threshold)
        self._store.set_gauges(updated_at=now, **gauges)
        return True

    def _check_uptime(self, uptime: float | None, now: float) -> None:
        """Uptime behind where it should be by now is a server restart: say so, break lines.

        Expected is the last uptime plus the time since it was read, so a restart
        during an outage shows too, however short the server had been up.
        """
        if uptime is None:
            return
        last, self._uptime = self._uptime, (uptime, now)
        if self._first_uptime is None:
            self._first_uptime = (uptime, now)
        started = now - uptime  # when the server (re)started: where its marker belongs
        if last is not None and uptime + UPTIME_SLACK_S < last[0] + (now - last[1]):
            self._rate.restarted()  # its counters restarted too: no second "reset" message
            self._serving.restarted()
            self._reset_round = self._round
            self._store.new_segment()
            self._store.log("server_restarted", f"Server restarted: uptime {duration(last[0])} "
                            f"→ {duration(uptime)}", severity="warning", at=started)
            return
        self._check_off_restart()

    def _check_off_restart(self) -> None:
        """Once, from the first uptime read, as soon as history has loaded (it loads while
        the feed polls): was the server younger then than the time since this server was
        last recorded? Then it restarted while the dashboard was off."""
        first = self._first_uptime
        if first is None or self._off_checked or self._store.loading_history:
            return
        self._off_checked = True
        until = self._store.recorded_until
        uptime, seen = first
        started = seen - uptime
        if until is not None and started > until + UPTIME_SLACK_S:
            self._store.log("server_restarted", f"Server restarted while the dashboard was off "
                            f"(up {duration(uptime)}; last recorded {duration(seen - until)} "
                            "ago)", severity="warning", at=started)

    def _poll_metrics(self) -> bool:
        """Tokens/s per model from ``per_model.completion_tokens`` (the total before any)."""
        body = self._client.get_json("/admin/metrics/json")
        now = self._clock()
        counts = _model_counts(body)
        if not counts or self._streamed("throughput"):
            self._rate.forget()
            return True
        step = self._rate.update(now, counts)
        if step.reset:
            self._counter_reset("Token counter went backwards: the server restarted")
        for model, rate in (step.rates or {}).items():
            if model is None or rate > 0 or model in self._loaded:
                self._store.add_throughput(now, rate, model)
        return True

    def _counter_reset(self, message: str) -> None:
        """Counters went backwards: break the lines here; say so once per restart."""
        self._store.new_segment()
        if self._reset_round != self._round:
            self._reset_round = self._round
            self._store.log("counter_reset", message, severity="warning")

    def _poll_models(self) -> bool:
        """Polled even when status events stream: only these rows carry readiness, request
        counts and last use (the stream's rows keep their other fields)."""
        models = models_from_admin(self._client.get_json("/admin/models"))
        self._loaded = {m.model_id for m in models}
        self._store.set_models(models)
        return True

    def _shedding_words(self, exc: ServerRefused) -> str:
        """The 503 and, read once a round, what ``/admin/health`` says about memory."""
        if self._health_round != self._round:
            self._health_round = self._round
            try:
                report = health(self._client.report("health"))
            except Exception as failed:  # noqa: BLE001 - said on the page, the poll goes on
                self._store.set_report_failure("health", failure_of("health", failed))
                self._health_said = "/admin/health did not answer either"
            else:
                self._store.set_report("health", report)
                pct = report.memory_usage_percent
                self._health_said = (f"/admin/health says: {report.reason}" if report.reason
                                     else f"/admin/health says memory is at {pct:.1f} %"
                                     if pct is not None else "/admin/health answers")
        return f"HTTP {exc.status}: {exc.message}; {self._health_said}"

    def _failed(self, endpoint: str, message: str, *, auth: bool = False,
                kind: str = "") -> None:
        self._store.count(poll_errors=1)
        if endpoint == "/admin/metrics/json":
            self._rate.forget()
        if endpoint not in self._failing:
            if not self._failing:
                self._store.new_segment()
            self._store.log("poll_failed", f"Polling {endpoint} failed: {message}",
                            severity="warning")
            log.warning("polling %s%s failed: %s", self._client.base_url, endpoint, message)
        self._failing[endpoint] = message
        self._store.set_poll(endpoint, False, message, auth_rejected=auth, kind=kind)

    def _recovered(self, endpoint: str) -> None:
        if self._failing.pop(endpoint, None) is not None:
            self._store.log("poll_recovered", f"Polling {endpoint} works again",
                            severity="info")
        self._store.set_poll(endpoint, True)
