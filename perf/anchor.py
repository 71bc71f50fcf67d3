"""The anchor: the published ``snowplow-tracker==1.1.0``, in a virtualenv of its own.

It shares the import name ``snowplow_tracker`` with this project, so it cannot live in the same
environment. :func:`ensure_anchor_venv` creates ``perf/.venv-anchor`` with ``python -m venv``
and installs ``snowplow-tracker==1.1.0 orjson psutil`` with that venv's pip; an existing venv
whose ``snowplow_tracker`` reports 1.1.0 is reused. The anchor variants run ``perf/worker.py``
with that venv's python and ``-I`` (isolated mode: no ``PYTHONPATH``, no script directory on
``sys.path``) from a neutral working directory, so ``import snowplow_tracker`` is the published one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
ANCHOR_VERSION = "1.1.0"
VENV_DIR = ROOT / "perf" / ".venv-anchor"
REQUIREMENTS = [f"snowplow-tracker=={ANCHOR_VERSION}", "orjson", "psutil"]


def venv_python(venv_dir: Path = VENV_DIR) -> Path:
    """The venv's python executable."""
    if sys.platform == "win32":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


def clean_env() -> Dict[str, str]:
    """The environment for anchor processes: no ``PYTHONPATH``, no virtualenv variables."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


def installed_version(venv_dir: Path = VENV_DIR) -> str:
    """The ``snowplow_tracker`` version importable in the venv, or ``""``."""
    python = venv_python(venv_dir)
    if not python.exists():
        return ""
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run(
            [
                str(python),
                "-I",
                "-c",
                "import snowplow_tracker, orjson, psutil; print(snowplow_tracker.__version__)",
            ],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=clean_env(),
            timeout=60,
        )
    return proc.stdout.strip() if proc.returncode == 0 else ""


def ensure_anchor_venv(venv_dir: Path = VENV_DIR, log=print) -> Path:  # type: ignore[no-untyped-def]
    """Create (or reuse) the anchor venv; returns its python.

    Raises:
        RuntimeError: The venv cannot be created or the packages cannot be installed.
    """
    if installed_version(venv_dir) == ANCHOR_VERSION:
        return venv_python(venv_dir)
    log(f"creating the anchor virtualenv {venv_dir} (snowplow-tracker=={ANCHOR_VERSION})")
    venv.EnvBuilder(with_pip=True, clear=True).create(str(venv_dir))
    python = venv_python(venv_dir)
    cmd: List[str] = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    proc = subprocess.run(
        cmd + REQUIREMENTS, capture_output=True, text=True, env=clean_env(), timeout=600
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(REQUIREMENTS)} failed:\n{proc.stderr[-3000:]}")
    version = installed_version(venv_dir)
    if version != ANCHOR_VERSION:
        raise RuntimeError(
            f"the anchor venv imports snowplow_tracker {version!r}, not {ANCHOR_VERSION}"
        )
    return python
