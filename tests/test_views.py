"""Views are pure: one spec and one snapshot in, one recording out, shared only by equal specs.

- Every page's view takes exactly one snapshot per tick, so all of a page's
  figures come from one instant.
- Two viewers whose specs differ in anything (server, window, time zone,
  filters) never get each other's recording, even in the same tick slot;
  each gets what its own spec builds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from app_sources import StoreSources
from conftest import MODEL_A, SERVER, T0, fill_store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opta_stream.settings import Settings
from opta_stream.snapshot import Snapshot
from opta_stream.store.core import Store
from opta_stream.ui import live
from opta_stream.ui.sources import Source
from opta_stream.views import (
    events_page,
    fleet_page,
    fleet_table,
    memory_page,
    models_page,
    overview_page,
    requests_page,
    server_page,
    throughput_page,
    usage_page,
)
from opta_stream.views.event_rows import CATEGORIES, SEVERITIES
from opta_stream.views.recording import Download, Recording, Table
from opta_stream.views.specs import (
    EventsSpec,
    FleetCardSpec,
    FleetTableSpec,
    MemorySpec,
    ModelsSpec,
    OverviewSpec,
    RequestsSpec,
    ServerSpec,
    ThroughputSpec,
    UsageSpec,
)


class CountingStore(Store):
    """A Store that counts the snapshots taken of it, and moves on after each one, so
    that two snapshots of one tick could not agree."""

    def __init__(self) -> None:
        self.now = T0
        super().__init__(SERVER, clock=lambda: self.now)
        fill_store(self, T0)
        self.taken = 0

    def snapshot(self, window_s: float = 300.0, **kwargs: Any) -> Snapshot:
        self.taken += 1
        snap = super().snapshot(window_s, **kwargs)
        self.now += 1.0
        self.add_throughput(self.now - 0.5, 5_000.0 + self.taken, MODEL_A)
        return snap


def source(store: Store) -> Source:
    return Source(store, None, Settings(SERVER, None, False, "secrets"), False, False)


def one_slot() -> Callable[[], float]:
    return lambda: 1000.0


PAGES: list[tuple[Callable[[Source], Any], Callable[..., Any]]] = [
    (lambda s: OverviewSpec(s.key, "UTC"), overview_page.build),
    (lambda s: ThroughputSpec(s.key, "UTC", 300.0), throughput_page.build),
    (lambda s: MemorySpec(s.key, "UTC", 300.0), memory_page.build),
    (lambda s: RequestsSpec(s.key, "UTC", 300.0), requests_page.build),
    (lambda s: EventsSpec(s.key, "UTC", 300.0, CATEGORIES, SEVERITIES, ""), events_page.build),
    (lambda s: UsageSpec(s.key, "UTC", 7), usage_page.build),
    (lambda s: ModelsSpec(s.key, "UTC"), models_page.build),
    (lambda s: FleetCardSpec(s.key, "UTC", "studio", SERVER), fleet_page.build_card),
    (lambda s: ServerSpec(s.key, "UTC"), server_page.build),
]


@pytest.mark.parametrize(("make_spec", "build"), PAGES)
def test_a_pages_figures_all_come_from_one_snapshot(make_spec, build) -> None:
    store = CountingStore()
    src = source(store)
    with_sources = StoreSources(store, clock=one_slot())
    from opta_stream.ui import sources

    with sources.use(with_sources):
        live.view(src, make_spec(src), build)
        assert store.taken == 1
        live.view(src, make_spec(src), build)  # a second viewer of the slot
        assert store.taken == 1


def normal(value: Any) -> Any:
    """A view's result in comparable form: recordings as their elements, a download's
    deferred file as its bytes."""
    if isinstance(value, Recording):
        return [normal_op(op) for op in value.walk()]
    if isinstance(value, tuple):
        return tuple(normal(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return {k: normal(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


def normal_op(op: Any) -> Any:
    if isinstance(op, Download):
        return ("download", op.file_name, op.data() if callable(op.data) else op.data)
    if hasattr(op, "blocks") or hasattr(op, "block"):
        return type(op).__name__
    if hasattr(op, "data") and not isinstance(op.data, bytes):  # an Arrow table
        return ("table", op.key, op.data.to_pydict() if hasattr(op.data, "to_pydict")
                else op.data)
    return op


ZONES = ("UTC", "Europe/Berlin", "America/New_York")
WINDOWS = (60.0, 300.0, 900.0)
SUBSETS = st.lists(st.sampled_from(SEVERITIES), min_size=1, unique=True).map(tuple)


@st.composite
def spec_pairs(draw: st.DrawFn) -> tuple[str, Any, Any]:
    """Two specs of one page that may differ in any field."""
    page = draw(st.sampled_from(["throughput", "events", "overview"]))

    def one(server: str) -> Any:
        tz = draw(st.sampled_from(ZONES))
        if page == "throughput":
            return ThroughputSpec(server, tz, draw(st.sampled_from(WINDOWS)))
        if page == "events":
            return EventsSpec(server, tz, draw(st.sampled_from(WINDOWS)), CATEGORIES,
                              draw(SUBSETS), draw(st.sampled_from(["", "loaded", "disk"])))
        return OverviewSpec(server, tz)

    return page, one(draw(st.sampled_from(["a", "b"]))), one(draw(st.sampled_from(["a", "b"])))


BUILDS = {"throughput": throughput_page.build, "events": events_page.build,
          "overview": overview_page.build}
STORES = {name: fill_store(Store(f"http://{name}.test:1", clock=lambda: T0), T0)
          for name in ("a", "b")}
STORES["b"].log("download_failed", "disk full on b", severity="error")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_pairs())
def test_viewers_with_different_specs_never_get_each_others_recording(pair) -> None:
    from opta_stream.ui import sources

    page, first, second = pair
    srcs = {name: source(store) for name, store in STORES.items()}
    keyed = {s.key: s for s in srcs.values()}

    def spec_for(spec: Any) -> Any:  # the drawn "a"/"b" → that Store's key
        return dataclasses.replace(spec, server=srcs[spec.server].key)

    first, second = spec_for(first), spec_for(second)
    build = BUILDS[page]
    with sources.use(StoreSources(STORES["a"], clock=one_slot())):
        got_first = live.view(keyed[first.server], first, build)
        got_second = live.view(keyed[second.server], second, build)
    alone = live.prepared(build(second, keyed[second.server].store.snapshot(second.snapshot_s)))
    assert normal(got_second) == normal(alone)  # each viewer gets what its own spec builds
    if first != second:
        assert got_second is not got_first
    else:
        assert got_second is got_first  # equal specs share one build


def metric_values(rec: Recording) -> dict[str, str]:
    from opta_stream.views.recording import Metric

    return {op.label: op.value for op in rec.walk() if isinstance(op, Metric)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_page_shows_the_same_figure_for_the_same_snapshot_and_window(seed) -> None:
    """The Overview, the Requests page at 5 min, a Fleet card, a Fleet table row and the
    alerts agree."""
    import random

    from opta_stream.figures.alert_reading import reading
    from opta_stream.figures.serving_totals import seconds
    from opta_stream.units import number

    rng = random.Random(seed)
    store = CountingStore()
    src = source(store)
    for i in range(rng.randint(0, 40)):  # a few more polls' worth of requests
        store.add_serving(_step(store.now - 40 + i, rng))
    snap = store.snapshot(300.0)
    w = "last 5 min"
    overview = metric_values(overview_page.build(OverviewSpec(src.key, "UTC"), snap))
    requests = metric_values(requests_page.build(RequestsSpec(src.key, "UTC", 300.0), snap))
    card = fleet_page.build_card(FleetCardSpec(src.key, "UTC", "s", SERVER), snap)
    line = next(op.body for op in card.card.walk() if getattr(op, "kind", "") == "markdown"
                and "p95 latency" in op.body)
    for label in (f"p95 latency · {w}", f"Error rate · {w}", f"Requests / s · {w}",
                  "Queued · now", "Tokens / s · now"):
        assert overview[label] == requests.get(label, overview[label]), label
    assert f"{overview[f'p95 latency · {w}']}" in line
    assert f"{overview[f'Error rate · {w}']}" in line
    rows = next(op.data for op in fleet_table.build_table(
        FleetTableSpec((src.key,), ("s",)), [snap]).walk() if isinstance(op, Table))
    row = {k: None if pd.isna(v) else v for k, v in rows.iloc[0].items()
           if k not in ("tokens", "status")}
    assert seconds(row["p95"]) == overview[f"p95 latency · {w}"]
    assert number(row["errors"], ".1f", " %") == overview[f"Error rate · {w}"]
    assert number(row["queued"], ".0f") == overview["Queued · now"]
    assert number(row["tokens_now"]) == overview["Tokens / s · now"]
    assert number(row["memory"], ".0f", " %") == overview["Memory · now"]
    alert = reading(snap)
    assert seconds(alert["p95_latency_s"]) == overview[f"p95 latency · {w}"]
    assert number(alert["error_rate_pct"], ".1f", " %") == overview[f"Error rate · {w}"]
    assert number(alert["queued"], ".0f") == overview["Queued · now"]


def _step(ts: float, rng: Any) -> Any:
    """One poll's counter deltas with random requests, errors and latencies."""
    from opta_stream.events.counters import ServingStep

    n = float(rng.randint(0, 5))
    errors = float(rng.randint(0, int(n)))
    bounds = (0.5, 1.0, 5.0, 30.0, float("inf"))
    counts = sorted(rng.randint(0, int(n)) for _ in bounds[:-1])
    cumulative = (*map(float, counts), n)
    return ServingStep(ts=ts, dt=1.0,
                       totals={"requests": n, "errors": errors, "completion_tokens": 10 * n,
                               "latency_sum": 2.0 * n, "latency_count": n},
                       per_model={MODEL_A: {"requests": n, "errors": errors,
                                            "completion_tokens": 10 * n,
                                            "latency_sum": 2.0 * n, "latency_count": n}},
                       per_client={}, buckets={MODEL_A: cumulative}, bounds=bounds,
                       gauges={"queued": float(rng.randint(0, 3)), "in_flight": 1.0,
                               "limit": 4.0})
