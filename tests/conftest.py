"""Fixtures shared across the suite.

- ``fixed_now`` / ``filled_store``: a Store on a frozen clock, filled with a
  known history (two models, a gap, memory, jobs, log lines) and the server's
  self-report (``report_fixture.POPULATED``), for page tests.
- ``clean_env``: no ``OPTA_*`` variable leaks from the developer's shell.
- ``media_files``: records what Streamlit stores for download buttons, so a
  test can read the exact bytes a CSV button would serve.
- ``app_shutdown``: stops every cached feed and the demo server after a test
  that let the app start them.
- ``app_sources`` (autouse): whatever ``ui.sources`` a test installed (its own
  Stores, ``app_sources.StoreSources``) is put back after the test.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from alert_receiver import AlertReceiver
from report_fixture import PERFORMANCE, POPULATED
from serving_fixture import SCRAPE_A, SCRAPE_B

from opta_stream.demo.server import DemoServer
from opta_stream.events import report_bodies
from opta_stream.events.counters import serving_step
from opta_stream.events.prom import parse_metrics
from opta_stream.events.records import DownloadProgress, QuantizeProgress
from opta_stream.snapshot import ConnState, ModelInfo
from opta_stream.store.core import Store
from opta_stream.wire.client import REPORT_PATHS

# No test writes history into the developer's data folder, nor does any app it starts
# (subprocesses inherit this); the history tests name their own files.
os.environ["OPTA_STREAM_HISTORY"] = ""

T0 = 1_795_000_000.0  # a fixed "now" (2026-11-18) for deterministic stores
SERVER = "http://lmx.test:1234"
MODEL_A = "mlx-community/Qwen2.5-7B-Instruct-4bit"
MODEL_B = "mlx-community/Llama-3.2-3B-Instruct-4bit"


@pytest.fixture
def fixed_now() -> float:
    return T0


def fill_store(store: Store, now: float = T0) -> Store:
    """10 minutes of history ending at ``now``: 1 Hz throughput with a 30 s gap."""
    store.set_connection(ConnState.OPEN, "Connected")
    ts = [now - 600.0 + i for i in range(600) if not 300 <= i < 330]
    tps = [40.0 + (i % 17) for i in range(len(ts))]
    models = [MODEL_A if i % 2 else MODEL_B for i in range(len(ts))]
    store.add_throughput_many(ts, tps, models)
    for i in range(0, 600, 5):
        store.add_memory(now - 600.0 + i, 6.0 + i / 100.0, 24.0, 90.0)
    store.set_gauges(active_requests=2, max_concurrent=4, uptime_s=7_380.0, version="0.1.0",
                     updated_at=now)
    store.set_models([ModelInfo(MODEL_A, 4.28, now - 900.0, 32768, "4bit", 12),
                      ModelInfo(MODEL_B, 1.82, now - 300.0, 131072, "4bit", 3)])
    store.apply(DownloadProgress("download_progress", now - 2.0, "{}", "dl-1",
                                 "mlx-community/gemma-2-9b-it-4bit", 42.0, 420, 1000))
    store.apply(QuantizeProgress("quantize_progress", now - 1.0, "{}", "q-1",
                                 "org/model", "quantizing", 10.0))
    step = serving_step(parse_metrics(SCRAPE_A), now - 20.0, parse_metrics(SCRAPE_B), now - 10.0)
    assert step is not None
    store.add_serving(step)
    store.log("model_loaded", f"Loaded {MODEL_A}", data='{"model_id": "x"}')
    store.log("memory_warning", "Memory at 85 % <b>bold</b> [link](http://evil.test)",
              severity="warning", data="**not markdown**")
    store.log("download_failed", "Download failed: disk full", severity="error")
    fill_report(store)
    return store


def fill_report(store: Store, bodies: dict | None = None) -> Store:
    """Every section of the server's self-report, from ``bodies`` (``POPULATED``), but
    ``/admin/memory``: the status gauges above hold this store's memory."""
    bodies = POPULATED if bodies is None else bodies
    for section, path in REPORT_PATHS.items():
        path = path.split("?")[0]
        if path in bodies and section != "memory":
            store.set_report(section, report_bodies.PARSERS[section](bodies[path]))
    store.set_report("performance", tuple(report_bodies.performance(b)
                                          for b in PERFORMANCE.values()))
    return store


@pytest.fixture
def filled_store(fixed_now: float) -> Store:
    return fill_store(Store(SERVER, clock=lambda: fixed_now), fixed_now)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPTA_LMX_URL", "OPTA_LMX_ADMIN_KEY", "OPTA_READ_ONLY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def media_files(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes | Callable[[], bytes]]:
    """file id → what Streamlit got for each download button: the bytes, or the
    callable it runs on click (a deferred download; its id is the button's
    ``deferred_file_id``)."""
    import streamlit_internals as compat

    return compat.record_media(monkeypatch)


def opta_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("opta-") and t.is_alive()]


@pytest.fixture
def app_shutdown() -> Iterator[None]:
    """Stop whatever the app's cached resources started; check its threads are gone."""
    from opta_stream.ui import sources

    before = set(opta_threads())
    yield
    sources.shutdown()
    pause = threading.Event()
    for _ in range(100):  # bounded: at most ~5 s
        left = [t.name for t in opta_threads() if t not in before]
        if not left:
            break
        pause.wait(0.05)
    assert not left, f"threads left running after shutdown: {left}"


@pytest.fixture(autouse=True)
def app_sources() -> Iterator[None]:
    """A test may install its own Sources (``app_sources.StoreSources``): undo it after."""
    module = sys.modules.get("opta_stream.ui.sources")
    before = module.current() if module is not None else None
    yield
    module = sys.modules.get("opta_stream.ui.sources")
    if module is not None:
        module.install(before if before is not None else module.FeedSources())


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    """A real HTTP alert receiver on loopback that records what it accepted."""
    r = AlertReceiver()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def make_demo() -> Iterator[Callable[..., DemoServer]]:
    """Start demo servers (``DemoServer`` keywords); every one is stopped after the test."""
    servers: list[DemoServer] = []

    def make(**kw: object) -> DemoServer:
        server = DemoServer(**kw).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
