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
    parser.add_argument("--grace", type=float, default=None,
                        help="seconds open event streams keep beating after SIGTERM, as Opta "
                             "LMX does (default: 30 in lmx mode, 0 in rich mode)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; print one ready line (never the key)."""
    args = _parser().parse_args(argv)
    key = args.admin_key or os.environ.get("OPTA_DEMO_ADMIN_KEY") or None
    server = DemoServer(args.host, args.port, admin_key=key, mode=args.mode,
                        heartbeat_s=args.heartbeat, rate_hz=args.rate, seed=args.seed)
    grace = args.grace if args.grace is not None else (30.0 if args.mode == "lmx" else 0.0)
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
        if grace > 0 and not forced.is_set():
            server.begin_shutdown()  # new connections refused; open streams keep beating
            print(f"opta-stream demo draining for {grace:g} s", flush=True)
            forced.wait(grace)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
