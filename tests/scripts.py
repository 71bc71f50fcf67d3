"""Run a short Python script in a fresh interpreter that imports this checkout's library."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Optional

import snowplow_tracker

ROOT = Path(snowplow_tracker.__file__).resolve().parents[1]


def run_script(code: str, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``python -c code args...`` with text pipes for stdout and stderr."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def run_to_end(code: str, *args: str, timeout: float = 60.0) -> str:
    """Run the script to its end (bounded); assert it exited 0 and return its stdout."""
    proc = run_script(code, *args)
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def run_file(path: Path, *args: str, env: Optional[Dict[str, str]] = None) -> subprocess.Popen[str]:
    """Start ``python path args...`` in ``path``'s folder, as a user runs a saved script.

    Args:
        path: The script (its folder is the working directory and ``sys.path[0]``).
        args: Its command-line arguments.
        env: Extra environment variables.
    """
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.Popen(
        [sys.executable, str(path), *args],
        env=full_env,
        cwd=path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
