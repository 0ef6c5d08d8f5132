"""The whole data path over real loopback HTTP: demo server → feed → store."""

from __future__ import annotations

import logging

import pytest
from support import DemoProcess, feed_threads, free_port, wait_for

from opta_stream.demo.server import DemoServer
from opta_stream.feed.feed import Feed
from opta_stream.snapshot import ConnState, Health

KEY = "sk-opta-TEST-7f3a9c1e55d2"


def fast_feed(url: str, key: str | None = KEY, **kw) -> Feed:
    """A feed with short timers so the suite stays quick."""
    opts = dict(poll_interval=0.1, backoff_base=0.05, backoff_cap=0.5, read_timeout=3.0,
                connect_timeout=2.0, rng=lambda: 0.0)
    opts.update(kw)
    return Feed(url, key, **opts)


@pytest.fixture
def rich_server():
    server = DemoServer(admin_key=KEY, mode="rich", heartbeat_s=0.3, rate_hz=50.0, seed=1).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lmx_server():
    server = DemoServer(admin_key=KEY, mode="lmx", heartbeat_s=0.3, seed=2).start()
    try:
        yield server
    finally:
        server.stop()


def state(feed: Feed) -> ConnState:
    return feed.store.snapshot(60).connection.state


def test_rich_mode_streams_throughput_and_status(rich_server) -> None:
    feed = fast_feed(rich_server.url).start()
    try:
        wait_for(lambda: len(feed.store.snapshot(60).throughput) >= 20, what="throughput samples",
                 store=feed.store)
        snap = wait_for(lambda: (s := feed.store.snapshot(60)).gauges.memory_total_gb and s,
                        what="status gauges", store=feed.store)
        assert snap.connection.state is ConnState.OPEN
        assert snap.gauges.memory_total_gb > snap.gauges.memory_used_gb > 0
        assert snap.event_counts.get("throughput", 0) >= 20
    finally:
        feed.stop()


def test_lmx_mode_polls_gauges_and_counts_heartbeats(lmx_server) -> None:
    feed = fast_feed(lmx_server.url).start()
    try:
        wait_for(lambda: feed.store.snapshot(60).event_counts.get("heartbeat", 0) >= 1,
                 what="a heartbeat", store=feed.store)
        wait_for(lambda: len(feed.store.snapshot(60).memory_used) >= 2, what="polled memory",
                 store=feed.store)
        wait_for(lambda: len(feed.store.snapshot(60).throughput) >= 1, what="polled tokens/s",
                 store=feed.store)
        snap = feed.store.snapshot(60)
        assert snap.gauges.threshold_pct == 90
        assert snap.gauges.version
        assert state(feed) is ConnState.OPEN
    finally:
        feed.stop()


def test_a_wrong_key_waits_for_a_recheck_and_retry_tries_once_more(rich_server) -> None:
    feed = fast_feed(rich_server.url, key="wrong-key").start()
    try:
        wait_for(lambda: state(feed) is ConnState.AUTH_REJECTED, what="auth rejected",
                 store=feed.store)
        conn = feed.store.snapshot(60).connection
        assert "Admin key rejected" in conn.message and "403" in conn.message
        assert feed.waiting_for_key.wait(10) and len(feed.alive_threads()) == 3

        def events_requests() -> int:
            return sum(r.path.startswith("/admin/events") for r in rich_server.requests_seen())

        assert events_requests() == 1, "a rejected key must not be retried before the re-check"
        feed.retry_now()  # the Retry button
        wait_for(lambda: events_requests() == 2, what="one re-check after Retry")
        assert feed.waiting_for_key.wait(10), "still rejected: it waits again"
        assert events_requests() == 2
        assert feed.store.snapshot(60).health.state is Health.KEY_REJECTED
    finally:
        feed.stop()


