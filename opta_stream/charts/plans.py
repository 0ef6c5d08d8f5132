"""Charts as cached Vega-Lite structure plus per-tick data.

Every live chart keeps the same structure from tick to tick (a test holds
``charts`` to that); only its data changes. Building the Altair objects and
``to_dict()``'s validation against the Vega-Lite schema cost about 25 ms per
chart on every 500 ms tick, for every viewer. A ``ChartPlan`` therefore
carries a key for its structure, a builder for that structure (run once per
key) and this tick's DataFrames; ``to_spec`` compiles the structure once with
each layer pointing at a named dataset and then only attaches new data.
``ui.drawing.prepare`` turns the named datasets into Arrow once per tick for
every viewer.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd

__all__ = ["TEMPLATE_LIMIT", "ChartPlan", "to_spec"]

TEMPLATE_LIMIT = 64

_templates: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()
_lock = threading.Lock()


def _layers(chart: alt.TopLevelMixin) -> list[Any]:
    return list(chart.layer) if isinstance(chart, alt.LayerChart) else [chart]


@dataclass(frozen=True, slots=True)
class ChartPlan:
    """One chart for one tick: structure key and builder, and each layer's data.

    Charts with the same ``key`` must differ only in their data; the key
    changes whenever the structure does (for example a per-model split).
    """

    key: Hashable
    build: Callable[[], alt.TopLevelMixin]
    frames: Sequence[pd.DataFrame]

    def chart(self) -> alt.TopLevelMixin:
        """The Altair chart with this tick's data attached (for tests and export)."""
        chart = self.build()
        for layer, frame in zip(_layers(chart), self.frames, strict=True):
            layer.data = frame
        return chart


def _compile(plan: ChartPlan) -> dict[str, Any]:
    """The validated spec, every layer pointing at a named dataset ``d<i>``."""
    chart = plan.build()
    for i, layer in enumerate(_layers(chart)):
        layer.data = alt.NamedData(name=f"d{i}")
    spec = chart.to_dict()
    spec.pop("datasets", None)
    return spec


def _template(plan: ChartPlan) -> dict[str, Any]:
    with _lock:
        found = _templates.get(plan.key)
        if found is not None:
            _templates.move_to_end(plan.key)
            return found
    compiled = _compile(plan)
    with _lock:
        _templates[plan.key] = compiled
        while len(_templates) > TEMPLATE_LIMIT:
            _templates.popitem(last=False)
    return compiled


def to_spec(plan: ChartPlan) -> dict[str, Any]:
    """A Vega-Lite dict for ``st.vega_lite_chart``: cached structure, this tick's data."""
    spec = copy.deepcopy(_template(plan))
    spec["datasets"] = {f"d{i}": frame for i, frame in enumerate(plan.frames)}
    return spec
