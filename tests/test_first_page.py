"""What the app's first run waits for: not the alerting, not the views' imports before the
feed has started, and the page comes before the watch (``bench/first_numbers.py`` times
the whole start in a browser)."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import streamlit_internals as compat
from streamlit.testing.v1 import AppTest
from support import wait_for

from opta_stream.errors import ConfigError
from opta_stream.ui import sources

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
# imported on the first run only after the server's feed has started (the views), or
# after the page (the alerting), or when a Prometheus is configured
LATER = ("opta_stream.watch", "opta_stream.alerting", "opta_stream.feed.prom_reader",
         "opta_stream.views", "opta_stream.charts", "pandas", "altair")


def module_imports(path: str) -> list[str]:
    """The modules a file imports at its top level."""
    names = []
    for node in ast.parse(Path(path).read_text()).body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
            names += [_module(f"{node.module}.{a.name}", node.module) for a in node.names]
    return names


def _module(name: str, parent: str) -> str:
    """``name`` when it is a module, else ``parent`` (``from a import b`` of a name)."""
    try:
        return name if importlib.util.find_spec(name) is not None else parent
    except ModuleNotFoundError:
        return parent


def test_what_app_py_imports_first_leaves_the_views_and_alerting_for_later() -> None:
    first = module_imports(APP)
    assert "opta_stream.ui.sources" in first  # the feed starts from these alone
    code = (f"import sys\nfor m in {first!r}: __import__(m)\n"
            f"print(__import__('json').dumps(sorted(m for m in sys.modules "
            f"if m.startswith({LATER!r}))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert json.loads(out.splitlines()[-1]) == []


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    compat.use_navigation_mode(monkeypatch)


def test_the_first_run_draws_the_page_before_it_asks_for_the_watch(
        clean_env: None, app_shutdown: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A watch that cannot start costs the page nothing: the Overview is drawn, and the
    reason shows after it."""
    def refuse(self: sources.FeedSources) -> None:
        raise ConfigError("external_url must start with http:// or https://")

    monkeypatch.setattr(sources.FeedSources, "alerts", refuse)
    at = AppTest.from_file(APP, default_timeout=15)
    at.secrets.update({"read_only": False})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.header[0].value == "Overview" and any(
        m.label.startswith("Memory") for m in at.metric)
    assert [e.value for e in at.main.error] == [
        "Alerts cannot run: external_url must start with http:// or https://"]


def test_the_first_run_still_starts_the_watch(clean_env: None, app_shutdown: None) -> None:
    at = AppTest.from_file(APP, default_timeout=15)
    at.secrets.update({"read_only": False})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    watch = wait_for(lambda: next(iter(compat.cached_values(sources.shared_watch).values()),
                                  None), 10, "the app's watch")
    assert watch.alive and set(watch.feeds) == {"demo"}
