"""Alert evaluation's cost: 20 rules on 20 servers, as often as the watch evaluates them.

Why: the watch evaluates every rule on every server every 2 s (``INTERVAL_S``), for as
long as the dashboard runs, whether anyone looks or not; the issue allows it 1 % of
a core. Four figures, each the median of 5 timed runs of as many rounds as fit in
``budget_s`` (CPU time of this thread, ``time.thread_time``):

- **engine**: ``engine.evaluate`` alone (10 built-in rules plus 10 of the user's);
- **monitor**: a whole ``AlertMonitor.evaluate`` round on a ``MemoryJournal``
  (ownership, planning, the commit when something moved); readings drift so that
  alerts keep going pending, firing and resolving (about 7 transitions a round: far
  more churn than a real fleet has);
- **steady**: the same monitor with readings that do not change (firing alerts stay
  firing; every 10 s the firing ones are checked for repeats), the usual case;
- **baseline**: the same call with no rules (the loop over servers, the copy of the
  states), measured in the same run;
- **watch**: what the process really pays, ``AlertDesk.round`` as the watch's thread
  runs it every ``INTERVAL_S``: on 20 live Stores with the last 10 minutes a real feed writes
  (tokens/s of two models at 10 Hz, memory and a serving poll at 1 Hz, a 500-line log),
  each server's 300 s snapshot read once and turned into a reading, the monitor's round,
  and every ``BOARD_S`` each server's board written back, over the SQLite
  journal in a temporary history file. This is ``alert_eval_pct_core_20x20`` in
  ``bench/run.py``'s quick run, against the issue's budget of 1 % of a core.

The engine's and monitor's shares are the CPU of one round at one round a second (as
first measured); the watch's, ``alert_eval_pct_core_20x20``, at one round every
``INTERVAL_S``.
``python bench/alert_bench.py [--quick]`` prints one JSON object; bounded to a few
seconds.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tempfile  # noqa: E402

import numpy as np  # noqa: E402

from opta_stream.alerting.engine import evaluate  # noqa: E402
from opta_stream.alerting.memory_journal import MemoryJournal  # noqa: E402
from opta_stream.alerting.monitor import AlertMonitor  # noqa: E402
from opta_stream.alerting.rules import (  # noqa: E402
    METRICS,
    AlertConfig,
    Receiver,
    Rule,
    parse_alerts,
)
from opta_stream.events.counters import ServingStep  # noqa: E402
from opta_stream.history.alert_journal import SqliteAlertJournal  # noqa: E402
from opta_stream.snapshot import ConnState  # noqa: E402
from opta_stream.store.core import Store  # noqa: E402
from opta_stream.watch.alert_desk import AlertDesk  # noqa: E402
from opta_stream.watch.fleet_watch import INTERVAL_S  # noqa: E402

__all__ = ["live_store", "main", "readings", "rules", "watch_round_s"]

SERVERS = 20
RUNS = 5
T0 = 1_795_000_000.0


def rules() -> list[Rule]:
    """The 10 built-ins and 10 rules of the user's, on every server."""
    user = [{"name": f"User rule {i}", "metric": METRICS[i % len(METRICS)],
             ("above" if i % 2 else "below"): 50.0 + i, "for_s": 30 * (i % 3)}
            for i in range(10)]
    config = parse_alerts({"alerts": user})
    assert not config.errors, config.errors
    active = list(config.active)
    assert len(active) == 20
    return active


def readings(round_no: int) -> dict[str, dict[str, float | None]]:
    """Every metric on every server; values drift, one server in five is down."""
    out: dict[str, dict[str, float | None]] = {}
    for s in range(SERVERS):
        down = s % 5 == 0 and (round_no // 40) % 2 == 1
        base = 40.0 + 30.0 * (((round_no + 7 * s) % 60) / 60.0)
        r: dict[str, float | None] = {m: (None if down else base + i)
                                      for i, m in enumerate(METRICS)}
        r["down_s"] = 45.0 if down else 0.0
        r["memory_threshold_pct"] = None if down else 90.0
        r["slots"] = None if down else 4.0
        out[f"server-{s:02d}"] = r
    return out


LIVE_S = 600.0
MODELS = ("mlx-community/Qwen2.5-7B-Instruct-4bit", "mlx-community/Llama-3.2-3B-Instruct-4bit")
BOUNDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, float("inf"))
POLLS = ("/admin/status", "/admin/metrics/json", "/admin/metrics", "/admin/models")


def _step(ts: float, s: int) -> ServingStep:
    values = {"requests": 1.0, "errors": float(ts % 50 == 0), "completion_tokens": 40.0,
              "latency_sum": 2.0 + s, "latency_count": 1.0}
    return ServingStep(ts, 1.0, {**values, "prompt_tokens": 9.0},
                       dict.fromkeys(MODELS, values), {"cli": values},
                       {m: tuple(float(i) for i in range(len(BOUNDS))) for m in MODELS},
                       BOUNDS, {"in_flight": 1.0, "queued": 0.0, "limit": 4.0})


