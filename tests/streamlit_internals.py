"""The Streamlit internals the tests lean on, in one place (checked on 1.67.0).

``opta_stream/ui/_compat.py`` holds the app's own; these are for AppTest and
the secret-hygiene search. ``test_streamlit_internals.py`` fails when the
installed Streamlit is not the checked one, so each of these is looked at again
on an upgrade.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["cached_values", "record_forward_msgs", "record_media", "resource_value_key",
           "session_fields", "use_navigation_mode"]


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


def session_fields(at: Any) -> dict[str, Any]:
    """Everything Streamlit keeps for an AppTest session (``SessionState``'s dataclass
    fields: widget states, values, ids), by field name."""
    state = at._session_state._state
    return {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}



def record_forward_msgs(monkeypatch: Any, *kinds: str) -> list[Any]:
    """Every forward message of ``kinds`` (``"auto_rerun"``, ``"navigation"``…) a run
    enqueues, in order.

    Why: AppTest turns only deltas into its element tree; a fragment's timer
    (``auto_rerun``, from ``streamlit.runtime.fragment``: its ``run_every``) and
    the app's pages with their URL paths (``navigation``) stay in its script
    runner's ``ForwardMsgQueue``, so this records each one as it is enqueued.
    """
    from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

    seen: list[Any] = []
    enqueue = ForwardMsgQueue.enqueue

    def recording_enqueue(self: Any, msg: Any) -> None:
        if msg.WhichOneof("type") in kinds:
            seen.append(msg)
        enqueue(self, msg)

    monkeypatch.setattr(ForwardMsgQueue, "enqueue", recording_enqueue)
    return seen
