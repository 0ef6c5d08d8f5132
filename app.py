"""Opta Stream: a live dashboard for Opta LMX.

The entry file is the router and the shared frame: page config, the eight
pages (and the Fleet page, the default when several servers are watched), the
sidebar's server selector, connection panel and history line, and the demo
banner when no server is configured (the health banner is the first
thing of each page's view, ``views.verdict.banner``). Pages get their data from
``opta_stream.ui.sources.source()``; nothing here talks to the server. Every run
makes sure the process's watch runs (``sources.current().alerts()``): every
configured server recorded and its alerts evaluated, whichever page is open. It
is asked for after the page, which does not need it: the first run draws the
page's figures without waiting to import and start the alerting. The first run
starts the server's feed before it imports the views (``history_line``), so the
first poll is under way while they load.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from opta_stream.errors import ConfigError
from opta_stream.settings import Fleet
from opta_stream.ui import routing, server_panel, session, sources

DEMO_BANNER = (
    "No server configured — showing the embedded demo server with simulated load. "
    "Enter your Opta LMX URL in the sidebar."
)
URL_INPUT, KEY_INPUT, CONNECT_ERROR = "opta_url_input", "opta_key_input", "opta_connect_error"
# The favicon ships with the app: with a ":material/…:" icon every viewer's browser would
# fetch it from fonts.gstatic.com, which fails offline (tests/test_browser.py checks this).
ICON = str(Path(__file__).resolve().parent / "assets" / "opta-stream.png")

PAGES = [
    # The default page lives at "/" but reserves its own name, which Streamlit then
    # answers with "Page not found"; so it is named "home", and "/overview" is an alias.
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True,
            url_path="home"),
    st.Page("pages/throughput.py", title="Throughput", icon=":material/speed:"),
    st.Page("pages/requests.py", title="Requests", icon=":material/timer:"),
    st.Page("pages/memory.py", title="Memory", icon=":material/memory:"),
    st.Page("pages/models.py", title="Models", icon=":material/deployed_code:"),
    st.Page("pages/events.py", title="Events", icon=":material/list_alt:"),
    st.Page("pages/usage.py", title="Usage", icon=":material/receipt_long:"),
    st.Page("pages/alerts.py", title="Alerts", icon=":material/notifications:"),
    st.Page("pages/server.py", title="Server", icon=":material/monitor_heart:"),
]


def overview_by_name() -> None:
    """``/overview``: what people type for the default page; it opens it at ``/``."""
    st.switch_page(PAGES[0])


ALIASES = [st.Page(overview_by_name, title="Overview", url_path="overview",
                   visibility="hidden")]
# With several servers the Fleet page is the default, and reserves its name the same way.
FLEET = st.Page("pages/fleet.py", title="Fleet", icon=":material/lan:", default=True,
                url_path="home")


def fleet_by_name() -> None:
    """``/fleet``: the Fleet page by its name; it opens it at ``/``."""
    st.switch_page(FLEET)


def navigation(found: Fleet) -> list[st.Page]:
    """One server: Overview at "/". Several: the Fleet page at "/" (and "/fleet"),
    Overview at "/overview"."""
    if len(found.servers) < 2:
        return PAGES + ALIASES
    return [FLEET,
            st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:"),
            *PAGES[1:],
            st.Page(fleet_by_name, title="Fleet", url_path="fleet", visibility="hidden")]


def history_line(src: sources.Source) -> None:
    """Where history is kept and how far back it reaches (not a verdict: the server's
    health is at the top of each page, from the page's own snapshot)."""
    # Imported here, after the feed started: its first poll is answered while the views'
    # modules (pandas, Altair) load on the first run, instead of after.
    from opta_stream.ui import live
    from opta_stream.ui.widgets import viewer_zone
    from opta_stream.units import zone
    from opta_stream.views.verdict import history_caption

    st.caption(history_caption(live.snapshot(src, 1.0), zone(viewer_zone())))


def pace_line() -> None:
    """The interval the page's live part is redrawn at, written there by its fragment."""
    from opta_stream.ui import live

    live.pace_slot()


def _on_connect() -> None:
    """Form callback: runs before the rerun, so it may clear the key field."""
    try:
        session.connect(st.session_state.get(URL_INPUT, ""), st.session_state.get(KEY_INPUT, ""))
        st.session_state[CONNECT_ERROR] = None
    except ConfigError as exc:
        st.session_state[CONNECT_ERROR] = str(exc)
    st.session_state[KEY_INPUT] = ""  # the key is never kept in a widget


def _on_disconnect() -> None:
    st.session_state.pop(session.PANEL_KEY, None)
    st.session_state[CONNECT_ERROR] = None


def pinned(src: sources.Source) -> bool:
    """A read-only share with a configured server: viewers cannot point it elsewhere."""
    return src.settings.read_only and src.settings.source in ("secrets", "environment")


def connection_panel(src: sources.Source) -> None:
    """Server URL, admin key and Connect; the key stays in this session only."""
    panel = st.session_state.get(session.PANEL_KEY)
    with st.expander("Connection", expanded=src.is_demo or panel is not None,
                     icon=":material/settings_ethernet:"):
        if pinned(src):
            st.text("This shared dashboard is pinned to the server its operator configured.")
            return
        if src.settings.url:
            st.text(f"Server: {src.settings.url} (from {src.settings.source})")
        with st.form("connect", border=False):
            st.text_input("Opta LMX URL", key=URL_INPUT, placeholder="http://127.0.0.1:1234")
            st.text_input("Admin key", key=KEY_INPUT, type="password",
                          help="Sent only in the X-Admin-Key header, only to this URL.")
            st.form_submit_button("Connect", type="primary", on_click=_on_connect)
        if panel is not None:
            st.button("Disconnect", key="disconnect", on_click=_on_disconnect)
        if st.session_state.get(CONNECT_ERROR):
            st.error(st.session_state[CONNECT_ERROR])


def sidebar(src: sources.Source, found: Fleet, page: str) -> None:
    chosen = session.selected(found) if found.listed else None
    with st.sidebar:
        if chosen is not None:
            server_panel.selector(found, chosen)
        if page == "Fleet":
            st.caption(":material/lan: Each server's health is on its card or table row.")
        else:
            history_line(src)
        pace_line()
        if chosen is not None:
            server_panel.add_panel(found, chosen)
        else:
            connection_panel(src)
        if src.read_only:
            st.caption(":material/lock: Read-only: model actions are disabled.")


def main() -> None:
    st.set_page_config(page_title="Opta Stream", page_icon=ICON, layout="wide")
    try:
        found = session.fleet()
    except ConfigError as exc:
        st.navigation(PAGES + ALIASES)
        st.error(f"The configured server cannot be used: {exc}")
        st.stop()
    nav = st.navigation(navigation(found))
    deep_link = routing.take_deep_link()
    if deep_link:
        st.switch_page(deep_link)
    session.remember(found)
    try:
        src = sources.source()
    except ConfigError as exc:
        st.error(f"The configured server cannot be used: {exc}")
        st.stop()
    sidebar(src, found, nav.title)
    if src.is_demo:
        st.info(DEMO_BANNER, icon=":material/science:")
    try:
        with routing.frame():
            nav.run()
    finally:  # also when the page stops or switches: the watch runs from the first run on
        watch()


def watch() -> None:
    """The process's watch: every configured server (or the demo) recorded and its alerts
    evaluated, whichever page is open; started by the first run, after its page."""
    try:
        sources.current().alerts()
    except ConfigError as exc:
        st.error(f"Alerts cannot run: {exc}")


main()
