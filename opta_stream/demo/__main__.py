"""``python -m opta_stream.demo``: serve the embedded demo until SIGTERM or SIGINT.

The key may come from ``OPTA_DEMO_ADMIN_KEY`` so it stays out of the process
list; the one ready line names the URL and mode, never the key.

SIGTERM in lmx mode does what Opta LMX (uvicorn with no graceful timeout)
does: new connections are refused at once, and the process waits, with no
limit, until every open event stream is closed by its client; meanwhile those
streams keep their heartbeats. ``--grace S`` caps that wait (a test's safety
net); rich mode stops at once by default. A second SIGTERM, or SIGINT, stops
it at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence

from opta_stream.demo.server import DemoServer


def _rate(text: str) -> float | None:
    if text == "max":
        return None
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("rate must be positive or 'max'")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m opta_stream.demo",
                                     description="Simulated Opta LMX admin server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--admin-key", default=None,
                        help="prefer the OPTA_DEMO_ADMIN_KEY environment variable")
    parser.add_argument("--mode", choices=("rich", "lmx"), default="rich")
    parser.add_argument("--heartbeat", type=float, default=30.0)
    parser.add_argument("--rate", type=_rate, default=10.0, help="Hz, or 'max'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grace", type=float, default=None,
                        help="after SIGTERM, the longest wait in seconds for open event streams "
                             "to be closed by their clients (default: no limit in lmx mode, as "
                             "Opta LMX; 0, stop at once, in rich mode)")
    return parser


def grace_for(mode: str, grace: float | None) -> float | None:
    """The cap on the drain after SIGTERM: None waits as long as streams stay open."""
    if grace is not None:
        return max(grace, 0.0)
    return None if mode == "lmx" else 0.0


def _drain(server: DemoServer, grace: float | None, forced: threading.Event) -> None:
    """Refuse new connections; wait until no event stream is open, the cap, or a force."""
    server.begin_shutdown()
    limit = "no limit" if grace is None else f"at most {grace:g} s"
    print(f"opta-stream demo draining: {server.open_streams()} open event stream(s), "
          f"waiting with {limit} (a second SIGTERM or SIGINT stops now)", flush=True)
    deadline = None if grace is None else time.monotonic() + grace
    while server.open_streams() and not forced.is_set():
        if deadline is not None and time.monotonic() >= deadline:
            return
        forced.wait(0.1)  # uvicorn, too, looks every 0.1 s


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; print one ready line (never the key)."""
    args = _parser().parse_args(argv)
    key = args.admin_key or os.environ.get("OPTA_DEMO_ADMIN_KEY") or None
    server = DemoServer(args.host, args.port, admin_key=key, mode=args.mode,
                        heartbeat_s=args.heartbeat, rate_hz=args.rate, seed=args.seed)
    grace = grace_for(args.mode, args.grace)
    term, forced = threading.Event(), threading.Event()

    def on_term(*_: object) -> None:  # a second SIGTERM forces the stop
        (forced if term.is_set() else term).set()

    def on_int(*_: object) -> None:
        term.set()
        forced.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_int)
    server.start()
    print(f"opta-stream demo ready on {server.url} mode={server.mode}", flush=True)
    try:
        while not term.wait(0.5):
            pass
        if grace != 0 and not forced.is_set():
            _drain(server, grace, forced)  # new connections refused; open streams keep beating
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
