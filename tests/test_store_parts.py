"""The Store is made of parts: none inherits another, none reaches into another's state;
an idle Store costs little, and history's marks stay right while its rings grow."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from opta_stream.store import core
from opta_stream.store.core import Store
from opta_stream.store.history_rows import Marks

STORE = Path(core.__file__).resolve().parent
T0 = 1_800_000_000.0


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
    assert {"core.py", "series.py", "eventlog.py", "connection.py", "apply.py",
            "handover.py"} <= set(trees)
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


def test_an_idle_store_costs_little() -> None:
    """Rings start small and grow with their data (they used to take 26.6 MiB at once)."""
    store = Store("http://lmx.test", clock=lambda: T0)
    assert store.memory_bytes() < 1024 * 1024


def test_history_marks_stay_right_while_the_rings_grow() -> None:
    """Batch after batch, what history collected equals what each tier holds, while the
    1 s tier grows from 1,024 rows to its 7,200 and then wraps."""
    now = [T0]
    store = Store("http://lmx.test", clock=lambda: now[0], raw_capacity=5_000)
    kept: dict[tuple[str, float, int], tuple[float, float]] = {}  # row → (start, sum)
    marks, t = Marks(), T0
    for seconds in (500, 600, 1, 1_500, 3_000, 4_000):
        ts = t + np.arange(0.0, seconds, 0.5)  # two samples a bucket
        store.add_throughput_many(ts, np.ones_like(ts), ["m"] * ts.shape[0])
        for x in ts[::20].tolist():
            store.add_memory(x, 1.0, 2.0)
        t += seconds
        rows, marks = store.history_delta(marks)
        for tier in rows.tiers:
            for i, row in enumerate(zip(tier.cols["ts"].tolist(), tier.cols["sum"].tolist(),
                                        strict=True)):
                kept[(tier.series, tier.width, tier.first + i)] = row
    now[0] = t
    one_s = store.snapshot(7_200.0).throughput  # the raw ring was full: the 1 s tier
    assert one_s.resolution_s == 1.0 and len(one_s) == 7_200
    assert one_s.ts.tolist() == list(np.arange(t - 7_200.0, t))
    total = marks.tiers[("throughput", 1.0)]  # the open (last) bucket's row
    held = [kept[("throughput", 1.0, i)] for i in range(total - 7_200 + 1, total + 1)]
    assert held == list(zip(one_s.ts.tolist(), (one_s.value * 2).tolist(), strict=True))
    assert sum(1 for k in kept if k[:2] == ("throughput", 1.0)) == int(t - T0)
