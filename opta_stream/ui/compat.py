"""Every use of Streamlit's internals, in one place: tests and bench, and two Arrow helpers.

The app itself uses only ``arrow_bytes`` and ``arrow_table`` (``ui.shared``
turns a tick's data into Arrow once for every viewer, exactly as Streamlit
would for each); everything else here serves tests and the benchmarks.

Checked against Streamlit 1.67.0 (``STREAMLIT_CHECKED``); ``pyproject.toml``
caps streamlit below 1.68 so that a new release is tried here first. Each
function names the internal it leans on, so an upgrade that moves one breaks
here, loudly, and nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "STREAMLIT_CHECKED", "arrow_bytes", "arrow_table", "back_msg", "cached_values",
    "chart_proto_sizes", "forward_msg", "quiet_no_runtime_warning", "record_media",
    "resource_value_key", "use_navigation_mode",
]

STREAMLIT_CHECKED = "1.67.0"


def arrow_bytes(data: Any) -> bytes:
    """A chart dataset as Streamlit sends it (``dataframe_util.convert_anything_to_arrow_bytes``).

    ``st.vega_lite_chart`` passes a named dataset that is already ``bytes`` through as is.
    """
    from streamlit import dataframe_util

    return bytes(dataframe_util.convert_anything_to_arrow_bytes(data))


def arrow_table(frame: Any) -> Any:
    """A DataFrame as the Arrow table Streamlit would make of it
    (``dataframe_util.convert_pandas_df_to_arrow_table``); ``st.dataframe`` only serialises it."""
    from streamlit import dataframe_util

    return dataframe_util.convert_pandas_df_to_arrow_table(frame)


def use_navigation_mode(monkeypatch: Any) -> None:
    """Make AppTest run like a server that has seen ``st.navigation`` once.

    Why: with a ``pages/`` folder beside app.py, Streamlit's PagesManager starts
    in its old folder mode (``uses_pages_directory``) and runs a requested
    page's file bare, without app.py; the first ``st.navigation`` call turns
    that off for the whole process. AppTest resets the flag before every run,
    so from its third run on a page ran bare and the sidebar (badge,
    connection panel) was empty. A real server does that only for a deep link
    before the first run of app.py, which ``ui.routing`` handles.
    ``monkeypatch`` is pytest's fixture (anything with ``setattr``).
    """
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import app_test

    class SeenNavigation(PagesManager):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    monkeypatch.setattr(app_test, "PagesManager", SeenNavigation)


def cached_values(cached: Any) -> dict[str, Any]:
    """value key → value held by an ``st.cache_resource`` function, for this process."""
    from streamlit.runtime.caching import cache_resource_api

    caches = cache_resource_api._resource_caches._function_caches.get(None, {})
    cache = caches.get(cached._function_key)
    if cache is None:
        return {}
    with cache._mem_cache_lock:
        return {k: r.value for k, r in cache._mem_cache.items()}


def resource_value_key(cached: Any, args: Sequence[object]) -> str:
    """The value key Streamlit derives from ``args`` for an ``st.cache_resource`` function."""
    from streamlit.runtime.caching.cache_type import CacheType
    from streamlit.runtime.caching.cache_utils import _make_value_key

    return str(_make_value_key(CacheType.RESOURCE, cached._info.func, tuple(args), {}, None))


def record_media(monkeypatch: Any) -> dict[str, bytes | Callable[[], bytes]]:
    """file id → what each download button handed Streamlit (bytes, or a deferred callable)."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    seen: dict[str, bytes | Callable[[], bytes]] = {}
    load, defer = MemoryMediaFileStorage.load_and_get_id, MediaFileManager.add_deferred

    def recording_load(self: Any, path_or_data: Any, mimetype: Any, kind: Any,
                       filename: Any = None) -> str:
        file_id = load(self, path_or_data, mimetype, kind, filename)
        if isinstance(path_or_data, bytes):
            seen[file_id] = path_or_data
        return file_id

    def recording_defer(self: Any, data_callable: Any, *args: Any, **kwargs: Any) -> str:
        file_id = defer(self, data_callable, *args, **kwargs)
        seen[file_id] = data_callable
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording_load)
    monkeypatch.setattr(MediaFileManager, "add_deferred", recording_defer)
    return seen


def quiet_no_runtime_warning() -> Callable[[], None]:
    """Silence "No runtime found" while importing ui outside ``streamlit run``; returns undo."""
    import logging

    import streamlit.runtime.caching.cache_data_api as cache_api

    logger = logging.getLogger(cache_api.__name__)
    level = logger.level
    logger.setLevel(logging.ERROR)
    return lambda: logger.setLevel(level)


def chart_proto_sizes(spec: dict[str, Any] | Any) -> tuple[int, int, int]:
    """(proto bytes, Arrow bytes, spec JSON bytes) Streamlit would send for a chart.

    ``spec`` is a Vega-Lite dict with DataFrames as named datasets, or an
    Altair chart. Uses ``streamlit.elements.vega_charts``' private marshalling.
    """
    from streamlit.elements import vega_charts as vc

    spec = dict(spec) if isinstance(spec, dict) else vc._convert_altair_to_vega_lite_spec(spec)
    proto = vc.VegaLiteChartProto()
    spec = vc._prepare_vega_lite_spec(spec, True)
    vc._marshall_chart_data(proto, spec, None)
    proto.spec = vc._stabilize_vega_json_spec(json.dumps(spec))
    arrow = sum(len(d.data.data) for d in proto.datasets) + len(proto.data.data)
    return proto.ByteSize(), arrow, len(proto.spec)


def back_msg() -> Any:
    """An empty ``BackMsg`` (the browser → server protocol message)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    return BackMsg()


def forward_msg() -> Any:
    """An empty ``ForwardMsg`` (the server → browser protocol message)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    return ForwardMsg()
