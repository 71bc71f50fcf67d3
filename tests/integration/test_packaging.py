"""The distribution as users get it: ``python -m build`` makes an sdist and a wheel from the
project's files, each carrying the licence, with PEP 639 metadata and no deprecation warning.

The build runs in a copy of the files a release is made of (``build`` creates isolated
environments and fetches ``setuptools`` from the package index, as on a release machine).
"""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from tests.scripts import ROOT

DIST_NAME = "snowplow-multiprocess-tracker"
FILES = ["pyproject.toml", "setup.py", "LICENSE", "README.md"]


def _copy_release_files(dest: Path) -> None:
    for name in FILES:
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(
        ROOT / "snowplow_tracker",
        dest / "snowplow_tracker",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )


def test_sdist_and_wheel_carry_the_licence_and_pep639_metadata(tmp_path: Path) -> None:
    """Both archives hold LICENSE; the metadata names the project's own distribution, the
    licence as an SPDX expression (no License classifier beside it), and the build prints no
    deprecation warning."""
    src = tmp_path / "src"
    src.mkdir()
    _copy_release_files(src)
    out = tmp_path / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    assert "deprecat" not in log.lower(), log[-5000:]

    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
        top = names[0].split("/")[0]
        assert f"{top}/LICENSE" in names
        assert f"{top}/setup.py" in names
        license_text = tar.extractfile(f"{top}/LICENSE")
        assert license_text is not None
        assert b"Apache License" in license_text.read()
    with zipfile.ZipFile(wheel) as whl:
        wheel_names = whl.namelist()
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel_names)
        assert not any(n.split("/")[0] in {"tests", "perf", "workers"} for n in wheel_names)
        (meta_name,) = [n for n in wheel_names if n.endswith(".dist-info/METADATA")]
        meta = email.message_from_bytes(whl.read(meta_name))

    assert meta["Name"] == DIST_NAME
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    classifiers = meta.get_all("Classifier") or []
    assert not [c for c in classifiers if c.startswith("License ::")]
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.9" in classifiers
    assert meta.get_all("Project-URL")
    extras = set(meta.get_all("Provides-Extra") or [])
    assert {"redis", "celery", "metrics", "perf", "test"} <= extras
    test_requires = [r for r in meta.get_all("Requires-Dist") or [] if 'extra == "test"' in r]
    assert not [r for r in test_requires if r.startswith(("matplotlib", "numpy"))]
