"""End to end: ``streamlit run app.py`` driven by headless Chromium.

Nothing is configured, so the app starts its embedded demo server; the test
checks that the numbers move by themselves (the fragments' timers only run
in a real browser), visits every page and downloads the Throughput CSV.
Debian's ``chromium`` is used through Playwright's ``executable_path``; no
browser is ever downloaded. Without Chromium the test is skipped, except on
CI (``CI=true``), where that is a failure. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support import (
    CHROMIUM_ARGS,
    DemoProcess,
    free_port,
    require_chromium,
    stop_process,
    wait_for,
    wait_for_streamlit,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
PAGES = {"overview": "Overview", "throughput": "Throughput", "requests": "Requests",
         "memory": "Memory", "models": "Models", "events": "Events", "alerts": "Alerts",
         "server": "Server"}
CHARTS = {"overview": 2, "throughput": 1, "requests": 4, "memory": 2,  # Vega charts per page
          "server": 2}
METRIC_VALUES = '[data-testid="stMetricValue"]'


@contextmanager
def running_app(log_name: str = "streamlit.log", secrets: str = "no-secrets.toml"
                ) -> Iterator[str]:
    """The real app in a subprocess, with no OPTA_* variables and the secrets file
    ``secrets`` in test-artifacts/ (none by default: demo mode)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTA_")}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--secrets.files", str(ARTIFACTS / secrets)]
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / log_name, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_streamlit(proc, url)
        assert proc.poll() is None, f"streamlit exited; see test-artifacts/{log_name}"
        yield url
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with running_app() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    path = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, app_url):  # noqa: ANN001 - Playwright types are optional here
    context = browser.new_context(viewport={"width": 1280, "height": 800},
                                  accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    try:
        yield tab
    finally:
        context.close()


def open_page(tab, app_url: str, name: str) -> None:  # noqa: ANN001
    tab.goto(app_url if name == "overview" else f"{app_url}/{name}")
    tab.get_by_role("heading", name=PAGES[name], exact=True).wait_for()


def metric_values(tab) -> tuple[str, ...]:  # noqa: ANN001
    return tuple(tab.locator(METRIC_VALUES).all_inner_texts())


def test_a_deep_link_to_a_fresh_server_gets_the_whole_frame(page, app_url):
    """First in this file on purpose: the server has not run app.py yet."""
    open_page(page, app_url, "memory")
    sidebar = page.locator('[data-testid="stSidebar"]')
    wait_for(lambda: "History:" in sidebar.inner_text(), 15, "app.py's sidebar")
    main = page.locator('[data-testid="stMain"]')
    wait_for(lambda: "events/s" in main.inner_text(), 15, "the page's verdict line")
    assert page.get_by_text("No server configured", exact=False).count() == 1


def test_numbers_change_by_themselves(page, app_url):
    open_page(page, app_url, "overview")
    wait_for(lambda: len(metric_values(page)) >= 5, 15, "the overview metrics")
    first = metric_values(page)
    wait_for(lambda: metric_values(page) != first, 15, "the metrics to change")
    assert page.get_by_text("No server configured", exact=False).count() == 1
    page.screenshot(path=str(ARTIFACTS / "overview.png"))


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders(page, app_url, name):
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    open_page(page, app_url, name)
    wait_for(lambda: page.locator('[data-testid="stMetric"], [data-testid="stDataFrame"], '
                                  '[data-testid="stButton"]').count() > 0, 15, f"{name} content")
    charts = page.locator(".vega-embed canvas, .vega-embed svg")
    wait_for(lambda: charts.count() >= CHARTS.get(name, 0), 15, f"{name}'s charts drawn")
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    vega = [m for m in console if "WARN" in m or "Vega" in m]
    assert not vega, vega[:5]  # e.g. "Infinite extent" from an empty layer


def test_the_requests_page_fills_from_the_demo_servers_metrics(page, app_url):
    open_page(page, app_url, "requests")
    card = page.locator('[data-testid="stMetric"]', has_text="Requests / s")
    wait_for(lambda: card.locator(METRIC_VALUES).inner_text() not in ("", "—"), 30,
             "a request rate from /admin/metrics")
    # the demo counts a request when it ends, as the real server does: tables follow
    wait_for(lambda: page.locator('[data-testid="stDataFrame"]').count() == 2, 30,
             "the per-model and per-client tables")


def export_span(filename: str) -> tuple[float, float]:
    """(start, end) unix seconds from ``opta-stream_<host>-<port>_<kind>_<start>_<end>.csv``."""
    stamps = re.findall(r"_(\d{8}T\d{6}Z)", filename)
    start, end = (datetime.strptime(s, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
                  for s in stamps[-2:])
    return start, end


def test_throughput_csv_downloads_the_shown_window(page, app_url):
    """Pick "1 min" on screen; the CSV holds that minute, and only that minute."""
    open_page(page, app_url, "throughput")
    page.get_by_text("1 min", exact=True).first.click()
    button = page.get_by_role("button", name="Download the samples (CSV)")

    def download() -> tuple[str, list[dict[str, str]]]:
        with page.expect_download() as info:
            button.click()
        text = Path(info.value.path()).read_text(encoding="utf-8")
        assert text.startswith("timestamp_utc,unix_s,tokens_per_second,model_id\n")
        assert info.value.suggested_filename.startswith("opta-stream_127.0.0.1-")
        rows = list(csv.DictReader(io.StringIO(text)))
        span = export_span(info.value.suggested_filename)
        return (info.value.suggested_filename, rows) if span[1] - span[0] <= 61 and rows else ""

    name, rows = wait_for(download, 20, "a CSV of the 1 min window with rows")
    start, end = export_span(name)
    assert 59 <= end - start <= 61  # the window chosen on screen, not the default 5 min
    times = [float(r["unix_s"]) for r in rows]
    assert all(start - 1 <= ts <= end + 1 for ts in times)  # file names round to seconds
    assert end - max(times) < 5  # up to the moment of the click (the app may be younger)
    assert all(float(r["tokens_per_second"]) >= 0 for r in rows)


@pytest.mark.parametrize(("path", "heading"), [
    ("", "Overview"), ("overview", "Overview"), ("throughput", "Throughput"),
    ("memory", "Memory"), ("models", "Models"), ("events", "Events")])
def test_every_url_opens_in_the_frame_on_a_fresh_server(browser, path, heading):
    """Each page from its URL as the first request a new server sees: no "Page not found"."""
    with running_app(f"streamlit-{path or 'root'}.log") as url:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        tab = context.new_page()
        tab.set_default_timeout(20_000)
        try:
            tab.goto(f"{url}/{path}")
            tab.get_by_role("heading", name=heading, exact=True).wait_for()
            sidebar = tab.locator('[data-testid="stSidebar"]')
            wait_for(lambda: "History:" in sidebar.inner_text(), 15, "app.py's sidebar")
            assert tab.get_by_text("Page not found", exact=False).count() == 0
        finally:
            context.close()


def test_overview_by_name_on_a_running_server(page, app_url):
    """After other pages ran, ``/overview`` still opens the Overview, not "Page not found"."""
    open_page(page, app_url, "events")
    page.goto(f"{app_url}/overview")
    page.get_by_role("heading", name="Overview", exact=True).wait_for()
    assert page.get_by_text("Page not found", exact=False).count() == 0


def test_the_fleet_page_by_name_opens_the_fleet_page(browser):
    """With several servers the Fleet page is the default; ``/fleet`` opens it too, with
    no "Page not found" on the way (both servers here are unreachable: it does not matter)."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "fleet-secrets.toml").write_text(
        'history_path = ""\n'
        + "".join(f'[[servers]]\nname = "{name}"\nurl = "http://127.0.0.1:{free_port()}"\n'
                  for name in ("studio", "mini")))
    with running_app("streamlit-fleet.log", "fleet-secrets.toml") as url:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        tab = context.new_page()
        tab.set_default_timeout(20_000)
        try:
            for path in ("", "fleet", "overview"):
                tab.goto(f"{url}/{path}")
                heading = "Overview" if path == "overview" else "Fleet"
                tab.get_by_role("heading", name=heading, exact=True).wait_for()
                assert tab.get_by_text("Page not found", exact=False).count() == 0, path
        finally:
            context.close()


def test_the_load_form_opened_before_the_server_answers_is_usable_once_it_does(browser):
    """The Load form is drawn with the page, not its live part; opened while the server
    does not answer it is disabled, and it must become usable when the server comes up,
    with no click (it went on saying "not connected" beside a live page)."""
    port = free_port()
    (ARTIFACTS / "late-server-secrets.toml").write_text(
        f'lmx_url = "http://127.0.0.1:{port}"\nread_only = false\nhistory_path = ""\n')
    with running_app("streamlit-late-server.log", "late-server-secrets.toml") as url:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        tab = context.new_page()
        tab.set_default_timeout(20_000)
        demo = None
        try:
            tab.goto(f"{url}/models")
            tab.get_by_role("heading", name="Models", exact=True).wait_for()
            load = tab.get_by_role("button", name="Load", exact=True)
            wait_for(lambda: load.count() == 1, 15, "the Load form")
            assert load.is_disabled()
            assert tab.get_by_text("Load is disabled", exact=False).count() == 1
            demo = DemoProcess(port).start()
            wait_for(lambda: load.is_enabled(), 45, "the Load button to be usable")
            assert tab.get_by_text("Load is disabled", exact=False).count() == 0
        finally:
            context.close()
            if demo is not None:
                demo.terminate()


def test_nothing_is_fetched_from_another_host(page, app_url):
    """Every request a viewer's browser makes, the favicon's included, goes to the app."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.on("websocket", lambda ws: seen.append(ws.url))
    for name in PAGES:
        open_page(page, app_url, name)
        wait_for(lambda: page.locator('[data-testid="stMetric"], [data-testid="stDataFrame"], '
                                      '[data-testid="stButton"]').count() > 0, 15, f"{name}")
    icons = page.evaluate("() => [...document.querySelectorAll('link[rel~=icon]')]"
                          ".map(l => l.href)")
    assert icons, "the page has no favicon link"
    wait_for(lambda: set(icons) <= set(seen), 15, f"the browser to fetch the favicon {icons}")
    reply = page.request.get(icons[0])
    assert reply.ok and reply.body().startswith(b"\x89PNG"), icons  # assets/opta-stream.png
    hosts = {urlsplit(u).hostname for u in seen if urlsplit(u).scheme in (
        "http", "https", "ws", "wss")}
    assert hosts <= {"127.0.0.1", "localhost"}, sorted(u for u in seen if urlsplit(u).hostname
                                                       not in ("127.0.0.1", "localhost"))
