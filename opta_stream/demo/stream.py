"""The loop that writes one ``/admin/events`` stream of the demo server.

``StreamWriter`` runs in the connection's own thread: it drains the
queue, adds ``status``/``throughput`` frames in rich mode, sends a heartbeat
after ``heartbeat_s`` of silence, and obeys the fault hooks.

Frames are pre-formatted and each pass goes out as one chunk, so ``rate=None``
(as fast as possible) is limited by the socket, not by Python.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from opta_stream.demo import views
from opta_stream.demo.faults import Faults
from opta_stream.demo.hub import Hub, Subscriber, frame
from opta_stream.demo.sim import Simulation

__all__ = ["StreamConfig", "StreamWriter"]

_BATCH_MAX = 512  # throughput frames per write when rate is None
_MIN_WAIT_S = 0.02  # a fixed-rate stream batches frames at least this far apart
_PEER_CHECK_S = 0.25  # an idle stream looks for a client hang-up this often
_JITTER = tuple(1.0 + 0.02 * ((i * 37) % 64 - 32) / 32 for i in range(64))


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """What one stream needs from the server."""

    rich: bool
    heartbeat_s: float
    rate_hz: float | None
    wall: Callable[[], float]  # unix time as emitted (clock + fault offset)


class _Ticker:
    """When throughput frames are due; monotonic times in, a list of stamps out."""

    def __init__(self, rate_hz: float | None, now: float) -> None:
        self.period = 1.0 / rate_hz if rate_hz else 0.0
        self.next = now

    def due(self, now: float) -> list[float]:
        if not self.period:
            step = max(now - self.next, 0.0) / _BATCH_MAX
            stamps = [self.next + step * (i + 1) for i in range(_BATCH_MAX)]
            self.next = now
            return stamps
        if now - self.next > 0.5:  # fell behind (stall, trickle): skip, don't burst
            self.next = now
        count = min(int((now - self.next) / self.period) + 1, 50_000) if now >= self.next else 0
        stamps = [self.next + i * self.period for i in range(count)]
        self.next += count * self.period
        return stamps

    def deadline(self) -> float:
        if self.period and self.period < _MIN_WAIT_S:
            return self.next + _MIN_WAIT_S  # batch fast fixed rates instead of waking per frame
        return self.next


class StreamWriter:
    """Writes one stream until the server stops, a fault ends it, or the client leaves.

    ``send`` writes one HTTP chunk. ``run`` returns why it ended: ``"stopped"``,
    ``"dropped"``, ``"closed"`` (close_after) — all to be ended cleanly — or
    ``"aborted"`` (drop_mid_event: the caller must cut the socket) or ``"gone"``.
    """

    def __init__(self, *, send: Callable[[bytes], None], hub: Hub, sub: Subscriber,
                 sim: Simulation, faults: Faults, cfg: StreamConfig,
                 stop: threading.Event, peer_left: Callable[[], bool] = lambda: False) -> None:
        self._send_chunk, self._hub, self._sub = send, hub, sub
        self._peer_left = peer_left
        self._sim, self._faults, self._cfg, self._stop = sim, faults, cfg, stop
        self.sent = 0
        self._index = 0
        self._suffixes: dict[str | None, str] = {}
        self._base = -1.0
        now = time.monotonic()
        self._last = self._next_status = now  # last event sent / next status frame due
        self._ticker = _Ticker(cfg.rate_hz, now)

    def run(self) -> str:
        try:
            return self._loop()
        except OSError:
            return "gone"

    def _loop(self) -> str:
        generation = self._faults.drop_generation()
        self._send(self._faults.connect_bytes())
        self._last = self._ticker.next = self._next_status = time.monotonic()
        while not self._stop.is_set():
            self._sub.wake.clear()
            if self._faults.drop_generation() != generation:
                self._send(b'event: throughput\ndata: {"timest')
                return "aborted"
            if self._stalled() or self._idle():
                if self._peer_left():
                    return "gone"
                continue
            if self._sub.dropped:
                return "dropped"
            limit = self._faults.close_after_n()
            if limit is not None and self.sent >= limit:
                return "closed"
            self._pass(limit)
        return "stopped"

    def _stalled(self) -> bool:
        pause = self._faults.stall_remaining()
        if pause <= 0:
            return False
        self._faults.note_stalled()
        self._sub.wake.wait(min(pause, _PEER_CHECK_S))
        self._last = time.monotonic()
        self._ticker.next = self._next_status = self._last
        return True

    def _idle(self) -> bool:
        """Sleep until something is due; True if nothing was (loop again)."""
        deadlines = [self._last + self._cfg.heartbeat_s]
        if self._cfg.rich:
            deadlines += [self._next_status, self._ticker.deadline()]
        timeout = min(deadlines) - time.monotonic()
        if timeout <= 0 or self._sub.items or self._sub.dropped:
            return False
        self._sub.wake.wait(min(timeout, _PEER_CHECK_S))
        return True

    def _pass(self, limit: int | None) -> None:
        now = time.monotonic()
        budget = None if limit is None else limit - self.sent
        parts, count = self._collect(now, budget)
        if count == 0 and now - self._last >= self._cfg.heartbeat_s:
            parts.append(frame("heartbeat", {"timestamp": self._cfg.wall()}))
            count = 1
        if count:
            self._last = now
        self.sent += count
        self._send(b"".join(parts))

    def _collect(self, now: float, budget: int | None) -> tuple[list[bytes], int]:
        parts: list[bytes] = []
        count = 0
        for is_event, data in self._hub.drain(self._sub):
            if is_event and budget is not None and count >= budget:
                continue
            count += is_event
            parts.append(data)
        if not self._cfg.rich or (budget is not None and count >= budget):
            return parts, count
        if now >= self._next_status:
            self._next_status = max(self._next_status + 1.0, now + 0.5)  # ~1 Hz, no bursts
            view = self._sim.view()
            parts.append(frame("status", views.dashboard_status(view, self._faults.offset())))
            count += 1
        stamps = self._ticker.due(now)
        if budget is not None:
            stamps = stamps[: max(budget - count, 0)]
        if stamps:
            parts.append(self._throughput(stamps))
        return parts, count + len(stamps)

    def _throughput(self, stamps: list[float]) -> bytes:
        """Many throughput frames in one string: the hot path of the benchmark."""
        samples = [(self._suffix(mid), tps) for mid, tps in self._sim.throughput_samples()]
        base = self._anchor()
        k, i, jitter = len(samples), self._index, _JITTER
        out = []
        for stamp in stamps:
            suffix, tps = samples[i % k]
            out.append(f'event: throughput\ndata: {{"timestamp": {base + stamp!r}, '
                       f'"tokens_per_second": {round(tps * jitter[i & 63], 2)!r}{suffix}')
            i += 1
        self._index = i
        return "".join(out).encode()

    def _anchor(self) -> float:
        """Wall minus monotonic time, steady unless the clock really moved (>5 ms).

        Reusing it keeps scheduled timestamps exact and increasing across batches.
        """
        base = self._cfg.wall() - time.monotonic()
        if abs(base - self._base) > 0.005:
            self._base = base
        return self._base

    def _suffix(self, model_id: str | None) -> str:
        suffix = self._suffixes.get(model_id)
        if suffix is None:
            extra = "" if model_id is None else f', "model_id": {json.dumps(model_id)}'
            suffix = self._suffixes[model_id] = extra + "}\n\n"
        return suffix

    def _send(self, data: bytes) -> None:
        if not data:
            return
        delay = self._faults.trickle_delay()
        if not delay:
            self._send_chunk(data)
            self._faults.note_sent(len(data))
            return
        for i in range(len(data)):
            if self._stop.is_set():
                return
            self._send_chunk(data[i : i + 1])
            self._faults.note_sent(1)
            self._stop.wait(delay)
