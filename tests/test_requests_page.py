"""AppTest: the Requests page and the Overview's serving cards, from hand-worked scrapes.

The store holds the step between the two scrapes of ``serving_fixture``;
every figure on screen is compared with the value worked out there by hand.
"""

from __future__ import annotations

import csv
import io

import pytest
from serving_fixture import SCRAPE_A, SCRAPE_B
from test_app_pages import download_bytes, make_app, metrics, open_page

from opta_stream.events.counters import serving_step
from opta_stream.events.prom import parse_metrics
from opta_stream.snapshot import ConnState
from opta_stream.store.core import Store

NOW = 112.0


@pytest.fixture
def serving_store() -> Store:
    store = Store("http://127.0.0.1:1234", clock=lambda: NOW)
    store.set_connection(ConnState.OPEN, "Connected")
    step = serving_step(parse_metrics(SCRAPE_A), 100.0, parse_metrics(SCRAPE_B), 110.0)
    assert step is not None
    store.add_serving(step)
    return store


def test_every_figure_matches_the_hand_worked_values(serving_store, clean_env):
    at = open_page(make_app(serving_store), "requests")
    w = "last 5 min"  # every windowed figure names its window; the rest say "now"
    assert metrics(at) == {
        f"Requests / s · {w}": "2.00", f"Errors / s · {w}": "0.10",
        f"Error rate · {w}": "5.0 %", "In flight / limit · now": "3 / 4",
        f"p50 latency · {w}": "12.50 s", f"p95 latency · {w}": "60.00 s",
        f"p99 latency · {w}": "60.00 s",
        f"Mean latency · {w}": "16.32 s",  # 310 s over 19 requests
        "Queued · now": "2", f"Prompt tokens / s · {w}": "1000.0",
        f"Completion tokens / s · {w}": "400.0", f"Speculative acceptance · {w}": "75 %",
    }
    assert len(at.get("vega_lite_chart")) == 4


def test_the_per_model_and_per_client_tables(serving_store, clean_env):
    at = open_page(make_app(serving_store), "requests")
    models, clients = (d.value for d in at.dataframe)
    rows = {r["model"]: r for r in models.to_dict("records")}
    assert rows["org/a"]["requests"] == 10 and rows["org/a"]["errors"] == 1
    assert rows["org/a"]["error %"] == 10.0 and rows["org/a"]["tokens/s"] == 200.0
    assert rows["org/a"]["p50 s"] == 0.75 and rows["org/a"]["p95 s"] == pytest.approx(8.875)
    assert rows["org/b"]["p50 s"] == 37.5 and rows["org/b"]["p95 s"] == 60.0
    assert rows["org/b"]["errors"] == 0 and rows["org/b"]["tokens/s"] == 200.0
    by_client = {r["client"]: (r["requests"], r["errors"], r["tokens"])
                 for r in clients.to_dict("records")}
    assert by_client == {"cli": (10, 1, 2000), "web": (10, 0, 2000)}


def test_the_csv_holds_the_raw_deltas_of_the_window(serving_store, clean_env, media_files):
    at = open_page(make_app(serving_store), "requests")
    rows = list(csv.DictReader(io.StringIO(
        download_bytes(at, media_files, "requests_csv").decode("utf-8"))))
    assert [(r["kind"], r["id"]) for r in rows] == [
        ("total", ""), ("model", "org/a"), ("model", "org/b"), ("client", "cli"),
        ("client", "web")]
    total = rows[0]
    assert (total["interval_s"], total["requests"], total["errors"]) == ("10.0", "20.0", "1.0")
    assert total["le_60"] == "17.0" and total["le_+Inf"] == "19.0"
    assert total["queued"] == "2.0" and rows[1]["queued"] == ""  # gauges on server rows only
    assert total["timestamp_utc"] == "1970-01-01T00:01:50.000Z"


def test_before_two_readings_the_page_says_why_it_is_empty(clean_env):
    at = open_page(make_app(Store("s", clock=lambda: NOW)), "requests")
    assert "No request metrics yet" in " ".join(c.value for c in at.main.caption)
    m = metrics(at)
    assert m["p95 latency · last 5 min"] == "—" and m["Error rate · last 5 min"] == "—"
    assert m["Queued · now"] == "—" and m["In flight / limit · now"] == "— / —"
    assert not at.dataframe  # the tables say there is nothing rather than show empty rows


def test_the_overview_shows_p95_error_rate_and_queue(serving_store, clean_env):
    m = metrics(open_page(make_app(serving_store), "overview"))
    w = "last 5 min"
    assert (m[f"p95 latency · {w}"], m[f"Error rate · {w}"], m["Queued · now"],
            m[f"Requests / s · {w}"]) == ("60.00 s", "5.0 %", "2", "2.00")
