"""The Fleet page and the server selector, in AppTest: stores filled deterministically for
the order and the links, real feeds for servers that are down or answer HTML."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import streamlit_internals as compat
from app_sources import StoreSources
from conftest import MODEL_A, T0, fill_store
from streamlit.testing.v1 import AppTest
from test_app_pages import APP

from opta_stream.snapshot import Health, RangeAnswer, RangeLine
from opta_stream.store import Store
from opta_stream.ui import server_panel, session, sources
from opta_stream.views.fleet_order import CardFacts, order, rank, trouble
from opta_stream.views.fleet_page import history_caption, pick

NAMES = ("studio", "mini", "rack")
KEY = "fleet-page-s3cr3t"


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    compat.use_navigation_mode(monkeypatch)


def server_tables(*names: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": n, "url": f"http://{n}.test:1234", **extra} for n in names]


def stores(now: float = T0) -> dict[str, Store]:
    """studio and mini filled (mini's memory over its threshold); rack never answered."""
    out = {}
    for name in NAMES:
        store = Store(f"http://{name}.test:1234", clock=lambda: now)
        if name != "rack":
            fill_store(store, now)
        out[name] = store
    out["mini"].add_memory(now, 23.0, 24.0, 90.0)
    return out


def fleet_app(found: dict[str, Store] | None = None, **secrets: Any) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=20)
    at.secrets.update({"read_only": False, "history_path": "",
                       "servers": server_tables(*NAMES), **secrets})
    if found is not None:
        sources.install(StoreSources(found))
    return at


def query(at: AppTest) -> str | None:
    """``?server=`` as the browser would show it (AppTest keeps lists for what the app set)."""
    value = at.query_params.get("server")
    return value[-1] if isinstance(value, list) else value


def card_names(at: AppTest) -> list[str]:
    """The cards' titles, top to bottom: each is a link to that server's Overview."""
    return [link.label.strip("*") for link in at.main.get("page_link")]


def test_trouble_comes_first_and_equals_keep_their_order() -> None:
    facts = [CardFacts("ok", Health.LIVE, 50.0, 90.0, 0.0, 0.0),
             CardFacts("busy", Health.LIVE, 50.0, 90.0, 0.0, 3.0),
             CardFacts("full", Health.LIVE, 95.0, 90.0),
             CardFacts("new", Health.CONNECTING),
             CardFacts("dead", Health.DOWN),
             CardFacts("ok2", Health.LIVE, float("nan"), None, None, None),
             CardFacts("half", Health.DEGRADED)]
    assert [facts[i].name for i in order(facts)] == [
        "dead", "half", "full", "busy", "new", "ok", "ok2"]
    assert trouble(facts[2]) == ["memory at 95 % (threshold 90 %)"]
    assert trouble(facts[1]) == ["3 queued"] and rank(facts[0]) == 5
    assert trouble(CardFacts("e", Health.LIVE, error_ratio=0.025)) == ["2.5 % errors"]


def test_the_fleet_page_is_the_default_and_puts_trouble_first(clean_env) -> None:
    at = fleet_app(stores()).run()
    assert not at.exception
    assert at.header[0].value == "Fleet"
    # mini's memory is over its threshold; studio has errors and a queue; rack is waiting
    assert card_names(at) == ["mini", "studio", "rack"]
    links = at.main.get("page_link")
    assert [link.proto.page for link in links][0].endswith("overview")
    captions = " ".join(c.value for c in at.main.caption)
    assert "memory at 96 % (threshold 90 %)" in captions
    # its queue reading is 10 s old: not "now", so not counted (a stale 2 is not a 2)
    assert "5.0 % errors" in captions and "queued" not in captions
    assert "3 servers · 2 need attention (first)" in captions
    assert f"Loaded: {MODEL_A}" in captions
    # the sidebar names the cards' interval, not the 15 s of the history below them
    side = [c.value for c in at.sidebar.caption if "Redrawn" in c.value]
    assert side == [":material/timer: Redrawn every 0.5 s."], side


def test_one_server_keeps_overview_at_home(filled_store, clean_env) -> None:
    at = fleet_app({"studio": filled_store}, servers=server_tables("studio")).run()
    assert at.header[0].value == "Overview"
    assert at.sidebar.selectbox(key=server_panel.SELECT_KEY).value == "studio"


def test_the_choice_is_in_the_url_and_survives_a_page_change(clean_env) -> None:
    found = stores()
    at = fleet_app(found)
    at.query_params["server"] = "mini"
    at.switch_page("pages/memory.py").run()
    assert at.header[0].value == "Memory"
    assert at.sidebar.selectbox(key=server_panel.SELECT_KEY).value == "mini"
    assert query(at) == "mini"
    at.sidebar.selectbox(key=server_panel.SELECT_KEY).select("rack").run()
    assert query(at) == "rack"
    assert at.session_state[session.SERVER_KEY] == "rack"
    at.query_params.clear()  # what a page change does to the address
    at.switch_page("pages/throughput.py").run()
    assert at.sidebar.selectbox(key=server_panel.SELECT_KEY).value == "rack"
    assert query(at) == "rack"  # written back for a copied link
    at.query_params["server"] = "no-such-server"
    at.run()
    assert at.sidebar.selectbox(key=server_panel.SELECT_KEY).value == "rack"


