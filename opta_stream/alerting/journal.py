"""Where alerts are kept: states, transitions, the outbox of deliveries, silences.

``AlertJournal`` is the interface; ``memory_journal.MemoryJournal`` keeps it in memory
(history off, and tests), ``history.alert_journal.SqliteAlertJournal`` in the history
file, so states and unsent notices survive a restart of the dashboard.

The outbox is what makes delivery exactly-once: a state change and the deliveries it
calls for are written in one ``commit``; each delivery is unique per (rule, server,
episode, receiver, kind, n), so planning it twice (two rounds, two processes, a
restart) stores it once; the worker marks it sent only after a 2xx.

No row holds a receiver's URL: a delivery names its receiver by ``Receiver.key``
(position, kind, host).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from opta_stream.alerting.engine import AlertKey, AlertState, Transition
from opta_stream.errors import OptaStreamError

__all__ = ["FAILED", "PENDING", "REJECTED", "SENT", "SILENCE_CHOICES_S", "AlertJournal",
           "Delivery", "DeliveryUpdate", "EpisodeKey", "JournalError", "NewDelivery", "Notice",
           "Silence"]

EpisodeKey = tuple[str, str, int]  # (rule, server, episode)
SILENCE_CHOICES_S = (3600.0, 4 * 3600.0, 24 * 3600.0)
PENDING, SENT, FAILED, REJECTED = "pending", "sent", "failed", "rejected"


class JournalError(OptaStreamError):
    """The journal could not be read or written (a full disk, a locked file); in words."""


@dataclass(frozen=True, slots=True)
class Notice:
    """What one notification says: one alert's transition (or a reminder while it fires).

    ``status`` is "firing" or "resolved"; times are unix seconds. Built when the delivery
    is planned and stored with it, so a retry after a restart sends the same words.
    """

    rule: str
    server: str
    instance: str  # the server's host:port
    severity: str
    status: str
    metric: str
    value: float | None
    threshold: float | None
    starts_at: float
    ends_at: float | None
    summary: str
    description: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Notice:
        return cls(**json.loads(text))


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery to make: ``kind`` is firing, repeat (``n`` counts them) or resolved."""

    receiver: str  # Receiver.key
    kind: str
    n: int
    episode: int
    notice: Notice
    due_at: float

    @property
    def unique(self) -> tuple[str, str, int, str, str, int]:
        return (self.notice.rule, self.notice.server, self.episode, self.receiver, self.kind,
                self.n)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery in the outbox. ``status``: pending, sent (2xx), rejected (an answer that
    retrying cannot fix: 4xx, a redirect) or failed (gave up after the retry window)."""

    id: int
    receiver: str
    kind: str
    n: int
    episode: int
    notice: Notice
    status: str
    created_at: float
    due_at: float
    attempts: int = 0
    sent_at: float | None = None
    http_status: int | None = None
    error: str = ""

    @property
    def rule(self) -> str:
        return self.notice.rule

    @property
    def server(self) -> str:
        return self.notice.server

    @property
    def episode_key(self) -> EpisodeKey:
        return (self.notice.rule, self.notice.server, self.episode)


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """The outcome of one attempt, or a new due time."""

    status: str
    attempts: int
    due_at: float
    sent_at: float | None = None
    http_status: int | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class Silence:
    """No notices for this alert until ``until`` (a resolved notice still reaches a
    receiver that got the firing one, so none is left believing it still fires)."""

    rule: str
    server: str
    until: float
    created_at: float

    @property
    def key(self) -> AlertKey:
        return (self.rule, self.server)


class AlertJournal(Protocol):
    """States, transitions, the outbox and silences; every method is thread-safe and
    raises ``JournalError`` (never a driver's exception) when the store fails."""

    def load_states(self, servers: Collection[str] | None = None) -> list[AlertState]:
        """The last committed state of each alert (of these servers)."""
        ...

    def commit(self, states: Sequence[AlertState], transitions: Sequence[Transition],
               deliveries: Sequence[NewDelivery], now: float) -> list[Delivery]:
        """All of it or nothing; returns the deliveries that were new (a duplicate of one
        already in the outbox is skipped)."""
        ...

    def notices(self, keys: Collection[EpisodeKey]) -> dict[EpisodeKey, list[Delivery]]:
        """The deliveries planned so far for each episode, oldest first."""
        ...

    def pending(self, servers: Collection[str] | None, limit: int) -> list[Delivery]:
        """Pending deliveries (of these servers), oldest first, due or not."""
        ...

    def pending_servers(self) -> set[str]:
        ...

    def update(self, delivery_id: int, update: DeliveryUpdate) -> None:
        ...

    def transitions(self, server: str | None = None, limit: int = 100) -> list[Transition]:
        """The newest first."""
        ...

    def deliveries(self, server: str | None = None, limit: int = 100) -> list[Delivery]:
        """The newest first, whatever their status (pages show rejected ones)."""
        ...

    def set_silence(self, silence: Silence) -> None:
        ...

    def clear_silence(self, rule: str, server: str) -> None:
        ...

    def silences(self, now: float) -> list[Silence]:
        """Silences still running at ``now``."""
        ...

    def prune(self, before: float) -> None:
        """Drop finished deliveries, transitions and silences older than ``before``."""
        ...
