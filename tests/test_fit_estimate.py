"""The Load picker's fit estimate: size on disk × 1.15 against the room under the threshold.

The arithmetic by hand, where the figures come from (/admin/memory's, as the server's
admission check counts them, while fresh; else the status poll), the words, and the
picker itself in AppTest.
"""

from __future__ import annotations

import pytest
import streamlit_internals as compat
from conftest import SERVER
from test_models_page import DiskClient, models_page

from opta_stream.server_report import MemoryReport
from opta_stream.snapshot import ConnState
from opta_stream.store.core import Store
from opta_stream.views.load_choices import (
    ESTIMATE_MARGIN,
    DiskModel,
    Fit,
    Headroom,
    fit,
    fit_note,
    headroom,
)

GIB = 2**30
ROOM = Headroom(used_gb=10.0, total_gb=24.0, threshold_pct=90.0, source="/admin/status",
                at=0.0)  # 0.9 × 24 − 10 = 11.6 GB free


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    compat.use_navigation_mode(monkeypatch)


def test_the_margin_is_the_servers_own() -> None:
    assert ESTIMATE_MARGIN == 1.15  # what its admission check reserves on a stated size


@pytest.mark.parametrize(("gib_on_disk", "fits"), [
    (10.0, True),  # needs 11.5 of 11.6
    (11.59 / 1.15, True),  # just under the room left
    (10.1, False),  # needs 11.615
    (0.5, True),
])
def test_needed_is_size_on_disk_times_1_15_against_the_room_under_the_threshold(
        gib_on_disk: float, fits: bool) -> None:
    f = fit(DiskModel("org/m", int(gib_on_disk * GIB)), ROOM, frozenset())
    assert f.needed_gb == pytest.approx(int(gib_on_disk * GIB) / GIB * 1.15)
    assert f.free_gb == pytest.approx(0.9 * 24.0 - 10.0)
    assert f.fits is fits


def test_needing_exactly_the_room_left_fits() -> None:
    """The server admits a load whose projection is at the threshold (≤), so does this."""
    at = Fit(DiskModel("org/m", GIB), False, 5.0, 5.0, 90.0)
    assert at.fits is True
    assert Fit(DiskModel("org/m", GIB), False, 5.0 + 1e-9, 5.0, 90.0).fits is False


def test_over_the_threshold_nothing_fits() -> None:
    full = Headroom(22.0, 24.0, 90.0, "/admin/memory", 0.0)
    assert full.free_gb == 0.0
    assert fit(DiskModel("org/tiny", 1), full, frozenset()).fits is False


def test_the_label_says_fits_or_does_not_fit_with_both_figures() -> None:
    big = fit(DiskModel("org/big", 20 * GIB), ROOM, frozenset())
    assert big.label() == "org/big · 20.00 GB · does not fit: needs about 23.0 GB, 11.6 GB free"
    assert big.words() == ("org/big needs about 23.0 GB (20.00 GB on disk × 1.15); 11.6 GB is "
                           "free under the 90 % threshold: it does not fit.")
    small = fit(DiskModel("org/small", 2 * GIB), ROOM, frozenset())
    assert small.label().endswith("· fits: needs about 2.3 GB, 11.6 GB free")
    loaded = fit(DiskModel("org/small", 2 * GIB), ROOM, frozenset({"org/small"}))
    assert loaded.label() == "org/small · 2.00 GB · loaded"


def test_unknown_size_or_memory_gives_no_verdict() -> None:
    assert fit(DiskModel("org/x"), ROOM, frozenset()).fits is None
    assert fit(DiskModel("org/x"), ROOM, frozenset()).label() == "org/x"
    unknown = fit(DiskModel("org/x", GIB), None, frozenset())
    assert unknown.fits is None and unknown.label() == "org/x · 1.00 GB"


