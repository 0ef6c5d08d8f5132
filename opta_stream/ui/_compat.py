"""The Streamlit internals the running app uses: two Arrow converters, nothing else.

Private on purpose: pages and views never touch Streamlit's internals, only
``ui.drawing`` does, through here. Each item names the internal it leans on,
the version it was checked against and why; ``pyproject.toml`` caps
streamlit below 1.68 and ``tests/test_streamlit_internals.py`` fails when the
installed Streamlit is not ``STREAMLIT_CHECKED``, so an upgrade is tried here
first and breaks here, loudly, and nowhere else.
"""

from __future__ import annotations

from typing import Any

__all__ = ["STREAMLIT_CHECKED", "arrow_bytes", "arrow_table"]

STREAMLIT_CHECKED = "1.67.0"


def arrow_bytes(data: Any) -> bytes:
    """A chart dataset as Streamlit sends it (``dataframe_util.convert_anything_to_arrow_bytes``,
    checked on 1.67.0).

    Why: ``st.vega_lite_chart`` passes a named dataset that is already ``bytes``
    through as is, so a recording shared by every viewer of a tick converts its
    data once instead of once per viewer.
    """
    from streamlit import dataframe_util

    return bytes(dataframe_util.convert_anything_to_arrow_bytes(data))


def arrow_table(frame: Any) -> Any:
    """A DataFrame as the Arrow table Streamlit would make of it
    (``dataframe_util.convert_pandas_df_to_arrow_table``, checked on 1.67.0).

    Why: ``st.dataframe`` only serialises an Arrow table it is handed, so the
    pandas work happens once per tick, not once per viewer.
    """
    from streamlit import dataframe_util

    return dataframe_util.convert_pandas_df_to_arrow_table(frame)
