"""AppTest: every page of app.py rendered from a Store filled deterministically.

The store goes in through the app's data seam (``ui.sources``: a test installs
``app_sources.StoreSources``), on a frozen clock, so metrics and CSV bytes are
exact. Model actions go to a fake admin client that answers like the real
server (verbatim error envelopes, 202 download confirmation). One test lets the
app start its embedded demo server for real, and stops it afterwards.
"""

from __future__ import annotations

import logging
import math
import tomllib
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
import streamlit_internals as compat
from app_sources import StoreSources
from conftest import MODEL_A, MODEL_B, SERVER
from streamlit.testing.v1 import AppTest

from opta_stream import units as formatting
from opta_stream.demo.model import DOWNLOADS_DISABLED, UNSUPPORTED_ARCH
from opta_stream.errors import ServerRefused
from opta_stream.export import csv_files as export
from opta_stream.snapshot import ConnState, Health
from opta_stream.store.core import Store
from opta_stream.ui import actions, routing, session, sources
from opta_stream.views import csv_buttons
from opta_stream.wire.client import ActionResult

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGES = ("overview", "throughput", "requests", "memory", "models", "events", "usage", "server")
DEMO_BANNER = ("No server configured — showing the embedded demo server with simulated "
               "load. Enter your Opta LMX URL in the sidebar.")
ACTION_WAIT_S = 5.0


@pytest.fixture(autouse=True)
def navigation_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest runs like a server that has seen st.navigation (see ``compat.use_navigation_mode``);
    ``test_a_bare_page_run_*`` keeps the bare-page case."""
    if not request.node.name.startswith("test_a_bare_page_run"):
        compat.use_navigation_mode(monkeypatch)


class FakeClient:
    """Answers load/unload like the real server; records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def load_model(self, model_id: str, settings: dict[str, Any] | None = None) -> ActionResult:
        self.calls.append(("load", model_id, dict(settings or {})))
        if model_id.startswith("x86-only/"):
            raise _refusal(422, UNSUPPORTED_ARCH)
        if model_id.startswith("blocked/"):
            raise _refusal(403, DOWNLOADS_DISABLED)
        if (settings or {}).get("auto_download"):
            return _accepted(model_id, "downloading",
                             "Download started. Model will auto-load when complete.", False)
        if model_id.startswith("remote/"):
            return _accepted(model_id, "download_required",
                             "Model not found locally. Confirm download?", True)
        return ActionResult(200, model_id, f"Loaded {model_id}")

    def unload_model(self, model_id: str) -> ActionResult:
        self.calls.append(("unload", model_id, {}))
        if model_id == MODEL_B:
            raise ServerRefused(404, f"The model '{model_id}' does not exist or is not loaded",
                                "model_not_found", "invalid_request_error")
        return ActionResult(200, model_id, f"Unloaded {model_id}")


def _refusal(status: int, body: dict) -> ServerRefused:
    err = body["error"]
    return ServerRefused(status, err["message"], err["code"], err["type"])


def _accepted(model_id: str, status: str, message: str, confirm: bool) -> ActionResult:
    body = {"status": status, "model_id": model_id, "estimated_size_human": "4.4 GB",
            "message": message}
    return ActionResult(202, model_id, message, MappingProxyType(body), confirm)


def make_app(store: Store | None, *, client: Any = None, **secrets: Any) -> AppTest:
    """The app with this store injected; secrets always set, so no real file is read."""
    at = AppTest.from_file(APP, default_timeout=15)
    at.secrets.update({"read_only": False, **secrets})
    if store is not None:
        sources.install(StoreSources(store, client))
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.run()
    if page != "overview":
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def chart_count(at: AppTest) -> int:
    return len(at.get("vega_lite_chart"))


def download_bytes(at: AppTest, media: dict, key: str) -> bytes:
    """What the download button with this key serves (built now, or on click)."""
    proto = next(b.proto for b in at.get("download_button") if b.proto.id.endswith(key))
    if proto.url:
        return media[Path(proto.url).stem]
    return media[proto.deferred_file_id]()  # deferred: Streamlit runs it on click


def finish_action(at: AppTest) -> AppTest:
    action = at.session_state[actions.ACTION_KEY]
    assert action.wait(ACTION_WAIT_S), "the admin action did not finish"
    return at.run()


