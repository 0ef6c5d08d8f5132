"""``python -m opta_stream.demo``: serve the embedded demo until SIGTERM or SIGINT.

The key may come from ``OPTA_DEMO_ADMIN_KEY`` so it stays out of the process
list; the one ready line names the URL and mode, never the key.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; print one ready line (never the key)."""
    args = _parser().parse_args(argv)
    key = args.admin_key or os.environ.get("OPTA_DEMO_ADMIN_KEY") or None
    server = DemoServer(args.host, args.port, admin_key=key, mode=args.mode,
                        heartbeat_s=args.heartbeat, rate_hz=args.rate, seed=args.seed)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    server.start()
    print(f"opta-stream demo ready on {server.url} mode={server.mode}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
