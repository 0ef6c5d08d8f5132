"""SIGTERM on the demo in lmx mode, as on Opta LMX: new connections are refused at once,
open event streams keep beating for as long as their clients hold them, and the process
exits promptly once the last one is closed. Real processes: a signal matters here.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator

import pytest
from support import DemoProcess, free_port, wait_for

from opta_stream.demo.__main__ import grace_for

KEY = "sk-demo-sigterm-3a9d"
BEAT_S = 0.2


class Stream:
    """A raw ``GET /admin/events``; counts heartbeats as the bytes arrive."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(f"GET /admin/events HTTP/1.1\r\nHost: t\r\nX-Admin-Key: {KEY}\r\n\r\n"
                          .encode())
        self.data = b""

    def beats(self) -> int:
        return self.data.count(b"event: heartbeat")

    def read_until(self, beats: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.beats() < beats:
            assert time.monotonic() < deadline, f"only {self.beats()} heartbeats"
            chunk = self.sock.recv(65536)
            assert chunk, "the stream ended"
            self.data += chunk

    def read_to_end(self, timeout: float = 10.0) -> bytes:
        self.sock.settimeout(timeout)
        while chunk := self.sock.recv(65536):
            self.data += chunk
        return self.data

    def close(self) -> None:
        self.sock.close()


def refused(port: int) -> bool:
    """A new connection is refused (or reset while the listener closes)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    return False


@pytest.fixture
def demo() -> Iterator[DemoProcess]:
    process = DemoProcess(free_port(), "--mode", "lmx", "--heartbeat", str(BEAT_S),
                          admin_key=KEY).start()
    yield process
    process.kill()


def test_sigterm_waits_for_the_open_stream_then_exits_promptly(demo) -> None:
    assert demo.proc is not None
    stream = Stream(demo.port)
    try:
        stream.read_until(1)
        demo.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: refused(demo.port), 10, "new connections refused")
        beats = stream.beats()
        stream.read_until(beats + 15)  # three seconds and more of a stream that still beats
        assert demo.proc.poll() is None, "the process must wait while the stream is open"
    finally:
        stream.close()
    # Closing the stream is what lets it go: it waited for 15 beats and more with the
    # stream open, and exits on its own now (a bound on the wait, not a timing).
    assert demo.proc.wait(10) == 0


def test_sigterm_with_no_stream_open_exits_at_once(demo) -> None:
    assert demo.proc is not None
    demo.proc.send_signal(signal.SIGTERM)
    assert demo.proc.wait(10) == 0


def test_grace_caps_the_wait_and_ends_the_stream_cleanly() -> None:
    demo = DemoProcess(free_port(), "--mode", "lmx", "--heartbeat", str(BEAT_S), "--grace",
                       "0.5", admin_key=KEY).start()
    assert demo.proc is not None
    stream = Stream(demo.port)
    try:
        stream.read_until(1)
        demo.proc.send_signal(signal.SIGTERM)
        assert demo.proc.wait(10) == 0
        assert stream.read_to_end().endswith(b"0\r\n\r\n"), "the last chunk, not a cut"
    finally:
        stream.close()
        demo.kill()


def test_the_default_wait_has_no_limit_in_lmx_mode_and_none_in_rich() -> None:
    assert grace_for("lmx", None) is None
    assert grace_for("rich", None) == 0.0
    assert grace_for("lmx", 2.5) == 2.5 and grace_for("lmx", -1) == 0.0
