"""The Store is made of parts: none inherits another, none reaches into another's state."""

from __future__ import annotations

import ast
from pathlib import Path

from opta_stream.store import core
from opta_stream.store.core import Store

STORE = Path(core.__file__).resolve().parent


def modules() -> dict[str, ast.Module]:
    return {p.name: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(STORE.glob("*.py"))}


def type_checking_blocks(tree: ast.Module) -> list[int]:
    """Lines of ``if TYPE_CHECKING:`` blocks (stubs of what another class defines)."""
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test)]


def mixins(trees: dict[str, ast.Module]) -> list[str]:
    """Classes of store/ that inherit from another class of store/."""
    ours = {n.name for t in trees.values() for n in ast.walk(t) if isinstance(n, ast.ClassDef)}
    return [f"{name}:{c.name}({ast.unparse(b)})" for name, t in trees.items()
            for c in ast.walk(t) if isinstance(c, ast.ClassDef)
            for b in c.bases if ast.unparse(b).split(".")[-1] in ours]


def foreign_private(tree: ast.Module) -> list[str]:
    """``x._name`` where x is neither ``self``/``cls`` nor a class of the same module:
    a reach into another object's private state."""
    own = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)} | {"self", "cls"}
    return [f"{node.lineno}: {ast.unparse(node)}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in own)]


def test_the_store_is_composed_not_mixed_in() -> None:
    assert Store.__mro__ == (Store, object)
    trees = modules()
    assert {"core.py", "series.py", "eventlog.py", "conn.py", "apply.py", "keep.py"} <= set(trees)
    assert mixins(trees) == []
    assert {name: lines for name, t in trees.items() if (lines := type_checking_blocks(t))} == {}
    assert {name: hits for name, t in trees.items() if (hits := foreign_private(t))} == {}


def test_the_structure_checks_catch_a_mixin_a_stub_and_a_reach() -> None:
    planted = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "class Log:\n    def add(self) -> None: ...\n"
        "class Rules(Log):\n"
        "    if TYPE_CHECKING:\n        def _append(self) -> None: ...\n"
        "    def run(self, log: Log) -> None:\n        log._lines.append(1)\n")
    assert mixins({"x.py": planted}) == ["x.py:Rules(Log)"]
    assert type_checking_blocks(planted) == [5]
    assert foreign_private(planted) == ["8: log._lines"]
