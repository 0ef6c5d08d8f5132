"""What the demo refuses because of memory, as Opta LMX does: a load that would pass the
threshold (507 ``insufficient_memory`` in the server's words) and, at 95 % and more, every
request but ``/admin/health`` (503 ``overloaded``).

Memory is driven with ``sim.hold_memory(percent)``, deterministically.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable

import pytest
import requests
from support import FIXTURES

from opta_stream.demo.pressure import admit, pushed_past, sheds
from opta_stream.demo.server import DemoServer

KEY = "sk-demo-pressure-71c2"
H = {"X-Admin-Key": KEY}
LLAMA70 = "mlx-community/Meta-Llama-3.1-70B-Instruct-4bit"
GETS = ["/admin/status", "/admin/memory", "/admin/models", "/admin/metrics/json",
        "/admin/metrics", "/admin/events", "/admin/models/available", "/admin/diagnostics",
        "/admin/device", "/admin/stack", "/admin/helpers", "/admin/benchmark/results",
        "/admin/models/compatibility", "/admin/predictor", "/admin/presets",
        f"/admin/models/{LLAMA70}/performance", "/admin/models/download/abc/progress",
        "/admin/no-such-route"]
POSTS = ["/admin/models/load", "/admin/models/unload", "/admin/models/load/confirm",
         "/admin/config/reload"]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def make(make_demo: Callable[..., DemoServer]) -> Callable[..., DemoServer]:
    """Demo servers with this file's admin key unless told otherwise."""
    return functools.partial(make_demo, admin_key=KEY)


def load(server: DemoServer, body: dict) -> requests.Response:
    return requests.post(server.url + "/admin/models/load", json=body, headers=H, timeout=5)


def usage(server: DemoServer) -> float:
    r = requests.get(server.url + "/admin/status", headers=H, timeout=5)
    return r.json()["memory"]["usage_percent"]


def captured_507(model_id: str, current: float) -> str:
    """The captured refusal's message for ``model_id`` at ``current`` % (same 23.54 GB)."""
    message = json.loads(fixture("post-models_load-507-insufficient-memory.json"))["error"][
        "message"]
    message = message.replace("/models/fake-model.Q4_K_M.gguf", model_id)
    return re.sub(r"current=[\d.]+% (.*) = [\d.]+%",
                  lambda m: f"current={current:.1f}% {m.group(1)} = {current + 146.6:.1f}%",
                  message)


# --- 507 ---------------------------------------------------------------------------


def test_a_stated_size_over_the_headroom_is_the_captured_507(make) -> None:
    server = make(mode="lmx")
    current = usage(server)
    r = load(server, {"model_id": LLAMA70, "performance_overrides": {"memory_estimate_gb": 30}})
    like = json.loads(fixture("post-models_load-507-insufficient-memory.json"))
    assert r.status_code == 507 and list(r.json()["error"]) == list(like["error"])
    assert {**r.json()["error"], "message": ""} == {**like["error"], "message": ""}
    assert r.json()["error"]["message"] == captured_507(LLAMA70, current)


def test_a_preset_states_the_size_in_rich_mode(make) -> None:
    server = make(mode="rich")
    current = usage(server)
    message = load(server, {"model_id": LLAMA70}).json()["error"]["message"]
    requested = 100 * 40 * 1.15 / 23.54058837890625  # the 70B preset says 40 GB
    assert message == (f"Insufficient memory headroom for loading '{LLAMA70}': "
                       f"current={current:.1f}% + reserved=0.0% + requested={requested:.1f}% "
                       f"= {current + requested:.1f}% exceeds 90% threshold (current usage).")


def test_without_a_size_the_load_is_read_after_and_undone(make) -> None:
    server = make(mode="lmx")
    r = load(server, {"model_id": LLAMA70})
    assert r.status_code == 507 and r.json()["error"]["code"] == "insufficient_memory"
    assert r.json()["error"]["message"] == (
        f"Loading {LLAMA70} pushed memory to 100.0% \u2014 exceeds 90% threshold. "
        "Model unloaded.")
    assert requests.get(server.url + "/admin/models", headers=H, timeout=5).json()["count"] == 0


