"""What a Store costs in memory: idle, after a day, and full, measured with tracemalloc.

Why: every watched server has a Store whether or not anything happens on it,
so an idle Store's cost is multiplied by the fleet; a full one is the bound.

- idle: a Store just made (a server that has sent nothing yet);
- day: 24 h of what a real server's feed writes: tokens/s of two models at
  1 Hz, memory at 1 Hz, a serving step a second (two models, one client),
  and a full 2,000-line log with 300-byte data;
- full: every ring and tier at its capacity: 30 days of minute samples then
  55 h at 1 Hz of three models' throughput, 30 days of memory a minute then
  26 h every 10 s, serving minutes for 10 days then 7 h of 1 s polls (both
  serving rings wrap), the full log.

``numpy`` is what ``Store.memory_bytes()`` says (numpy buffers exactly, a
rough estimate of the rest). ``python bench/store_memory.py`` prints one JSON
line (MiB = 2^20 bytes). It imports only the Store, so the same file runs
against an older checkout (``PYTHONPATH=<checkout>``) for a before/after.
"""

from __future__ import annotations

import gc
import json
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from opta_stream.events.counters import ServingStep  # noqa: E402
from opta_stream.store.core import Store  # noqa: E402

__all__ = ["day_store", "full_store", "measure", "traced"]

T0 = 1_795_000_000.0
FLEET = 20
MIB = 1024 * 1024
DAY_S, MONTH_S = 86_400.0, 30 * 86_400.0
MODELS = ("mlx-community/Qwen2.5-7B-Instruct-4bit", "mlx-community/Llama-3.2-3B-Instruct-4bit",
          "mlx-community/Mistral-7B-Instruct-v0.3-4bit")
BOUNDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, float("inf"))


def traced(build: Callable[[], Any]) -> tuple[int, Any]:
    """Bytes tracemalloc sees held by what ``build`` returns (kept alive while measured)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - base, kept
    finally:
        tracemalloc.stop()


def _step(ts: float, dt: float, models: tuple[str, ...], clients: tuple[str, ...]
          ) -> ServingStep:
    values = {"requests": 1.0, "errors": 0.0, "completion_tokens": 40.0, "latency_sum": 2.0,
              "latency_count": 1.0}
    return ServingStep(ts, dt, {**values, "prompt_tokens": 9.0}, dict.fromkeys(models, values),
                       dict.fromkeys(clients, values),
                       {m: tuple(float(i) for i in range(len(BOUNDS))) for m in models},
                       BOUNDS, {"in_flight": 1.0, "queued": 0.0})


def _fill_log(store: Store) -> None:
    for k in range(2_000):  # distinct strings: a shared one would be counted once
        store.log("model_loaded", f"Loaded {MODELS[k % 3]}", data=f"{k:06d}" + "x" * 294)


def day_store() -> Store:
    """A day of a real server's feed (see the module docstring)."""
    store = Store("http://lmx.bench:1234", clock=lambda: T0)
    ts = T0 - DAY_S + np.arange(0.0, DAY_S)
    for model in MODELS[:2]:  # the sampler stores one batch per model
        store.add_throughput_many(ts, 40.0 + (np.arange(ts.shape[0]) % 13),
                                  [model] * ts.shape[0])
    for t in ts.tolist():
        store.add_memory(t, 20.0, 64.0, 80.0)
        store.add_serving(_step(t, 1.0, MODELS[:2], ("cli",)))
    _fill_log(store)
    return store


def full_store() -> Store:
    """Every ring and tier at its capacity (see the module docstring)."""
    store = Store("http://lmx.bench:1234", clock=lambda: T0)
    sparse = T0 - MONTH_S - 200_000.0 + np.repeat(np.arange(0.0, MONTH_S, 60.0), 3)
    dense = T0 - 200_000.0 + np.arange(200_000.0)
    for ts in (sparse, dense):
        store.add_throughput_many(ts, 40.0 + (np.arange(ts.shape[0]) % 13),
                                  [MODELS[i % 3] for i in range(ts.shape[0])])
    memory = np.r_[T0 - MONTH_S - 94_000.0 + np.arange(0.0, MONTH_S, 60.0),
                   T0 - 94_000.0 + np.arange(0.0, 94_000.0, 10.0)]
    for t in memory.tolist():
        store.add_memory(t, 20.0, 64.0, 80.0)
    for k in range(15_000):  # a poll a minute for 10 days: the day of minutes wraps
        store.add_serving(_step(T0 - 926_000.0 + 60.0 * k, 60.0, MODELS, ("cli", "web")))
    for k in range(26_000):  # then 1 s polls, 6 rows each: the hour of per-poll rows wraps
        store.add_serving(_step(T0 - 26_000.0 + k, 1.0, MODELS, ("cli", "web")))
    _fill_log(store)
    return store


def measure() -> dict[str, float]:
    idle, one = traced(lambda: Store("http://lmx.bench:1234", clock=lambda: T0))
    fleet, _ = traced(lambda: [Store(f"http://lmx{i}.bench:1234", clock=lambda: T0)
                               for i in range(FLEET)])
    day, day_kept = traced(day_store)
    full, full_kept = traced(full_store)
    return {"idle_traced_mib": idle / MIB, "idle_numpy_mib": one.memory_bytes() / MIB,
            f"fleet{FLEET}_idle_traced_mib": fleet / MIB,
            "day_traced_mib": day / MIB, "day_numpy_mib": day_kept.memory_bytes() / MIB,
            "full_traced_mib": full / MIB, "full_numpy_mib": full_kept.memory_bytes() / MIB}


if __name__ == "__main__":
    print(json.dumps({k: round(v, 3) for k, v in measure().items()}))
