"""What every benchmark shares: child processes, bounded waits, results and the table.

Why one module: each measurement starts servers (the demo, Streamlit) in
child processes that must always be stopped, waits for them with a deadline,
and reports a value *or* the reason it has none. A measurement that fails
records ``None`` plus a reason; it never ends the run.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"

__all__ = [
    "OUT",
    "ROOT",
    "ChildProcess",
    "DemoProcess",
    "Result",
    "accepting",
    "free_port",
    "json_line",
    "machine",
    "median",
    "p95",
    "print_table",
    "wait_until",
]


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def accepting(port: int) -> bool:
    """Whether something on 127.0.0.1 accepts a connection on ``port`` now."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def wait_until(predicate: Callable[[], Any], timeout: float, step: float = 0.05) -> Any:
    """Poll ``predicate`` until truthy or ``timeout`` s pass; returns its last value."""
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        tick.wait(step)


def median(values: Sequence[float]) -> float | None:
    """Median of the finite values, or None when there are none."""
    vals = sorted(v for v in values if v is not None and v == v)
    if not vals:
        return None
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


def p95(values: Sequence[float]) -> float | None:
    """95th percentile (linear interpolation, like numpy's default)."""
    vals = sorted(values)
    if not vals:
        return None
    pos = 0.95 * (len(vals) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def machine() -> str:
    """One line that says where the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
            f"Python {platform.python_version()}, load {load:.1f} at start")


@dataclass
class Result:
    """One measured figure: a value, or None and why; ``note`` explains either."""

    key: str
    label: str
    value: float | int | None = None
    unit: str = ""
    target: str = ""
    ok: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def fail(self, reason: str) -> Result:
        self.value, self.ok, self.note = None, None, reason
        return self


class ChildProcess:
    """A child process with its output captured to a file; stopped in ``stop()``.

    Why a file and not a pipe: a chatty child (Streamlit logs) must never block
    on a full pipe while the benchmark is busy measuring.
    """

    def __init__(self, cmd: Sequence[str], *, env: dict[str, str] | None = None,
                 log_name: str = "child") -> None:
        self.cmd = list(cmd)
        # history off: no bench writes into the user's data folder, and its cost is
        # measured on its own (history_bench.py)
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "OPTA_STREAM_HISTORY": "",
                    **(env or {})}
        OUT.mkdir(parents=True, exist_ok=True)
        self.log_path = OUT / f"{log_name}-{os.getpid()}-{int(time.time() * 1000)}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ChildProcess:
        env = {**self.env, "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), self.env.get("PYTHONPATH", "")) if p)}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def output(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def wait_output(self, needle: str, timeout: float) -> bool:
        """True once ``needle`` shows in the output; False on timeout or exit."""
        found = wait_until(lambda: needle in self.output() or not self.alive(), timeout, 0.1)
        return bool(found) and needle in self.output()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, kill: bool = False, timeout: float = 10.0) -> None:
        """SIGTERM (or SIGKILL) the child's process group, then reap it. Idempotent."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        sig = signal.SIGKILL if kill else signal.SIGTERM
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)

    def remove_log(self) -> None:
        try:
            self.log_path.unlink()
        except OSError:
            pass


class DemoProcess(ChildProcess):
    """``python -m opta_stream.demo`` on a fixed 127.0.0.1 port (restarts reuse it)."""

    def __init__(self, port: int, *, rate: str = "max", mode: str = "rich",
                 heartbeat: float = 30.0) -> None:
        cmd = [sys.executable, "-m", "opta_stream.demo", "--host", "127.0.0.1",
               "--port", str(port), "--mode", mode, "--rate", rate,
               "--heartbeat", str(heartbeat)]
        super().__init__(cmd, log_name=f"demo-{port}")
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> DemoProcess:
        """Start and wait for the ready line; raises RuntimeError if it never comes."""
        super().start()
        if not self.wait_output("ready", timeout):
            tail = self.output()[-300:]
            self.stop(kill=True)
            raise RuntimeError(f"demo server did not start: {tail}")
        return self


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) >= 100):
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def print_table(results: Sequence[Result], out: Callable[[str], None] = print) -> None:
    """The readable table: key, value, target, verdict, then the note."""
    out(f"{'measure':<42} {'value':>14}  {'target':<10} {'':<5} note")
    out("-" * 110)
    for r in results:
        verdict = {True: "PASS", False: "MISS", None: "--"}[r.ok]
        value = f"{_fmt(r.value)} {r.unit}".strip()
        out(f"{r.key:<42} {value:>14}  {r.target:<10} {verdict:<5} {r.note}")


def json_line(payload: dict[str, Any]) -> str:
    """One JSON object on one line (NaN becomes null)."""
    clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in payload.items()}
    return json.dumps(clean, separators=(", ", ": "))