# -- every page ------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(page, filled_store, clean_env):
    at = open_page(make_app(filled_store, client=FakeClient()), page)
    assert at.header[0].value == page.capitalize()
    assert not at.info or DEMO_BANNER not in [i.value for i in at.info]


EMPTY = {  # what each page says about a store that has received nothing
    "overview": "No throughput samples yet", "throughput": "No throughput samples yet",
    "memory": "No memory samples yet", "models": "model list has not been received",
    "events": "No events yet", "requests": "No request metrics yet",
    "usage": "No request has finished in this range yet",
    "server": "Waiting for the first answer of /admin/diagnostics",
}


def page_captions(at: AppTest) -> str:
    """The page's own captions, without the sidebar's (whose "none yet" would match anything)."""
    return " ".join(c.value for c in at.main.caption)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_explains_an_empty_store(page, fixed_now, clean_env):
    store = Store(SERVER, clock=lambda: fixed_now)
    at = open_page(make_app(store, client=FakeClient()), page)
    assert EMPTY[page] in page_captions(at), page_captions(at)


@pytest.mark.parametrize("page", PAGES)
def test_a_filled_store_shows_no_empty_message(page, filled_store, clean_env):
    """The counterpart that shows the check above can fail."""
    at = open_page(make_app(filled_store, client=FakeClient()), page)
    assert EMPTY[page] not in page_captions(at)


def rate_by_hand(series) -> float:
    """Each model's mean sample over the 10 s up to the newest one, summed."""
    newest = max(series.ts)
    per_model: dict[int, list[float]] = {}
    for t, v, m in zip(series.ts, series.value, series.model, strict=True):
        if newest - 10.0 < t <= newest:
            per_model.setdefault(int(m), []).append(float(v))
    return sum(sum(vs) / len(vs) for vs in per_model.values())


def totals_by_hand(series, t0: float, t1: float) -> list[float]:
    """The 'all models' line: at every whole second, each model's mean over 10 s, summed;
    seconds with no sample in their 10 s (the gap) have no point."""
    out = []
    for t in range(math.ceil(t0), math.floor(t1) + 1):
        per_model: dict[int, list[float]] = {}
        for ts, v, m in zip(series.ts, series.value, series.model, strict=True):
            if t - 10.0 < ts <= t:
                per_model.setdefault(int(m), []).append(float(v))
        if per_model:
            out.append(sum(sum(vs) / len(vs) for vs in per_model.values()))
    return out


def test_overview_shows_the_key_numbers(filled_store, clean_env):
    at = open_page(make_app(filled_store), "overview")
    m = metrics(at)
    assert m["Loaded models"] == "2"
    assert m["Active requests"] == "2 / 4"
    assert m["Uptime"] == "2 h 03 min"
    assert m["Tokens / s · now"] == f"{rate_by_hand(filled_store.snapshot(30).throughput):.1f}"
    assert chart_count(at) == 2  # gauge and sparkline
    assert "threshold 90 %" in " ".join(c.value for c in at.caption)
    assert len(at.dataframe) == 1


def test_throughput_metrics_chart_and_csv_match_the_window(
        filled_store, fixed_now, clean_env, media_files):
    at = open_page(make_app(filled_store), "throughput")
    series = filled_store.snapshot(300.0).throughput
    totals = totals_by_hand(series, fixed_now - 300.0, fixed_now)
    m = metrics(at)
    w = "last 5 min"
    assert m["Tokens / s · now"] == f"{rate_by_hand(series):.1f}"
    assert m[f"Average tokens/s · {w}"] == f"{sum(totals) / len(totals):.1f}"
    assert m[f"Peak tokens/s · {w}"] == f"{max(totals):.1f}"
    assert m[f"p95 tokens/s · {w}"] == f"{float(np.percentile(totals, 95)):.1f}"
    assert chart_count(at) == 1
    expected = export.throughput_csv(series, fixed_now - 300.0, fixed_now)
    assert download_bytes(at, media_files, "throughput_csv") == expected
    assert expected.startswith(b"timestamp_utc,unix_s,tokens_per_second,model_id\n")
    assert MODEL_A.encode() in expected


