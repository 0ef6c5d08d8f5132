"""What the dashboard says during and after trouble, against real servers.

- a restart after 25 s down: back before the backoff would have retried, logged
  with its downtime, the server restart detected from uptime, one success counted;
- SIGTERM in lmx mode: the server refuses new connections and keeps its open stream
  beating; the feed closes that stream at the first refused poll, so the server exits
  (a bounded wait), then reconnects once the server is back;
- load shedding (503 ``overloaded`` at 95 % memory): the stream stays, the health says so;
- a crashing thread: internal error (not a network problem), restarted, recovered;
- a bug while applying one event: counted, the chunk's other events kept (a bug while
  reading a chunk is the fault matrix's ``ingest-bug`` row).
"""

from __future__ import annotations

import logging
import signal
import subprocess

import pytest
from support import DemoProcess, free_port, wait_for

from opta_stream.demo.server import DemoServer
from opta_stream.events.records import ModelLoaded, ModelUnloaded
from opta_stream.feed import sampler as sampler_module
from opta_stream.feed.feed import Feed
from opta_stream.figures.freshness import actions_blocked
from opta_stream.snapshot import ConnState, Health
from opta_stream.store import Store
from opta_stream.store import apply as apply_module

KEY = "sk-opta-TRUTH-8d1e4b"
LMX_ARGS = ("--mode", "lmx", "--heartbeat", "0.3")


def state(feed: Feed) -> ConnState:
    return feed.store.snapshot(1).connection.state


def health(feed: Feed) -> Health:
    return feed.store.snapshot(1).health.state


def closed_for_shutdown(feed: Feed) -> bool:
    """The log says the feed closed its stream for a stopping server, and why."""
    events = feed.store.snapshot(60).events
    return any(e.type == "feed_closed" for e in events) and any(
        e.type == "feed_down" and "shutting down" in e.summary for e in events)


def test_a_restart_after_25_s_down_reconnects_at_the_first_answered_poll(caplog) -> None:
    """Real backoff (0.5 s base, 30 s cap): after 25 s down the stream's next try is
    8-24 s away; the first poll that reaches the restarted server ends that wait."""
    caplog.set_level(logging.INFO)
    port = free_port()
    demo = DemoProcess(port, *LMX_ARGS, admin_key=KEY).start()
    feed = Feed(demo.url, KEY, poll_interval=0.5, rng=lambda: 0.0).start()
    try:
        wait_for(lambda: health(feed) is Health.LIVE, 20, "live", store=feed.store)
        wait_for(lambda: feed.store.snapshot(60).gauges.uptime_s, 10, "an uptime",
                 store=feed.store)
        demo.kill()
        wait_for(lambda: health(feed) is Health.DOWN, 10, "down", store=feed.store)
        down_at = feed.store.snapshot(1).health.since
        wait_for(lambda: feed.store.snapshot(1).taken_at - down_at >= 25, 40, "25 s down",
                 store=feed.store)
        waiting = feed.store.snapshot(1).connection
        demo = DemoProcess(port, *LMX_ARGS, admin_key=KEY).start()
        back_at = feed.store.snapshot(1).taken_at
        wait_for(lambda: health(feed) is Health.LIVE, 40, "live again", store=feed.store)
        snap = feed.store.snapshot(3600)
        opened = snap.connection.since
        assert waiting.next_retry_at is not None and opened < waiting.next_retry_at, \
            "the stream waited for its backoff instead of the first answered poll"
        print(f"\ndown {back_at - down_at:.1f} s; live {opened - back_at:.2f} s after the "
              f"restart (the backoff would have retried {waiting.next_retry_at - back_at:.1f} "
              "s after it)")
        texts = [e.summary for e in snap.events]
        assert any(t.startswith("Event stream back after") for t in texts), \
            [(e.type, e.summary[:50]) for e in snap.events[-12:]]
        assert any(t.startswith("Server restarted: uptime") for t in texts), \
            "\n".join(f"{e.type}: {e.summary[:70]}" for e in snap.events[-14:])
        assert snap.counters.reconnects == 1 and snap.counters.reconnect_attempts >= 6
    finally:
        feed.stop()
        demo.kill()
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_sigterm_the_feed_lets_a_draining_server_exit_then_reconnects() -> None:
    """Opta LMX on SIGTERM refuses new connections and waits, with no limit, while open
    streams keep their heartbeats. With the app's own settings (a poll every second) the
    feed closes its stream at the first refused poll; the server exits (a bounded wait,
    not a timing); polling goes on, and the stream is back once the server is."""
    port = free_port()
    demo = DemoProcess(port, *LMX_ARGS, admin_key=KEY).start()  # drains with no limit
    feed = Feed(demo.url, KEY).start()
    try:
        wait_for(lambda: health(feed) is Health.LIVE, 20, "live", store=feed.store)
        assert demo.proc is not None
        demo.proc.send_signal(signal.SIGTERM)
        try:
            assert demo.proc.wait(3) == 0
        except subprocess.TimeoutExpired:
            pytest.fail("the server did not exit within 3 s of SIGTERM: the feed kept its "
                        "beating stream open")
        wait_for(lambda: health(feed) is Health.DOWN, 10, "down", store=feed.store)
        assert closed_for_shutdown(feed)
        demo = DemoProcess(port, *LMX_ARGS, admin_key=KEY).start()
        wait_for(lambda: health(feed) is Health.LIVE, 20, "live again", store=feed.store)
    finally:
        feed.stop()
        demo.kill()


