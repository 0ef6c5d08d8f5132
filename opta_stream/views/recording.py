"""A page's elements, recorded once per tick and drawn by every viewer.

A view builds a ``Recording`` instead of drawing: each method records one
element with typed arguments (mypy checks every call where the view makes
it, not at replay), and ``columns``/``container`` open blocks that take
their own elements, as ``st`` does; ``with block:`` sends the recorder's
calls there. ``ui.drawing.draw`` makes the calls on Streamlit for one
viewer, and ``prepared`` turns chart data and tables into what Streamlit
sends (Arrow) once for every viewer of the tick.

Pure: no Streamlit here. Table columns are described by ``Column`` and made
into ``st.column_config`` by the drawing side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pandas as pd

from opta_stream.charts.plans import ChartPlan, to_spec

__all__ = [
    "Badge", "Block", "Chart", "Code", "Color", "Column", "Columns", "Container", "Download",
    "Metric", "Note", "Op", "PageLink", "Progress", "Recording", "Table", "Text",
]

Color = Literal["red", "orange", "yellow", "green", "blue", "violet", "gray", "primary"]
MetricColor = Literal["normal", "inverse", "off", "red", "orange", "yellow", "green", "blue",
                      "violet", "gray", "primary"]
TextKind = Literal["caption", "markdown", "text", "subheader"]
NoteKind = Literal["info", "warning", "error", "success"]


@dataclass(frozen=True, slots=True)
class Column:
    """How a table shows one column (``st.column_config``'s choices we use)."""

    kind: Literal["text", "number", "multiselect", "progress", "line", "link"] = "text"
    label: str | None = None
    width: int | Literal["small", "medium", "large"] | None = None
    format: str | None = None
    help: str | None = None
    options: tuple[str, ...] = ()  # multiselect: the values, coloured by ``colors``
    colors: tuple[str, ...] = ()
    min_value: float | None = None  # progress and line columns: the scale
    max_value: float | None = None
    display_text: str | None = None  # link columns: the words shown instead of the URL
    pinned: bool = False


@dataclass(frozen=True, slots=True)
class Metric:
    label: str
    value: str
    help: str | None = None
    border: bool = True
    delta: str | None = None
    delta_color: MetricColor = "normal"
    delta_arrow: Literal["auto", "up", "down", "off"] = "auto"


@dataclass(frozen=True, slots=True)
class Text:
    kind: TextKind
    body: str
    help: str | None = None


@dataclass(frozen=True, slots=True)
class Note:
    kind: NoteKind
    body: str
    icon: str | None = None


@dataclass(frozen=True, slots=True)
class Badge:
    label: str
    color: Color = "blue"
    icon: str | None = None
    help: str | None = None


@dataclass(frozen=True, slots=True)
class Code:
    body: str
    wrap_lines: bool = True


@dataclass(frozen=True, slots=True)
class Progress:
    value: float  # 0…1
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Chart:
    """A Vega-Lite spec; its named datasets are DataFrames until ``prepared`` (then Arrow)."""

    spec: Mapping[str, Any]
    key: str
    height: int | None = None  # pixels for charts sized by their rows; None: the spec's


@dataclass(frozen=True, slots=True)
class Table:
    data: Any  # a DataFrame until ``prepared``, then what Streamlit sends
    key: str | None = None
    columns: Mapping[str, Column] = field(default_factory=dict)
    height: int | None = None
    row_height: int | None = None
    hide_index: bool = True
    placeholder: str | None = None  # what a missing value shows (None: Streamlit's "None")


@dataclass(frozen=True, slots=True)
class Download:
    label: str
    data: bytes | Callable[[], bytes]  # a callable is run only when clicked (large files)
    file_name: str
    key: str
    help: str
    mime: str = "text/csv"


@dataclass(frozen=True, slots=True)
class PageLink:
    page: str
    label: str
    icon: str | None = None
    help: str | None = None
    query_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Columns:
    spec: int | tuple[float, ...]
    blocks: tuple[Block, ...]
    gap: Literal["small", "medium", "large"] = "small"
    vertical_alignment: Literal["top", "center", "bottom"] = "top"


@dataclass(frozen=True, slots=True)
class Container:
    block: Block
    border: bool = False
    horizontal: bool = False  # side by side, wrapping on a narrow screen (tiles on a phone)


Op = (Metric | Text | Note | Badge | Code | Progress | Chart | Table | Download | PageLink
      | Columns | Container)


@dataclass(eq=False)
class Block:
    """A place elements go: the page itself, a column or a container."""

    ops: list[Op] = field(default_factory=list)
    _stack: list[Block] | None = None  # the recording's ``with`` stack (shared by its blocks)

    def _add(self, op: Op) -> None:
        self.ops.append(op)

    def _child(self) -> Block:
        return Block(_stack=self._stack)

    # -- elements ------------------------------------------------------------
    def metric(self, label: str, value: str, *, help: str | None = None, border: bool = True,
               delta: str | None = None, delta_color: MetricColor = "normal",
               delta_arrow: Literal["auto", "up", "down", "off"] = "auto") -> None:
        self._add(Metric(label, value, help, border, delta, delta_color, delta_arrow))

    def caption(self, body: str, *, help: str | None = None) -> None:
        self._add(Text("caption", body, help))

    def markdown(self, body: str, *, help: str | None = None) -> None:
        self._add(Text("markdown", body, help))

    def text(self, body: str, *, help: str | None = None) -> None:
        self._add(Text("text", body, help))

    def subheader(self, body: str, *, help: str | None = None) -> None:
        self._add(Text("subheader", body, help))

    def note(self, kind: NoteKind, body: str, *, icon: str | None = None) -> None:
        """``st.info``, ``st.warning``, ``st.error`` or ``st.success``."""
        self._add(Note(kind, body, icon))

    def badge(self, label: str, *, color: Color = "blue", icon: str | None = None,
              help: str | None = None) -> None:
        self._add(Badge(label, color, icon, help))

    def code(self, body: str) -> None:
        self._add(Code(body))

    def progress(self, value: float, text: str | None = None) -> None:
        self._add(Progress(min(max(value, 0.0), 1.0), text))

    def chart(self, plan: ChartPlan | Mapping[str, Any], *, key: str,
              height: int | None = None) -> None:
        """A plan (cached structure, this tick's data) or a ready Vega-Lite spec."""
        self._add(Chart(to_spec(plan) if isinstance(plan, ChartPlan) else plan, key, height))

    def table(self, frame: pd.DataFrame, *, key: str | None = None,
              columns: Mapping[str, Column] | None = None, height: int | None = None,
              row_height: int | None = None, placeholder: str | None = None) -> None:
        self._add(Table(frame, key, dict(columns or {}), height, row_height,
                        placeholder=placeholder))

    def download(self, data: bytes | Callable[[], bytes], *, file_name: str, key: str,
                 help: str, label: str = "Download CSV", mime: str = "text/csv") -> None:
        self._add(Download(label, data, file_name, key, help, mime))

    def page_link(self, page: str, *, label: str, icon: str | None = None,
                  help: str | None = None, query_params: Mapping[str, str] | None = None
                  ) -> None:
        self._add(PageLink(page, label, icon, help, dict(query_params or {})))

    # -- blocks --------------------------------------------------------------
    def columns(self, spec: int | Sequence[float], *,
                gap: Literal["small", "medium", "large"] = "small",
                vertical_alignment: Literal["top", "center", "bottom"] = "top"
                ) -> list[Block]:
        n = spec if isinstance(spec, int) else len(spec)
        blocks = tuple(self._child() for _ in range(n))
        self._add(Columns(spec if isinstance(spec, int) else tuple(spec), blocks, gap,
                          vertical_alignment))
        return list(blocks)

    def container(self, *, border: bool = False, horizontal: bool = False) -> Block:
        block = self._child()
        self._add(Container(block, border, horizontal))
        return block

    def __enter__(self) -> Block:
        assert self._stack is not None, "only a recording's blocks take 'with'"
        self._stack.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stack is not None
        self._stack.pop()

    def count(self) -> int:
        """Elements and blocks recorded here and below (tests compare it with the floor)."""
        total = 0
        for op in self.ops:
            total += 1
            if isinstance(op, Columns):
                total += sum(b.count() for b in op.blocks)
            elif isinstance(op, Container):
                total += op.block.count()
        return total

    def walk(self) -> Iterator[Op]:
        """Every element, depth first (tests and the drawing side read them)."""
        for op in self.ops:
            yield op
            if isinstance(op, Columns):
                for b in op.blocks:
                    yield from b.walk()
            elif isinstance(op, Container):
                yield from op.block.walk()


class Recording(Block):
    """The page's top level: its calls go to the block ``with`` entered last."""

    def __init__(self) -> None:
        super().__init__(ops=[], _stack=[])

    def _add(self, op: Op) -> None:
        target = self._stack[-1] if self._stack else self
        target.ops.append(op)

    @contextmanager
    def into(self, block: Block) -> Iterator[Block]:
        """``with out.into(col):``, the same as ``with col:`` (reads better in a loop)."""
        with block:
            yield block

    def prepared(self, spec_data: Callable[[Any], Any], table_data: Callable[[Any], Any]
                 ) -> Recording:
        """A copy whose chart datasets and tables went through ``spec_data`` and
        ``table_data`` (Streamlit's Arrow conversions), made once for every viewer."""
        out = Recording()
        out.ops = _mapped(self.ops, spec_data, table_data)
        return out


def _mapped(ops: list[Op], spec_data: Callable[[Any], Any],
            table_data: Callable[[Any], Any]) -> list[Op]:
    done: list[Op] = []
    for op in ops:
        if isinstance(op, Chart):
            datasets = op.spec.get("datasets")
            if datasets:
                op = replace(op, spec={**op.spec, "datasets": {
                    name: data if isinstance(data, bytes) else spec_data(data)
                    for name, data in datasets.items()}})
        elif isinstance(op, Table):
            op = replace(op, data=table_data(op.data))
        elif isinstance(op, Columns):
            op = replace(op, blocks=tuple(Block(_mapped(b.ops, spec_data, table_data))
                                          for b in op.blocks))
        elif isinstance(op, Container):
            op = replace(op, block=Block(_mapped(op.block.ops, spec_data, table_data)))
        done.append(op)
    return done
