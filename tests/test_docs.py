"""The docs stay true because the suite reads them against the code (as datasette's do).

- README's settings table lists exactly the settings the code reads
  (``settings.SETTINGS``), secret and environment variable alike, both ways.
- ARCHITECTURE's module map names every module of the package, and only those.
- README carries no test counts or run times: nothing checks them, so they drift.
"""

from __future__ import annotations

import re
from pathlib import Path

from opta_stream.settings import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
ARCHITECTURE = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")


def settings_table(text: str) -> set[tuple[str, str]]:
    """(secret, environment variable) of each row of the README's settings table."""
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| `([A-Z0-9_]+)` \|", text, re.M)
    return set(rows)


def test_the_readme_settings_table_is_what_the_code_reads() -> None:
    documented = settings_table(README)
    read = {(s.secret, s.env) for s in SETTINGS}
    assert documented - read == set(), "documented but not read by the code"
    assert read - documented == set(), "read by the code but not documented"


def module_map(text: str) -> set[str]:
    """``pkg/module.py`` for every module the ARCHITECTURE tables name (a package's rows
    follow its bold ``**`pkg/`**`` heading row; the vocabulary's are top-level)."""
    names: set[str] = set()
    package = ""
    for line in text.splitlines():
        if not line.startswith("| "):
            continue
        first = line.split("|")[1].strip()
        heading = re.fullmatch(r"\*\*`?([a-z_]+)/?`?\*\*", first)
        if heading:
            package = "" if heading.group(1) == "vocabulary" else heading.group(1) + "/"
            continue
        for module in re.findall(r"`([a-z_]+\.py)`", first):
            names.add(package + module)
    return names


def package_modules() -> set[str]:
    pkg = ROOT / "opta_stream"
    return {str(p.relative_to(pkg)) for p in pkg.rglob("*.py")
            if p.name not in ("__init__.py", "__main__.py")}


def test_the_module_map_names_every_module_and_only_those() -> None:
    documented, actual = module_map(ARCHITECTURE), package_modules()
    assert documented - actual == set(), "in ARCHITECTURE.md but not in the package"
    assert actual - documented == set(), "in the package but not in ARCHITECTURE.md"


def test_the_checks_catch_a_planted_mistake() -> None:
    table = "| `lmx_url` | `OPTA_LMX_URL` | x |\n| `gone` | `OPTA_GONE` | y |\n"
    assert settings_table(table) == {("lmx_url", "OPTA_LMX_URL"), ("gone", "OPTA_GONE")}
    doc = ("| **vocabulary** | | |\n| `errors.py` | e | no |\n| **`wire/`** | | |\n"
           "| `sse.py`, `client.py` | s | no |\n")
    assert module_map(doc) == {"errors.py", "wire/sse.py", "wire/client.py"}


def test_the_readme_states_no_test_count_or_run_time() -> None:
    counts = re.findall(r"\b\d[\d,]* tests\b", README)
    times = re.findall(r"(?:takes|in) about \d+(?:\.\d+)? (?:minutes?|seconds?|s)\b", README)
    assert counts == [] and times == []
