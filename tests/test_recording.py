"""Recording and drawing: the elements a view records are made again, in place, for each
viewer, and nobody's draw can change what another viewer gets."""

from __future__ import annotations

from typing import Any

import pandas as pd

from opta_stream.ui import drawing
from opta_stream.views.recording import Column, Recording


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


def page() -> Recording:
    out = Recording()
    out.markdown("**top**")
    left, right = out.columns([3, 2])
    with left, out.container(border=True):
        out.metric("A", "1")  # goes where `with` points
    right.caption("right")  # a column's own call goes into it
    out.caption("after")  # back at the top once the with-blocks closed
    cols = out.columns(2)
    box = cols[1].container()
    box.text("second")  # a block's own call goes into it, whatever `with` says
    return out


def calls(log: list[Any]) -> list[tuple[str, str, tuple[Any, ...]]]:
    return [(p, name, args) for p, name, args, _ in log]


def test_drawing_makes_the_same_calls_in_the_same_places() -> None:
    log: list[Any] = []
    drawing.draw(page(), Fake(log))
    assert calls(log) == [
        ("", "markdown", ("**top**",)),
        ("", "columns", ([3, 2],)),
        ("/c0", "container", ()),
        ("/c0/box", "metric", ("A", "1", None, "normal")),
        ("/c1", "caption", ("right",)),
        ("", "caption", ("after",)),
        ("", "columns", (2,)),
        ("/c1", "container", ()),
        ("/c1/box", "text", ("second",)),
    ]
    assert log[3][3]["border"] is True


def test_one_recording_draws_identically_for_every_viewer() -> None:
    rec = page()
    first: list[Any] = []
    second: list[Any] = []
    drawing.draw(rec, Fake(first))
    drawing.draw(rec, Fake(second))
    assert first == second and len(first) == 9
    assert rec.count() == 9  # 5 elements, 2 sets of columns and 2 containers


def test_what_streamlit_writes_into_one_viewers_chart_spec_never_reaches_another() -> None:
    out = Recording()
    out.chart({"encoding": {"color": {"title": None}}, "datasets": {"d0": b"arrow"}}, key="c")
    seen: list[Any] = []
    drawing.draw(out, Fake(seen))
    given = seen[0][3]["spec"]
    given["encoding"]["color"]["title"] = " "  # what Streamlit 1.67 does to a null title
    again: list[Any] = []
    drawing.draw(out, Fake(again))
    assert again[0][3]["spec"]["encoding"]["color"]["title"] is None
    assert again[0][3]["spec"]["datasets"]["d0"] is given["datasets"]["d0"]  # data is shared


def test_column_settings_are_made_fresh_for_each_viewer() -> None:
    out = Recording()
    out.table(pd.DataFrame({"error %": [1.0]}), columns={"error %": Column("number",
                                                                          format="%.1f")})
    first: list[Any] = []
    second: list[Any] = []
    drawing.draw(out, Fake(first))
    first[0][3]["column_config"]["error %"]["hidden"] = True  # what Streamlit may do
    drawing.draw(out, Fake(second))
    assert "hidden" not in second[0][3]["column_config"]["error %"]
    assert second[0][3]["column_config"]["error %"]["type_config"]["format"] == "%.1f"


def test_prepared_turns_chart_data_and_tables_into_what_streamlit_sends_once() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    out = Recording()
    left, _ = out.columns(2)
    left.chart({"mark": "line", "datasets": {"d0": frame}}, key="c")
    left.table(frame)
    made: list[str] = []
    ready = out.prepared(lambda d: made.append("bytes") or b"arrow",
                         lambda f: made.append("table") or "arrow-table")
    assert made == ["bytes", "table"]
    chart, table = list(ready.walk())[1:]
    assert chart.spec["datasets"] == {"d0": b"arrow"} and table.data == "arrow-table"  # type: ignore[union-attr]
    assert out.walk().__next__() is not ready.walk().__next__()  # the original is untouched
