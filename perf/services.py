"""The servers and workers some variants need: ``redis-server``, a RedisWorker, a Celery worker.

Each is a subprocess in a session of its own, started on a free loopback port where it listens,
waited for with a bounded timeout, and always stopped (SIGTERM, then SIGKILL) by the caller's
``try/finally`` and by an ``atexit`` safety net.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Sequence

from snowplow_tracker.testing import RedisServer

from .collector import ROOT, repo_env

__all__ = ["CeleryWorkerProcess", "RedisServer", "RedisWorkerProcess", "workdir"]

_started: List[subprocess.Popen[bytes]] = []


def _stop_all_at_exit() -> None:
    for proc in _started:
        stop_process(proc, 3.0)


atexit.register(_stop_all_at_exit)


def stop_process(proc: Optional[subprocess.Popen[bytes]], timeout: float = 10.0) -> None:
    """SIGTERM the process (and its session), wait (bounded), then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except OSError:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        proc.wait(5)


def start_process(
    argv: Sequence[str], log_file: Path, env: Optional[dict] = None
) -> subprocess.Popen[bytes]:  # type: ignore[type-arg]
    """Start ``argv`` in its own session, output to ``log_file``; remembered for ``atexit``."""
    log = open(log_file, "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
            env=env if env is not None else repo_env(),
            start_new_session=True,
        )
    finally:
        log.close()
    _started.append(proc)
    return proc


class RedisWorkerProcess:
    """``python -m snowplow_tracker.emitters.redis.cli`` draining ``key`` into the collector."""

    def __init__(self, redis_url: str, key: str, host: str, port: int, workdir: Path) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "snowplow_tracker.emitters.redis.cli",
            "--redis-url",
            redis_url,
            "--key",
            key,
            "--endpoint",
            host,
            "--port",
            str(port),
            "--process-count",
            "1",
            "--buffer-size",
            "100",
            "--block-timeout",
            "0.2",
            "--log-level",
            "WARNING",
        ]
        self.log = workdir / f"redis-worker-{key}.log"
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self) -> RedisWorkerProcess:
        """Start it (it connects to Redis and waits for items)."""
        self.proc = start_process(self.argv, self.log)
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise RuntimeError(f"the Redis worker exited: {self.log.read_text()[-2000:]}")
        return self

    def stop(self) -> None:
        """SIGTERM: it finishes its batch and exits."""
        stop_process(self.proc, 30.0)


class CeleryWorkerProcess:
    """``celery -A snowplow_tracker.emitters worker`` with a Redis broker."""

    def __init__(
        self, redis_url: str, workdir: Path, allowed_endpoints: str, concurrency: int = 2
    ) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "snowplow_tracker.emitters",
            "worker",
            "--concurrency",
            str(concurrency),
            "--pool",
            "prefork",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        self.env = repo_env()
        self.env["SNOWPLOW_CELERY_BROKER_URL"] = redis_url
        self.env["CELERY_BROKER_URL"] = redis_url
        self.env["SNOWPLOW_CELERY_ALLOWED_ENDPOINTS"] = allowed_endpoints
        self.log = workdir / "celery-worker.log"
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self, timeout: float = 60.0) -> CeleryWorkerProcess:
        """Start it and wait (bounded) until it logs that it is ready."""
        self.proc = start_process(self.argv, self.log, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Celery worker exited: {self.log.read_text()[-3000:]}")
            if self.log.exists() and b"ready." in self.log.read_bytes():
                return self
            time.sleep(0.2)
        raise RuntimeError(
            f"the Celery worker was not ready in {timeout} s: {self.log.read_text()[-3000:]}"
        )

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), bounded."""
        stop_process(self.proc, 30.0)


def workdir() -> Path:
    """A fresh temporary folder for server files and logs."""
    return Path(tempfile.mkdtemp(prefix="snowplow-perf-"))
