"""The Streamlit internals we lean on were checked against one release: this one."""

from __future__ import annotations

from importlib.metadata import version

from opta_stream.ui._compat import STREAMLIT_CHECKED


def test_the_installed_streamlit_is_the_one_the_internals_were_checked_against() -> None:
    # ui/_compat.py, tests/streamlit_internals.py and bench/streamlit_internals.py each
    # reach into Streamlit: on an upgrade, look at each again, then move this version.
    assert version("streamlit") == STREAMLIT_CHECKED
