"""A short run of the soak (``bench/soak.py``): off by default, ``pytest -m soak`` runs it.

Why bounded and marked: the real soak is 30 minutes with a restart every 5
(run from ``bench/``; its summary is in ``bench/RESULTS.md``). This shorter
run still restarts the server twice (a SIGKILL, then a clean stop) and checks
that the feed comes back each time and that threads, sockets and memory end
where they started.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import soak  # noqa: E402

pytestmark = pytest.mark.soak


@pytest.mark.timeout(180)
def test_feed_and_store_stay_flat_across_server_restarts():
    before = {t.name for t in threading.enumerate()}
    summary = soak.run_soak(minutes=1.0, restart_every=0.3, warmup=10.0, interval=5.0,
                            log=lambda line: None)
    assert summary["restarts"] == 3
    assert summary["samples"] >= 9
    assert summary["reconnects"] >= 3 and summary["gaps"] >= 3
    assert summary["events_per_s"] > 30  # 50 Hz throughput plus status: the feed kept up
    assert summary["flat"] is True, summary
    assert summary["upstream"]["max"] <= 2  # one event stream, one poller connection
    leftover = {t.name for t in threading.enumerate()} - before
    assert not any(name.startswith(("opta-sse", "opta-sampler")) for name in leftover)