def test_the_selected_server_is_what_the_pages_show(clean_env) -> None:
    found = stores()
    found["mini"].set_gauges(version="9.9.9-mini", updated_at=T0)
    at = fleet_app(found)
    at.query_params["server"] = "mini"
    at.switch_page("pages/overview.py").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Server version"] == "9.9.9-mini"
    at.sidebar.selectbox(key=server_panel.SELECT_KEY).select("studio").run()
    assert {m.label: m.value for m in at.metric}["Server version"] == "0.1.0"


def test_a_viewer_adds_a_server_for_the_session_only(clean_env) -> None:
    found = stores()
    found["mine"] = fill_store(Store("http://mine.test:1", clock=lambda: T0))
    at = fleet_app(found, admin_key=KEY).run()
    at.sidebar.text_input(key=server_panel.NAME_INPUT).input("mine")
    at.sidebar.text_input(key="opta_add_url").input("http://mine.test:1")
    at.sidebar.button(key="FormSubmitter:add_server-Add server").click().run()
    assert not at.sidebar.error
    added = at.session_state[session.ADDED_KEY]
    assert [(e.name, e.admin_key, e.origin) for e in added] == [("mine", None, "session")]
    assert at.sidebar.selectbox(key=server_panel.SELECT_KEY).value == "mine"
    assert query(at) == "mine"
    at.sidebar.text_input(key="opta_add_url").input("http://studio.test:1234")
    at.sidebar.button(key="FormSubmitter:add_server-Add server").click().run()
    assert "same URL" in at.sidebar.error[0].value
    at.sidebar.button(key="remove_server").click().run()
    assert at.session_state[session.ADDED_KEY] == []
    assert at.sidebar.selectbox(key=server_panel.SELECT_KEY).value == "studio"


def test_a_read_only_share_cannot_be_extended(clean_env) -> None:
    at = fleet_app(stores(), servers=server_tables(*NAMES, read_only=True)).run()
    texts = " ".join(t.value for t in at.sidebar.text)
    assert "watches the servers its operator configured" in texts
    assert not [b for b in at.sidebar.button if "add_server" in str(b.key)]


def test_bad_servers_settings_are_one_clear_error(clean_env) -> None:
    at = fleet_app(None, servers=[{"name": "a", "url": "http://x:1", "admin_key": KEY + "é"}])
    at.run()
    assert "contains a character an HTTP header cannot carry" in at.error[0].value
    assert KEY not in at.error[0].value


