"""``record``: keep recording and watching servers into the history file, no dashboard
needed (the way to be alerted with no browser open; the README shows it as a systemd
unit).

With no ``--server`` it watches every configured server (``[[servers]]``, or the
single-server settings as a fleet of one) with the app's alert rules and receivers;
``--server URL`` watches that one. It runs the app's own watch (``watch.Watch``: a Feed
per server with its history writer, the alert monitor thread and the delivery worker)
until SIGTERM or SIGINT, then writes the last batch. Where a dashboard records the same
server into the same file, whichever holds that server's writer lock notifies for it.
Keys come from the secrets file or ``OPTA_LMX_ADMIN_KEY``, never from the command line
(it would show in the process list); no line printed names a key or a receiver's URL.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import replace

from opta_stream.alerting.delivery import BACKOFF_BASE_S, BACKOFF_CAP_S
from opta_stream.cli.args import CliError
from opta_stream.snapshot import HistoryState
from opta_stream.store.core import Store
from opta_stream.watch.fleet_watch import Watch
from opta_stream.watch.watch_plan import plan_watch

__all__ = ["run_record"]

LOAD_WAIT_S = 60.0  # the longest the start line waits for a history file to load


def _loaded(store: Store) -> HistoryState:
    """Where the store's history ends up (it loads in the writer's thread)."""

    def where() -> HistoryState | None:
        state = store.snapshot(1.0).history
        return None if state.state == "loading" else state

    return store.wait_for(where, LOAD_WAIT_S) or store.snapshot(1.0).history


def run_record(secrets: Mapping, environ: Mapping, server: str | None, path: str,
               batch_s: float, identity: str | None = None,
               retry_s: tuple[float, float] = (BACKOFF_BASE_S, BACKOFF_CAP_S)) -> int:
    plan = plan_watch(secrets, environ, server=server, identity=identity)
    if not plan.targets:
        raise CliError("No server to record: pass --server URL, or set lmx_url / "
                       "OPTA_LMX_URL or [[servers]] in .streamlit/secrets.toml.")
    plan = replace(plan, history=replace(plan.history, path=path, batch_s=batch_s))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    watch = Watch(plan, backoff=retry_s).start()
    for feed in watch.feeds.values():
        state = _loaded(feed.store)
        print(f"opta_stream record: {feed.url} into {path} ({state.state}"
              f"{': ' + state.message if state.message else ''})", file=sys.stderr, flush=True)
    config = plan.config
    receivers = ", ".join(r.label for r in config.receivers) or "none ([[notify]] is empty)"
    print(f"opta_stream record: alerts: {len(config.active)} rules on "
          f"{len(plan.targets)} server(s); receivers: {receivers}", file=sys.stderr, flush=True)
    for problem in (*config.errors, *plan.notes):
        print(f"opta_stream record: {problem}", file=sys.stderr, flush=True)
    while not done.wait(1.0):
        pass
    watch.stop()
    return 0
