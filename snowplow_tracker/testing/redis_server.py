"""A throw-away ``redis-server`` on a free loopback port, for tests and benchmarks.

Example:
    ::

        from snowplow_tracker.testing import RedisServer

        with RedisServer() as server:
            emitter = RedisEmitter(url=server.url)
            ...

The server keeps nothing on disk (``--save "" --appendonly no``) and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List, Optional


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (another process may still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def find_redis_server() -> str:
    """The path of the ``redis-server`` binary.

    Raises:
        RuntimeError: It is not installed.
    """
    binary = shutil.which("redis-server")
    if binary is None and Path("/usr/bin/redis-server").exists():
        binary = "/usr/bin/redis-server"
    if binary is None:
        raise RuntimeError(
            "redis-server not found on PATH: install it (apt-get install redis-server)"
        )
    return binary


class RedisServer:
    """A ``redis-server`` process started on a free port of 127.0.0.1.

    Args:
        workdir: Directory for its log (and working directory); a temporary one by default.
    """

    def __init__(self, workdir: Optional[Path] = None) -> None:
        self._own_dir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="redis-")) if workdir is None else workdir
        self.port = 0
        self.process: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return self.url_for(0)

    def url_for(self, db: int) -> str:
        """The URL of database ``db`` on this server."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def _command(self, binary: str) -> List[str]:
        return [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.workdir),
            "--loglevel", "warning",
            "--logfile", str(self.workdir / f"redis-{self.port}.log"),
        ]  # fmt: skip

    def start(self, timeout: float = 10.0, attempts: int = 3) -> RedisServer:
        """Start the server and wait until it answers PING.

        Args:
            timeout: Seconds to wait for each attempt.
            attempts: Ports to try (another process may take the free port first).

        Raises:
            RuntimeError: ``redis-server`` is missing or did not answer in time.
        """
        binary = find_redis_server()
        for _ in range(attempts):
            self.port = free_port()
            self.process = subprocess.Popen(
                self._command(binary),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=self.workdir,
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                if _ping(self.port):
                    return self
                time.sleep(0.05)
            self.stop()
        raise RuntimeError(f"redis-server did not start; see the logs in {self.workdir}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s); idempotent."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