def test_at_the_threshold_nothing_is_left_to_reserve(make) -> None:
    server = make(mode="lmx")
    server.sim.hold_memory(92.0)
    model = server.sim.catalogue_on_disk()[0]
    r = load(server, {"model_id": model})
    assert r.status_code == 507
    assert r.json()["error"]["message"] == (
        f"Insufficient memory headroom for loading '{model}': current=92.0% + reserved=0.0% "
        "+ requested=0.0% = 92.0% exceeds 90% threshold (current usage).")
    server.sim.hold_memory(None)
    assert load(server, {"model_id": model}).status_code == 200


def test_no_invented_wording_and_bad_overrides_are_a_422(make) -> None:
    server = make(mode="rich")
    for body in ({"model_id": LLAMA70}, {"model_id": LLAMA70, "performance_overrides": None}):
        error = load(server, body).json()["error"]
        assert "GB free" not in error["message"] and "needs" not in error["message"]
    assert load(server, {"model_id": LLAMA70, "performance_overrides": "x"}).json()[
        "detail"][0]["type"] == "dict_type"


def test_admission_arithmetic() -> None:
    check = admit(current=62.4, reserved=0.0, estimate_gb=30.0, total_gb=100.0, threshold=90)
    assert (round(check.requested, 1), check.admitted) == (34.5, False)
    assert check.refusal("m") == (
        "Insufficient memory headroom for loading 'm': current=62.4% + reserved=0.0% "
        "+ requested=34.5% = 96.9% exceeds 90% threshold (current usage).")
    assert admit(current=62.4, reserved=0.0, estimate_gb=20.0, total_gb=100.0,
                 threshold=90).admitted, "62.4 + 23.0 = 85.4: at or under the threshold"
    assert admit(current=60.0, reserved=0.0, estimate_gb=None, total_gb=24.0,
                 threshold=90).admitted, "no size: all the headroom is reserved, and it fits"
    assert not admit(current=90.0, reserved=0.0, estimate_gb=None, total_gb=24.0,
                     threshold=90).admitted
    busy = admit(current=10.0, reserved=5.0, estimate_gb=80.0, total_gb=100.0, threshold=90)
    assert busy.refusal("m").endswith("(in-flight load reservations).")
    assert pushed_past("m", 93.25, 90) == (
        "Loading m pushed memory to 93.2% \u2014 exceeds 90% threshold. Model unloaded.")


# --- 503 --------------------------------------------------------------------------


@pytest.fixture
def pressed(make) -> DemoServer:
    server = make(mode="rich")
    server.sim.hold_memory(96.0)
    return server


@pytest.mark.parametrize("method,path", [("GET", p) for p in GETS] + [("POST", p) for p in POSTS])
def test_every_admin_route_but_health_sheds_at_95_percent(pressed, method, path) -> None:
    for headers in (H, {}):  # before auth, as on the real server
        r = requests.request(method, pressed.url + path, headers=headers, json={}, timeout=5)
        assert (r.status_code, r.content) == (503, fixture("error-503-overloaded.json"))
        assert r.headers["retry-after"] == "30"
        assert r.headers["content-type"] == "application/json"
        assert r.headers["transfer-encoding"] == "chunked"


def test_health_is_never_shed_and_says_why(pressed) -> None:
    like = json.loads(fixture("get-admin_health-memory-96.json"))
    r = requests.get(pressed.url + "/admin/health", headers=H, timeout=5)
    body = r.json()
    assert r.status_code == 200
    for key in ("status", "reason", "memory_usage_percent"):
        assert body[key] == like[key]
    assert list(body) == list(like)
    assert requests.get(pressed.url + "/admin/health", timeout=5).status_code == 403


def test_shedding_starts_at_95_and_ends_with_the_pressure(make) -> None:
    server = make(mode="lmx")
    server.sim.hold_memory(94.9)
    assert requests.get(server.url + "/admin/status", headers=H, timeout=5).status_code == 200
    server.sim.hold_memory(95.0)
    assert requests.get(server.url + "/admin/status", headers=H, timeout=5).status_code == 503
    server.sim.hold_memory(None)
    assert requests.get(server.url + "/admin/status", headers=H, timeout=5).status_code == 200
    assert sheds("/healthz", 99.0) is False and sheds("/readyz", 99.0) is False
