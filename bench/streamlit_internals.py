"""The Streamlit internals the benchmarks lean on (checked on 1.67.0): protocol messages
and the chart marshalling whose size the tick bench reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["back_msg", "chart_proto_sizes", "forward_msg", "quiet_no_runtime_warning"]


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
