"""Drawing a recording for one viewer: the one place elements reach Streamlit.

Views record (``views.recording``); this module makes the calls. ``prepare``
runs once per recording (per tick slot, for every viewer of it) and turns
chart datasets into Arrow IPC bytes and tables into Arrow tables, exactly as
Streamlit would for each viewer; ``draw`` then only emits elements.

The one copy rule: Streamlit may write into a dict it is handed (a chart's
legend title, a column's settings), and a recording is shared between
viewers, so every dict and list of a chart's spec is copied for each draw
(data is shared: Arrow bytes are immutable), and column settings are made
fresh from their ``Column`` on each draw.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from opta_stream.ui._compat import arrow_bytes, arrow_table
from opta_stream.views.recording import (
    Badge,
    Chart,
    Code,
    Column,
    Columns,
    Container,
    Download,
    Metric,
    Note,
    Op,
    PageLink,
    Progress,
    Recording,
    Table,
    Text,
)

__all__ = ["column_config", "draw", "prepare"]


def prepare(recording: Recording) -> Recording:
    """The recording with its data as Streamlit sends it: done once, drawn many times."""
    return recording.prepared(arrow_bytes, arrow_table)


def draw(recording: Recording, where: Any = st) -> None:
    """Make the recorded calls on ``where`` (``st``, a column or a container)."""
    _draw(recording.ops, where)


def _fresh(value: Any) -> Any:
    """Dicts and lists copied all the way down; everything else (bytes, numbers) shared."""
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value


def column_config(columns: Mapping[str, Column]) -> dict[str, Any]:
    """``Column`` descriptions as ``st.column_config`` objects."""
    return {name: _column(c) for name, c in columns.items()}


def _column(c: Column) -> Any:
    cc = st.column_config
    common: dict[str, Any] = {"label": c.label, "width": c.width, "help": c.help}
    if c.pinned:
        common["pinned"] = True
    if c.kind == "number":
        return cc.NumberColumn(**common, format=c.format)
    if c.kind == "multiselect":
        return cc.MultiselectColumn(**common, options=list(c.options), color=list(c.colors))
    if c.kind == "progress":
        return cc.ProgressColumn(**common, format=c.format, min_value=c.min_value,
                                 max_value=c.max_value)
    if c.kind == "line":
        return cc.LineChartColumn(**common, y_min=c.min_value, y_max=c.max_value)
    if c.kind == "link":
        return cc.LinkColumn(**common, display_text=c.display_text)
    return cc.TextColumn(**common)


def _draw(ops: list[Op], where: Any) -> None:
    for op in ops:
        _one(op, where)


def _one(op: Op, where: Any) -> None:  # noqa: C901 - one branch per element kind
    if isinstance(op, Metric):
        where.metric(op.label, op.value, op.delta, op.delta_color, help=op.help,
                     border=op.border, delta_arrow=op.delta_arrow)
    elif isinstance(op, Text):
        getattr(where, op.kind)(op.body, help=op.help)
    elif isinstance(op, Note):
        getattr(where, op.kind)(op.body, icon=op.icon)
    elif isinstance(op, Badge):
        where.badge(op.label, color=op.color, icon=op.icon, help=op.help)
    elif isinstance(op, Code):
        where.code(op.body, language=None, wrap_lines=op.wrap_lines)
    elif isinstance(op, Progress):
        where.progress(op.value, text=op.text)
    elif isinstance(op, Chart):
        where.vega_lite_chart(spec=_fresh(op.spec), key=op.key, width="stretch",
                              height=op.height if op.height is not None else "content")
    elif isinstance(op, Table):
        extra: dict[str, Any] = {}
        if op.height is not None:
            extra["height"] = op.height
        if op.row_height is not None:
            extra["row_height"] = op.row_height
        if op.placeholder is not None:
            extra["placeholder"] = op.placeholder
        where.dataframe(op.data, hide_index=op.hide_index, width="stretch", key=op.key,
                        column_config=column_config(op.columns) or None, **extra)
    elif isinstance(op, Download):
        where.download_button(op.label, op.data, file_name=op.file_name, mime=op.mime,
                              on_click="ignore", icon=":material/download:", key=op.key,
                              help=op.help)
    elif isinstance(op, PageLink):
        where.page_link(op.page, label=op.label, icon=op.icon, help=op.help,
                        query_params=dict(op.query_params) or None)
    elif isinstance(op, Columns):
        spec = op.spec if isinstance(op.spec, int) else list(op.spec)
        cols = where.columns(spec, gap=op.gap, vertical_alignment=op.vertical_alignment)
        for col, block in zip(cols, op.blocks, strict=True):
            _draw(block.ops, col)
    elif isinstance(op, Container):
        box = (where.container(border=op.border, horizontal=True, wrap=True, gap="small")
               if op.horizontal else where.container(border=op.border))
        _draw(op.block.ops, box)
