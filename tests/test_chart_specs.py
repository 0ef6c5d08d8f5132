"""Chart plans: the structure is compiled once per key, only data changes per tick."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opta_stream.charts import plans as chart_specs
from opta_stream.charts import time_charts as charts
from opta_stream.charts.frames import gap_frame
from opta_stream.charts.throughput_lines import ThroughputView, throughput_view
from opta_stream.snapshot import Series, Snapshot, frozen_array


def view(n: int) -> ThroughputView:
    s = Series(ts=frozen_array(np.arange(n, dtype=np.float64)),
               value=frozen_array(np.linspace(1, 2, n)), lo=frozen_array(np.linspace(1, 2, n)),
               hi=frozen_array(np.linspace(1, 2, n)), seg=frozen_array(np.zeros(n), np.int64),
               model=frozen_array(np.arange(n) % 2, np.int32), model_names=("m", "n"))
    return throughput_view(Snapshot(server="s", taken_at=float(n), window_s=float(n),
                                    throughput=s))


def plan(n: int, key_suffix: str = "") -> chart_specs.ChartPlan:
    return charts.throughput_plan(view(n), gaps=[(1.0, 2.0)], window=(0.0, float(n)),
                                  height=200 + len(key_suffix))


def test_structure_is_built_once_per_key_and_data_is_attached() -> None:
    built = []
    first = plan(10, "once")
    counting = chart_specs.ChartPlan(first.key, lambda: built.append(1) or first.build(),
                                     first.frames)
    spec_a = chart_specs.to_spec(counting)
    spec_b = chart_specs.to_spec(chart_specs.ChartPlan(first.key, counting.build,
                                                       plan(20, "once").frames))
    assert len(built) == 1
    assert len(spec_a["datasets"]["d3"]) == len(view(10).lines) == 32  # 11 + 10 + 11 points
    assert len(spec_b["datasets"]["d3"]) == len(view(20).lines)
    assert [layer["data"] for layer in spec_a["layer"]] == [
        {"name": f"d{i}"} for i in range(len(spec_a["layer"]))]


def test_spec_structure_equals_altairs_own_for_the_same_chart() -> None:
    p = plan(5, "same")
    ours = chart_specs.to_spec(p)
    ours.pop("datasets")
    theirs = p.chart().to_dict()
    theirs.pop("datasets")
    for layer in theirs["layer"]:
        layer.pop("data")
    for layer in ours["layer"]:
        layer.pop("data")
    assert ours == theirs


def test_templates_are_not_shared_between_callers() -> None:
    p = plan(3, "copy")
    spec = chart_specs.to_spec(p)
    spec["layer"].clear()
    assert chart_specs.to_spec(p)["layer"], "mutating one spec must not touch the template"


def test_the_template_cache_is_bounded() -> None:
    for i in range(chart_specs.TEMPLATE_LIMIT + 10):
        chart_specs.to_spec(chart_specs.ChartPlan(("bounded", i), plan(2).build, plan(2).frames))
    assert len(chart_specs._templates) <= chart_specs.TEMPLATE_LIMIT


def test_per_model_frames_are_dictionary_encoded() -> None:
    data = plan(4).frames[3]
    assert isinstance(data["series"].dtype, pd.CategoricalDtype)
    assert gap_frame([(1.0, None)], (0.0, 3.0)).shape == (1, 2)
