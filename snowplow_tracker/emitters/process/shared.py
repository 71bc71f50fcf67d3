"""The host's side of a shared sender pool (``ProcessEmitter(shared_pool=True)``).

One set of sender processes serves every process of a user on a machine (the workers of a
gunicorn server, say) that sends to the same collector with the same settings. Shared sender
``i`` listens on a Unix socket ``<key>-<i>.sock`` in a private folder (:func:`pool_directory`,
mode 0700, owned by the user), where ``<key>`` digests the Python, the library version, the
collector and the settings that change sending. Each host connects to it in place of starting a
sender: its :class:`~snowplow_tracker.emitters.process.pool.SenderPool` keeps a
:class:`~snowplow_tracker.emitters.process.handles.SenderHandle` per connection whose
``process`` is a :class:`SharedLink`, and writes the same messages as to its own sender. The
shared sender (:mod:`~snowplow_tracker.emitters.process.server`) acknowledges each host's
micro-batches on that host's connection, after delivery, so the host keeps them until then: when
a connection ends (the sender was killed or stopped) the host hands what it holds to another
sender or to the sender it starts again.

Whoever finds no sender listening takes an exclusive ``flock`` on ``<key>-<i>.lock`` and starts
one, detached (its own session, so that a signal to the host's process group does not reach it).
The sender keeps that lock for as long as it listens: a host that gets the lock knows that the
socket left behind, if any, is stale. A sender with no host left exits after
:data:`IDLE_TIMEOUT` seconds; SIGTERM makes it finish what it holds and exit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import os
import socket
import stat
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Optional

from ..._logging import logger
from ..._version import VERSION
from ...errors import SenderStartError
from .handles import SENDER_START_TIMEOUT, START_LOCK, SenderHandle, sender_environment
from .sender import SenderConfig

#: The environment variable that turns the shared pool on for emitters that do not choose
#: (``1``, ``true``, ``yes`` or ``on``).
ENV_VAR = "SNOWPLOW_TRACKER_SHARED_POOL"
#: Seconds a host waits for another host that is starting the same sender.
LOCK_TIMEOUT = 5.0
#: The module run as a shared sender (``python -m``; its name shows in ``ps``).
SERVER_MODULE = "snowplow_tracker.emitters.process.server"
_PEERCRED = struct.Struct("3i")


def shared_by_default() -> bool:
    """Whether :data:`ENV_VAR` turns the shared pool on."""
    return os.environ.get(ENV_VAR, "").strip().lower() in ("1", "true", "yes", "on")


def pool_directory() -> str:
    """``$XDG_RUNTIME_DIR/snowplow-tracker`` when that is set, else
    ``/tmp/snowplow-tracker-<uid>``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "snowplow-tracker")
    return f"/tmp/snowplow-tracker-{os.getuid()}"


def private_directory(path: str) -> Optional[str]:
    """Create ``path`` (mode 0700) unless it exists; returns why it cannot be used, or None.

    A folder that is a symbolic link, belongs to another user or that other users can enter is
    refused: its sockets could be someone else's.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        return f"cannot create {path}: {exc}"
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a folder"
    if info.st_uid != os.getuid():
        return f"{path} belongs to uid {info.st_uid}, not to this process's uid {os.getuid()}"
    if info.st_mode & 0o077:
        return f"{path} is open to other users (mode {stat.S_IMODE(info.st_mode):o})"
    return None


@dataclass(frozen=True)
class SharedSpec:
    """Where the shared senders of one collector and settings listen.

    Attributes:
        directory: The private folder of their sockets and lock files.
        key: The digest of the Python, the library version, the collector and the settings.
    """

    directory: str
    key: str

    def path(self, index: int, suffix: str) -> str:
        """``<directory>/<key>-<index>.<suffix>``."""
        return os.path.join(self.directory, f"{self.key}-{index}.{suffix}")


def shared_spec(config: SenderConfig, where: str) -> Optional[SharedSpec]:
    """The shared pool for ``config``, or None (logged) when its folder cannot be used."""
    directory = pool_directory()
    problem = private_directory(directory)
    if problem is not None:
        logger.warning("%s: shared_pool: %s; starting this emitter's own senders", where, problem)
        return None
    sending = (sys.executable, VERSION, config.transport, config.limits, config.retry_policy)
    digest = hashlib.sha256(repr((*sending, config.max_in_flight)).encode()).hexdigest()
    return SharedSpec(directory, digest[:16])


class SharedLink:
    """Stands for a shared sender in a :class:`SenderHandle`: "exits" when its connection ends.

    The host never signals a shared sender: :meth:`terminate` and :meth:`kill` end this host's
    connection. ``sentinel`` is the connection (readable on a message or its end); the pool's
    listener calls :meth:`hang_up` when it reads the end.
    """

    def __init__(self, conn: Connection, pid: int) -> None:
        self.conn = conn
        self.pid = pid
        self.sentinel = conn
        self.exitcode: Optional[int] = None

    def hang_up(self) -> None:
        """The connection ended."""
        self.exitcode = 0

    def is_alive(self) -> bool:
        return self.exitcode is None

    def join(self, timeout: Optional[float] = None) -> None:
        end = time.monotonic() + (timeout or 0.0)
        while self.exitcode is None and time.monotonic() < end:
            time.sleep(0.01)

    def terminate(self) -> None:
        """End this host's connection (both ways; the descriptor stays open until closed)."""
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(self.conn.fileno())) as s:
            s.shutdown(socket.SHUT_RDWR)

    kill = terminate

    def close(self) -> None:
        """Nothing to release (the pool closes the connection)."""

    abandon = close


