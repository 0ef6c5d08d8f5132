"""A page's elements, recorded once and drawn by every viewer.

A ``Recorder`` takes the same calls as ``st`` for the elements the live
fragments draw (metrics, text, charts, tables, download buttons, columns and
containers) and keeps them as a list instead of drawing. ``replay`` then makes
those calls on Streamlit for one viewer: with the page's computation done once
per tick slot (``ui.slots``), a viewer's rerun only emits elements. Calls on
the recorder go where ``with`` points, as with ``st``; calls on a column or a
container go into it. Pure: it never imports Streamlit (``replay`` is handed
the module or a container).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Block", "Recorder", "replay"]

ELEMENTS = ("metric", "caption", "markdown", "text", "header", "subheader", "badge", "info",
            "warning", "error", "code", "progress", "dataframe", "vega_lite_chart",
            "download_button", "page_link")


@dataclass(frozen=True, slots=True)
class _Element:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Columns:
    spec: Any
    kwargs: dict[str, Any]
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class _Container:
    kwargs: dict[str, Any]
    block: Block


@dataclass(eq=False)
class Block:
    """A place elements go: the page itself, a column or a container."""

    root: Recorder | None = None
    ops: list[_Element | _Columns | _Container] = field(default_factory=list)

    def _sink(self) -> list[_Element | _Columns | _Container]:
        return self.ops

    def _top(self) -> Recorder:
        assert self.root is not None
        return self.root

    def _add(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._sink().append(_Element(name, args, kwargs))

    def columns(self, spec: Any, **kwargs: Any) -> list[Block]:
        n = spec if isinstance(spec, int) else len(spec)
        blocks = tuple(Block(self._top()) for _ in range(n))
        self._sink().append(_Columns(spec, kwargs, blocks))
        return list(blocks)

    def container(self, **kwargs: Any) -> Block:
        block = Block(self._top())
        self._sink().append(_Container(kwargs, block))
        return block

    def __enter__(self) -> Block:
        self._top().stack.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._top().stack.pop()

    def __getattr__(self, name: str) -> Any:
        if name not in ELEMENTS:
            raise AttributeError(name)
        return lambda *args, **kwargs: self._add(name, args, kwargs)

    def count(self) -> int:
        """Elements and blocks recorded here and below (tests compare it with the floor)."""
        total = 0
        for op in self.ops:
            total += 1
            if isinstance(op, _Columns):
                total += sum(b.count() for b in op.blocks)
            elif isinstance(op, _Container):
                total += op.block.count()
        return total


@dataclass(eq=False)
class Recorder(Block):
    """The page's top level: its calls go to the block ``with`` entered last."""

    stack: list[Block] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = self

    def _sink(self) -> list[_Element | _Columns | _Container]:
        return self.stack[-1].ops if self.stack else self.ops


def replay(ops: Sequence[_Element | _Columns | _Container], where: Any) -> None:
    """Make the recorded calls on ``where`` (``st``, a column or a container)."""
    for op in ops:
        if isinstance(op, _Element):
            getattr(where, op.name)(*op.args, **_fresh(op.kwargs))
        elif isinstance(op, _Columns):
            for col, block in zip(where.columns(op.spec, **op.kwargs), op.blocks, strict=True):
                replay(block.ops, col)
        else:
            replay(op.block.ops, where.container(**op.kwargs))


def _fresh(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Each viewer gets its own column_config dicts: Streamlit may write into them."""
    config = kwargs.get("column_config")
    if not config:
        return kwargs
    return {**kwargs, "column_config": {k: dict(v) if isinstance(v, dict) else v
                                        for k, v in config.items()}}
