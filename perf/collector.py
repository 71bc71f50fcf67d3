"""The collectors the suite sends to, each in a subprocess of its own.

- :class:`CollectorProcess` runs the project's embedded collector
  (``python -m snowplow_tracker.testing --mode count``): it only counts events and
  distinct ``eid`` values, so that it is not the bottleneck; its CPU use is reported.
- :class:`LatencySink` runs :mod:`perf.latency_sink`: the same collector in record mode, which
  notes for every event the ``time.time_ns()`` at which it arrived. The tracked event's label
  (``se_la``) carries the ``time.time_ns()`` of the ``track_*`` call, so latency is the
  difference of two readings of the same system clock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TypeVar

ROOT = Path(__file__).resolve().parents[1]
_S = TypeVar("_S", bound="_ServerProcess")


def repo_env() -> Dict[str, str]:
    """The environment for subprocesses that import this repository's ``snowplow_tracker``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class _ServerProcess:
    """A subprocess that prints ``listening on http://127.0.0.1:PORT`` when ready."""

    name = "server"

    def __init__(self, argv: Sequence[str], timeout: float = 30.0) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.host = "127.0.0.1"
        self.port = 0
        self._lines: List[bytes] = []

    def start(self: _S) -> _S:
        """Start the process and wait (bounded) for its ``listening on`` line."""
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(ROOT),
            env=repo_env(),
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        found = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                if not found.is_set() and line.startswith(b"listening on "):
                    url = line.split(b" ", 2)[2].strip().decode()
                    hostport = url.split("://", 1)[1]
                    self.host, port = hostport.rsplit(":", 1)
                    self.port = int(port)
                    found.set()
                else:
                    self._lines.append(line)

        threading.Thread(target=read, daemon=True, name=f"perf-{self.name}-out").start()
        if not found.wait(self.timeout):
            err = self._stderr()
            self.stop()
            raise RuntimeError(f"{self.name} did not start within {self.timeout} s: {err}")
        return self

    def _stderr(self) -> str:
        if self.proc is None or self.proc.stderr is None:
            return ""
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read().decode(errors="replace")[-2000:]

    @property
    def url(self) -> str:
        """``http://HOST:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """The process id."""
        assert self.proc is not None
        return self.proc.pid

    def _get(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            self.url + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stats(self) -> Dict[str, Any]:
        """The collector's ``GET /_stats`` counts."""
        data: Dict[str, Any] = self._get("/_stats")
        return data

    def reset(self) -> None:
        """``POST /_reset``: forget every count."""
        self._get("/_reset", method="POST")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait (bounded), SIGKILL if needed."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class CollectorProcess(_ServerProcess):
    """The project's collector in count mode on a free loopback port."""

    name = "collector"

    def __init__(self) -> None:
        super().__init__(
            [
                sys.executable,
                "-m",
                "snowplow_tracker.testing",
                "--mode",
                "count",
                "--port",
                "0",
            ]
        )


class LatencySink(_ServerProcess):
    """The project's collector in record mode, noting each event's arrival time."""

    name = "latency-sink"

    def __init__(self, out_file: Path) -> None:
        super().__init__([sys.executable, "-m", "perf.latency_sink", "--out", str(out_file)])
        self.out_file = out_file

    def arrivals(self, timeout: float = 15.0) -> List[List[int]]:
        """Stop the sink and read its ``[[sent_ns, received_ns], ...]`` pairs."""
        self.stop(timeout)
        deadline = time.monotonic() + timeout
        while not self.out_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        data: List[List[int]] = json.loads(self.out_file.read_text())
        return data