def test_sigterm_in_process_the_open_stream_is_closed_for_the_server() -> None:
    server = DemoServer(mode="lmx", heartbeat_s=0.2).start()
    feed = Feed(server.url, poll_interval=0.2, rng=lambda: 0.0).start()
    try:
        wait_for(lambda: health(feed) is Health.LIVE, 10, "live", store=feed.store)
        assert server.open_streams() == 1
        server.begin_shutdown()
        wait_for(lambda: server.open_streams() == 0, 10, "the feed closed its stream")
        wait_for(lambda: health(feed) is Health.DOWN, 10, "down", store=feed.store)
        assert closed_for_shutdown(feed)
    finally:
        feed.stop()
        server.stop()


def test_load_shedding_keeps_the_stream_and_says_so() -> None:
    """A 503 ``overloaded`` is memory pressure, not a shutdown: nothing is closed, the
    health says the server sheds load (from /admin/health, which still answers), and it
    is live again once memory falls."""
    server = DemoServer(mode="lmx", heartbeat_s=0.2).start()
    feed = Feed(server.url, poll_interval=0.2, rng=lambda: 0.0).start()
    try:
        wait_for(lambda: health(feed) is Health.LIVE, 10, "live", store=feed.store)
        server.sim.hold_memory(96.0)
        wait_for(lambda: "shedding load at ≥ 95 % memory" in
                 feed.store.snapshot(1).health.message, 10, "shedding", store=feed.store)
        beats = feed.store.snapshot(60).event_counts.get("heartbeat", 0)
        wait_for(lambda: feed.store.snapshot(60).event_counts.get("heartbeat", 0) > beats + 2,
                 10, "heartbeats on the kept stream", store=feed.store)
        snap = feed.store.snapshot(60)
        assert snap.connection.state is ConnState.OPEN and server.open_streams() == 1
        assert snap.health.state is Health.DEGRADED
        assert "Memory at 96.0% — approaching OOM threshold" in snap.health.message
        assert snap.counters.reconnect_attempts == 0
        assert "shedding load" in (actions_blocked(snap) or ""), "a load would get a 503"
        server.sim.hold_memory(None)
        wait_for(lambda: health(feed) is Health.LIVE, 10, "live again", store=feed.store)
    finally:
        feed.stop()
        server.stop()


def test_a_crashing_sampler_is_an_internal_error_restarted_and_recovered(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    server = DemoServer(admin_key=KEY, mode="lmx", heartbeat_s=0.2).start()
    calls = {"n": 0}
    real = sampler_module.Sampler.sample_once

    def crash_once(self: sampler_module.Sampler) -> bool:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyError(f"bug with {KEY} inside")  # the key must not reach the log
        return real(self)

    monkeypatch.setattr(sampler_module.Sampler, "sample_once", crash_once)
    feed = Feed(server.url, KEY, poll_interval=0.1, backoff_cap=0.5, rng=lambda: 0.0).start()
    try:
        wait_for(lambda: health(feed) is Health.INTERNAL_ERROR, 10, "internal error",
                 store=feed.store)
        snap = feed.store.snapshot(60)
        assert "Internal error in Opta Stream's sampler: KeyError" in snap.health.message
        assert "network" not in snap.health.message and snap.counters.internal_errors == 1
        wait_for(lambda: health(feed) is Health.LIVE, 10, "restarted and live",
                 store=feed.store)
        assert len(feed.alive_threads()) == 3
    finally:
        feed.stop()
        server.stop()
    crash = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert crash and "Traceback" in crash[0].getMessage()
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_a_bug_applying_one_event_keeps_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: object, event: object) -> None:
        raise ValueError("a bug in the handler")

    monkeypatch.setitem(apply_module._HANDLERS, ModelLoaded, boom)
    store = Store(clock=lambda: 100.0)
    events = [ModelLoaded("model_loaded", 100.0, "{}", "a", None, 1.0, 1.0),
              ModelUnloaded("model_unloaded", 100.0, "{}", "b", 1.0, "ttl")]
    store.apply_many(events)
    snap = store.snapshot(60)
    assert snap.counters.internal_errors == 1 and snap.counters.events == 2
    summaries = [e.summary for e in snap.events]
    assert any("Internal error applying a 'model_loaded' event (ValueError)" in s
               for s in summaries)
    assert any(s.startswith("Unloaded b") for s in summaries), "the other event was lost"
