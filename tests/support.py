"""Test helpers shared by the integration suites: waiting, demo processes, ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from opta_stream.store import Store

T = TypeVar("T")
POLL_S = 0.02  # how often a condition outside this process is re-checked
ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "lmx"  # captured from a real Opta LMX 0.1.0

# Debian's Chromium, headless as root on a closed network: without the
# background-networking flags it keeps trying (and failing) to reach Google.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def require_chromium() -> str:
    """Debian's chromium: skipped without it, except on CI where that is a failure."""
    found = shutil.which("chromium") or ("/usr/bin/chromium"
                                         if Path("/usr/bin/chromium").exists() else None)
    if found is None and os.environ.get("CI") == "true":
        pytest.fail("Chromium is missing on CI: .ci/run should have installed it")
    if found is None:
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    return found


def streamlit_healthy(url: str) -> bool:
    """Whether a ``streamlit run`` at ``url`` answers its health check."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, what: str = "condition", *,
             store: Store | None = None) -> T:
    """Wait until ``predicate()`` is truthy and return its value; AssertionError on timeout.

    With ``store``, the wait ends at the store write that makes the predicate
    true (``Store.wait_for``): what a feed records is waited on, not polled.
    Without it, the predicate is polled every 20 ms: it reads another process,
    a socket or a browser, where there is no event to wait on.
    """
    if store is not None:
        value = store.wait_for(predicate, timeout)
    else:
        value = _poll(predicate, timeout)
    if not value:
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
    return value


def _poll(predicate: Callable[[], T], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    return value


def wait_for_streamlit(proc: subprocess.Popen, url: str, timeout: float = 30.0) -> None:
    """Wait until a ``streamlit run`` child answers, or fail if it exited."""
    wait_for(lambda: proc.poll() is not None or streamlit_healthy(url), timeout,
             "streamlit to answer")


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """``sig`` (SIGTERM), then SIGKILL if it has not exited within 10 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


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

    def terminate(self, sig: int = signal.SIGINT) -> None:
        """A clean stop: SIGINT stops at once in every mode; SIGTERM in lmx mode first
        waits for open event streams to close (with no limit unless ``--grace``), as Opta
        LMX does."""
        if self.proc:
            stop_process(self.proc, sig)


class RecorderProcess:
    """``python -m opta_stream record ARGS`` in a child process in ``cwd``; its stderr
    collected line by line (``said``) by a reader thread."""

    def __init__(self, args: list[str], cwd: Path, *, drop_env: tuple[str, ...] = ()) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name in drop_env:
            env.pop(name, None)
        self.proc = subprocess.Popen([sys.executable, "-m", "opta_stream", "record", *args],
                                     cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, name="recorder-stderr", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def feed_threads() -> list[threading.Thread]:
    """Every live thread that belongs to a feed."""
    return [t for t in threading.enumerate()
            if t.name.startswith(("opta-sse", "opta-sampler", "opta-reports"))]