def test_window_selector_changes_the_exported_window(
        filled_store, fixed_now, clean_env, media_files):
    at = open_page(make_app(filled_store), "throughput")
    at.button_group(key="throughput_window").set_value("1 min").run()
    series = filled_store.snapshot(60.0).throughput
    expected = export.throughput_csv(series, fixed_now - 60.0, fixed_now)
    assert download_bytes(at, media_files, "throughput_csv") == expected
    assert expected.count(b"\n") == 1 + 60  # header + one sample a second (T0-60 .. T0-1)


def test_a_large_window_is_exported_on_click_only(
        filled_store, fixed_now, clean_env, media_files, monkeypatch):
    monkeypatch.setattr(csv_buttons, "STATIC_CSV_ROWS", 100)  # the 5 min window has 270 rows
    at = open_page(make_app(filled_store), "throughput")
    proto = next(b.proto for b in at.get("download_button"))
    assert proto.url == "" and proto.deferred_file_id
    series = filled_store.snapshot(300.0).throughput
    expected = export.throughput_csv(series, fixed_now - 300.0, fixed_now)
    assert download_bytes(at, media_files, "throughput_csv") == expected


def test_memory_page_numbers_and_csv(filled_store, fixed_now, clean_env, media_files):
    at = open_page(make_app(filled_store), "memory")
    snap = filled_store.snapshot(300.0)
    m = metrics(at)
    assert m["Used"] == f"{snap.gauges.memory_used_gb:.1f} GB"
    assert m["Total"] == "24.0 GB"
    assert m["Threshold"] == "90 %"
    assert chart_count(at) == 2  # history and per-model bars
    expected = export.memory_csv(snap.memory_used, snap.memory_total,
                                 fixed_now - 300.0, fixed_now)
    assert download_bytes(at, media_files, "memory_csv") == expected
    assert expected.startswith(b"timestamp_utc,unix_s,used_gb,total_gb\n")


def test_events_page_filters_and_exports(filled_store, clean_env, media_files):
    at = open_page(make_app(filled_store), "events")
    shown = at.dataframe[0].value
    assert {"model loaded", "memory warning", "download failed"} <= set(shown["Event"])
    at.button_group(key="events_severities").set_value(["error"]).run()
    assert {tuple(s) for s in at.dataframe[0].value["Severity"]} == {("error",)}
    at.text_input(key="events_search").input("DISK FULL").run()
    entries = [e for e in filled_store.snapshot(60).events if e.severity == "error"
               and "disk full" in e.summary.lower()]
    assert len(at.dataframe[0].value) == len(entries) == 1
    assert download_bytes(at, media_files, "events_csv") == export.events_csv(entries)


def test_event_text_is_never_rendered_as_markdown(filled_store, clean_env):
    at = open_page(make_app(filled_store), "events")
    rendered = " ".join(str(e.value) for e in (*at.markdown, *at.caption, *at.info))
    assert "evil.test" not in rendered and "<b>" not in rendered
    assert any("evil.test" in s for s in at.dataframe[0].value["Summary"])


def test_events_window_filters_the_log_and_its_csv(fixed_now, clean_env, media_files):
    now = [fixed_now - 5000.0]
    store = Store(SERVER, clock=lambda: now[0])
    for age in (5000.0, 1000.0, 200.0, 30.0):
        now[0] = fixed_now - age
        store.log("model_loaded", f"Loaded m{age:.0f}")
    now[0] = fixed_now
    shown = {}
    at = open_page(make_app(store), "events")
    for label, window_s in (("5 min", 300.0), ("1 min", 60.0), ("1 h", 3600.0),
                            ("24 h", 86400.0)):
        at.button_group(key="events_window").set_value(label).run()
        shown[label] = list(at.dataframe[0].value["Summary"])
        entries = [e for e in store.snapshot().events if e.ts >= fixed_now - window_s]
        assert download_bytes(at, media_files, "events_csv") == export.events_csv(entries)
        assert f"logged events in the last {label} match" in " ".join(
            c.value for c in at.main.caption)
    assert shown == {"5 min": ["Loaded m30", "Loaded m200"], "1 min": ["Loaded m30"],
                     "1 h": ["Loaded m30", "Loaded m200", "Loaded m1000"],
                     "24 h": ["Loaded m30", "Loaded m200", "Loaded m1000", "Loaded m5000"]}
    assert at.dataframe[0].value["Time"].iloc[-1].startswith("Nov ")  # 24 h: with the day