def test_malformed_and_unknown_events_are_counted_and_the_feed_goes_on(rich_server) -> None:
    feed = fast_feed(rich_server.url).start()
    try:
        wait_for(lambda: state(feed) is ConnState.OPEN and rich_server.open_streams() == 1,
                 what="open stream")
        rich_server.faults.inject(b"event: model_loaded\ndata: {not json\n\n"
                                  b"event: brand_new_thing\ndata: {\"x\": 1}\n\n")
        snap = wait_for(lambda: (s := feed.store.snapshot(60)).counters.malformed >= 1
                        and s.counters.unknown >= 1 and s, what="malformed + unknown counted",
                        store=feed.store)
        before = len(snap.throughput)
        wait_for(lambda: len(feed.store.snapshot(60).throughput) > before + 5,
                 what="samples after the bad events", store=feed.store)
        types = {e.type for e in feed.store.snapshot(60).events}
        assert {"model_loaded", "brand_new_thing"} <= types
        assert state(feed) is ConnState.OPEN
    finally:
        feed.stop()


def test_stop_is_idempotent_and_leaves_no_thread(rich_server) -> None:
    feeds = [fast_feed(rich_server.url).start() for _ in range(3)]
    wait_for(lambda: rich_server.open_streams() == 3, what="three streams")
    for feed in feeds:
        feed.stop()
        feed.stop()
    assert feed_threads() == []
    assert all(state(f) is ConnState.STOPPED for f in feeds)
    wait_for(lambda: rich_server.open_streams() == 0, what="server to see the streams close")


def test_stop_while_waiting_for_first_byte_of_a_real_lmx() -> None:
    server = DemoServer(mode="lmx", heartbeat_s=30.0).start()
    try:
        feed = fast_feed(server.url, key=None, read_timeout=75.0).start()
        wait_for(lambda: server.open_streams() == 1, what="stream open, no byte yet")
        feed.stop(timeout=5.0)
        assert feed_threads() == []
    finally:
        server.stop()


def test_killed_server_restart_reconnects_records_gap_and_keeps_data(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    demo = DemoProcess(port, "--mode", "rich", "--rate", "50", "--heartbeat", "0.3",
                       admin_key=KEY).start()
    feed = fast_feed(demo.url).start()
    try:
        wait_for(lambda: len(feed.store.snapshot(600).throughput) >= 30, what="first samples",
                 store=feed.store)
        demo.kill()
        wait_for(lambda: state(feed) is ConnState.RECONNECTING, what="reconnecting",
                 store=feed.store)
        kept = feed.store.snapshot(600).throughput
        demo = DemoProcess(port, "--mode", "rich", "--rate", "50", "--heartbeat", "0.3",
                           admin_key=KEY).start()
        wait_for(lambda: state(feed) is ConnState.OPEN, timeout=20, what="reconnected",
                 store=feed.store)
        wait_for(lambda: len(feed.store.snapshot(600).throughput) > len(kept) + 10,
                 what="new samples", store=feed.store)
        snap = feed.store.snapshot(600)
        assert set(kept.ts.tolist()) <= set(snap.throughput.ts.tolist()), "earlier data lost"
        assert len(snap.gaps) >= 1 and snap.gaps[0][1] is not None, "gap not recorded"
        assert snap.counters.reconnects >= 1
        assert len(set(snap.throughput.seg.tolist())) >= 2, "lines must break across the gap"
    finally:
        feed.stop()
        demo.terminate()
    assert_key_absent(caplog)


def assert_key_absent(caplog) -> None:
    for record in caplog.records:
        text = record.getMessage() + (str(record.exc_info) if record.exc_info else "")
        assert KEY not in text, f"admin key leaked into a log line: {record.name}"


def test_admin_key_never_in_logs_exceptions_or_urls(rich_server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    feed = fast_feed(rich_server.url).start()
    try:
        wait_for(lambda: len(feed.store.snapshot(60).throughput) >= 5, what="samples",
                 store=feed.store)
        rich_server.faults.drop_mid_event()
        wait_for(lambda: feed.store.snapshot(60).counters.reconnects >= 1, what="a reconnect",
                 store=feed.store)
        wait_for(lambda: state(feed) is ConnState.OPEN, what="reopened", store=feed.store)
    finally:
        feed.stop()
    snap = feed.store.snapshot(3600)
    texts = [snap.connection.message] + [e.summary + e.data for e in snap.events]
    assert all(KEY not in t for t in texts)
    assert_key_absent(caplog)
    for req in rich_server.requests_seen():
        assert KEY not in req.path
        assert req.headers.get("X-Admin-Key") == KEY
