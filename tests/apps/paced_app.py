"""A live fragment whose pace moves after its third run (tests/test_pace.py).

Run as ``streamlit run tests/apps/paced_app.py``: the fragment is declared at
0.5 s through ``live.fragment``; from the third run on the process's pace says
1.5 s, and the browser must be told so without a full rerun.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import streamlit as st

from opta_stream.ui import live, sources
from opta_stream.ui.pace import Pace


class AfterThree(Pace):
    """0.5 s for the first three runs, 1.5 s after."""

    def __init__(self) -> None:
        super().__init__(0.5, 1.0)
        self.runs = 0

    def ran(self, viewer: Any) -> None:
        self.runs += 1

    def interval_s(self) -> float:
        return 0.5 if self.runs < 3 else 1.5


class PaceOnly:
    """The one part of ``Sources`` a live fragment asks for."""

    def __init__(self) -> None:
        self.paced = AfterThree()

    def pace(self, render_s: float) -> Pace:
        return self.paced


@st.cache_resource
def installed() -> PaceOnly:
    only = PaceOnly()
    sources.install(only)  # type: ignore[arg-type]
    return only


installed()
src: Any = SimpleNamespace(settings=SimpleNamespace(render_s=0.5))


@live.fragment(src, 0.5)
def tick() -> None:
    st.write(f"run {installed().paced.runs}")


tick()