def test_events_severity_chips_wrapped_summaries_and_one_line_per_job(fixed_now, clean_env):
    import json

    from opta_stream.events.records import ModelLifecycle, QuantizeProgress

    store = Store(SERVER, clock=lambda: fixed_now)
    for i in range(8):
        store.apply(QuantizeProgress("quantize_progress", fixed_now - 8 + i, "{}", "/m/q",
                                     "/m/q", "quantizing", 10.0 * i))
    store.apply(ModelLifecycle("model_readiness_changed", fixed_now, "{}", "m",
                               MappingProxyType({"model_id": "m", "state": "degraded"})))
    at = open_page(make_app(store), "events")
    table = at.dataframe[0]
    rows = table.value
    assert list(rows["Event"]) == ["model readiness changed", "quantize progress"]
    assert list(rows["Severity"].iloc[0]) == ["warning"]
    job = rows.iloc[1]
    assert job["Summary"].startswith("Quantize /m/q: quantizing (70%) · 8 events since ")
    config = json.loads(table.proto.columns)
    colours = {o["value"]: o["color"] for o in config["Severity"]["type_config"]["options"]}
    assert colours == {"debug": "#3f3f46", "info": "#a1a1aa", "warning": "#f59e0b",
                       "error": "#ef4444"}
    assert table.proto.row_height > 64  # Streamlit wraps cell text only in taller rows
    counts = next(d.value for d in at.dataframe if "Count" in d.value.columns)
    assert dict(zip(counts["Event"], counts["Count"], strict=True))["quantize progress"] == 8
    # with info off, the warning line and its count agree (both by the line's severity)
    at.button_group(key="events_severities").set_value(["warning", "error"]).run()
    counts = next(d.value for d in at.dataframe if "Count" in d.value.columns)
    assert list(at.dataframe[0].value["Event"]) == ["model readiness changed"]
    assert dict(zip(counts["Event"], counts["Count"], strict=True)) == {
        "model readiness changed": 1}


# -- models: actions, verbatim errors, confirmation, read-only ----------------------


def test_models_page_lists_models_and_jobs(filled_store, clean_env):
    at = open_page(make_app(filled_store, client=FakeClient()), "models")
    unload = [b for b in at.button if b.label == "Unload"]
    assert len(unload) == 2 and not any(b.disabled for b in unload)
    assert {MODEL_A, MODEL_B} <= {t.value for t in at.text}
    assert sorted(p.value for p in at.get("progress")) == [10, 42]


@pytest.mark.parametrize(("model_id", "status", "message"), [
    ("x86-only/model", 422, UNSUPPORTED_ARCH["error"]["message"]),
    ("blocked/model", 403, DOWNLOADS_DISABLED["error"]["message"]),
])
def test_load_refusal_is_shown_verbatim(model_id, status, message, filled_store, clean_env):
    at = open_page(make_app(filled_store, client=FakeClient()), "models")
    at.text_input(key="load_model_id").input(model_id)
    finish_action(at.button(key="load_submit").click().run())
    assert message in [c.value for c in at.code]
    heading = at.error[0].value
    assert f"HTTP {status}" in heading
    assert ("policy, not an admin key problem" in heading) == (status == 403)


def test_unload_asks_first_while_requests_are_in_flight(filled_store, clean_env):
    client = FakeClient()
    at = open_page(make_app(filled_store, client=client), "models")  # 2 requests in flight
    at.button(key=f"unload::{MODEL_B}").click().run()
    assert client.calls == [], "nothing may be sent before the confirmation"
    assert "2 request(s) in flight" in " ".join(w.value for w in at.warning)
    assert at.button(key=f"unload::{MODEL_B}").label == "Unload anyway"


def test_one_action_at_a_time_and_actions_need_a_reachable_server(filled_store, clean_env):
    at = open_page(make_app(filled_store, client=FakeClient()), "models")
    assert not at.button(key=f"unload::{MODEL_A}").disabled
    filled_store.set_connection(ConnState.RECONNECTING, "Connection refused by lmx.test:1234")
    filled_store.set_poll("/admin/status", False, "Connection refused by lmx.test:1234")
    at.run()
    button = at.button(key=f"unload::{MODEL_A}")
    assert button.disabled and "cannot be reached" in (button.help or "")
    assert "Actions are disabled: The server cannot be reached" in " ".join(
        c.value for c in at.main.caption)


