"""Argument parsing for ``python -m opta_stream``: every failure is one sentence, exit 1."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opta_stream.alerting.delivery import BACKOFF_BASE_S, BACKOFF_CAP_S
from opta_stream.cli.alerts_command import run_alerts
from opta_stream.cli.args import CliError, history_file, parse_span, secrets, settings
from opta_stream.cli.export_command import KINDS, run_export
from opta_stream.cli.record import run_record
from opta_stream.errors import ConfigError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m opta_stream",
                                     description="Opta Stream's recorded history.")
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write recorded history as CSV to standard output")
    ex.add_argument("kind", choices=KINDS)
    ex.add_argument("--since", default="24h", help="how far back: 90s, 15m, 24h, 7d")
    ex.add_argument("--server", help="the server's URL, or 'demo' (default: the "
                    "configured one, or the only one recorded)")
    ex.add_argument("--db", help="the history file (default: the configured history path)")
    ex.add_argument("--tz", help="the zone whose dates the usage export uses "
                    "(default: TZ, else UTC)")
    rec = sub.add_parser("record", help="record and watch every configured server (alerts "
                         "included) into the history file until stopped")
    rec.add_argument("--server", help="only this server's URL (default: every configured "
                     "server)")
    rec.add_argument("--db", help="the history file (default: the configured history path)")
    rec.add_argument("--batch-s", type=float, default=5.0, help="seconds between writes")
    rec.add_argument("--identity", help=argparse.SUPPRESS)  # tests: record as "demo"
    # tests: the delivery retry's base and cap in seconds (default 2 and 60), so a
    # receiver that was down is retried soon after it is back
    rec.add_argument("--alert-retry-s", type=float, nargs=2, default=None,
                     help=argparse.SUPPRESS)
    al = sub.add_parser("alerts", help="print the alert rules and their states, or send "
                        "a test notification to every receiver ('alerts test')")
    al.add_argument("action", nargs="?", choices=["test"],
                    help="test: one test notification to each receiver")
    al.add_argument("--db", help="the history file to read states from (default: the "
                    "configured history path)")
    return parser


def _zone(name: str | None) -> tzinfo:
    name = name or os.environ.get("TZ") or "UTC"
    try:
        return ZoneInfo(name.lstrip(":"))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a folder
        if name in ("UTC", "Z"):
            return UTC
        raise CliError(f"Unknown time zone {name[:60]!r}: use a name like Europe/Berlin.") \
            from None


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        conf = settings()
        if args.command == "alerts":
            path = args.db or (history_file(conf, None) if conf.history.enabled else None)
            return run_alerts(secrets(), os.environ, args.action, path, sys.stdout)
        path = history_file(conf, args.db)
        if args.command == "export":
            return run_export(args.kind, parse_span(args.since), path, args.server, conf.url,
                              _zone(args.tz))
        if not 0.05 <= args.batch_s <= 3600:
            raise CliError("--batch-s must be from 0.05 to 3600 seconds.")
        base, cap = args.alert_retry_s or (BACKOFF_BASE_S, BACKOFF_CAP_S)
        if not 0 < base <= cap:
            raise CliError("--alert-retry-s takes a base and a cap, 0 < base <= cap.")
        return run_record(secrets(), os.environ, args.server, path, args.batch_s,
                          args.identity, (base, cap))
    except (CliError, ConfigError) as exc:
        print(f"opta_stream {args.command}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `… | head` closed the pipe: not an error
        return 0
