"""Model rows from the real schema: readiness, last use, request count, context length."""

from __future__ import annotations

import json

from opta_stream.events.records import parse_event
from opta_stream.feed.sampler import models_from_admin
from opta_stream.store.core import Store
from opta_stream.wire.sse import ServerSentEvent

# One row as the real server writes it (PROTOCOL.md, "Model rows"): no quantization field.
ROW = {"id": "mlx-community/Qwen2.5-7B-Instruct-4bit", "loaded": True, "memory_gb": 4.28,
       "loaded_at": 1_795_000_000.5, "use_batching": True, "request_count": 12,
       "last_used_at": 1_795_000_090.25, "context_length": 32768, "performance": {},
       "speculative": {}, "readiness": {"state": "routable", "reason": None, "crash_count": 0}}


def test_a_real_row_gives_readiness_last_use_and_context():
    (model,) = models_from_admin({"loaded": [ROW], "count": 1})
    assert (model.readiness, model.last_used_at, model.request_count, model.context_length) == (
        "routable", 1_795_000_090.25, 12, 32768)
    assert model.quantization is None  # the real row has none


def test_a_readiness_event_updates_the_row_until_the_next_poll_says_otherwise():
    store = Store("s", clock=lambda: 1_795_000_100.0)
    store.set_models(models_from_admin({"loaded": [ROW]}))
    body = {"model_id": ROW["id"], "state": "degraded", "previous_state": "routable",
            "reason": "latency above budget"}
    store.apply(parse_event(ServerSentEvent("model_readiness_changed", json.dumps(body)),
                            1_795_000_100.0))
    (model,) = store.snapshot(60).models
    assert model.readiness == "degraded" and model.request_count == 12
    store.set_models(models_from_admin({"loaded": [ROW]}))
    assert store.snapshot(60).models[0].readiness == "routable"


def test_each_models_tokens_per_s_is_its_mean_over_the_last_10_s():
    from opta_stream.figures.tokens import current_rates

    store = Store("s", clock=lambda: 100.0)
    # a: 20 then 40 inside the 10 s; b: 90 at t=85, outside it; c: 0 (idle but loaded)
    store.add_throughput_many([85.0, 95.0, 99.0, 99.0], [90.0, 20.0, 40.0, 0.0],
                              ["b", "a", "a", "c"])
    assert current_rates(store.snapshot(60).throughput) == {"a": 30.0, "c": 0.0}


def test_spans_read_in_whole_units():
    from opta_stream.units import span

    assert [span(s) for s in (10, 60, 90, 300, 3600, 7200)] == [
        "10 s", "1 min", "1 min 30 s", "5 min", "1 h", "2 h"]


def test_the_models_page_row_shows_readiness_use_speed_and_p95(clean_env):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from serving_fixture import SCRAPE_A, SCRAPE_B
    from test_app_pages import FakeClient, make_app, open_page

    from opta_stream.events.counters import serving_step
    from opta_stream.events.prom import parse_metrics
    from opta_stream.snapshot import ConnState, ModelInfo

    now = 1_000.0
    store = Store("http://127.0.0.1:1234", clock=lambda: now)
    store.set_connection(ConnState.OPEN, "Connected")
    store.set_models([ModelInfo("org/a", 4.28, now - 600.0, 32768, None, 12,
                                readiness="degraded", last_used_at=now - 5.0)])
    store.add_throughput_many([now - 4.0, now - 2.0], [100.0, 50.0], ["org/a", "org/a"])
    step = serving_step(parse_metrics(SCRAPE_A), now - 20.0, parse_metrics(SCRAPE_B),
                        now - 10.0)
    assert step is not None
    store.add_serving(step)
    at = open_page(make_app(store, client=FakeClient()), "models")
    captions = " ".join(c.value for c in at.main.caption)
    assert ("4.28 GB · 32,768 ctx · loaded 10 min 00 s ago · 12 requests · last used 5 s ago"
            " · 75.0 tokens/s now · p95 8.87 s · last 5 min") in captions  # 8.875 s
    assert ":orange-badge[degraded]" in [m.value for m in at.main.markdown]  # st.badge