def test_unload_404_is_shown_verbatim(filled_store, clean_env):
    client = FakeClient()
    at = open_page(make_app(filled_store, client=client), "models")
    at.button(key=f"unload::{MODEL_B}").click().run()  # asks: requests are in flight
    finish_action(at.button(key=f"unload::{MODEL_B}").click().run())
    assert client.calls == [("unload", MODEL_B, {})]
    assert f"The model '{MODEL_B}' does not exist or is not loaded" in [c.value for c in at.code]
    assert "model_not_found" in at.error[0].value
    assert not at.exception, "clicking Unload must not raise"


def test_download_needs_confirmation_before_it_starts(filled_store, clean_env):
    client = FakeClient()
    at = open_page(make_app(filled_store, client=client), "models")
    at.text_input(key="load_model_id").input("remote/new-model")
    finish_action(at.button(key="load_submit").click().run())
    assert client.calls == [("load", "remote/new-model", {})]
    assert formatting.plain("4.4 GB") in at.warning[0].value
    finish_action(at.button(key="confirm_download").click().run())
    assert client.calls[-1] == ("load", "remote/new-model", {"auto_download": True})
    shown = at.success[0].value
    assert formatting.plain("Download started. Model will auto-load when complete.") in shown


def test_read_only_disables_every_action_and_says_why(filled_store, clean_env):
    at = open_page(make_app(filled_store, client=FakeClient(), read_only=True,
                            admin_key="s3cret-key"), "models")
    assert all(b.disabled for b in at.button if b.label == "Unload")
    assert at.button(key="load_submit").disabled
    assert at.text_input(key="load_model_id").disabled
    assert "Read-only mode" in at.info[0].value


def test_unlock_is_for_this_session_only(filled_store, clean_env, fresh_process_throttle):
    at = open_page(make_app(filled_store, client=FakeClient(), read_only=True,
                            admin_key="s3cret-key"), "models")
    at.text_input(key="unlock_key").input("wrong")
    at.button(key="unlock_submit").click().run()
    assert "not the admin key" in at.error[0].value
    at.text_input(key="unlock_key").input("s3cret-key")
    at.button(key="unlock_submit").click().run()
    assert not at.button(key="load_submit").disabled
    assert "s3cret-key" not in repr(at.session_state)
    other = open_page(make_app(filled_store, client=FakeClient(), read_only=True,
                               admin_key="s3cret-key"), "models")
    assert other.button(key="load_submit").disabled


@pytest.fixture
def fresh_process_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    from opta_stream.ui.throttle import Throttle

    monkeypatch.setattr(session, "PROCESS_THROTTLE", Throttle())


def test_unlock_guesses_are_throttled_and_logged_without_the_entry(
        filled_store, clean_env, fresh_process_throttle, caplog):
    caplog.set_level(logging.WARNING)
    at = open_page(make_app(filled_store, client=FakeClient(), read_only=True,
                            admin_key="s3cret-key"), "models")
    for n in range(5):
        at.text_input(key="unlock_key").input(f"guess-{n}")
        at.button(key="unlock_submit").click().run()
        assert "not the admin key" in at.error[0].value
    at.text_input(key="unlock_key").input("s3cret-key")  # right, but too late: not checked
    at.button(key="unlock_submit").click().run()
    assert "Too many wrong entries: try again in" in at.error[0].value
    assert at.button(key="load_submit").disabled
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "wrong admin key" in logged and "guess-" not in logged and "s3cret" not in logged
    other = open_page(make_app(filled_store, client=FakeClient(), read_only=True,
                               admin_key="s3cret-key"), "models")  # a new tab: same process
    other.text_input(key="unlock_key").input("s3cret-key")
    other.button(key="unlock_submit").click().run()
    assert "Too many wrong entries" in other.error[0].value


