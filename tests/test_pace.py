"""The render pace under load (``ui.pace``): every viewer slower alike, never none at all.

Unit tests drive a ``Pace`` with injected clocks (the process's CPU time and
the monotonic clock); one test runs a real ``streamlit run`` and a protocol
viewer to show that a moved pace reaches the browser's timer without a full
rerun, and page tests show what a viewer reads while the app is busy.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from opta_stream.ui import live, sources
from opta_stream.ui.pace import LEVELS, MIN_RUNS, Pace, PaceState, usable_cores

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, protocol  # noqa: E402


class Clocks:
    """Wall and CPU time that move only when told."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0


def pace_with(clocks: Clocks, render_s: float = 0.5, budget: float = 1.0) -> Pace:
    return Pace(render_s, budget, clock=lambda: clocks.wall, cpu=lambda: clocks.cpu)


def window(pace: Pace, clocks: Clocks, viewers: int, run_ms: float, runs_each: int = 1) -> None:
    """One 2 s window in which each of ``viewers`` ran ``runs_each`` times at ``run_ms``
    of the process's CPU per run; the next run closes the window."""
    for _ in range(runs_each):
        for v in range(viewers):
            clocks.cpu += run_ms / 1000.0
            pace.ran(v)
    clocks.wall += pace.window_s
    clocks.cpu += run_ms / 1000.0
    pace.ran(0)


def test_the_pace_is_the_render_interval_while_the_runs_fit() -> None:
    clocks = Clocks()
    pace = pace_with(clocks)
    for _ in range(5):
        window(pace, clocks, viewers=30, run_ms=10.0, runs_each=4)  # need 0.3 s
    assert pace.windows == 5
    assert pace.interval_s() == 0.5 and not pace.state().stretched


def test_past_capacity_every_viewer_slows_to_the_first_level_that_fits() -> None:
    clocks = Clocks()
    pace = pace_with(clocks, budget=0.85)
    window(pace, clocks, viewers=100, run_ms=10.0)  # need 100 × 10 ms ÷ 0.85 = 1.18 s
    assert pace.interval_s() == 0.5, "one window does not decide"
    window(pace, clocks, viewers=100, run_ms=10.0)
    assert pace.interval_s() == pytest.approx(1.25)
    state = pace.state()
    assert state.stretched and state.viewers == 100 and state.run_ms == pytest.approx(10.0)
    assert pace.interval_for(0.5) == pytest.approx(1.25)
    assert pace.interval_for(5.0) == 5.0  # a slower page keeps its own interval


def test_a_burst_of_first_pages_in_one_window_does_not_slow_everyone() -> None:
    clocks = Clocks()
    pace = pace_with(clocks)
    window(pace, clocks, viewers=10, run_ms=10.0, runs_each=4)
    window(pace, clocks, viewers=10, run_ms=100.0)  # first pages: 100 ms a run
    window(pace, clocks, viewers=10, run_ms=10.0, runs_each=4)
    assert pace.interval_s() == 0.5


def test_a_crowd_beyond_every_level_gets_the_slowest_level_not_none() -> None:
    clocks = Clocks()
    pace = pace_with(clocks)
    window(pace, clocks, viewers=5000, run_ms=10.0)
    window(pace, clocks, viewers=5000, run_ms=10.0)  # need 50 s
    assert pace.interval_s() == pytest.approx(0.5 * LEVELS[-1])


def test_the_pace_falls_one_level_at_a_time_after_three_quiet_windows() -> None:
    clocks = Clocks()
    pace = pace_with(clocks)
    window(pace, clocks, viewers=95, run_ms=10.0)  # need 0.95 s: the 1.0 s level
    window(pace, clocks, viewers=95, run_ms=10.0)
    assert pace.interval_s() == pytest.approx(1.0)
    quiet = 0
    while pace.interval_s() == pytest.approx(1.0) and quiet < 10:
        window(pace, clocks, viewers=10, run_ms=10.0)  # need 0.1 s
        quiet += 1
    assert quiet >= 3, "fell before three quiet windows"
    assert pace.interval_s() == pytest.approx(0.9), "one level, not straight to 0.5 s"


def test_a_need_just_under_the_lower_level_does_not_make_the_pace_flap() -> None:
    clocks = Clocks()
    pace = pace_with(clocks)
    window(pace, clocks, viewers=95, run_ms=10.0)  # 1.0 s
    window(pace, clocks, viewers=95, run_ms=10.0)
    for _ in range(6):  # 0.88 s: fits 0.9 s, but not under 95 % of it
        window(pace, clocks, viewers=88, run_ms=10.0)
    assert pace.interval_s() == pytest.approx(1.0)


def test_a_viewer_who_left_stops_counting() -> None:
    clocks = Clocks()
    pace = pace_with(clocks)
    window(pace, clocks, viewers=100, run_ms=10.0)
    assert pace.state().viewers == 100
    for _ in range(3):  # only viewer 0 still runs; the others are past the horizon
        window(pace, clocks, viewers=1, run_ms=10.0, runs_each=MIN_RUNS)
    assert pace.state().viewers == 1


