"""A real Prometheus (Debian's ``prometheus`` package) scraping two demo servers every second.

The demo servers run without an admin key: Prometheus 2.42 (Debian bookworm)
cannot send a custom header, and the admin key never goes into a target URL.
Prometheus listens on 127.0.0.1 only, keeps its data in a temporary folder and
is stopped (SIGTERM, then SIGKILL) when the tests are done.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from support import free_port, stop_process, wait_for

from opta_stream.demo import DemoServer

__all__ = ["PromRun", "prometheus_run"]

CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: lmx
    metrics_path: /admin/metrics
    static_configs:
      - targets: [{targets}]
"""


@dataclass(frozen=True)
class PromRun:
    url: str
    servers: tuple[DemoServer, ...]
    log: Path

    def up(self) -> int:
        """How many targets Prometheus scraped successfully last time."""
        body = requests.get(f"{self.url}/api/v1/query", params={"query": "sum(up)"},
                            timeout=2).json()
        result = body["data"]["result"]
        return int(float(result[0]["value"][1])) if result else 0

    def scrapes(self) -> int:
        """How many scrapes the least scraped target has had in the last minute."""
        body = requests.get(f"{self.url}/api/v1/query",
                            params={"query": "min(count_over_time(up[1m]))"}, timeout=2).json()
        result = body["data"]["result"]
        return int(float(result[0]["value"][1])) if result else 0


    def last_scrape(self, target: str) -> float:
        """When Prometheus last scraped ``target`` (unix seconds; 0 before it has)."""
        body = requests.get(f"{self.url}/api/v1/query", timeout=2, params={
            "query": f'timestamp(up{{instance="{target}"}})'}).json()
        result = body["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0


def instance(server: DemoServer) -> str:
    return f"127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def prometheus_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromRun]:
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(binary).exists():
        pytest.fail("Debian's prometheus is missing: .ci/run installs it (apt-get install "
                    "-y prometheus)")
    folder = tmp_path_factory.mktemp("prometheus")
    servers = tuple(DemoServer(mode="rich", rate_hz=20.0, seed=s).start() for s in (11, 12))
    config = folder / "prometheus.yml"
    config.write_text(CONFIG.format(targets=", ".join(f'"{instance(s)}"' for s in servers)))
    port = free_port()
    log = folder / "prometheus.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT)
    run = PromRun(f"http://127.0.0.1:{port}", servers, log)
    try:
        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited: {log.read_text()[-800:]}")
            try:
                return requests.get(f"{run.url}/-/ready", timeout=1).status_code == 200
            except requests.RequestException:
                return False
        wait_for(ready, 30.0, "prometheus ready")
        wait_for(lambda: run.up() == 2, 30.0, "both demo servers scraped")
        # rate() needs two samples in its range; three make every server's first line
        wait_for(lambda: run.scrapes() >= 3, 30.0, "three scrapes of each demo server")
        yield run
    finally:
        stop_process(proc)
        for server in servers:
            server.stop()
