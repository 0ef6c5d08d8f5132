"""The demo serves ``GET /admin/models/available`` like the real server: a JSON list of
``{repo_id, local_path, size_bytes, downloaded_at}``, one per model on its disk.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from support import wait_for

from opta_stream.demo.model import CATALOGUE
from opta_stream.demo.server import DemoServer
from opta_stream.errors import AuthRejected
from opta_stream.wire.client import AdminClient

KEY = "sk-demo-test-available"
PATH = "/admin/models/available"
ON_DISK = sorted(m.model_id for m in CATALOGUE if m.on_disk)
NOT_ON_DISK = next(m.model_id for m in CATALOGUE if not m.on_disk)


@pytest.fixture
def server() -> Iterator[DemoServer]:
    srv = DemoServer(admin_key=KEY, mode="lmx", seed=3).start()
    try:
        yield srv
    finally:
        srv.stop()


def listed(srv: DemoServer) -> list[dict]:
    r = requests.get(srv.url + PATH, headers={"X-Admin-Key": KEY}, timeout=5)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert isinstance(body, list)
    return body


def test_the_on_disk_catalogue_answers_over_http(server) -> None:
    body = listed(server)
    assert [row["repo_id"] for row in body] == ON_DISK
    for row in body:
        assert set(row) == {"repo_id", "local_path", "size_bytes", "downloaded_at"}
        assert row["local_path"] == f"/models/{row['repo_id']}"
        spec = next(m for m in CATALOGUE if m.model_id == row["repo_id"])
        assert row["size_bytes"] == int(spec.memory_gb * 1024**3 * 1.02)
        assert 0 < row["downloaded_at"] < time.time()


def test_the_listing_needs_the_key_in_the_header(server) -> None:
    assert requests.get(server.url + PATH, timeout=5).status_code == 403
    r = requests.get(f"{server.url}{PATH}?admin_key={KEY}", timeout=5)
    assert r.status_code == 403, "the key must never be accepted from the URL"
    with pytest.raises(AuthRejected):
        AdminClient(server.url, "wrong-key").available_models()


def test_the_admin_client_reads_the_listing(server) -> None:
    rows = AdminClient(server.url, KEY).available_models()
    assert [r["repo_id"] for r in rows] == ON_DISK


def test_a_finished_download_joins_the_listing(server) -> None:
    assert NOT_ON_DISK not in {r["repo_id"] for r in listed(server)}
    server.sim.download_bytes_per_s = 40e9
    r = requests.post(server.url + "/admin/models/load", headers={"X-Admin-Key": KEY},
                      json={"model_id": NOT_ON_DISK, "auto_download": True}, timeout=5)
    assert r.status_code == 202
    wait_for(lambda: NOT_ON_DISK in {row["repo_id"] for row in listed(server)}, 10,
             "the download to reach the listing")
    row = next(row for row in listed(server) if row["repo_id"] == NOT_ON_DISK)
    assert row["downloaded_at"] > time.time() - 60