def _connect(path: str) -> Optional[SharedLink]:
    """Connect to the sender listening at ``path``; None when none does."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(LOCK_TIMEOUT)
        sock.connect(path)
        sock.settimeout(None)
        cred = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    except OSError:  # no socket, refused (stale), or too busy: start it or wait for it
        sock.close()
        return None
    pid, uid, _ = _PEERCRED.unpack(cred)
    if uid not in (os.getuid(), 0):
        sock.close()
        raise PermissionError(f"{path}: the shared sender runs as uid {uid}")
    return SharedLink(Connection(sock.detach()), pid)


def _lock_or_connect(lock: int, path: str) -> Optional[SharedLink]:
    """Take the lock (None: no sender listens, start it), or connect to the sender that
    another host is starting meanwhile.

    Raises:
        TimeoutError: Neither within :data:`LOCK_TIMEOUT` seconds.
    """
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            link = _connect(path)
            if link is not None:
                return link
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{path}: no answer within {LOCK_TIMEOUT:g} s") from None
            time.sleep(0.02)


def _launch(path: str, lock: int, config: SenderConfig) -> None:
    """Start the sender of ``path`` in a new session; it returns once the sender listens.

    Raises:
        SenderStartError: It could not start (its standard error in the message).
    """
    config = dataclasses.replace(config, log_level=logger.getEffectiveLevel())
    title = f"snowplow-sender[shared {path}] {config.target}"
    flags = ["-P"] if sys.version_info >= (3, 11) else []  # as a sender's (handles)
    proc = subprocess.run(
        [sys.executable, *flags, "-m", SERVER_MODULE, title, path, str(lock)],
        input=config.to_json(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=(lock,),
        start_new_session=True,
        timeout=SENDER_START_TIMEOUT,
        env=sender_environment(),
        check=False,
    )
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()[-2000:]
        raise SenderStartError(
            f"the shared sender {path} exited with code {proc.returncode} before it listened: {err}"
        )


def connect_shared(spec: SharedSpec, config: SenderConfig, index: int) -> SenderHandle:
    """Connect to shared sender ``index``, starting it when none listens.

    Raises:
        SenderStartError: The sender could not start.
        OSError: No sender answered (another host is starting it): try again later.
    """
    path = spec.path(index, "sock")
    link = _connect(path)
    if link is None:
        # Held while the lock file is open, as around every fork: a child must not inherit it.
        with START_LOCK:
            lock = os.open(spec.path(index, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                link = _lock_or_connect(lock, path)
                if link is None:
                    _launch(path, lock, config)  # the sender holds the lock from now on
                    link = _connect(path)
            finally:
                os.close(lock)
        if link is None:
            raise ConnectionRefusedError(f"{path}: the shared sender does not answer")
    return SenderHandle(index, link, link.conn, started_at=time.monotonic())