class _Html(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = b"<html><body>Router login</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def html_server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    thread = threading.Thread(target=httpd.serve_forever, name="test-html", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_dead_and_html_servers_say_so_on_their_cards(clean_env, app_shutdown, html_server):
    from support import free_port, wait_for

    from opta_stream.demo import DemoServer

    demo = DemoServer(mode="lmx", heartbeat_s=0.5).start()
    dead = f"http://127.0.0.1:{free_port()}"
    try:
        tables = [{"name": "alive", "url": demo.url}, {"name": "dead", "url": dead},
                  {"name": "router", "url": html_server}]
        at = fleet_app(None, servers=tables)

        def settled() -> bool:
            at.run()
            text = " ".join(e.value for e in at.main.error)
            return "Connection refused" in text and "text/html" in text
        wait_for(settled, 20.0, "the dead and the HTML server's cards")
        assert card_names(at)[2] == "alive"
        errors = [e.value for e in at.main.error]
        assert any("Is this an Opta LMX server" in e for e in errors), errors
    finally:
        sources.shutdown()
        demo.stop()


def test_past_five_servers_the_page_is_a_table_and_the_sidebar_has_no_verdict(
        clean_env) -> None:
    names = tuple(f"s{i}" for i in range(6))
    found = {n: fill_store(Store(f"http://{n}.test:1234", clock=lambda: T0), T0) for n in names}
    at = fleet_app(found, servers=server_tables(*names)).run()
    assert not at.exception
    assert not card_names(at) and len(at.main.dataframe[0].value) == 6
    # no verdict of its own in the sidebar: each row has its server's
    assert ":material/lan: Each server's health is on its card or table row." in [
        c.value for c in at.sidebar.caption]

    def verdict_shown(app: AppTest) -> bool:  # the page's verdict line ("… events/s …")
        return any("events/s" in c.value for c in app.main.caption)
    assert not any("events/s" in c.value for c in at.sidebar.caption)
    at.switch_page("pages/memory.py").run()
    assert verdict_shown(at)  # other pages show the selected server's verdict at their top


def test_fleet_history_has_a_line_per_server_and_names_its_source(clean_env) -> None:
    at = fleet_app(stores()).run()
    assert not at.exception
    assert [s.value for s in at.main.subheader] == ["Tokens / s per server"]
    captions = " ".join(c.value for c in at.main.caption)
    assert "Source: this dashboard's own recording for studio, mini, rack." in captions
    spec = json.loads(at.get("vega_lite_chart")[-1].proto.spec)
    colors = [layer["encoding"]["color"]["scale"]["domain"] for layer in spec["layer"]
              if "color" in layer.get("encoding", {})]
    assert colors and all(c == ["studio", "mini", "rack"] for c in colors)  # lines and dots


def test_fleet_history_sources_in_words() -> None:
    down = RangeAnswer("Prometheus at p:9090", "down", problem="Prometheus at p:9090 cannot be "
                       "reached.")
    line = RangeLine(np.array([1.0, 2.0]), np.array([3.0, 4.0]), 1.0, "q")
    ok = RangeAnswer("Prometheus at p:9090", "ok", {"tokens_per_s": line})
    asked: list[str] = []

    def own(name: str):
        return lambda: (asked.append(name), (np.array([5.0]), np.array([6.0])))[1]

    (n1, t1, v1), s1 = pick("a", ok, 3600.0, own("a"))
    (_, t2, v2), s2 = pick("b", down, 3600.0, own("b"))
    assert (s1, v1.tolist(), s2, v2.tolist(), asked) == (
        "Prometheus at p:9090", [3.0, 4.0], "own", [6.0], ["b"])  # own line only when needed
    assert history_caption([("a", s1, ok), ("b", s2, down), ("c", "own", None)]) == (
        "Source: Prometheus at p:9090 for a; this dashboard's own recording for b, c. "
        "Prometheus at p:9090 cannot be reached. Showing this dashboard's own history instead.")


def test_servers_prometheus_has_no_series_for_are_named_once() -> None:
    def missing(instance: str) -> RangeAnswer:
        return RangeAnswer("Prometheus at p:9090", "missing", problem="…",
                           selects=f"instance = '{instance}'")
    text = history_caption([("a", "own", missing("a:1")), ("b", "own", missing("b:1")),
                            ("c", "Prometheus at p:9090", None)])
    assert text == ("Source: this dashboard's own recording for a, b; Prometheus at p:9090 for "
                    "c. Prometheus at p:9090 has no series for a (instance = 'a:1'), "
                    "b (instance = 'b:1'): does it scrape their /admin/metrics, with that "
                    "label?")


def test_the_history_chart_grows_with_its_legend() -> None:
    """Twenty names in two legend columns are ten rows: the chart grows by the rows past
    two, so its plot keeps its height (at 260 px the legend took it all)."""
    from opta_stream.views.fleet_page import build_history
    from opta_stream.views.specs import FleetHistorySpec

    def height(n: int) -> int:
        snaps = [Store(f"http://s{i}.test:1", clock=lambda: T0).snapshot(3600.0)
                 for i in range(n)]
        spec = FleetHistorySpec(tuple(s.server for s in snaps), tuple(f"s{i}" for i in range(n)),
                                "UTC", 3600.0, (None,) * n)
        (chart,) = [op for op in build_history(spec, snaps).walk() if hasattr(op, "spec")]
        return chart.spec["height"]
    assert [height(n) for n in (3, 4, 5, 20)] == [260, 260, 278, 260 + 8 * 18]


def test_a_young_recording_draws_its_now_on_a_long_window() -> None:
    """A minute of recording on a 24 h window falls short of the grid's last point (every
    5 min): the line ends at the server's tokens/s now, as on the Throughput page, and
    "no tokens/s recorded" is said only of servers that have none."""
    from opta_stream.views.fleet_page import build_history
    from opta_stream.views.specs import FleetHistorySpec

    now = 300.0 * np.ceil(T0 / 300.0) + 100.0  # 100 s past a grid point
    young = Store("http://young.test:1", clock=lambda: now)
    young.add_throughput_many([now - 60.0 + i for i in range(60)], [50.0] * 60,
                              [MODEL_A] * 60)
    silent = Store("http://silent.test:1", clock=lambda: now)
    snaps = [young.snapshot(86400.0), silent.snapshot(86400.0)]
    spec = FleetHistorySpec(tuple(s.server for s in snaps), ("young", "silent"), "UTC",
                            86400.0, (None, None))
    out = build_history(spec, snaps)
    (chart,) = [op for op in out.walk() if hasattr(op, "spec")]
    drawn = [f for f in chart.spec["datasets"].values() if "tokens_per_second" in f]
    assert drawn and all(  # one point, now, drawn as a dot (a line of one draws nothing)
        f["series"].astype(str).tolist() == ["young"] and f["tokens_per_second"].tolist()
        == [50.0] and f["alone"].tolist() == [1] for f in drawn)
    assert "No tokens/s recorded" not in " ".join(str(op) for op in out.walk())
    silent_only = build_history(FleetHistorySpec((snaps[1].server,), ("silent",), "UTC",
                                                 86400.0, (None,)), snaps[1:])
    assert "No tokens/s recorded" in " ".join(str(op) for op in silent_only.walk())
