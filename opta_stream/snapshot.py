"""The words every layer shares: immutable views of the Store, and what is kept over days.

- ``Snapshot`` and its parts: frozen dataclasses holding read-only copies, so a
  page can render a snapshot for as long as it likes without holding the
  Store's lock.
- The usage ledger's rows (``Usage``) and where history is kept
  (``HistoryState``). The ledger answers "how many tokens did each model
  generate this week". It is kept in quarter-hour buckets per model, not per
  day, because a day is the *viewer's* local date: every time zone in use is a
  whole number of quarter hours from UTC, so any viewer's days are exact sums
  of buckets.
- A long window from a source other than the feed (a user's Prometheus):
  ``RangeAnswer``, one ``RangeLine`` per series it asked for, or the sentence
  that says why there is none, so a chart can name its source or its fallback.
- A server's alerts (``AlertBoard``): what the process's watch evaluated and
  delivered, so a view shows alerts from its snapshot like any other figure.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from opta_stream.server_report import ServerReport

__all__ = [
    "ALL_MODELS",
    "AlertBoard",
    "AlertChange",
    "AlertDelivery",
    "AlertNow",
    "AlertRuleInfo",
    "LONG_WINDOW_S",
    "PENDING",
    "USAGE_BUCKET_S",
    "USAGE_VALUES",
    "ConnState",
    "Connection",
    "Counters",
    "Gauges",
    "Health",
    "HistoryState",
    "LogEntry",
    "ModelInfo",
    "PollStatus",
    "Progress",
    "RangeAnswer",
    "RangeLine",
    "Series",
    "ServerHealth",
    "ServingWindow",
    "Snapshot",
    "TAIL_S",
    "Tail",
    "Usage",
    "empty_serving",
    "empty_series",
    "frozen_array",
]


def frozen_array(values: np.ndarray | list | tuple, dtype: type | str = np.float64) -> np.ndarray:
    """Return a read-only copy, so nobody can mutate a snapshot by accident."""
    arr = np.array(values, dtype=dtype, copy=True)
    arr.flags.writeable = False
    return arr


# -- kept over days: the usage ledger and the history file ----------------------
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

    ``state``: "off" (no history path), "loading" (the file is read while the feed
    already records), "recording", "reading" (another process records this
    server; this one only read what was there) or "memory" (the file cannot be
    written: recording in memory only).
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


# -- long windows from Prometheus ----------------------------------------------
LONG_WINDOW_S = 3600.0  # windows this long or longer may come from Prometheus
PENDING = "pending"



@dataclass(frozen=True, slots=True)
class RangeLine:
    """One line: unix-second times on a grid, values (NaN where there is no point)."""

    t: np.ndarray
    values: np.ndarray
    step_s: float
    query: str


@dataclass(frozen=True, slots=True, eq=False)
class RangeAnswer:
    """What one chart got for one server and window.

    ``status`` is "ok" (``lines`` has every series), "pending" (not asked
    yet), or why not: "down", "slow", "error" or "missing", with ``problem``
    the sentence to show (an "error" is also a bug reading an answer).
    ``asked_at`` is when the answer arrived (0: never).
    """

    source: str
    status: str
    lines: Mapping[str, RangeLine] = field(default_factory=dict)
    problem: str | None = None
    asked_at: float = 0.0
    selects: str = ""  # the series it asked for, in words: "instance = 'studio:1234'"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def _identity(self) -> tuple[object, ...]:
        lines = tuple((k, line.query, line.step_s) for k, line in self.lines.items())
        return (self.source, self.selects, self.status, self.asked_at, self.problem, lines)

    def __eq__(self, other: object) -> bool:
        """Two answers are the same when they answer the same queries from the same
        arrival (their points are then the same): pages key their ticks on it."""
        return isinstance(other, RangeAnswer) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


# -- the Store, now ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Series:
    """One window of a ring, columnar.

    For raw samples ``lo == hi == value`` and ``resolution_s == 0``. For an
    aggregated tier each row is one bucket: ``value`` is the mean, ``lo``/``hi``
    the min/max, ``ts`` the bucket start. ``seg`` changes after every gap or
    counter reset, so charts draw separate lines per segment. ``model`` holds
    codes into ``model_names`` (-1: no model id).
    """

    ts: np.ndarray
    value: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    seg: np.ndarray
    model: np.ndarray
    model_names: tuple[str, ...] = ()
    resolution_s: float = 0.0

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def model_ids(self) -> list[str | None]:
        """Model id per row (None where the sample had none)."""
        return self.model_ids_at(np.arange(len(self))).tolist()

    def model_ids_at(self, idx: np.ndarray, missing: object = None) -> np.ndarray:
        """Model id of the rows ``idx`` as an object array; ``missing`` where a row has none.

        The one place codes turn back into names (charts, CSV and tests use it).
        """
        names = np.array([*self.model_names, missing], dtype=object)  # last: "no id"
        codes = self.model[idx].astype(np.intp)
        codes[(codes < 0) | (codes >= len(self.model_names))] = len(self.model_names)
        return names[codes]


SERVING_VALUES = ("requests", "errors", "prompt_tokens", "completion_tokens", "spec_accepted",
                  "spec_rejected", "spec_ignored", "latency_sum", "latency_count")
SERVING_GAUGES = ("in_flight", "queued", "limit", "in_flight_max", "queued_max",
                  "acceptance_ratio")


@dataclass(frozen=True, slots=True)
class ServingWindow:
    """Counter and histogram deltas of one window, one row per (poll or minute, key).

    ``keys[key[i]]`` says whose row ``i`` is: ``("total", "")``, ``("model", id)``
    or ``("client", id)``. ``values`` columns are ``SERVING_VALUES`` (deltas over
    ``dt`` seconds ending at ``ts``), ``buckets`` the cumulative latency bucket
    deltas at ``bounds[bounds_id[i]]``, ``gauges`` (total rows only, NaN
    elsewhere) the ``SERVING_GAUGES``. ``resolution_s`` is 0 for per-poll rows
    and 60 for minute rows (their gauges are the minute's mean and max).
    """

    ts: np.ndarray
    dt: np.ndarray
    seg: np.ndarray
    key: np.ndarray
    bounds_id: np.ndarray
    values: np.ndarray
    buckets: np.ndarray
    gauges: np.ndarray
    keys: tuple[tuple[str, str], ...] = (("total", ""),)
    bounds: tuple[tuple[float, ...], ...] = ()
    resolution_s: float = 0.0

    def __len__(self) -> int:
        return int(self.ts.size)


def empty_serving() -> ServingWindow:
    """A window with no rows."""
    e = frozen_array([], np.float64)
    return ServingWindow(ts=e, dt=e, seg=e, key=frozen_array([], np.int32), bounds_id=e,
                         values=frozen_array(np.empty((0, len(SERVING_VALUES)))),
                         buckets=frozen_array(np.empty((0, 0))),
                         gauges=frozen_array(np.empty((0, len(SERVING_GAUGES)))))


def empty_series(resolution_s: float = 0.0) -> Series:
    """A series with no rows (what a fresh store returns)."""
    f = frozen_array([], np.float64)
    return Series(
        ts=f, value=f, lo=f, hi=f,
        seg=frozen_array([], np.int64), model=frozen_array([], np.int32),
        resolution_s=resolution_s,
    )


class ConnState(enum.StrEnum):
    """The feed's connection states, as the sidebar badge shows them."""

    CONNECTING = "connecting"
    OPEN = "open"
    RECONNECTING = "reconnecting"
    AUTH_REJECTED = "auth_rejected"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the feed stands; ``message`` is written for a person."""

    state: ConnState = ConnState.CONNECTING
    message: str = ""
    since: float = 0.0
    next_retry_at: float | None = None
    last_event_at: float | None = None
    attempt: int = 0


class Health(enum.StrEnum):
    """One server's state, from both sources: the event stream and the polls."""

    CONNECTING = "connecting"  # nothing heard yet
    LIVE = "live"  # the stream is open and every poll answers
    DEGRADED = "degraded"  # one half works; the message says which
    DOWN = "down"  # neither the stream nor any poll gets through
    KEY_REJECTED = "key_rejected"
    INTERNAL_ERROR = "internal_error"  # a bug in Opta Stream, not the server
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class PollStatus:
    """The latest poll of one endpoint; ``last_ok_at`` is when it last answered; ``kind``
    what a failure was ("refused", "shedding", …: see ``server_report.Failure``)."""

    endpoint: str
    ok: bool
    message: str = ""
    at: float = 0.0
    last_ok_at: float | None = None
    auth_rejected: bool = False
    kind: str = ""


@dataclass(frozen=True, slots=True)
class ServerHealth:
    """The health model's verdict; ``message`` is written for a person."""

    state: Health = Health.CONNECTING
    message: str = ""
    since: float = 0.0
    last_seen_at: float | None = None  # the last sign of life from either source


@dataclass(frozen=True, slots=True)
class Counters:
    """Cumulative counts since the store was created.

    ``reconnects`` counts streams that came back; ``reconnect_attempts`` every try.
    """

    events: int = 0
    malformed: int = 0
    unknown: int = 0
    reconnects: int = 0
    reconnect_attempts: int = 0
    internal_errors: int = 0
    bytes: int = 0
    oversized_lines: int = 0
    poll_errors: int = 0
    log_dropped: int = 0


@dataclass(frozen=True, slots=True)
class Gauges:
    """Latest point values; None means "not reported by this server"."""

    memory_used_gb: float | None = None
    memory_total_gb: float | None = None
    threshold_pct: float | None = None
    active_requests: int | None = None
    max_concurrent: int | None = None
    uptime_s: float | None = None
    version: str | None = None
    tokens_per_s: float | None = None
    temperature_c: float | None = None
    updated_at: float | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One loaded model, merged from status, /admin/models and events."""

    model_id: str
    memory_gb: float | None = None
    loaded_at: float | None = None
    context_length: int | None = None
    quantization: str | None = None
    request_count: int | None = None
    format: str | None = None
    readiness: str | None = None  # "routable", "degraded", "quarantined", …
    last_used_at: float | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """A download or quantize job; ``percent`` in 0..100 or None if unknown."""

    job_id: str
    kind: str  # "download" | "quantize"
    label: str
    percent: float | None
    status: str  # "running" | "completed" | "failed" | "cancelled"
    message: str = ""
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the event log; ``data`` is raw text, shown as text only. A job's ticks
    update its line in place (latest ``ts``, summary, data), its outcome moves it to the end."""

    seq: int
    ts: float
    type: str
    category: str
    severity: str  # "debug" | "info" | "warning" | "error"
    summary: str
    data: str = ""
    updates: int = 1  # events this line stands for
    first_ts: float | None = None  # the first one's time; None: one event, at ts
    job: str = ""  # the running job whose ticks update this line, if any


# -- alerts: what the watch wrote into this server's Store -------------------------


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    """One notice of an alert to one receiver: ``receiver`` is its label ("webhook ·
    host", never the URL), ``kind`` firing, repeat or resolved, ``status`` pending, sent,
    failed or rejected; ``at`` when it was sent (else when it was planned)."""

    receiver: str
    kind: str
    status: str
    at: float
    attempts: int = 0
    detail: str = ""  # the last failure in words (scrubbed of the receiver's URL)


@dataclass(frozen=True, slots=True)
class AlertNow:
    """One rule on this server as the watch last evaluated it. ``state``: inactive,
    pending, firing or resolved; ``value_text``/``threshold_text`` are the figures in the
    notices' own words; ``deliveries`` are those of the latest firing."""

    rule: str
    severity: str  # info, warning, critical
    state: str
    since: float
    condition: str  # the rule in words: "tokens/s (10 s) above 1 for 2 s"
    value: float | None = None
    threshold: float | None = None
    value_text: str = ""
    threshold_text: str = ""
    episode: int = 0
    fired_at: float | None = None
    resolved_at: float | None = None
    silenced_until: float | None = None
    deliveries: tuple[AlertDelivery, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertChange:
    """One change of an alert's state on this server (the journal's transitions)."""

    at: float
    rule: str
    old: str
    new: str
    severity: str
    value: float | None = None
    threshold: float | None = None
    value_text: str = ""
    threshold_text: str = ""
    silenced: bool = False


@dataclass(frozen=True, slots=True)
class AlertRuleInfo:
    """A configured rule in words, for the Alerts page's list."""

    name: str
    severity: str
    condition: str
    servers: str  # "every server", or the names
    origin: str = "yours"  # "built-in", "built-in, changed" (by [[alerts]]) or "yours"
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class AlertBoard:
    """This server's alerts, written into its Store by the process's watch (``watch``)
    after each round that changed something, and every few seconds: views read alerts
    only from here. ``watched`` False: no watch evaluates this server in this process.
    ``notifier`` says who notifies for it ("this process", or another one recording it
    into the same history file); ``problems`` are the refused rules and receivers and
    the journal's trouble, each one sentence."""

    watched: bool = False
    alerts: tuple[AlertNow, ...] = ()
    changes: tuple[AlertChange, ...] = ()  # oldest first, the newest ``changes_kept``
    rules: tuple[AlertRuleInfo, ...] = ()
    receivers: tuple[str, ...] = ()  # labels: kind · host
    problems: tuple[str, ...] = ()
    notifier: str = ""
    updated_at: float | None = None
    changes_kept: int = 0  # how many changes the board carries at most
    every_s: float = 0.0  # how often the rules are evaluated (0: not said)

    @property
    def firing(self) -> tuple[AlertNow, ...]:
        return tuple(a for a in self.alerts if a.state == "firing")


TAIL_S = 300.0  # what a snapshot's tail holds, whatever its window


@dataclass(frozen=True, slots=True)
class Tail:
    """The last ``TAIL_S`` seconds (to ``taken_at`` plus the clock-skew allowance) at the
    finest resolution the store has for that span, whatever the snapshot's window: what
    "now" figures (tokens/s over the last 10 s, the live end of a long chart) read, so
    one snapshot serves a whole page. ``throughput`` carries its ``model_names``."""

    throughput: Series = field(default_factory=empty_series)
    memory_used: Series = field(default_factory=empty_series)
    memory_total: Series = field(default_factory=empty_series)
    serving: ServingWindow = field(default_factory=empty_serving)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a page needs for one render, copied out under one lock."""

    server: str
    taken_at: float
    window_s: float
    throughput: Series = field(default_factory=empty_series)
    memory_used: Series = field(default_factory=empty_series)
    memory_total: Series = field(default_factory=empty_series)
    gaps: tuple[tuple[float, float | None], ...] = ()
    models: tuple[ModelInfo, ...] = ()
    jobs: tuple[Progress, ...] = ()
    events: tuple[LogEntry, ...] = ()
    event_counts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    # every event and note by (type, severity) as the log shows them: the Events page's counts
    kind_counts: Mapping[tuple[str, str], int] = field(
        default_factory=lambda: MappingProxyType({}))
    connection: Connection = field(default_factory=Connection)
    counters: Counters = field(default_factory=Counters)
    gauges: Gauges = field(default_factory=Gauges)
    events_per_s: float = 0.0
    health: ServerHealth = field(default_factory=ServerHealth)
    polls: tuple[PollStatus, ...] = ()
    models_at: float | None = None  # when the models table was last refreshed; None: never
    serving: ServingWindow = field(default_factory=empty_serving)
    history: HistoryState = field(default_factory=HistoryState)
    tail: Tail = field(default_factory=Tail)
    # the log holds older lines than ``events`` carries, or lines were dropped from it:
    # the oldest line shown is not where the log begins
    events_cut: bool = False
    usage: Usage | None = None  # the usage ledger over the last ``usage_s`` when asked for
    alerts: AlertBoard = field(default_factory=AlertBoard)  # this server's alerts (watch)
    # what the server says about itself: each diagnosis route's newest answer or failure
    report: ServerReport = field(default_factory=ServerReport)
