"""The embedded demo server as a real peer: fixture-faithful bodies, auth, load/unload,
the event stream in both modes, every fault hook, the CLI and a clean stop.

Streams are read with a raw-socket HTTP/1.1 reader so a test sees exactly what
went over the wire: each chunk, a clean terminator or a cut connection.
"""

from __future__ import annotations

import json
import os
import random
import re
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from support import FIXTURES, ROOT, wait_for

from opta_stream.demo.__main__ import _rate
from opta_stream.demo.model import CATALOGUE
from opta_stream.demo.server import DemoServer
from opta_stream.demo.sim import Simulation

KEY = "sk-demo-test-5e1f0c77"
H = {"X-Admin-Key": KEY}
GETS = ["/admin/status", "/admin/memory", "/admin/models", "/admin/metrics/json",
        "/admin/metrics", "/admin/health", "/admin/events"]
POSTS = ["/admin/models/load", "/admin/models/unload", "/admin/models/load/confirm",
         "/admin/config/reload"]
AUTO_DOWNLOAD_KEYS = {"status", "model_id", "estimated_size_bytes", "estimated_size_human",
                      "confirmation_token", "download_id", "message", "confirm_url",
                      "progress_url"}
MODEL_DETAIL_KEYS = {"id", "loaded", "memory_gb", "loaded_at", "use_batching", "request_count",
                     "last_used_at", "context_length", "performance", "speculative",
                     "readiness"}
