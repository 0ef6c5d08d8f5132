"""Test helpers shared by the integration suites: waiting, demo processes, ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition"):
    """Wait until ``predicate()`` is truthy, re-checking on a short event wait.

    Returns the truthy value; raises AssertionError naming ``what`` on timeout.
    """
    tick = threading.Event()
    deadline = _now() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if _now() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        tick.wait(0.02)


def _now() -> float:
    import time

    return time.monotonic()


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DemoProcess:
    """``python -m opta_stream.demo`` in a child process, killable for real."""

    def __init__(self, port: int, *args: str, admin_key: str | None = None) -> None:
        self.port = port
        self.args = args
        self.admin_key = admin_key
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> DemoProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.admin_key:
            env["OPTA_DEMO_ADMIN_KEY"] = self.admin_key
        cmd = [sys.executable, "-m", "opta_stream.demo", "--host", "127.0.0.1",
               "--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()
        lines: list[str] = []

        def read() -> None:
            assert self.proc and self.proc.stdout
            for line in self.proc.stdout:
                lines.append(line)
                if "ready" in line:
                    ready.set()

        threading.Thread(target=read, name="demo-stdout", daemon=True).start()
        if not ready.wait(timeout):
            self.kill()
            raise AssertionError(f"demo server did not start: {''.join(lines)[-500:]}")
        return self

    def kill(self) -> None:
        """SIGKILL: the client sees the transfer cut mid-stream."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def feed_threads() -> list[threading.Thread]:
    """Every live thread that belongs to a feed."""
    return [t for t in threading.enumerate() if t.name.startswith(("opta-sse", "opta-sampler"))]
