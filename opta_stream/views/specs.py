"""What each page's view depends on, typed and frozen: its spec.

A spec is at once the cache key of a tick's recording and, with one
snapshot, the only input of the page's pure ``build(spec, snapshot)``: a
view reads nothing else (no clock, no session, no Store), so two viewers
whose specs are equal get the same recording and two whose specs differ
never get each other's. ``server`` names the Store the snapshot comes from
(``ui.sources.Source.key``); ``snapshot_s`` is how far back that snapshot
must reach.

A Prometheus answer is part of a long window's spec; answers compare by
what was asked and when it arrived (``snapshot.RangeAnswer``), so a new
answer is a new spec and is drawn at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opta_stream.settings import Thresholds
from opta_stream.snapshot import RangeAnswer

__all__ = [
    "AlertsSpec", "EventsSpec", "FleetCardSpec", "FleetHistorySpec", "FleetTableSpec",
    "MemorySpec", "ModelsSpec", "OverviewSpec", "RequestsSpec", "ServerSpec", "Spec",
    "ThroughputSpec", "UsageSpec",
]

OVERVIEW_S = 300.0  # the Overview's and the Fleet cards' window (figures.headline.RECENT_S)
DEFAULT_BANDS = Thresholds()
MODELS_S = 300.0  # each model's p95 is over the last 5 min, as on the Requests page
EVENTS_SNAPSHOT_S = 60.0  # the log is not windowed by the snapshot: any span will do
SERVER_S = 300.0  # the Server page sets the dashboard's own error rate over 5 min beside


@dataclass(frozen=True, slots=True)
class Spec:
    """The base of every page's spec: whose data, in which time zone, with which colour
    bands (the deployment's ``settings.Thresholds``)."""

    server: str
    tz: str
    bands: Thresholds = field(default=DEFAULT_BANDS, kw_only=True)

    @property
    def snapshot_s(self) -> float:
        return OVERVIEW_S

    @property
    def usage_s(self) -> float | None:
        """How far back the usage ledger is wanted in the snapshot (None: not at all)."""
        return None


@dataclass(frozen=True, slots=True)
class OverviewSpec(Spec):
    """The Overview: the last two minutes and "now"."""


@dataclass(frozen=True, slots=True)
class WindowSpec(Spec):
    """A page with a window selector, drawn from Prometheus for long windows when set."""

    window_s: float
    answer: RangeAnswer | None = None

    @property
    def snapshot_s(self) -> float:
        return self.window_s


@dataclass(frozen=True, slots=True)
class ThroughputSpec(WindowSpec):
    pass


@dataclass(frozen=True, slots=True)
class MemorySpec(WindowSpec):
    pass


@dataclass(frozen=True, slots=True)
class RequestsSpec(WindowSpec):
    pass


@dataclass(frozen=True, slots=True)
class EventsSpec(Spec):
    """The event log over ``window_s``, filtered."""

    window_s: float
    categories: tuple[str, ...]
    severities: tuple[str, ...]
    needle: str = ""

    @property
    def snapshot_s(self) -> float:
        return EVENTS_SNAPSHOT_S


@dataclass(frozen=True, slots=True)
class UsageSpec(Spec):
    """Usage per local day over the last ``days`` days (today included)."""

    days: int

    @property
    def snapshot_s(self) -> float:
        return 1.0

    @property
    def usage_s(self) -> float | None:
        return (self.days + 1) * 86400.0  # a day more: the first local day starts before


@dataclass(frozen=True, slots=True)
class ModelsSpec(Spec):
    """The loaded models' rows and the jobs."""

    @property
    def snapshot_s(self) -> float:
        return MODELS_S


@dataclass(frozen=True, slots=True)
class ServerSpec(Spec):
    """The Server page: what the server says about itself, beside the last 5 minutes."""

    @property
    def snapshot_s(self) -> float:
        return SERVER_S


@dataclass(frozen=True, slots=True)
class FleetCardSpec(Spec):
    """One server's card on the Fleet page."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class FleetTableSpec:
    """Every server's row in the Fleet table: one snapshot per server, in order, over the
    Overview's window. No time zone: the table shows no clock time, so every viewer of a
    slot shares one."""

    servers: tuple[str, ...]  # each server's Store key
    names: tuple[str, ...]
    bands: Thresholds = field(default=DEFAULT_BANDS, kw_only=True)

    @property
    def snapshot_s(self) -> float:
        return OVERVIEW_S


@dataclass(frozen=True, slots=True)
class FleetHistorySpec:
    """Every server's tokens/s over a long window: one snapshot per server, in order."""

    servers: tuple[str, ...]  # each server's Store key
    names: tuple[str, ...]
    tz: str
    window_s: float
    answers: tuple[RangeAnswer | None, ...]

    @property
    def snapshot_s(self) -> float:
        return self.window_s


@dataclass(frozen=True, slots=True)
class AlertsSpec:
    """The Alerts page: every watched server's alerts (from the boards their snapshots
    carry), and their changes over ``window_s``."""

    servers: tuple[str, ...]  # each server's Store key
    names: tuple[str, ...]
    tz: str
    window_s: float

    @property
    def snapshot_s(self) -> float:
        return 1.0  # the boards and the health: no series is read