def test_the_throttle_doubles_its_wait_after_the_free_tries():
    from opta_stream.ui.throttle import Throttle

    now = [100.0]
    throttle = Throttle(free=5, base=2.0, cap=10.0, clock=lambda: now[0])
    for _ in range(5):
        assert throttle.wait_s() == 0.0
        throttle.failed()
    assert throttle.wait_s() == 2.0
    now[0] += 2.0
    assert throttle.wait_s() == 0.0
    throttle.failed()
    assert throttle.wait_s() == 4.0
    for _ in range(5):
        throttle.failed()
    assert throttle.wait_s() == 10.0  # capped
    throttle.succeeded()
    assert throttle.wait_s() == 0.0


# -- configuration and the demo ----------------------------------------------------


def test_demo_banner_and_live_badge_when_nothing_is_configured(clean_env, app_shutdown):
    at = make_app(None)
    open_page(at, "overview")
    assert DEMO_BANNER in [i.value for i in at.info]
    assert "events/s" in " ".join(c.value for c in at.main.caption)  # the verdict's line
    assert "History:" in " ".join(c.value for c in at.sidebar.caption)


def connect(at: AppTest, url: str, key: str = "") -> AppTest:
    """Fill the sidebar panel and press Connect."""
    at.sidebar.text_input(key="opta_url_input").input(url)
    at.sidebar.text_input(key="opta_key_input").input(key)
    return at.sidebar.button(key="FormSubmitter:connect-Connect").click().run()


def test_a_bad_panel_url_is_refused_with_a_reason(filled_store, clean_env):
    at = connect(open_page(make_app(filled_store), "overview"), "ftp://example.test", "k")
    assert "http:// or https://" in at.sidebar.error[0].value
    assert session.PANEL_KEY not in at.session_state
    assert at.sidebar.text_input(key="opta_key_input").value == ""  # key not kept in widget


def test_the_panel_key_is_not_carried_to_another_host(filled_store, clean_env):
    at = connect(open_page(make_app(filled_store), "overview"), "http://a.test:1234/", "k1")
    assert dict(at.session_state[session.PANEL_KEY]) == {
        "url": "http://a.test:1234", "admin_key": "k1", "key_origin": "http://a.test:1234"}
    assert "http://a.test:1234 (from panel)" in " ".join(t.value for t in at.sidebar.text)
    connect(at, "http://a.test:1234/lmx")  # same origin, key left blank: kept
    assert at.session_state[session.PANEL_KEY]["admin_key"] == "k1"
    connect(at, "http://b.test:1234")  # another host: the key must be entered again
    assert at.session_state[session.PANEL_KEY]["admin_key"] is None
    at.sidebar.button(key="disconnect").click().run()
    assert session.PANEL_KEY not in at.session_state


def test_a_bare_page_run_restarts_through_app_py(filled_store, clean_env):
    """A fresh server runs a deep link's page file bare; it must come back framed."""
    at = make_app(filled_store)
    at.switch_page("pages/memory.py").run()
    assert not at.exception
    assert at.header[0].value == "Memory"
    assert "History:" in at.sidebar.caption[0].value  # app.py's sidebar is there
    assert routing.DEEP_LINK_KEY not in at.session_state


def sidebar_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.sidebar.caption]


def test_the_sidebar_survives_many_reruns(filled_store, clean_env):
    """With ``compat.use_navigation_mode`` the frame stays from run to run."""
    at = open_page(make_app(filled_store), "memory")
    for _ in range(4):
        at.run()
        assert any("History:" in c for c in sidebar_captions(at)), sidebar_captions(at)
        assert at.header[0].value == "Memory"


def test_a_bare_page_run_loses_the_sidebar_without_the_workaround(filled_store, clean_env):
    """The AppTest behaviour the workaround exists for: from the third run on, the
    page file runs bare and the sidebar is empty. If Streamlit fixes AppTest, this
    test fails and ``compat.use_navigation_mode`` can go."""
    at = open_page(make_app(filled_store), "memory")
    at.run().run()
    # app.py's part is gone; the page's own fragment still writes the interval it runs at
    # into the sidebar's slot, kept from the last run that had the frame
    assert [c for c in sidebar_captions(at) if "Redrawn every" not in c] == []


