"""Streamlit's floor: each page of app.py with the same elements, static data, no computation.

``bench/viewers.py`` drives this app exactly as it drives ``app.py`` (same
protocol viewers, same fragments and intervals, same URL paths), so app CPU
over floor CPU is what Opta Stream's own work costs on top of what Streamlit
needs to send those elements at all. Each page here lists, in order, the
elements the real page's live fragment emits with a live demo server (read
off its delta messages): the same kinds, the same count, charts with the same
number of named datasets and rows of the same size, tables of the same shape.
The data is built once per process and never changes.

``streamlit run bench/floor_app.py`` (the benchmark starts it on 127.0.0.1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from opta_stream.settings import RENDER_S  # the app's own intervals

LINE_ROWS = 120  # a live chart's datasets are 1–4 KB of Arrow: about this many rows


@st.cache_resource
def frames() -> dict[str, pd.DataFrame]:
    """The static data, built once for every viewer."""
    t = np.arange(LINE_ROWS, dtype=float) + 1.8e9
    line = pd.DataFrame({"t": t, "v": np.sin(t / 9.0) * 40 + 50, "series": "all models",
                         "show": 1.0})
    small = pd.DataFrame({"t": t[:6], "v": np.arange(6.0), "label": ["x"] * 6})
    table = pd.DataFrame({"time": ["12:00:00"] * 8, "event": ["model_loaded"] * 8,
                          "severity": ["info"] * 8, "summary": ["Loaded a model"] * 8})
    wide = pd.DataFrame({c: np.arange(4.0) for c in ("requests", "errors", "error %",
                                                     "tokens/s", "p50 s", "p95 s", "mean s")}
                        ).assign(model=["org/model-a"] * 4)
    log = pd.DataFrame({"time": ["12:00:00"] * 20, "severity": [["info"]] * 20,
                        "summary": ["Loaded org/model-a"] * 20, "event": ["model_loaded"] * 20,
                        "data": ["{}"] * 20})
    return {"line": line, "small": small, "table": table, "wide": wide, "log": log}


def spec(datasets: int, big: int = 1) -> dict[str, Any]:
    """A layered Vega-Lite spec over named datasets: ``big`` of them are lines."""
    f = frames()
    layers = [{"data": {"name": f"d{i}"}, "mark": {"type": "line" if i < big else "rule"},
               "encoding": {"x": {"field": "t", "type": "quantitative"},
                            "y": {"field": "v", "type": "quantitative"}}}
              for i in range(datasets)]
    return {"layer": layers, "height": 260,
            "datasets": {f"d{i}": f["line"] if i < big else f["small"] for i in range(datasets)}}


def metrics(n: int) -> None:
    """A row of tiles side by side (the app's horizontal containers), one in two with a
    coloured band under its figure, as the app's headline tiles."""
    with st.container(horizontal=True, wrap=True, gap="small"):
        for i in range(n):
            st.metric("Tokens / s · last 5 min", "52.1", "< 60 %" if i % 2 else None, "green",
                      border=True, help="A static figure.", delta_arrow="off")


def verdict() -> None:
    """The verdict at the top of every page's live part: a badge and a line."""
    with st.container(horizontal=True, wrap=True, gap="small"):
        st.badge("Live", color="green", icon=":material/circle:")
        st.caption("server last heard 0 s ago · 50.0 events/s · reconnected 0× in 0 tries")


def chart(datasets: int, key: str, big: int = 1) -> None:
    st.vega_lite_chart(spec=spec(datasets, big), key=key, width="stretch", height="content")


def download(key: str) -> None:
    st.download_button("Download CSV", b"unix_s,value\n1,2\n", file_name="floor.csv",
                       mime="text/csv", on_click="ignore", key=key, help="Static bytes.")


def window() -> None:
    st.segmented_control("Window", ["1 min", "5 min", "1 h"], default="5 min", key="w")


@st.fragment(run_every=RENDER_S)
def overview_live() -> None:
    verdict()
    metrics(6)
    left, right = st.columns([3, 2])
    with left, st.container(border=True):
        st.markdown("**Memory**")
        chart(4, "gauge", big=0)
        st.caption("12.3 of 24.0 GB used (51 %) · threshold 90 %")
    with right, st.container(border=True):
        st.markdown("**Tokens / s · last 5 min**", help="A static figure.")
        chart(1, "spark")
    metrics(4)
    st.markdown("**Latest events**")
    st.dataframe(frames()["table"], hide_index=True, width="stretch", key="events")


@st.fragment(run_every=RENDER_S)
def throughput_live() -> None:
    verdict()
    metrics(4)
    chart(7, "throughput", big=1)
    st.caption("Each point is the rate over the 10 s before it, every 1 s.")
    with st.container(horizontal=True, wrap=True, gap="small"):
        download("tp_rates_csv")
        download("tp_csv")


@st.fragment(run_every=RENDER_S)
def requests_live() -> None:
    verdict()
    for _ in range(3):
        metrics(4)
    for pair in range(2):
        for i, col in enumerate(st.columns(2)):
            with col:
                st.markdown("**Latency**")
                chart(5, f"req{pair}{i}", big=1)
    st.caption("Rates over the 10 s before each point.")
    for key in ("models", "clients"):
        st.markdown("**Per model**")
        st.dataframe(frames()["wide"], hide_index=True, width="stretch", key=key)
    download("req_csv")


@st.fragment(run_every=RENDER_S)
def memory_live() -> None:
    verdict()
    metrics(4)
    chart(8, "memory", big=3)
    download("mem_csv")
    st.markdown("**Memory per loaded model**")
    chart(2, "per_model", big=2)
    st.caption("Bars run from 0 to the server's total memory.")


@st.fragment(run_every=RENDER_S)
def models_live() -> None:
    verdict()
    st.subheader("Loaded models (2)")
    for i in range(2):
        with st.container(border=True):
            left, right = st.columns([5, 1], vertical_alignment="center")
            left.text("mlx-community/Qwen2.5-7B-Instruct-4bit")
            left.badge("ready", color="green")
            left.caption("4.3 GB · loaded 15 min ago · 12 requests · 52.1 tokens/s")
            right.button("Unload", key=f"unload{i}", disabled=True, help="Static.")
    st.subheader("Downloads and quantize jobs")
    st.caption("No downloads or quantize jobs yet.")


@st.fragment
def load_result() -> None:
    """The Models page's load result under its form: nothing, and no timer, while no
    load runs (its timer runs only during a load)."""


def models() -> None:
    models_live()
    load_result()


@st.fragment(run_every=RENDER_S)
def events_live() -> None:
    verdict()
    st.caption("20 of 20 logged events in the last 5 min match.")
    st.dataframe(frames()["log"], hide_index=True, width="stretch", height=400, key="log")
    download("ev_csv")
    left, _ = st.columns([3, 2])
    with left:
        st.markdown("**Counts per type**")
        st.caption("Every event the server sent since the dashboard started.")
        st.caption("No event type matches these filters.")


def page(title: str, live: Any, windowed: bool = True) -> Any:
    def run() -> None:
        st.header(title)
        if windowed:
            window()
        live()
    run.__name__ = title.lower()
    return run


PAGES = [
    st.Page(page("Overview", overview_live, windowed=False), title="Overview", default=True,
            url_path="home"),
    st.Page(page("Throughput", throughput_live), title="Throughput", url_path="throughput"),
    st.Page(page("Requests", requests_live), title="Requests", url_path="requests"),
    st.Page(page("Memory", memory_live), title="Memory", url_path="memory"),
    st.Page(page("Models", models, windowed=False), title="Models", url_path="models"),
    st.Page(page("Events", events_live), title="Events", url_path="events"),
]

st.set_page_config(page_title="Floor", layout="wide")
nav = st.navigation(PAGES)
with st.sidebar:
    st.caption("History: off (the history path is empty); a restart forgets what was seen.")
    with st.expander("Connection"), st.form("connect", border=False):
        st.text_input("Opta LMX URL")
        st.text_input("Admin key", type="password")
        st.form_submit_button("Connect")
st.info("No server configured — showing the embedded demo server.")
nav.run()
