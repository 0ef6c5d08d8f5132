"""Recorder and replay: the calls a page records are made again, in place, for each viewer."""

from __future__ import annotations

from typing import Any

import pytest

from opta_stream.views.recording import Recorder, replay


class Fake:
    """Stands in for ``st``: logs each call with the path of the block it went to."""

    def __init__(self, log: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]],
                 path: str = "") -> None:
        self.log, self.path = log, path

    def columns(self, spec: Any, **kwargs: Any) -> list[Fake]:
        n = spec if isinstance(spec, int) else len(spec)
        self.log.append((self.path, "columns", (spec,), kwargs))
        return [Fake(self.log, f"{self.path}/c{i}") for i in range(n)]

    def container(self, **kwargs: Any) -> Fake:
        self.log.append((self.path, "container", (), kwargs))
        return Fake(self.log, f"{self.path}/box")

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self.log.append((self.path, name, args, kwargs))


def page() -> Recorder:
    out = Recorder()
    out.markdown("**top**")
    left, right = out.columns([3, 2])
    with left, out.container(border=True):
        out.metric("A", "1", border=True)  # goes where `with` points
    right.caption("right")  # a column's own call goes into it
    out.caption("after")  # back at the top once the with-blocks closed
    cols = out.columns(2)
    cols[1].text("second")
    return out


def test_replay_makes_the_same_calls_in_the_same_places():
    log: list[Any] = []
    replay(page().ops, Fake(log))
    assert [(p, name, args) for p, name, args, _ in log] == [
        ("", "markdown", ("**top**",)),
        ("", "columns", ([3, 2],)),
        ("/c0", "container", ()),
        ("/c0/box", "metric", ("A", "1")),
        ("/c1", "caption", ("right",)),
        ("", "caption", ("after",)),
        ("", "columns", (2,)),
        ("/c1", "text", ("second",)),
    ]
    assert log[3][3] == {"border": True}


def test_one_recording_replays_identically_for_every_viewer():
    rec = page()
    first: list[Any] = []
    second: list[Any] = []
    replay(rec.ops, Fake(first))
    replay(rec.ops, Fake(second))
    assert first == second and len(first) == 8
    assert rec.count() == 8  # 5 elements, 2 sets of columns and 1 container


def test_each_viewer_gets_its_own_column_config_dicts():
    out = Recorder()
    config = {"error %": {"type_config": {"format": "%.1f"}}}
    out.dataframe("table", column_config=config)
    seen: list[Any] = []
    replay(out.ops, Fake(seen))
    given = seen[0][3]["column_config"]["error %"]
    given["hidden"] = True  # what Streamlit may do to it
    assert "hidden" not in config["error %"]


def test_an_element_the_recorder_does_not_know_is_an_error():
    with pytest.raises(AttributeError):
        Recorder().slider  # noqa: B018 - widgets are drawn per viewer, never recorded