@pytest.mark.parametrize(("state", "retry_in", "poll_ok", "label", "banner"), [
    (ConnState.CONNECTING, None, None, "Connecting…", None),
    (ConnState.OPEN, None, True, "Live", None),
    (ConnState.OPEN, None, False, "Degraded", "shutting down"),
    (ConnState.RECONNECTING, 7.2, False, "Down · reconnecting in 7 s", "cannot be reached"),
    (ConnState.RECONNECTING, 7.2, True, "Degraded · reconnecting in 7 s", "Polling works"),
    (ConnState.AUTH_REJECTED, None, None, "Admin key rejected", "Admin key rejected"),
    (ConnState.STOPPED, None, None, "Stopped", "stopped"),
])
def test_the_badge_and_banner_follow_the_health_model(state, retry_in, poll_ok, label, banner,
                                                      fixed_now, clean_env):
    store = Store(SERVER, clock=lambda: fixed_now)
    retry_at = None if retry_in is None else fixed_now + retry_in
    if poll_ok is not None:
        store.set_poll("/admin/status", poll_ok, "" if poll_ok else "Connection refused by x")
    store.set_connection(state, "why it is so", next_retry_at=retry_at)
    at = open_page(make_app(store), "overview")
    badges = [m.value for m in at.main.markdown if "-badge[" in m.value]
    assert len(badges) == 1 and badges[0].endswith(f"{label}]")  # one verdict, on the page
    assert not [m for m in at.sidebar.markdown if "-badge[" in m.value]  # none beside it
    assert "events/s" in " ".join(c.value for c in at.main.caption)
    assert ("Reconnect" in [b.label for b in at.main.button]) == (state is ConnState.STOPPED)
    shown = " ".join(a.value for a in [*at.main.warning, *at.main.error])
    assert (banner in shown) if banner else shown == ""
    assert "Admin key rejected: Admin key rejected" not in shown  # the state named once


def test_the_first_words_after_a_kill_claim_nothing_the_polls_have_not_said(fixed_now,
                                                                         clean_env):
    now = [fixed_now]
    store = Store(SERVER, clock=lambda: now[0])
    store.set_poll("/admin/status", True)
    store.set_connection(ConnState.OPEN, "Connected")
    now[0] += 0.5  # the server is killed: the stream falls before the next poll
    store.set_connection(ConnState.RECONNECTING, "the server closed the event stream")
    at = open_page(make_app(store), "overview")
    shown = " ".join(a.value for a in at.main.warning)
    assert "the next poll will tell whether the server is still up" in shown
    assert "Polling works" not in shown
    now[0] += 1.0
    store.set_poll("/admin/status", False, "Connection refused by lmx.test:1234")
    at.run()
    assert "cannot be reached" in " ".join(a.value for a in at.main.error)


def test_connecting_is_not_degraded_and_logs_no_degraded(fixed_now, clean_env):
    now = [fixed_now]
    store = Store(SERVER, clock=lambda: now[0])
    store.set_poll("/admin/status", True)  # the polls answer before the stream opens
    assert store.snapshot(1).health.state is Health.CONNECTING
    now[0] += 0.3
    store.set_connection(ConnState.OPEN, "Connected")
    assert store.snapshot(1).health.state is Health.LIVE
    words = " ".join(e.summary for e in store.snapshot(60).events)
    assert "Degraded" not in words


def test_a_rejected_key_says_where_it_came_from_and_offers_retry(fixed_now, clean_env,
                                                                monkeypatch):
    monkeypatch.setenv("OPTA_LMX_ADMIN_KEY", "k")
    store = Store(SERVER, clock=lambda: fixed_now)
    store.set_connection(ConnState.AUTH_REJECTED, "Admin key rejected: the server answered 403.")
    at = open_page(make_app(store), "overview")
    assert "the environment (OPTA_LMX_ADMIN_KEY)" in " ".join(x.value for x in at.main.caption)


def test_an_internal_error_is_not_called_a_network_problem(fixed_now, clean_env):
    store = Store(SERVER, clock=lambda: fixed_now)
    store.set_connection(ConnState.OPEN)
    store.set_internal_error("sampler", "KeyError: 'x'. Restarting it in 1.0 s.")
    at = open_page(make_app(store), "overview")
    assert [m.value for m in at.main.markdown if "-badge[" in m.value][0].endswith(
        "Internal error]")
    assert "Internal error in Opta Stream's sampler: KeyError" in at.main.error[0].value