HEARTBEAT = re.compile(rb"event: heartbeat\ndata: \{\"timestamp\": \d+\.\d+\}\n\n")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class Wire:
    """A raw HTTP/1.1 client for one streaming GET: decodes chunks, keeps every one."""

    def __init__(self, server: DemoServer, key: str | None = KEY,
                 path: str = "/admin/events") -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        auth = f"X-Admin-Key: {key}\r\n" if key else ""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n{auth}\r\n".encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._recv(5.0)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
        self.chunks: list[bytes] = []
        self.body = b""
        self.end: str | None = None  # "clean" (0-chunk) or "cut" (EOF without it)

    def _recv(self, timeout: float) -> bool:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except TimeoutError:
            return False
        except OSError:
            data = b""
        if not data:
            self.end = self.end or "cut"
        self.buf += data
        return bool(data)

    def _decode(self) -> None:
        while self.end != "clean" and b"\r\n" in self.buf:
            size_line, rest = self.buf.split(b"\r\n", 1)
            size = int(size_line, 16)
            if len(rest) < size + 2:
                return
            if size == 0:
                self.end = "clean"
            self.chunks.append(rest[:size])
            self.body += rest[:size]
            self.buf = rest[size + 2 :]

    def pump(self, timeout: float = 5.0) -> bool:
        """Read what arrives within ``timeout``; False on silence or end."""
        if self.end:
            return False
        got = self._recv(timeout)
        self._decode()
        return got

    def frames(self) -> list[tuple[str, dict]]:
        out = []
        for block in self.body.split(b"\n\n")[:-1]:
            fields = dict(line.split(b": ", 1) for line in block.split(b"\n"))
            out.append((fields[b"event"].decode(), json.loads(fields[b"data"])))
        return out

    def until(self, predicate: Callable[[Wire], object], timeout: float = 5.0,
              what: str = "frames"):
        deadline = time.monotonic() + timeout
        while not (value := predicate(self)):
            if self.end or time.monotonic() > deadline:
                raise AssertionError(f"stream ended or timed out waiting for {what}")
            self.pump(0.5)
        return value

    def first(self, n: int, timeout: float = 5.0) -> list[tuple[str, dict]]:
        return self.until(lambda w: len(w.frames()) >= n and w.frames(), timeout)[:n]

    def to_end(self, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while not self.end and time.monotonic() < deadline:
            self.pump(0.5)
        assert self.end, "stream did not end"
        return self.end

    def quiet_for(self, seconds: float) -> bool:
        """True if not one byte arrives for ``seconds`` (only a real bug can fail this)."""
        self._decode()
        return not self._recv(seconds)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def make() -> Iterator[Callable[..., DemoServer]]:
    servers: list[DemoServer] = []
    wires: list[Wire] = []

    def make(**kw) -> DemoServer:
        kw.setdefault("admin_key", KEY)
        server = DemoServer(**kw).start()
        servers.append(server)
        server.wire = lambda *a, **k: wires.append(Wire(server, *a, **k)) or wires[-1]
        return server

    yield make
    for wire in wires:
        wire.close()
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def fresh() -> Iterator[DemoServer]:
    """An lmx-mode server nobody changes: closest to the captured fixtures."""
    server = DemoServer(admin_key=KEY, mode="lmx", heartbeat_s=30.0, seed=4).start()
    try:
        yield server
    finally:
        server.stop()


def structure(obj: object) -> object:
    """Key sets and value types, all the way down."""
    if isinstance(obj, dict):
        return {k: structure(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [structure(v) for v in obj[:1]]
    return type(obj).__name__


def shape(obj: object, like: object) -> object:
    """Key sets and value types; an empty container in ``like`` matches any content."""
    if isinstance(like, dict) and isinstance(obj, dict):
        return {k: shape(v, like.get(k)) for k, v in obj.items()} if like else "dict"
    if isinstance(like, list) and isinstance(obj, list):
        return [shape(v, like[0]) for v in obj[:1]] if like else "list"
    return type(obj).__name__


def post(server: DemoServer, path: str, body: object = None, data: bytes | None = None,
         headers: dict | None = None) -> requests.Response:
    return requests.post(server.url + path, json=body, data=data, headers=headers or H,
                         timeout=5)


# --- fixture faithfulness -------------------------------------------------


@pytest.mark.parametrize("path", ["status", "memory", "models", "metrics/json", "health"])
def test_json_endpoints_match_fixture_shapes(fresh, make, path) -> None:
    like = json.loads(fixture(f"get-admin_{path.replace('/', '_')}.json"))
    for server in (fresh, make(mode="rich")):
        r = requests.get(f"{server.url}/admin/{path}", headers=H, timeout=5)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert shape(r.json(), like) == shape(like, like)
        assert r.content == json.dumps(r.json(), separators=(",", ":")).encode()


def test_fresh_lmx_is_exactly_the_fixture_structure(fresh) -> None:
    for name in ("status", "memory", "models", "metrics_json", "health"):
        like = json.loads(fixture(f"get-admin_{name}.json"))
        got = requests.get(f"{fresh.url}/admin/{name.replace('_', '/')}", headers=H).json()
        assert structure(got) == structure(like)


def test_rich_models_and_metrics_have_the_real_per_item_keys(make) -> None:
    server = make(mode="rich")
    loaded = requests.get(server.url + "/admin/models", headers=H).json()["loaded"]
    assert len(loaded) == 2 and all(m.keys() == MODEL_DETAIL_KEYS for m in loaded)
    memory = requests.get(server.url + "/admin/memory", headers=H).json()
    assert all(v.keys() == {"memory_gb", "loaded"} for v in memory["models"].values())


def test_prometheus_has_the_fixture_metric_names(fresh) -> None:
    r = requests.get(fresh.url + "/admin/metrics", headers=H)
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"

    def names(text: str, prefix: str) -> list[str]:
        return [ln.split()[2 if prefix else 0] for ln in text.splitlines()
                if ln.startswith(prefix) and (prefix or not ln.startswith("#"))]

    want = fixture("get-admin_metrics.prom").decode()
    assert names(r.text, "# HELP") == names(want, "# HELP")
    assert names(r.text, "# TYPE") == names(want, "# TYPE")
    assert names(r.text, "") == names(want, "")


def test_counters_grow_so_a_client_can_derive_tokens_per_second(make) -> None:
    t0 = time.time()
    start = time.monotonic()
    fast = lambda: t0 + 40.0 * (time.monotonic() - start)  # noqa: E731 - 40x sim speed
    server = make(mode="rich", clock=fast)
    get = lambda: requests.get(server.url + "/admin/metrics/json", headers=H).json()  # noqa: E731
    first = get()
    grown = wait_for(lambda: (m := get())["total_completion_tokens"] > first[
        "total_completion_tokens"] and m, what="completion tokens to grow")
    assert grown["total_requests"] > 0 and grown["per_model"]
    assert sum(p["completion_tokens"] for p in grown["per_model"].values()) == grown[
        "total_completion_tokens"]
    prom = requests.get(server.url + "/admin/metrics", headers=H).text
    total = re.search(r"^lmx_completion_tokens_total (\d+)$", prom, re.M)
    assert total and int(total.group(1)) >= grown["total_completion_tokens"]
    assert 'lmx_model_requests_total{model="mlx-community/' in prom
    assert 'lmx_request_duration_seconds_count{model="mlx-community/' in prom


def test_unknown_path_and_wrong_method(fresh) -> None:
    r = requests.get(fresh.url + "/nope", headers=H)
    assert (r.status_code, r.content) == (404, b'{"detail":"Not Found"}')
    r = requests.get(fresh.url + "/admin/models/load", headers=H)
    assert (r.status_code, r.json()) == (405, {"detail": "Method Not Allowed"})


# --- auth -----------------------------------------------------------------


@pytest.mark.parametrize("method,path", [("GET", p) for p in GETS] + [("POST", p) for p in POSTS])
def test_every_admin_route_refuses_a_missing_or_wrong_key(fresh, method, path) -> None:
    for headers in ({}, {"X-Admin-Key": "wrong"}, {"X-Admin-Key": KEY + "x"}):
        r = requests.request(method, fresh.url + path, headers=headers, json={}, timeout=5)
        assert (r.status_code, r.content) == (403, fixture("error-403-missing-key.json"))
    r = requests.request(method, f"{fresh.url}{path}?admin_key={KEY}", json={}, timeout=5)
    assert r.status_code == 403, "the key must never be accepted from the URL"


def test_no_key_configured_means_open(make) -> None:
    server = make(admin_key=None, mode="lmx")
    assert requests.get(server.url + "/admin/status", headers={"X-Admin-Key": "x"}).ok
    assert requests.get(server.url + "/admin/status").ok


def test_requests_are_recorded_with_headers(make) -> None:
    server = make(mode="lmx")
    requests.get(server.url + "/admin/status?x=1", headers=H)
    seen = server.requests_seen()
    assert seen[-1].method == "GET" and seen[-1].path == "/admin/status?x=1"
    assert seen[-1].headers["X-Admin-Key"] == KEY


# --- load / unload --------------------------------------------------------


def test_load_and_unload_happy_path_publish_events(make) -> None:
    server = make(mode="lmx")
    wire = server.wire()
    model = server.sim.catalogue_on_disk()[0]
    r = post(server, "/admin/models/load", {"model_id": model})
    assert r.status_code == 200
    body = r.json()
    assert structure(body) == {"success": "bool", "model_id": "str",
                               "memory_after_load_gb": "float", "time_to_load_ms": "float"}
    event, data = wire.first(1)[0]
    assert event == "model_loaded" and data["model_id"] == model
    assert data.keys() == {"model_id", "format", "memory_gb", "duration_sec"}
    assert requests.get(server.url + "/admin/status", headers=H).json()["models"] == [model]
    again = post(server, "/admin/models/load", {"model_id": model}).json()
    assert again["success"] and again["memory_after_load_gb"] is None
    r = post(server, "/admin/models/unload", {"model_id": model})
    assert r.json() == {"success": True, "model_id": model, "memory_freed_gb": data["memory_gb"]}
    event, data = wire.first(2)[1]
    assert (event, data) == ("model_unloaded", {"model_id": model,
                                                "memory_freed_gb": r.json()["memory_freed_gb"],
                                                "reason": "manual"})


def test_unload_of_a_model_not_loaded_is_the_fixture_404(fresh) -> None:
    r = post(fresh, "/admin/models/unload", {"model_id": "nonexistent/model"})
    assert (r.status_code, r.content) == (404, fixture("post-models_unload-404.json"))
    r = post(fresh, "/admin/models/unload", {"model_id": "org/other"})
    assert "'org/other'" in r.json()["error"]["message"]


@pytest.mark.parametrize("model,status,name", [
    ("acme/x86-only-llama", 422, "post-models_load-422-unsupported.json"),
    ("blocked/some-model", 403, "post-models_load-403-downloads-disabled.json"),
])
def test_policy_refusals_are_the_fixture_bodies(fresh, model, status, name) -> None:
    r = post(fresh, "/admin/models/load", {"model_id": model})
    assert (r.status_code, r.content) == (status, fixture(name))


@pytest.mark.parametrize("raw", [b"", b"{}"])
def test_missing_model_id_is_the_fixture_validation_422(fresh, raw) -> None:
    r = post(fresh, "/admin/models/load", data=raw, headers={**H, "content-type":
                                                             "application/json"})
    assert (r.status_code, r.content) == (422, fixture("post-models_load-422-validation.json"))


@pytest.mark.parametrize("raw,kind", [(b'{"model_id": 5}', "string_type"),
                                      (b'{"model_id": ""}', "string_too_short"),
                                      (b"[1]", "model_attributes_type"),
                                      (b"{nope", "json_invalid"),
                                      (b'{"model_id": "a/b", "auto_download": [1]}',
                                       "bool_parsing")])
def test_bad_bodies_answer_fastapi_validation_shapes(fresh, raw, kind) -> None:
    like = json.loads(fixture("post-models_load-422-validation.json"))["detail"][0]
    r = post(fresh, "/admin/models/load", data=raw)
    item = r.json()["detail"][0]
    assert r.status_code == 422 and item["type"] == kind
    assert set(like) <= item.keys() <= set(like) | {"ctx"}


def test_too_large_is_507_and_failures_publish_nothing(make) -> None:
    server = make(mode="lmx")
    wire = server.wire()
    r = post(server, "/admin/models/load",
             {"model_id": "mlx-community/Meta-Llama-3.1-70B-Instruct-4bit"})
    assert r.status_code == 507
    assert r.json()["error"].keys() == {"message", "type", "param", "code"}
    assert r.json()["error"]["code"] == "insufficient_memory"
    for model in ("acme/x86-only", "blocked/x"):
        post(server, "/admin/models/load", {"model_id": model})
    post(server, "/admin/models/unload", {"model_id": "not/loaded"})
    server.emit("sentinel", {"n": 1})
    assert wire.first(1) == [("sentinel", {"n": 1})]


def test_download_needs_confirmation_then_downloads_and_loads(make) -> None:
    server = make(mode="lmx")
    server.sim.download_bytes_per_s = 40e9
    wire = server.wire()
    model = next(m.model_id for m in CATALOGUE if not m.on_disk)
    r = post(server, "/admin/models/load", {"model_id": model})
    assert r.status_code == 202 and r.json().keys() == AUTO_DOWNLOAD_KEYS
    ask = r.json()
    assert ask["status"] == "download_required" and ask["confirm_url"]
    r = post(server, ask["confirm_url"], {"confirmation_token": ask["confirmation_token"]})
    started = r.json()
    assert r.status_code == 202 and started["status"] == "downloading"
    frames = wire.until(lambda w: [f for f in w.frames() if f[0] == "model_loaded"]
                        and w.frames(), what="model_loaded")
    kinds = [f[0] for f in frames]
    assert kinds.index("download_progress") < kinds.index("download_completed") < kinds.index(
        "model_loaded")
    progress = next(d for e, d in frames if e == "download_progress")
    assert {"download_id", "repo_id", "percent", "downloaded_bytes",
            "total_bytes"} <= progress.keys()
    assert progress["download_id"] == started["download_id"]
    done = requests.get(server.url + started["progress_url"], headers=H).json()
    assert done["status"] == "completed" and done["progress_percent"] == 100.0
    r = post(server, ask["confirm_url"], {"confirmation_token": ask["confirmation_token"]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "token_not_found"


def test_auto_download_skips_confirmation(make) -> None:
    server = make(mode="lmx")
    server.sim.download_bytes_per_s = 40e9
    r = post(server, "/admin/models/load", {"model_id": "someorg/new-7b-4bit",
                                            "auto_download": True})
    assert r.status_code == 202 and r.json()["status"] == "downloading"
    wait_for(lambda: "someorg/new-7b-4bit" in requests.get(
        server.url + "/admin/status", headers=H).json()["models"], what="auto-load")


def test_broken_download_publishes_download_failed_and_loads_nothing(make) -> None:
    server = make(mode="lmx")
    server.sim.download_bytes_per_s = 40e9
    wire = server.wire()
    r = post(server, "/admin/models/load", {"model_id": "org/broken-7b", "auto_download": True})
    failed = wire.until(lambda w: [d for e, d in w.frames() if e == "download_failed"],
                        what="download_failed")[0]
    assert failed.keys() == {"download_id", "repo_id", "error"}
    assert failed["download_id"] == r.json()["download_id"]
    progress = requests.get(server.url + r.json()["progress_url"], headers=H).json()
    assert progress["status"] == "failed" and progress["error"]
    assert requests.get(server.url + "/admin/status", headers=H).json()["models"] == []


# --- the event stream -----------------------------------------------------


def test_lmx_stream_is_silent_until_one_heartbeat(make) -> None:
    server = make(mode="lmx", heartbeat_s=0.3)
    before = time.time()
    wire = server.wire()
    assert wire.status == 200
    assert wire.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert wire.headers["transfer-encoding"] == "chunked"
    wire.first(3)
    assert HEARTBEAT.fullmatch(wire.chunks[0]), "the first byte must be the heartbeat"
    assert wire.frames()[0][1]["timestamp"] >= before + 0.3 - 0.01
    assert all(HEARTBEAT.fullmatch(c) for c in wire.chunks)
    assert all(HEARTBEAT.fullmatch(f + b"\n\n") for f in fixture(
        "events-heartbeats.sse").split(b"\n\n")[:-1]), "regex must match the real capture"
    assert b"\r" not in wire.body and b"id:" not in wire.body and b"retry:" not in wire.body


def test_heartbeat_timer_restarts_after_every_event(make) -> None:
    server = make(mode="lmx", heartbeat_s=0.3)
    wire = server.wire()
    wire.first(1)
    emitted = time.time()
    server.emit("config_reloaded", {"routing_aliases": 3})

    def heartbeat_after_event(w: Wire) -> dict | None:
        kinds = [e for e, _ in w.frames()]
        if "config_reloaded" in kinds[:-1]:
            return w.frames()[kinds.index("config_reloaded") + 1][1]
        return None

    heartbeat = wire.until(heartbeat_after_event, what="a heartbeat after the event")
    assert heartbeat["timestamp"] >= emitted + 0.3 - 0.01


def test_lifecycle_frames_are_like_the_real_capture(make) -> None:
    server = make(mode="lmx")
    wire = server.wire()
    data = {"routing_aliases": 3, "memory_threshold": 90, "log_level": "INFO"}
    server.emit("config_reloaded", data)
    wire.first(1)
    assert wire.body in fixture("events-config-reload-and-quantize.sse")
    r = post(server, "/admin/config/reload", {})
    assert (r.status_code, r.content) == (200, fixture("post-config_reload.json"))


def test_emit_reaches_every_subscriber(make) -> None:
    server = make(mode="lmx")
    wires = [server.wire() for _ in range(3)]
    assert server.open_streams() == 3
    server.emit("memory_warning", {"used_gb": 20.0})
    assert all(w.first(1) == [("memory_warning", {"used_gb": 20.0})] for w in wires)


def test_rich_stream_has_status_and_throughput_events(make) -> None:
    server = make(mode="rich", rate_hz=20.0, heartbeat_s=5.0)
    wire = server.wire()
    frames = wire.until(lambda w: sum(e == "throughput" for e, _ in w.frames()) >= 6
                        and w.frames(), what="throughput")
    status = next(d for e, d in frames if e == "status")
    assert status.keys() == {"vram_used_gb", "vram_total_gb", "loaded_models",
                             "active_requests", "tokens_per_second", "temperature_celsius",
                             "uptime_seconds"}
    assert all(m.keys() == {"id", "name", "vram_gb", "quantization", "context_length",
                            "loaded_at"} for m in status["loaded_models"])
    ids = {m["id"] for m in status["loaded_models"]}
    for event, data in frames:
        if event == "throughput":
            assert data.keys() == {"timestamp", "tokens_per_second", "model_id"}
            assert isinstance(data["timestamp"], float) and data["model_id"] in ids
            assert data["tokens_per_second"] >= 0


def test_rich_fixed_rate_of_2000_hz_is_scheduled_exactly(make) -> None:
    server = make(mode="rich", rate_hz=2000.0)
    wire = server.wire()
    wire.until(lambda w: w.body.count(b"event: throughput") >= 1500, what="1500 frames")
    stamps = [d["timestamp"] for e, d in wire.frames() if e == "throughput"]
    gaps = sorted(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    assert gaps[len(gaps) // 2] == pytest.approx(1 / 2000, rel=0.05)
    assert len(wire.chunks) < len(stamps) / 5, "frames must be batched per write"


def test_rich_max_rate_batches_hundreds_of_frames_per_write(make) -> None:
    server = make(mode="rich", rate_hz=None)
    wire = server.wire()
    wire.until(lambda w: w.body.count(b"event: throughput") >= 20_000, what="20k frames")
    assert max(c.count(b"event: throughput") for c in wire.chunks) >= 500
    stamps = [d["timestamp"] for e, d in wire.frames()[:5000] if e == "throughput"]
    assert stamps == sorted(stamps)


def test_subscriber_cap_is_50_then_503(make) -> None:
    server = make(mode="lmx", admin_key=None)
    wires = [server.wire() for _ in range(50)]
    assert all(w.status == 200 for w in wires) and server.open_streams() == 50
    r = requests.get(server.url + "/admin/events", timeout=5)
    assert r.status_code == 503 and r.json()["error"]["code"] == "too_many_subscribers"
    assert r.json()["error"].keys() == {"message", "type", "param", "code"}
    wires[0].close()
    wait_for(lambda: server.open_streams() == 49, what="the hang-up to be noticed")
    assert server.wire().status == 200


def test_a_full_queue_of_100_is_kept(make) -> None:
    server = make(mode="lmx")
    wire = server.wire()
    server.faults.stall(None)
    for i in range(100):
        server.emit("request_completed", {"i": i})
    assert server.open_streams() == 1
    server.faults.resume()
    assert [d["i"] for _, d in wire.first(100)] == list(range(100))


def test_the_101st_queued_event_drops_the_subscriber(make) -> None:
    server = make(mode="lmx")
    wire = server.wire()
    server.faults.stall(None)
    for i in range(101):
        server.emit("request_completed", {"i": i})
    assert server.open_streams() == 0
    server.faults.resume()
    assert wire.to_end() == "clean" and wire.body == b""


# --- fault hooks ----------------------------------------------------------


def test_drop_mid_event_cuts_without_terminator(make) -> None:
    server = make(mode="lmx", heartbeat_s=0.1)
    wire = server.wire()
    wire.first(1)
    server.faults.drop_mid_event()
    assert wire.to_end() == "cut"
    assert wire.body.endswith(b'event: throughput\ndata: {"timest')
    fresh_wire = server.wire()
    assert fresh_wire.first(2) and fresh_wire.end is None


def test_drop_mid_event_is_an_error_for_requests_too(make) -> None:
    server = make(mode="rich", rate_hz=50.0)
    with requests.get(server.url + "/admin/events", headers=H, stream=True, timeout=5) as r:
        chunks = r.iter_content(None)
        next(chunks)
        server.faults.drop_mid_event()
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for _ in chunks:
                pass


def test_stall_for_a_while_then_streams_resume(make) -> None:
    server = make(mode="lmx", heartbeat_s=0.05)
    wire = server.wire()
    wire.first(1)
    server.faults.stall(0.5)
    assert server.faults.wait_stalled(5.0), "the stream never entered the stall"
    written = server.faults.stream_bytes()
    wire.until(lambda w: server.faults.stream_bytes() > written, what="frames after the stall")
    stamps = [d["timestamp"] for _, d in wire.frames()]
    # Beats every 0.05 s, and none for the stall's 0.5 s: the stamps (the server's own
    # clock at each write) show that silence, however slowly this machine ran the test.
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert max(gaps) >= 0.45, gaps


def test_stall_until_resume_sends_nothing_not_even_heartbeats(make) -> None:
    server = make(mode="lmx", heartbeat_s=0.05)
    wire = server.wire()
    wire.first(1)
    server.faults.stall(None)
    wire.pump(0.1)
    assert wire.quiet_for(0.4)
    server.faults.resume()
    assert wire.pump(5.0)


@pytest.mark.parametrize("raw", [
    b"event: model_loaded\ndata: {not json\n\n",
    b"event: brand_new_type\ndata: {\"x\": 1}\n\n",
    b"event: heartbeat\ndata: \xff\xfe\xfd\n\n",
    b"\xef\xbb\xbfevent: heartbeat\ndata: {}\n\n",
    b"event: heartbeat\rdata: {}\r\r",
    b"data: " + b"x" * (1 << 20) + b"\n\n",
])
def test_inject_writes_exact_bytes(make, raw) -> None:
    server = make(mode="lmx")
    wire = server.wire()
    server.faults.inject(raw)
    wire.until(lambda w: len(w.body) >= len(raw), what="the injected bytes")
    assert wire.body == raw


def test_inject_on_connect_comes_first_on_new_streams(make) -> None:
    server = make(mode="lmx", heartbeat_s=0.1)
    server.faults.inject_on_connect(b"\xef\xbb\xbf")
    wire = server.wire()
    wire.until(lambda w: HEARTBEAT.match(w.body[3:]), what="BOM, then a heartbeat")
    assert wire.chunks[0] == b"\xef\xbb\xbf"


def test_respond_cans_the_next_event_requests_even_before_auth(make) -> None:
    server = make(mode="lmx")
    server.faults.respond(502, "text/html", b"<html>Bad Gateway</html>", times=2)
    for _ in range(2):
        r = requests.get(server.url + "/admin/events", timeout=5)
        assert (r.status_code, r.headers["content-type"], r.content) == (
            502, "text/html", b"<html>Bad Gateway</html>")
    assert server.wire().status == 200
    assert requests.get(server.url + "/admin/events", timeout=5).status_code == 403


def test_close_after_n_events_ends_cleanly(make) -> None:
    server = make(mode="rich", rate_hz=100.0)
    server.faults.close_after(5)
    wire = server.wire()
    assert wire.to_end() == "clean"
    assert len(wire.frames()) == 5 and wire.body.count(b"\n\n") == 5


def test_fail_status_breaks_polled_endpoints_but_not_the_feed(make) -> None:
    server = make(mode="rich", rate_hz=50.0)
    server.faults.fail_status(503)
    for path in ("/admin/status", "/admin/metrics/json", "/admin/models"):
        r = requests.get(server.url + path, headers=H, timeout=5)
        assert r.status_code == 503 and r.json()["error"].keys() == {"message", "type",
                                                                      "param", "code"}
    assert requests.get(server.url + "/admin/memory", headers=H).status_code == 200
    assert server.wire().first(3)
    server.faults.fail_status(None)
    assert requests.get(server.url + "/admin/status", headers=H).status_code == 200


def test_trickle_writes_one_byte_per_chunk(make) -> None:
    server = make(mode="lmx", heartbeat_s=0.05)
    server.faults.trickle(0.001)
    wire = server.wire()
    wire.first(1)
    assert all(len(c) == 1 for c in wire.chunks)
    assert HEARTBEAT.match(wire.body)


def test_clock_offset_shifts_every_emitted_timestamp(make) -> None:
    server = make(mode="rich", rate_hz=50.0)
    server.faults.clock_offset(1000.0)
    now = time.time()
    wire = server.wire()
    frames = wire.first(5)
    assert all(d["timestamp"] > now + 900 for e, d in frames if e == "throughput")
    loaded_at = requests.get(server.url + "/admin/models", headers=H).json()["loaded"][0]
    assert loaded_at["loaded_at"] > now + 900


def test_clear_removes_every_fault(make) -> None:
    server = make(mode="lmx", heartbeat_s=0.05)
    faults = server.faults
    faults.stall(None)
    faults.trickle(0.5)
    faults.close_after(1)
    faults.fail_status(500)
    faults.respond(500, "text/plain", b"x")
    faults.clock_offset(1e6)
    faults.inject_on_connect(b"junk")
    faults.clear()
    assert requests.get(server.url + "/admin/status", headers=H).status_code == 200
    wire = server.wire()
    frames = wire.first(3)
    assert wire.end is None and all(len(c) > 1 for c in wire.chunks)
    assert frames[0][1]["timestamp"] < time.time() + 10


# --- simulation (pure, fake clock) ----------------------------------------


def test_simulation_is_believable_and_deterministic() -> None:
    def run() -> tuple[list, list, object]:
        clock = [1_000.0]
        sim = Simulation("rich", rng=random.Random(7), clock=lambda: clock[0])
        tps, events = [], []
        for _ in range(1800):  # 3 minutes at 10 Hz
            clock[0] += 0.1
            events += sim.step()
            tps.append(sum(t for _, t in sim.throughput_samples()))
        return tps, [e for e, _ in events], sim.view()

    tps, kinds, view = run()
    assert run()[0] == tps, "same seed, same clock: same run"
    mean = sum(tps) / len(tps)
    assert max(tps) > 1.3 * mean and min(tps) < 0.5 * max(tps), "rises and falls"
    assert max(abs(b - a) for a, b in zip(tps, tps[1:], strict=False)) < 40, "smooth"
    assert view.totals["completion_tokens"] > 1000 and view.totals["requests"] > 20
    assert "request_completed" in kinds
    assert 7.0 < view.used_gb < 8.5


def test_memory_follows_loads_and_unloads() -> None:
    sim = Simulation("lmx", rng=random.Random(1), clock=lambda: 50.0)
    base = sim.view().used_gb
    assert sim.view().models == () and sim.throughput_samples() == [(None, 0.0)]
    reply = sim.load(CATALOGUE[1].model_id)
    assert reply.status == 200 and sim.view().used_gb == pytest.approx(base + 4.28, abs=0.2)
    assert sim.unload(CATALOGUE[1].model_id).body["memory_freed_gb"] == 4.28
    assert sim.view().used_gb == pytest.approx(base, abs=0.1)


# --- lifecycle and CLI ----------------------------------------------------


def demo_threads(port: int) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.endswith(f" {port}")
            and t.name.startswith("opta-demo-")]


def test_stop_is_idempotent_closes_streams_and_leaves_no_thread() -> None:
    server = DemoServer(mode="rich", rate_hz=20.0).start()
    port = server.port
    try:
        wires = [Wire(server, key=None) for _ in range(2)]
        session = requests.Session()
        assert session.get(server.url + "/admin/status").ok  # an idle keep-alive connection
        assert demo_threads(port)
    finally:
        server.stop()
        server.stop()
    assert all(w.to_end() == "clean" for w in wires)
    assert demo_threads(port) == []
    session.close()


def test_rate_argument() -> None:
    assert _rate("max") is None and _rate("250") == 250.0


def test_cli_prints_one_ready_line_and_stops_on_sigterm() -> None:
    env = {**os.environ, "OPTA_DEMO_ADMIN_KEY": KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "opta_stream.demo", "--port", "0", "--mode", "lmx",
         "--heartbeat", "0.2", "--rate", "max", "--grace", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=20), "no ready line"
        line = proc.stdout.readline().decode()
        match = re.fullmatch(r"opta-stream demo ready on (http://127\.0\.0\.1:(\d+)) mode=lmx\n",
                             line)
        assert match and int(match.group(2)) > 0
        url = match.group(1)
        assert requests.get(url + "/admin/status", headers=H, timeout=5).status_code == 200
        assert requests.get(url + "/admin/status", timeout=5).status_code == 403
        proc.terminate()
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert out == b"" and KEY.encode() not in out + err + line.encode()
        assert KEY not in " ".join(proc.args)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_cli_sigterm_in_lmx_mode_drains_like_the_real_server() -> None:
    """New connections refused, the open stream keeps beating (by default with no limit on
    the wait); a second SIGTERM ends it."""
    env = {**os.environ, "OPTA_DEMO_ADMIN_KEY": KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "opta_stream.demo", "--port", "0", "--mode", "lmx",
         "--heartbeat", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        url = re.search(r"(http://127\.0\.0\.1:\d+)", line).group(1)  # type: ignore[union-attr]
        stream = requests.get(url + "/admin/events", headers=H, stream=True, timeout=5)
        chunks = stream.iter_content(chunk_size=None)
        assert b"heartbeat" in next(chunks)
        proc.terminate()
        assert proc.stdout.readline().decode() == (
            "opta-stream demo draining: 1 open event stream(s), waiting with no limit "
            "(a second SIGTERM or SIGINT stops now)\n")
        with pytest.raises(requests.ConnectionError):
            requests.get(url + "/admin/status", headers=H, timeout=5)
        assert b"heartbeat" in next(chunks), "the open stream must keep beating"
        proc.terminate()  # the second SIGTERM: forced down
        proc.communicate(timeout=10)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
