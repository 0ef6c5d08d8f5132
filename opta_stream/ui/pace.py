"""The render interval under load: stretched so every viewer's redraws fit the CPU there is.

Why: past what the process can serve, Streamlit does not slow down, it
collapses. Each viewer's browser asks for a fragment run every interval
whether or not the last one has finished. A session that is asked again
while its run is still going starts the next run the moment the first ends,
and that start drops every message of the finished run the event loop has
not sent yet (``ForwardMsgQueue.clear`` when the new run starts, Streamlit
1.67). With the event loop starved by the script threads, most finished runs
are dropped that way: 100 viewers got 0.2 Hz at 103 % of a core, the CPU
spent on redraws nobody saw, and the unsent messages piled up in memory. So
the process must be asked for no more runs than it can do *and* deliver.

Every live fragment run calls ``ran(viewer)``. Each window (2 s) measures
the process's CPU time per run (every thread: the runs, the delivery, the
feeds) and counts the viewers seen lately; the interval needed is viewers ×
cost ÷ budget, the budget being 85 % of the CPU the process can use (one
core at most, because of the GIL; less under a cgroup quota, as on Streamlit
Community Cloud; ``usable_cores``). The interval is one of a few levels,
so a browser's timer is reset only when the level moves: it rises as soon
as two windows in a row each ask for it (one window of first pages, each
full run costing about ten redraws, must not slow everyone down), and falls
one level at a time, once the need has stayed under 95 % of the lower level
for three windows (each move resets every viewer's timer, which costs each
of them up to one redraw). Every viewer gets the same interval, so the
process's capacity is shared evenly and nobody starves.

Pure but for ``usable_cores``, which reads the cgroup quota: clocks injected.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BUDGET", "LEVELS", "Pace", "PaceState", "usable_cores"]

BUDGET = 0.85  # of the CPU the process can use: the rest is headroom for bursts
# multiples of the render interval, about a tenth apart: a level too coarse wastes
# what the process could still serve (need 1.14 s at 0.5 s steps would run at 1.5 s)
LEVELS = (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2.0, 2.2, 2.5, 2.8, 3.2, 3.6, 4.0, 4.5,
          5.0, 5.6, 6.3, 7.0, 8.0, 9.0, 10.0, 11.0, 12.5, 14.0, 16.0, 18.0, 20.0)
WINDOW_S = 2.0
MIN_RUNS = 4  # fewer runs in a window say nothing reliable about the cost of one
FALL_AT = 0.95  # the need must be under this share of the lower level to step down
FALL_AFTER = 3  # windows in a row
SMOOTH = 0.3  # weight of the newest window in the cost per run
RISE_AFTER = 2  # windows in a row whose cost each asks for a higher level


@dataclass(frozen=True)
class PaceState:
    """What a viewer is told: the interval in use, the usual one, and why."""

    interval_s: float
    render_s: float
    viewers: int
    run_ms: float | None  # CPU per run, every thread counted

    @property
    def stretched(self) -> bool:
        return self.interval_s > self.render_s


class Pace:
    """``ran(viewer)`` on every live run; ``interval_s()`` the interval to run at now."""

    def __init__(self, render_s: float, budget_cores: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 cpu: Callable[[], float] = time.process_time,
                 window_s: float = WINDOW_S) -> None:
        if render_s <= 0 or budget_cores <= 0:
            raise ValueError("render_s and budget_cores must be positive")
        self.render_s, self.budget = render_s, budget_cores
        self.levels = tuple(render_s * m for m in LEVELS)
        self._clock, self._cpu, self.window_s = clock, cpu, window_s
        self._lock = threading.Lock()
        self._level = 0
        self._low_windows = 0
        self._seen: dict[Hashable, float] = {}
        self._runs = 0
        self._t0, self._c0 = clock(), cpu()
        self._run_s: float | None = None
        self._costs: deque[float] = deque(maxlen=RISE_AFTER)
        self.windows = 0  # windows measured (tests read it)

    def ran(self, viewer: Hashable) -> None:
        """One live fragment run of ``viewer`` (any hashable per browser session)."""
        with self._lock:
            now = self._clock()
            self._seen[viewer] = now
            self._runs += 1
            if now - self._t0 >= self.window_s:
                self._close_window(now)

    def interval_s(self) -> float:
        with self._lock:
            return self.levels[self._level]

    def interval_for(self, base_s: float) -> float:
        """A fragment that runs every ``base_s`` when nothing is busy runs this often now."""
        return max(base_s, self.interval_s())

    def state(self) -> PaceState:
        with self._lock:
            return PaceState(self.levels[self._level], self.render_s, len(self._seen),
                             None if self._run_s is None else 1000.0 * self._run_s)

    def _close_window(self, now: float) -> None:
        cpu = self._cpu()
        if self._runs >= MIN_RUNS:
            cost = (cpu - self._c0) / self._runs
            self._run_s = cost if self._run_s is None else (
                SMOOTH * cost + (1.0 - SMOOTH) * self._run_s)
            self._costs.append(cost)
        self._runs, self._t0, self._c0 = 0, now, cpu
        self.windows += 1
        # a viewer counts while its timer would have fired twice, with a window's slack
        horizon = 2.0 * self.levels[self._level] + self.window_s
        for viewer in [v for v, t in self._seen.items() if now - t > horizon]:
            del self._seen[viewer]
        if self._run_s is None:
            return
        viewers = len(self._seen)
        # rising asks every recent window for it, so that a burst of first pages (a
        # full run costs ten fragment runs) does not slow everyone for half a minute
        rise = (viewers * min(self._costs) / self.budget
                if len(self._costs) == RISE_AFTER else 0.0)
        self._step(rise, viewers * self._run_s / self.budget)

    def _step(self, rise_s: float, need_s: float) -> None:
        at = self._level
        if rise_s > self.levels[at]:  # rise at once, to the first level that fits
            up = next((i for i, s in enumerate(self.levels) if s >= rise_s),
                      len(self.levels) - 1)
            self._level, self._low_windows = up, 0
            return
        if at > 0 and need_s < FALL_AT * self.levels[at - 1]:
            self._low_windows += 1
            if self._low_windows >= FALL_AFTER:
                self._level, self._low_windows = at - 1, 0
        else:
            self._low_windows = 0


def usable_cores(root: Path = Path("/sys/fs/cgroup"),
                 affinity: Callable[[], int] | None = None) -> float:
    """How much CPU this process may use: its CPU affinity, capped by a cgroup quota
    (v2 ``cpu.max``, else v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``)."""
    if affinity is None:
        cores = float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1)
    else:
        cores = float(affinity())
    quota = _quota(root)
    return min(cores, quota) if quota is not None else cores


def _quota(root: Path) -> float | None:
    try:
        text = (root / "cpu.max").read_text().split()
        if len(text) == 2 and text[0] != "max":
            return _positive(float(text[0]) / float(text[1]))
        if text:
            return None
    except (OSError, ValueError, ZeroDivisionError):
        pass
    try:
        quota = float((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = float((root / "cpu" / "cpu.cfs_period_us").read_text())
        return _positive(quota / period) if quota > 0 else None
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _positive(value: float) -> float | None:
    return value if value > 0 and math.isfinite(value) else None