def test_the_figures_are_the_admission_checks_own_from_admin_memory_while_fresh() -> None:
    now = [1000.0]
    store = Store(SERVER, clock=lambda: now[0])
    assert headroom(store.snapshot(1)) is None
    store.add_memory(now[0], 6.0, 24.0, 90.0)
    store.set_gauges(updated_at=now[0])
    room = headroom(store.snapshot(1))
    assert room is not None and (room.source, room.free_gb) == ("/admin/status", 21.6 - 6.0)
    now[0] += 5.0
    # as on Linux: psutil's used (8 GB) is less than total − available (24 − 14 = 10 GB),
    # and the server's usage percent, which its admission check reads, is the latter
    store.set_report("memory", MemoryReport(24.0, 8.0, 14.0, 80.0))
    room = headroom(store.snapshot(1))
    assert room is not None and (room.source, room.threshold_pct) == ("/admin/memory", 80.0)
    assert room.free_gb == pytest.approx(24.0 * 0.8 - 10.0)
    now[0] += 30.0  # a newer status poll does not take over while /admin/memory is fresh
    store.add_memory(now[0], 6.0, 24.0, 90.0)
    store.set_gauges(updated_at=now[0])
    room = headroom(store.snapshot(1))
    assert room is not None and room.source == "/admin/memory"
    now[0] += 60.0  # two missed reads later the status poll's figures are the better guess
    store.add_memory(now[0], 6.0, 24.0, 90.0)
    store.set_gauges(updated_at=now[0])
    room = headroom(store.snapshot(1))
    assert room is not None and (room.source, room.free_gb) == ("/admin/status", 21.6 - 6.0)
    store.set_report("memory", MemoryReport(24.0, 8.0, None, 80.0))  # no available: used
    room = headroom(store.snapshot(1))
    assert room is not None and room.free_gb == pytest.approx(24.0 * 0.8 - 8.0)


def test_the_note_calls_it_an_estimate_and_says_the_server_may_evict() -> None:
    from zoneinfo import ZoneInfo

    note = fit_note(ROOM, ZoneInfo("Asia/Tokyo"))
    assert note.startswith("**Fit is an estimate:**")
    assert ("11.6 GB is free under the 90 % threshold (10.0 of 24.0 GB in use as the server "
            "counts it") in note
    # when, as a clock time in the viewer's zone: the form is drawn once, an age would stall
    assert "from /admin/status at 09:00:00)" in note  # the epoch, in Tokyo
    assert "evicts its least recently used model to make room" in note
    assert "server's own words" in note
    assert "once the server has reported its memory" in fit_note(None, ZoneInfo("UTC"))


def test_the_picker_marks_a_model_bigger_than_the_headroom(clean_env, fixed_now) -> None:
    store = Store(SERVER, clock=lambda: fixed_now)
    store.set_connection(ConnState.OPEN, "Connected")
    store.add_memory(fixed_now, 20.0, 24.0, 90.0)  # 1.6 GB free under 90 %
    store.set_gauges(updated_at=fixed_now)
    store.set_models([])
    rows = [{"repo_id": "org/huge-70b", "size_bytes": 40 * GIB},
            {"repo_id": "org/tiny-0.5b", "size_bytes": GIB // 2}]
    at = models_page(store, DiskClient(rows=rows))
    options = at.selectbox(key="load_pick").options
    assert options == [
        "org/huge-70b · 40.00 GB · does not fit: needs about 46.0 GB, 1.6 GB free",
        "org/tiny-0.5b · 0.50 GB · fits: needs about 0.6 GB, 1.6 GB free"]
    captions = " ".join(c.value for c in at.main.caption)
    assert "Fit is an estimate" in captions and "least recently used model" in captions
    assert "1.6 GB is free under the 90 % threshold" in captions
    assert "2 on disk (listed at " in captions and " ago" not in captions  # clock times
    at.selectbox(key="load_pick").select("org/huge-70b").run()
    captions = " ".join(c.value for c in at.main.caption)
    assert "org/huge\\-70b needs about 46\\.0 GB" in captions
    assert "it does not fit" in captions