def test_a_window_with_too_few_runs_says_nothing_about_their_cost() -> None:
    clocks = Clocks()
    pace = pace_with(clocks)
    clocks.cpu += 5.0  # a long stretch of background work and a single run
    window(pace, clocks, viewers=1, run_ms=10.0)
    assert pace.state().run_ms is None and pace.interval_s() == 0.5


def test_the_busy_line_names_the_interval_the_usual_one_and_the_crowd() -> None:
    busy = PaceState(interval_s=1.25, render_s=0.5, viewers=100, run_ms=10.0)
    text = live.busy_text(busy, 0.5)
    assert "1.25 s" in text and "0.5 s" in text and "100 viewers" in text
    assert live.busy_text(busy, 5.0) == ""  # a page slower than the pace is not slowed
    assert live.busy_text(PaceState(0.5, 0.5, 3, 5.0), 0.5) == ""


@pytest.mark.parametrize(("files", "expected"), [
    ({"cpu.max": "50000 100000\n"}, 0.5),  # cgroup v2 quota: half a core
    ({"cpu.max": "max 100000\n"}, 2.0),  # no quota: the affinity
    ({"cpu/cpu.cfs_quota_us": "150000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1.5),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
    ({"cpu.max": "garbage"}, 2.0),
    ({}, 2.0),
])
def test_usable_cores_reads_the_cgroup_quota(tmp_path: Path, files: dict[str, str],
                                             expected: float) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert usable_cores(tmp_path, affinity=lambda: 2) == pytest.approx(expected)


class IntervalLog(protocol.Viewer):
    """A protocol viewer that keeps every interval the app told it, in order."""

    told: list[float]

    def _on_message(self, msg, ws) -> None:  # type: ignore[no-untyped-def]
        if msg.WhichOneof("type") == "auto_rerun":
            self.__dict__.setdefault("told", []).append(round(msg.auto_rerun.interval, 3))
        super()._on_message(msg, ws)


def test_a_moved_pace_reaches_the_browsers_timer_without_a_full_rerun(clean_env) -> None:
    app = protocol.StreamlitApp(common.free_port(), {}, script="tests/apps/paced_app.py")
    try:
        app.start()

        def moved(v: IntervalLog) -> bool:  # two runs have come at the new interval
            fid = v.fastest_fragment()
            return bool(fid and v.intervals[fid] == pytest.approx(1.5)
                        and len(v.finished.get(fid, ())) >= 5)

        v = protocol.visit(IntervalLog(f"http://127.0.0.1:{app.port}"), moved)
    finally:
        app.stop()
        app.remove_log()
    assert not v.errors, v.errors
    assert v.__dict__.get("told", [])[:1] == [0.5], "declared at the render interval"
    assert 1.5 in v.told, v.told
    fid = v.fastest_fragment()
    assert fid is not None and v.intervals[fid] == pytest.approx(1.5)
    assert len(v.finished[fid]) >= 5 and v.full_runs == 1, "no full rerun was needed"


def test_a_busy_app_says_so_at_the_top_of_the_page_and_in_the_sidebar(filled_store,
                                                                      clean_env) -> None:
    from test_app_pages import FakeClient, make_app, open_page

    at = make_app(filled_store, client=FakeClient())
    clocks = Clocks()
    busy = pace_with(clocks, budget=0.85)
    window(busy, clocks, viewers=100, run_ms=10.0)
    window(busy, clocks, viewers=100, run_ms=10.0)
    sources.current().paces[0.5] = busy  # type: ignore[attr-defined]
    open_page(at, "overview")
    captions = [c.value for c in at.caption]
    assert any("Busy: redrawn every 1.25 s instead of 0.5 s" in c for c in captions), captions
    side = [c.value for c in at.sidebar.caption]
    assert any("Redrawn every 1.25 s instead of 0.5 s: 101 viewers share" in c  # and this one
               for c in side), side


def test_an_app_that_is_not_busy_says_nothing_about_its_pace(filled_store, clean_env) -> None:
    from test_app_pages import FakeClient, make_app, open_page

    at = open_page(make_app(filled_store, client=FakeClient()), "overview")
    assert not [c.value for c in at.caption if "Busy" in c.value]
    side = [c.value for c in at.sidebar.caption]
    assert ":material/timer: Redrawn every 0.5 s." in side, side  # the interval in use


def test_live_bodies_run_one_at_a_time_and_a_body_may_enter_again() -> None:
    import threading

    first_in, second_in, let_go = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with live.one_at_a_time():
            with live.one_at_a_time():  # re-entrant: no deadlock in its own thread
                first_in.set()
                let_go.wait(10)

    def second() -> None:
        with live.one_at_a_time():
            second_in.set()

    a = threading.Thread(target=first, name="test-gate-a", daemon=True)
    a.start()
    assert first_in.wait(10)
    b = threading.Thread(target=second, name="test-gate-b", daemon=True)
    b.start()
    assert not second_in.wait(0.3), "a second body ran while the first held the gate"
    let_go.set()
    assert second_in.wait(10), "the second body never ran after the first left"
    a.join(10)
    b.join(10)