def test_a_read_only_share_is_pinned_to_its_server(filled_store, clean_env):
    at = open_page(make_app(filled_store, read_only=True, lmx_url="http://lmx.test:1234"),
                   "overview")
    assert not [t for t in at.sidebar.text_input if t.key == "opta_url_input"]
    assert "pinned" in " ".join(t.value for t in at.sidebar.text)
    assert "lmx.test" not in " ".join(t.value for t in at.sidebar.text)


def test_requirements_txt_matches_pyproject():
    """Community Cloud installs requirements.txt; pip installs pyproject: keep them equal."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    required = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    assert sorted(required) == sorted(project)


def test_events_counts_and_table_say_what_they_include(fixed_now, clean_env):
    from opta_stream.events.records import Heartbeat

    store = Store(SERVER, clock=lambda: fixed_now)
    store.apply_many([Heartbeat("heartbeat", fixed_now, "{}", fixed_now)] * 21)
    store.log("model_loaded", "Loaded m")
    at = open_page(make_app(store), "events")
    captions = " ".join(c.value for c in at.main.caption)
    assert "1 of 1 logged events in the last 5 min match" in captions
    assert "Heartbeats are counted but not logged" in captions
    counts = next(d.value for d in at.dataframe if "Count" in d.value.columns)
    assert list(counts["Event"]) == ["model loaded"]  # the table's one line, and its count
    assert "heartbeat" not in list(counts["Event"])  # debug is off by default
    at.button_group(key="events_severities").set_value(["debug", "info", "warning", "error"])
    at.run()
    assert "debug" in at.button_group(key="events_severities").value
    counts = next(d.value for d in at.dataframe if "Count" in d.value.columns)
    assert dict(zip(counts["Event"], counts["Count"], strict=True))["heartbeat"] == 21


def test_a_stopped_feed_is_replaced_in_the_cache(clean_env, app_shutdown):
    from opta_stream.demo.server import DemoServer

    server = DemoServer(mode="lmx", heartbeat_s=0.2).start()
    try:
        first = sources.shared_feed(server.url, "digest", None)
        assert sources.shared_feed(server.url, "digest", None) is first
        first.stop()
        second = sources.shared_feed(server.url, "digest", None)
        assert second is not first and not second.stopped
        assert len(second.alive_threads()) == 3
    finally:
        sources.shutdown()
        server.stop()


def test_old_figures_say_how_old_and_unknown_ones_are_not_zero(fixed_now, clean_env):
    now = [fixed_now]
    store = Store(SERVER, clock=lambda: now[0])
    store.set_connection(ConnState.OPEN, "Connected")
    store.add_memory(fixed_now, 6.0, 24.0, 90.0)
    store.add_throughput(fixed_now, 42.0)
    store.set_gauges(active_requests=1, max_concurrent=4, uptime_s=60.0, version="0.1.0")
    at = open_page(make_app(store), "overview")
    assert metrics(at)["Loaded models"] == "—"  # the model list never arrived
    assert "As of" not in " ".join(c.value for c in at.main.caption)
    now[0] = fixed_now + 65.0  # a minute without an answer
    at.run()
    captions = " ".join(c.value for c in at.main.caption)
    assert "1 min 05 s ago: the server has not answered since" in captions
    assert "1 min 05 s ago: no newer sample" in captions
    now[0] = fixed_now + 300.0  # the last sample left the sparkline's window
    at.run()
    assert "Tokens / s · now" in metrics(at) and metrics(at)["Tokens / s · now"] == "—"
    now[0] = fixed_now + 600.0  # the last sample left the sparkline's window
    at.run()
    assert "No throughput sample in the last 5 min 00 s." in " ".join(
        c.value for c in at.main.caption)


def test_actions_are_blocked_while_the_server_refuses_new_connections(filled_store, clean_env):
    """Degraded with every poll refused (the SIGTERM case): a load would be refused too."""
    at = open_page(make_app(filled_store, client=FakeClient()), "models")
    filled_store.set_poll("/admin/status", False, "Connection refused by lmx.test:1234")
    at.run()
    assert filled_store.snapshot(1).health.state is Health.DEGRADED
    button = at.button(key=f"unload::{MODEL_A}")
    assert button.disabled and "refuses new connections" in (button.help or "")
    filled_store.set_poll("/admin/status", True)
    at.run()
    assert not at.button(key=f"unload::{MODEL_A}").disabled