def live_store(s: int) -> Store:
    """A live server's last 10 minutes, as its feed writes them (module docstring)."""
    store = Store(f"http://lmx{s}.bench:1234", clock=lambda: T0)
    store.set_connection(ConnState.OPEN, "Connected")
    for endpoint in POLLS:
        store.set_poll(endpoint, True)
    ts = T0 - LIVE_S + np.arange(0.0, LIVE_S, 0.1)
    for model in MODELS:
        store.add_throughput_many(ts, 40.0 + s + (np.arange(ts.shape[0]) % 13),
                                  [model] * ts.shape[0])
    for t in (T0 - LIVE_S + np.arange(0.0, LIVE_S)).tolist():
        store.add_memory(t, 20.0 + s, 64.0, 90.0)
        store.add_serving(_step(t, s))
    for k in range(500):
        store.log("model_loaded", f"Loaded {MODELS[k % 2]}", data=f"{k:06d}")
    store.set_gauges(active_requests=1, max_concurrent=4, updated_at=T0)
    return store


def watch_round_s(config: AlertConfig, budget: float, folder: str) -> tuple[float, int]:
    """CPU seconds of one ``AlertDesk.round`` on 20 live Stores (SQLite journal), and
    how many alerts fired in its first round."""
    stores = {f"server-{s:02d}": live_store(s) for s in range(SERVERS)}
    journal = SqliteAlertJournal.open(f"{folder}/history.sqlite3")
    desk = AlertDesk(config, stores, journal, clock=lambda: T0)
    try:
        fired = sum(1 for t in desk.round(T0) if t.new.value == "firing")
        return _per_round(lambda n: desk.round(T0 + INTERVAL_S * (1 + n)), budget), fired
    finally:
        desk.stop()
        journal.close()


def _per_round(run: Callable[[int], None], budget_s: float) -> float:
    """Median CPU seconds per round over ``RUNS`` runs of about ``budget_s`` each."""
    per = []
    n = 0
    for _ in range(RUNS):
        start = time.thread_time()
        rounds = 0
        while time.thread_time() - start < budget_s:
            run(n)
            n += 1
            rounds += 1
        per.append((time.thread_time() - start) / rounds)
    return statistics.median(per)


def main(quick: bool = False, budget_s: float | None = None) -> dict[str, Any]:
    budget = budget_s if budget_s is not None else 0.05 if quick else 0.15
    active = rules()
    frames = [readings(i) for i in range(240)]  # built ahead: only evaluation is timed
    states: dict = {}

    def engine(n: int) -> None:
        nonlocal states
        states = evaluate(active, frames[n % 240], states, T0 + n).states

    def empty(n: int) -> None:
        evaluate([], frames[n % 240], {}, T0 + n)

    journal = MemoryJournal()
    hook = Receiver("webhook", "http://127.0.0.1:9/x", 1, "webhook · 127.0.0.1:9")
    monitor = AlertMonitor(active, [hook], journal, clock=lambda: T0)

    moved = [0, 0]  # transitions, rounds

    def round_(n: int) -> None:
        moved[0] += len(monitor.evaluate(frames[n % 240], T0 + n))
        moved[1] += 1

    calm = AlertMonitor(active, [hook], MemoryJournal(), clock=lambda: T0)

    def steady(n: int) -> None:
        calm.evaluate(frames[0], T0 + n)

    baseline_s = _per_round(empty, budget)
    engine_s = _per_round(engine, budget)
    monitor_s = _per_round(round_, budget)
    steady_s = _per_round(steady, budget)
    hook_config = AlertConfig(tuple(active), (hook,))
    with tempfile.TemporaryDirectory(prefix="opta-alert-bench-") as folder:
        watch_s, fired = watch_round_s(hook_config, budget, folder)
    result = {
        "alert_rules": len(active), "alert_servers": SERVERS,
        "alert_baseline_round_us": round(baseline_s * 1e6, 1),
        "alert_engine_round_us": round(engine_s * 1e6, 1),
        "alert_monitor_round_us": round(monitor_s * 1e6, 1),
        "alert_steady_round_us": round(steady_s * 1e6, 1),
        "alert_engine_core_pct_at_1hz": round(engine_s * 100, 3),
        "alert_monitor_core_pct_at_1hz": round(monitor_s * 100, 3),
        "alert_steady_core_pct_at_1hz": round(steady_s * 100, 3),
        "alert_transitions_per_monitor_round": round(moved[0] / max(1, moved[1]), 2),
        "alert_budget_core_pct": 1.0,
        "alert_watch_round_us": round(watch_s * 1e6, 1),
        "alert_watch_fired_first_round": fired,
        "alert_eval_pct_core_20x20": round(watch_s / INTERVAL_S * 100, 3),
    }
    result["alert_within_budget"] = result["alert_eval_pct_core_20x20"] <= 1.0
    return result


if __name__ == "__main__":
    print(json.dumps(main("--quick" in sys.argv), indent=2))
