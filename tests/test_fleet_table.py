"""The Fleet page past five servers: one table, in AppTest and as a pure view.

Twenty Stores filled deterministically on a frozen clock (one down, one over
its memory threshold, one with errors, one with a firing alert, one that
never answered, the rest fine) for the order, the columns, the numbers
against the Overview's and the links; twenty demo twins behind real feeds,
one of them stopped, for a server that goes down.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import numpy as np
import pandas as pd
import pytest
import streamlit_internals as compat
from app_sources import StoreSources
from conftest import MODEL_A, T0, fill_store
from serving_fixture import SCRAPE_A, SCRAPE_B
from streamlit.testing.v1 import AppTest
from test_app_pages import APP

from opta_stream.events.counters import serving_step
from opta_stream.events.prom import parse_metrics
from opta_stream.figures.headline import headline
from opta_stream.figures.serving_totals import seconds
from opta_stream.settings import RENDER_S
from opta_stream.snapshot import AlertBoard, AlertNow, ConnState, Health, ModelInfo
from opta_stream.store.core import Store
from opta_stream.ui import server_panel, sources
from opta_stream.units import number
from opta_stream.views.fleet_table import CARDS_UP_TO, build_table, link
from opta_stream.views.specs import FleetTableSpec

ROOT = Path(APP).parent
NAMES = tuple(f"lmx-{i:02d}" for i in range(1, 21))
DOWN, FULL, ALERTED, ERRORS, NEW = "lmx-03", "lmx-11", "lmx-08", "lmx-17", "lmx-20"
W = "last 5 min"


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    compat.use_navigation_mode(monkeypatch)


def url(name: str) -> str:
    return f"http://{name}.test:1234"


def quiet(name: str, now: float = T0, *, until: float | None = None) -> Store:
    """A server with nothing wrong: stream open, every poll answering and tokens flowing
    until ``until`` (now), memory well under its threshold, no request finished yet."""
    clock = [now if until is None else until]
    store = Store(url(name), clock=lambda: clock[0])
    store.set_connection(ConnState.OPEN, "Connected")
    end = clock[0]
    ts = [end - 120.0 + i for i in range(121)]
    store.add_throughput_many(ts, [30.0 + (i % 7) for i in range(121)], [MODEL_A] * 121)
    store.add_memory(end - 1.0, 8.0, 24.0, 90.0)
    store.set_gauges(version=f"0.1.0-{name}", updated_at=end)
    store.set_models([ModelInfo(MODEL_A, 4.28, now - 900.0, 32768, "4bit", 12)])
    store.set_poll("/admin/status", True)
    store.set_alerts(AlertBoard(True, ()))  # watched, nothing firing
    clock[0] = now
    return store


def gone(name: str, now: float, last_heard_s: float) -> Store:
    """A server last heard ``last_heard_s`` ago, whose polls are refused since."""
    store = quiet(name, now, until=now - last_heard_s)
    store.set_connection(ConnState.RECONNECTING, "Connection refused")
    store.set_poll("/admin/status", False, "Connection refused", kind="refused")
    return store


def fleet20(now: float = T0) -> dict[str, Store]:
    stores = {name: quiet(name, now) for name in NAMES}
    stores[DOWN] = gone(DOWN, now, 60.0)
    stores[FULL].add_memory(now, 23.0, 24.0, 90.0)  # 96 %, over its threshold of 90 %
    stores[ERRORS] = fill_store(Store(url(ERRORS), clock=lambda: now), now)  # 5 % errors
    step = serving_step(parse_metrics(SCRAPE_A), now - 2.0, parse_metrics(SCRAPE_B), now - 1.0)
    assert step is not None
    stores[ERRORS].add_serving(step)  # a fresh reading: 2 queued now
    stores[ALERTED].set_alerts(AlertBoard(True, (
        AlertNow("Slow", "warning", "firing", now - 30.0, "p95 above 20 s", fired_at=now - 30.0),)))
    stores[NEW] = Store(url(NEW), clock=lambda: now)  # never answered
    return stores


def fleet_app(found: dict[str, Store] | None, names: tuple[str, ...] = NAMES,
              **secrets: Any) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    servers = secrets.pop("servers", None) or [{"name": n, "url": url(n)} for n in names]
    at.secrets.update({"read_only": False, "history_path": "", "servers": servers, **secrets})
    if found is not None:
        sources.install(StoreSources(found))
    return at


def table(at: AppTest) -> pd.DataFrame:
    (frame,) = at.main.dataframe  # one table, the only one on the page
    return frame.value


def columns(at: AppTest) -> dict[str, Any]:
    return json.loads(at.main.dataframe[0].proto.columns)


def names_of(frame: pd.DataFrame) -> list[str]:
    return [parse_qs(urlsplit(u).query)["server"][0] for u in frame["server"]]


def row_of(frame: pd.DataFrame, name: str) -> dict[str, Any]:
    (i,) = [i for i, n in enumerate(names_of(frame)) if n == name]
    return {k: (list(v) if isinstance(v, np.ndarray | list) else None if pd.isna(v) else v)
            for k, v in frame.iloc[i].items()}


def test_past_five_servers_the_page_is_one_table_redrawn_at_the_render_interval(
        clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    timers = compat.record_forward_msgs(monkeypatch, "auto_rerun")
    at = fleet_app(fleet20()).run()
    assert not at.exception
    frame = table(at)
    assert len(frame) == 20 and sorted(names_of(frame)) == sorted(NAMES)
    assert not at.main.get("page_link")  # no cards: their titles are links
    assert len(at.main.get("vega_lite_chart")) == 1  # the history chart's only
    captions = [c.value for c in at.main.caption]
    assert captions[0].startswith("20 servers · 4 need attention (first)")
    # the live part redraws at the render interval (the history every 15 s), however many
    assert sorted({m.auto_rerun.interval for m in timers}) == [RENDER_S, 15.0]
    cols = columns(at)
    assert cols["memory"]["type_config"] == {"type": "progress", "format": "%.0f %%",
                                             "min_value": 0.0, "max_value": 100.0}
    assert cols["tokens"]["type_config"]["type"] == "line_chart"
    assert cols["server"]["type_config"]["type"] == "link"
    assert cols["status"]["pinned"] and cols["server"]["pinned"]
    chips = {o["value"]: o["color"] for o in cols["status"]["type_config"]["options"]}
    assert (chips["Down"], chips["Live ⚠"], chips["Live"]) == ("#ef4444", "#f59e0b",
                                                               "#22c55e")  # as the badges
    assert at.main.dataframe[0].proto.placeholder == "—"  # an unknown figure, never "None"
    assert "red from 80 %" in cols["memory"]["help"]  # the threshold, said


def test_up_to_five_servers_keep_their_cards(clean_env: None) -> None:
    five = NAMES[:CARDS_UP_TO]
    at = fleet_app({n: quiet(n) for n in five}, five).run()
    assert not at.exception
    assert not at.main.dataframe
    assert len(at.main.get("page_link")) == 5


def test_trouble_rows_come_first_with_their_reasons(clean_env: None) -> None:
    frame = table(fleet_app(fleet20()).run())
    fine = [n for n in NAMES if n not in (DOWN, FULL, ALERTED, ERRORS, NEW)]
    assert names_of(frame) == [DOWN, FULL, ALERTED, ERRORS, NEW, *fine]
    assert [list(s) for s in frame["status"]][:6] == [
        ["Down"], ["Live ⚠"], ["Live ⚠"], ["Live ⚠"], ["Connecting…"], ["Live"]]
    attention = dict(zip(names_of(frame), frame["attention"], strict=True))
    assert attention[DOWN] == "unreachable; last heard 1 min 00 s ago"
    assert attention[FULL] == "memory at 96 % (threshold 90 %)"
    assert attention[ALERTED] == "1 alert firing"
    assert attention[ERRORS] == "5.0 % errors; 2 queued"
    assert attention["lmx-01"] == ""
    assert row_of(frame, ALERTED)["alerts"] == 1 and row_of(frame, "lmx-01")["alerts"] == 0
    assert row_of(frame, NEW)["alerts"] is None  # no alert board: not known, not 0


def overview_metrics(found: dict[str, Store], name: str) -> dict[str, str]:
    at = fleet_app(found)
    at.query_params["server"] = name
    at.switch_page("pages/overview.py").run()
    assert at.sidebar.selectbox(key=server_panel.SELECT_KEY).value == name
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("name", [ERRORS, FULL, DOWN, NEW, "lmx-01"])
def test_a_rows_numbers_are_the_overviews_for_that_server(name: str, clean_env: None) -> None:
    found = fleet20()
    row = row_of(table(fleet_app(found).run()), name)
    tiles = overview_metrics(found, name)
    assert number(row["memory"], ".0f", " %") == tiles["Memory · now"]
    assert number(row["tokens_now"]) == tiles["Tokens / s · now"]
    assert seconds(row["p95"]) == tiles[f"p95 latency · {W}"]
    assert number(row["errors"], ".1f", " %") == tiles[f"Error rate · {W}"]
    assert number(row["queued"], ".0f") == tiles["Queued · now"]
    # and the very numbers, not only as shown: the Overview's own computation's
    h = headline(found[name].snapshot(300.0))
    assert [row["memory"], row["tokens_now"], row["p95"], row["errors"], row["queued"]] == [
        h.memory_pct, h.tokens_per_s, h.p95_latency_s, h.error_rate_pct, h.queued]
    if name == ERRORS:  # every figure known here, so the comparisons above compare numbers
        assert None not in (row["memory"], row["tokens_now"], row["p95"], row["errors"],
                            row["queued"])
        assert row["tokens"] and all(math.isfinite(v) for v in row["tokens"])


def test_a_server_that_is_down_shows_as_such_not_as_zero(clean_env: None) -> None:
    frame = table(fleet_app(fleet20()).run())
    down, new = row_of(frame, DOWN), row_of(frame, NEW)
    assert down["status"] == ["Down"]
    assert down["tokens_now"] is None  # its last reading is a minute old: unknown, not 0
    assert down["queued"] is None and down["errors"] is None
    assert new["status"] == ["Connecting…"]
    assert [new[k] for k in ("memory", "threshold", "tokens", "tokens_now", "p95", "errors",
                             "queued", "models")] == [None] * 8


def test_a_rows_link_opens_that_servers_overview(clean_env: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    found = fleet20()
    nav = compat.record_forward_msgs(monkeypatch, "navigation")
    at = fleet_app(found).run()
    frame = table(at)
    href = frame["server"][names_of(frame).index(FULL)]
    # the cell shows the name (the column's display_text pattern, a JavaScript RegExp
    # that Python's re reads the same way) and links relative to the Fleet page
    pattern = columns(at)["server"]["type_config"]["display_text"]
    assert re.search(pattern, href).group(1) == FULL  # type: ignore[union-attr]
    paths = {p.url_pathname for p in nav[-1].navigation.app_pages}
    for base in ("http://dash.test/", "http://dash.test/fleet", "http://dash.test/ops/fleet"):
        target = urlsplit(urljoin(base, href))
        assert target.path.rsplit("/", 1)[-1] in paths
        assert parse_qs(target.query) == {"server": [FULL]}
    # what the browser opens: that page of the app, with that query
    target = urlsplit(urljoin("http://dash.test/fleet", href))
    page = target.path.strip("/")
    assert (ROOT / "pages" / f"{page}.py").exists()
    opened = fleet_app(found)
    opened.query_params.update({k: v[0] for k, v in parse_qs(target.query).items()})
    opened.switch_page(f"pages/{page}.py").run()
    assert opened.header[0].value == "Overview"
    assert opened.sidebar.selectbox(key=server_panel.SELECT_KEY).value == FULL
    metrics = {m.label: m.value for m in opened.metric}
    assert metrics["Server version"] == f"0.1.0-{FULL}" and metrics["Memory · now"] == "96 %"


def test_the_link_quotes_what_a_url_cannot_carry() -> None:
    assert link("lmx-01") == "overview?server=lmx-01"
    assert link("a b&c") == "overview?server=a%20b%26c"


def test_the_table_is_built_from_one_snapshot_per_server_for_every_viewer() -> None:
    """Built once per slot from each server's snapshot; a viewer with an equal spec gets
    the very same recording, one with other bands its own."""
    from test_views import CountingStore, one_slot, source

    from opta_stream.settings import Thresholds
    from opta_stream.ui import live

    stores = [CountingStore() for _ in range(6)]
    srcs = [source(s) for s in stores]
    spec = FleetTableSpec(tuple(s.key for s in srcs), tuple(f"s{i}" for i in range(6)))
    with sources.use(StoreSources(stores[0], clock=one_slot())):
        first = live.view_many(srcs, spec, build_table, RENDER_S / 2.0)
        again = live.view_many(srcs, FleetTableSpec(spec.servers, spec.names),
                               build_table, RENDER_S / 2.0)
        assert again is first
        assert [s.taken for s in stores] == [1] * 6
        other = live.view_many(srcs, FleetTableSpec(spec.servers, spec.names,
                                                    bands=Thresholds(memory_red_pct=70.0)),
                               build_table, RENDER_S / 2.0)
        assert other is not first
        (col,) = [op.columns["memory"] for op in other.walk() if type(op).__name__ == "Table"]
        assert "red from 70 %" in (col.help or "")


def test_a_pure_view_of_a_down_server() -> None:
    snap = gone("gone", T0, 30.0).snapshot(300.0)
    assert snap.health.state is Health.DOWN
    rec = build_table(FleetTableSpec(("k",), ("gone",)), [snap])
    (tab,) = [op for op in rec.walk() if type(op).__name__ == "Table"]
    row = tab.data.iloc[0]
    assert list(row["status"]) == ["Down"] and pd.isna(row["tokens_now"])
    assert row["attention"] == "unreachable; last heard 30 s ago"
    assert tab.height == 35 * 2 + 3  # every row shown: no scrolling inside the table


@pytest.mark.timeout(120)
def test_twenty_demo_twins_one_stopped_shows_down_first(clean_env: None, app_shutdown: None,
                                                        make_demo: Any) -> None:
    """Real feeds from twenty demo servers; the one that stops goes to the top as Down,
    its tokens/s unknown rather than 0."""
    from support import wait_for

    demos = [make_demo(mode="rich", rate_hz=2.0, heartbeat_s=0.5) for _ in NAMES]
    at = fleet_app(None, servers=[{"name": n, "url": d.url} for n, d in zip(NAMES, demos,
                                                                              strict=True)])
    state: dict[str, pd.DataFrame] = {}

    def shown(check: Any) -> Any:
        def ready() -> bool:
            at.run()
            assert not at.exception, at.exception
            state["frame"] = frame = table(at)
            return bool(check(frame))
        return ready

    try:
        wait_for(shown(lambda f: all(s[0].startswith("Live") for s in f["status"])
                       and f["tokens_now"].notna().all()), 60.0, "twenty live rows")
        assert len(state["frame"]) == 20
        demos[6].stop()  # lmx-07
        wait_for(shown(lambda f: names_of(f)[0] == "lmx-07" and list(f["status"][0]) == ["Down"]
                       and pd.isna(f["tokens_now"][0])), 30.0, "lmx-07 down, first")
        down = row_of(state["frame"], "lmx-07")
        assert down["attention"].startswith("unreachable; last heard ")
        assert all(s[0].startswith("Live") for s in state["frame"]["status"][1:])
    finally:
        sources.shutdown()
