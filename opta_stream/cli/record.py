"""``record``: keep recording one server into the history file, no dashboard needed.

Runs the same Feed as the app (stream, polls, history writer) until SIGTERM or
SIGINT, then writes the last batch. The key comes from the secrets file or
``OPTA_LMX_ADMIN_KEY``, never from the command line (it would show in the
process list), and no line printed names it.
"""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import replace

from opta_stream.cli.args import CliError
from opta_stream.feed import Feed
from opta_stream.inputs import validate_url
from opta_stream.settings import Settings

__all__ = ["run_record"]


def run_record(conf: Settings, server: str | None, path: str, batch_s: float,
               identity: str | None = None) -> int:
    url = validate_url(server) if server else conf.url
    if not url:
        raise CliError("No server to record: pass --server URL or set lmx_url / "
                       "OPTA_LMX_URL.")
    key = conf.admin_key if conf.url and url.rstrip("/") == conf.url.rstrip("/") else None
    history = replace(conf.history, path=path, batch_s=batch_s)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    feed = Feed(url, key, history=history, identity=identity).start()
    state = feed.store.snapshot(1.0).history
    print(f"opta_stream record: {url} into {path} ({state.state}"
          f"{': ' + state.message if state.message else ''})", file=sys.stderr, flush=True)
    while not done.wait(1.0):
        pass
    feed.stop()
    return 0
