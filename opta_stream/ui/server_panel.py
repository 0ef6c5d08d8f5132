"""The sidebar's fleet controls: which server the pages show, and adding one for this session.

Shown when secrets list ``[[servers]]``. The selector's choice goes into the
URL (``?server=name``, ``session.remember``) so a copied link opens the same
server, and it survives page changes and keeps the window selection (which
lives in the session). A viewer may add servers of their own beside the listed
ones unless every listed server is read-only (a share), and may remove those
again; an added server's key is the one typed here, never a configured one.
"""

from __future__ import annotations

import streamlit as st

from opta_stream.errors import ConfigError
from opta_stream.settings import Fleet, ServerEntry
from opta_stream.ui import session

__all__ = ["ADD_ERROR", "NAME_INPUT", "SELECT_KEY", "add_panel", "is_share", "selector"]

SELECT_KEY = "opta_server_select"
NAME_INPUT, URL_INPUT, KEY_INPUT = "opta_add_name", "opta_add_url", "opta_add_key"
ADD_ERROR = "opta_add_error"


def is_share(found: Fleet) -> bool:
    """Every listed server read-only: a shared dashboard, which viewers cannot extend."""
    listed = [s for s in found.servers if s.origin == "secrets"]
    return bool(listed) and all(s.read_only for s in listed)


def _on_select() -> None:
    name = st.session_state.get(SELECT_KEY)
    if isinstance(name, str):
        st.session_state[session.SERVER_KEY] = name
        st.query_params[session.QUERY] = name


def _label(found: Fleet, name: str) -> str:
    entry = found.named(name)
    return f"{name} (added by you)" if entry is not None and entry.origin == "session" else name


def selector(found: Fleet, chosen: ServerEntry) -> None:
    """The server every page shows; the choice is set before the widget so a link's
    ``?server=`` wins over what the widget held."""
    names = [s.name for s in found.servers]
    st.session_state[SELECT_KEY] = chosen.name
    st.selectbox("Server", names, key=SELECT_KEY, on_change=_on_select,
                 format_func=lambda name: _label(found, name),
                 help="Which server the pages show. The choice is in the page's address "
                      "(?server=…), so a copied link opens the same server.")


def _on_add() -> None:
    """Form callback: runs before the rerun, so it may clear the key field."""
    try:
        session.add_server(st.session_state.get(NAME_INPUT, ""),
                           st.session_state.get(URL_INPUT, ""),
                           st.session_state.get(KEY_INPUT, ""))
        st.session_state[ADD_ERROR] = None
        st.session_state[NAME_INPUT] = st.session_state[URL_INPUT] = ""
    except ConfigError as exc:
        st.session_state[ADD_ERROR] = str(exc)
    st.session_state[KEY_INPUT] = ""  # the key is never kept in a widget


def add_panel(found: Fleet, chosen: ServerEntry) -> None:
    """Add a server for this session, or remove the chosen one if this session added it."""
    with st.expander("Add a server", icon=":material/add_circle:",
                     expanded=bool(st.session_state.get(ADD_ERROR))):
        if is_share(found):
            st.text("This shared dashboard watches the servers its operator configured.")
            return
        st.caption("For this browser session only; nothing is saved.")
        with st.form("add_server", border=False):
            st.text_input("Name", key=NAME_INPUT, placeholder="mini",
                          help="Letters, digits, dots, dashes; blank: host and port.")
            st.text_input("Opta LMX URL", key=URL_INPUT, placeholder="http://127.0.0.1:1234")
            st.text_input("Admin key", key=KEY_INPUT, type="password",
                          help="Sent only in the X-Admin-Key header, only to this URL.")
            st.form_submit_button("Add server", type="primary", on_click=_on_add)
        if st.session_state.get(ADD_ERROR):
            st.error(st.session_state[ADD_ERROR])
        if chosen.origin == "session":
            st.button(f"Remove {chosen.name}", key="remove_server",
                      on_click=session.remove_server, args=(chosen.name,))
