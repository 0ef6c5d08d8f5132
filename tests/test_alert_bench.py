"""The alert bench still imports and runs, on a tiny budget: no timing is asserted.

Why: ``bench/`` is only run by hand; without this a renamed function would leave
``bench/alert_bench.py`` broken until someone needs the figure.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import alert_bench  # noqa: E402


def test_the_alert_bench_runs_and_reports_its_figures() -> None:
    out = alert_bench.main(budget_s=0.002)
    assert (out["alert_rules"], out["alert_servers"]) == (20, 20)
    for key in ("alert_baseline_round_us", "alert_engine_round_us", "alert_monitor_round_us",
                "alert_steady_round_us", "alert_monitor_core_pct_at_1hz",
                "alert_watch_round_us", "alert_eval_pct_core_20x20"):
        assert out[key] > 0
    assert out["alert_watch_fired_first_round"] > 0  # the live Stores do fire rules
    assert out["alert_transitions_per_monitor_round"] > 0  # the drift does move alerts
