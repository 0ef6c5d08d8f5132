"""The repository stands alone: a plain clone, with nothing beside it, has all it needs.

Two checks, each shown to fail on a planted mistake first:
- no tracked file names the folder outside the repository the project started from;
- every relative link in README.md and docs/ points at a file that exists.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from support import ROOT

OUTSIDE = ".." + "/shared"  # spelled in two parts so this file does not name it itself
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
REMOTE = ("http://", "https://", "mailto:")


def tracked_files(root: Path) -> list[Path]:
    """What git tracks under ``root`` (every file when it is not a checkout)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return [p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]
    return [root / name for name in out.decode().split("\0") if name]


def outside_references(files: list[Path]) -> list[str]:
    """``path:line`` of every text line that names the folder outside the repository."""
    hits = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # screenshots and other binaries
        hits += [f"{path}:{n}" for n, line in enumerate(text.splitlines(), 1) if OUTSIDE in line]
    return hits


def dead_links(markdown: list[Path]) -> list[str]:
    """``file -> target`` for each relative link whose target does not exist."""
    dead = []
    for doc in markdown:
        for target in LINK.findall(doc.read_text(encoding="utf-8")):
            if target.startswith(REMOTE) or target.startswith("#"):
                continue
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            if not path.exists():
                dead.append(f"{doc.name} -> {target}")
    return dead


def docs(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def test_no_tracked_file_points_outside_the_repository() -> None:
    files = tracked_files(ROOT)
    assert len(files) > 50, "git ls-files found too little: is this a checkout?"
    assert outside_references(files) == []


def test_every_link_in_readme_and_docs_resolves() -> None:
    found = docs(ROOT)
    assert len(found) >= 4  # README, DESIGN, PROTOCOL, ARCHITECTURE at least
    assert dead_links(found) == []


def test_the_checks_catch_a_planted_mistake(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "ok.md").write_text("x")
    (tmp_path / "README.md").write_text(
        f"[fine](ok.md) [web](https://example.test) [gone](docs/missing.md#part) "
        f"![pic](img.png) [top](#top)\n[design]({OUTSIDE}/DESIGN.md)\n")
    assert dead_links(docs(tmp_path)) == [
        "README.md -> docs/missing.md#part", "README.md -> img.png",
        f"README.md -> {OUTSIDE}/DESIGN.md"]
    assert outside_references([tmp_path / "README.md"]) == [f"{tmp_path / 'README.md'}:2"]


def test_captured_fixtures_travel_with_the_repository() -> None:
    lmx = ROOT / "tests" / "fixtures" / "lmx"
    names = {p.name for p in lmx.iterdir()}
    assert {"README.md", "get-admin_status.json", "get-admin_metrics.prom",
            "events-heartbeats.sse"} <= names


def readme_commands(text: str) -> list[str]:
    """The one-line commands in README's bash blocks."""
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    commands = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    test = next(c for c in commands if c.endswith("python -m pytest"))
    run = next(c for c in commands if c.endswith("streamlit run app.py")
               and c.startswith("python3 -m venv"))
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in (test, run):  # Debian's system Python needs a venv for pip
        assert command.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    assert all(step in test for step in ("ruff check .", "lint-imports", "mypy"))


def test_readme_command_check_fails_on_a_mismatch() -> None:
    text = "```bash\npython3 -m venv .venv && pytest\n```\n"
    assert readme_commands(text) == ["python3 -m venv .venv && pytest"]
    assert not any(c.endswith("python -m pytest") for c in readme_commands(text))


def test_the_package_layout_shows_the_flow() -> None:
    """Layered subpackages whose names read in the flow's order (see docs/ARCHITECTURE.md).
    A module's size follows from its one job: there is no line limit."""
    pkg = ROOT / "opta_stream"
    # the vocabulary only (errors, units, snapshot, inputs, settings): at most six modules
    top = {p.name for p in pkg.glob("*.py")} - {"__init__.py", "__main__.py"}
    assert len(top) <= 6, top
    # every module name is unique in the package, so a name says where it lives
    names = [p.name for p in pkg.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
    subpackages = {p.parent.name for p in pkg.glob("*/__init__.py")}
    assert {"wire", "events", "feed", "store", "figures", "charts", "export", "views", "ui",
            "demo"} <= subpackages
