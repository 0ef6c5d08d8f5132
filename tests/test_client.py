"""Admin actions over loopback: verbatim server errors, auth vs policy 403s."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from support import FIXTURES, free_port

from opta_stream.demo.server import DemoServer
from opta_stream.errors import AuthRejected, ConfigError, ServerRefused
from opta_stream.wire.client import AdminClient, Unreachable

KEY = "sk-client-test-key-91b2"


def fixture_message(name: str) -> str:
    return json.loads((FIXTURES / name).read_text())["error"]["message"]


@pytest.fixture(scope="module")
def server():
    srv = DemoServer(admin_key=KEY, mode="lmx", heartbeat_s=1.0, seed=3).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_polled_endpoints_answer_objects(server) -> None:
    client = AdminClient(server.url, KEY)
    status = client.get_json("/admin/status")
    assert {"version", "memory", "in_flight_requests"} <= status.keys()
    assert "total_completion_tokens" in client.get_json("/admin/metrics/json")


def test_wrong_key_is_an_auth_failure(server) -> None:
    with pytest.raises(AuthRejected) as err:
        AdminClient(server.url, "nope").get_json("/admin/status")
    assert "Invalid or missing admin key" in str(err.value)


def test_unload_of_a_model_not_loaded_shows_the_server_words(server) -> None:
    with pytest.raises(ServerRefused) as err:
        AdminClient(server.url, KEY).unload_model("nonexistent/model")
    assert err.value.status == 404
    assert err.value.message == fixture_message("post-models_unload-404.json")
    assert err.value.code == "model_not_found"


def test_load_and_unload_round_trip(server) -> None:
    client = AdminClient(server.url, KEY)
    loaded = client.get_json("/admin/models")["loaded"]
    on_disk = server.sim.catalogue_on_disk()[0] if hasattr(server, "sim") else None
    if on_disk is None:
        pytest.skip("demo exposes no on-disk catalogue")
    result = client.load_model(on_disk)
    assert result.status == 200 and not result.needs_confirmation
    assert len(client.get_json("/admin/models")["loaded"]) == len(loaded) + 1
    assert client.unload_model(on_disk).status == 200


def test_bad_model_id_is_refused_before_any_request(server) -> None:
    before = len(server.requests_seen())
    with pytest.raises(ConfigError):
        AdminClient(server.url, KEY).load_model("bad id with spaces; rm -rf")
    assert len(server.requests_seen()) == before


def test_unreachable_server_is_worded_for_a_person() -> None:
    port = free_port()
    with pytest.raises(Unreachable) as err:
        AdminClient(f"http://127.0.0.1:{port}", KEY).get_json("/admin/status")
    assert "refused" in str(err.value) and KEY not in str(err.value)


class _Redirector(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        type(self).seen.append(dict(self.headers))
        self.send_response(307)
        self.send_header("Location", "http://127.0.0.2:9/admin/status")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_redirect_is_not_followed_with_the_key() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    thread = threading.Thread(target=httpd.serve_forever, name="redirector", daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        with pytest.raises(ServerRefused) as err:
            AdminClient(url, KEY).get_json("/admin/status")
        assert err.value.status == 307
        assert len(_Redirector.seen) == 1
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_a_model_not_on_disk_asks_to_confirm_then_reports_the_download(server) -> None:
    client = AdminClient(server.url, KEY)
    remote = "mlx-community/some-model-not-on-disk-4bit"
    asked = client.load_model(remote)
    assert asked.status == 202 and asked.needs_confirmation
    started = client.load_model(remote, {"auto_download": True})
    assert started.status == 202 and not started.needs_confirmation
