"""The Streamlit internals the running app uses: two Arrow converters and the rerun timer.

Private on purpose: pages and views never touch Streamlit's internals, only
``ui.drawing`` does, through here. Each item names the internal it leans on,
the version it was checked against and why; ``pyproject.toml`` caps
streamlit below 1.68 and ``tests/test_streamlit_internals.py`` fails when the
installed Streamlit is not ``STREAMLIT_CHECKED``, so an upgrade is tried here
first and breaks here, loudly, and nowhere else.
"""

from __future__ import annotations

from typing import Any

__all__ = ["STREAMLIT_CHECKED", "arrow_bytes", "arrow_table", "rerun_every"]

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


def rerun_every(interval_s: float) -> bool:
    """Tell this viewer's browser to rerun the fragment that is running every
    ``interval_s`` from now on; False outside a fragment run.

    Leans on the ``auto_rerun`` ForwardMsg that ``st.fragment(run_every=…)``
    sends when a fragment is declared, the running fragment's id in
    ``ThreadState.get().fragment_id``, and the frontend's ``handleAutoRerun``,
    which replaces that fragment's timer when the interval differs (all checked
    on 1.67.0). Why: the render interval stretches under load (``ui.pace``),
    and the public way to change a fragment's interval is a full rerun of the
    page for every viewer at the moment the app is busiest.
    """
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.scriptrunner_utils.script_run_context import (
        ThreadState,
        get_script_run_ctx,
    )

    ctx = get_script_run_ctx(suppress_warning=True)
    fragment_id = ThreadState.get().fragment_id if ctx is not None else None
    if ctx is None or not fragment_id:
        return False
    msg = ForwardMsg()
    msg.auto_rerun.interval = float(interval_s)
    msg.auto_rerun.fragment_id = fragment_id
    ctx.enqueue(msg)
    return True
