"""The project installs under a distribution name of its own: every install hint names it.

The import name is ``snowplow_tracker`` (a drop-in for the Snowplow Python tracker), but the
distribution ``snowplow-tracker`` on the package index is the official tracker: a hint naming it
would install that one instead of this project.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.scripts import ROOT

DIST_NAME = "snowplow-multiprocess-tracker"
# ``pip install NAME[extra]``, quoted or not: the NAME of every hint with an extra.
HINT = re.compile(r"""pip install (?:-\S+ )*["']?([A-Za-z0-9_.-]+)\[""")


def _documents() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "pyproject.toml"]
    for folder in ("snowplow_tracker", "workers", "perf"):
        files += sorted((ROOT / folder).rglob("*.py"))
        files += sorted((ROOT / folder).rglob("*.md"))
    return [f for f in files if "results" not in f.parts and ".venv-anchor" not in f.parts]


def test_pyproject_names_the_projects_own_distribution() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^name = "([^"]+)"$', text, re.M)[1] == DIST_NAME  # type: ignore[index]


def test_every_install_hint_names_the_projects_own_distribution() -> None:
    """``pip install snowplow-tracker[redis]`` would install the official tracker instead."""
    hints = {}
    for path in _documents():
        for name in HINT.findall(path.read_text(encoding="utf-8")):
            hints.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert DIST_NAME in hints
    assert set(hints) - {DIST_NAME, "."} == set(), hints
