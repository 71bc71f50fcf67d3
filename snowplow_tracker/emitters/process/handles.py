"""The host's side of a ``ProcessEmitter``'s sender processes: starting one, its handle, and
the micro-batches it is given.

A sender is started as its own interpreter running :mod:`.sender_process` (``subprocess``, not
``multiprocessing``): it imports only what sending needs, never runs the host's main module
(no ``if __name__ == "__main__":`` guard is needed), and needs no ``multiprocessing`` resource
tracker. It talks to the host over a socket pair, framed by
``multiprocessing.connection.Connection``, and a pipe tells the host when it exited.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing.spawn
import os
import signal
import site
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Union

from ..._logging import logger
from . import ipc
from .sender import SenderConfig
from .sender_process import MODULE

if TYPE_CHECKING:
    from .shared import SharedLink

#: Exit codes of a sender that was stopped, not one that failed: it drained and returned, or
#: SIGTERM ended it before its handler was installed.
STOPPED_EXIT_CODES = (0, -signal.SIGTERM)
#: Seconds a sender process may take to start (to send its READY message) before it is stopped
#: and counted as one that could not start.
SENDER_START_TIMEOUT = 60.0

#: Held while a sender process starts, and taken around every ``os.fork()`` of the host (see
#: :func:`install_fork_guard`): a fork in the middle of a start would give the child copies of
#: the new sender's ends of its socket pair and exit pipe, and the host would not see the sender
#: exit while the child holds them.
_START_LOCK = threading.RLock()
#: The same lock, for the host that starts a shared sender (:mod:`.shared`).
START_LOCK = _START_LOCK
_fork_guard_installed = False


def install_fork_guard() -> None:
    """Hold the sender start lock around every ``os.fork()`` (once per process)."""
    global _fork_guard_installed
    if not _fork_guard_installed:
        _fork_guard_installed = True
        os.register_at_fork(
            before=_START_LOCK.acquire,
            after_in_parent=_START_LOCK.release,
            after_in_child=_START_LOCK.release,
        )


class SenderProcess:
    """A running sender program, with what the pool uses of a ``multiprocessing.Process``.

    Args:
        popen: The started process.
        sentinel: The read end of its exit pipe: readable (end of file) once it exited.
    """

    def __init__(self, popen: subprocess.Popen[bytes], sentinel: int) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.sentinel = sentinel

    @property
    def exitcode(self) -> Optional[int]:
        """Its exit status (``-N`` when signal N ended it), or None while it runs."""
        return self.popen.poll()

    def is_alive(self) -> bool:
        return self.popen.poll() is None

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait up to ``timeout`` seconds for it to exit (and reap it)."""
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    def terminate(self) -> None:
        """SIGTERM: it drains within ``SIGTERM_GRACE``."""
        if self.popen.poll() is None:
            self.popen.terminate()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()

    def close(self) -> None:
        """Close the exit pipe (the process is gone or abandoned)."""
        sentinel, self.sentinel = self.sentinel, -1
        if sentinel >= 0:
            try:
                os.close(sentinel)
            except OSError:
                pass

    def abandon(self) -> None:
        """In a forked child of the host: close the exit pipe, and never wait for the process
        (it is the parent's child; ``subprocess`` would otherwise poll it and warn about it)."""
        self.close()
        if self.popen.returncode is None:
            self.popen.returncode = 0


@dataclass
class SenderHandle:
    """The host's side of one sender process."""

    index: int
    process: Union[SenderProcess, SharedLink]  # a shared sender: the host's connection
    conn: Connection
    in_flight: int = 0
    # The channel is closed by whoever finishes last: the feeder thread writing to it, or the
    # listener thread that saw the process exit. Closing it under a write would make the
    # writer use a closed (or reused) file descriptor.
    writing: bool = False
    exited: bool = False
    ready: bool = False  # it sent READY: it runs
    late: bool = False  # stopped because it was not ready within SENDER_START_TIMEOUT
    started_at: float = 0.0  # time.monotonic() when it was started

    def log(self, message: bytes) -> None:
        """Log the sender's record (an ``L`` message) on the host's ``snowplow_tracker`` logger.

        Its logger name is kept when it is ``snowplow_tracker`` or below it; the sender
        process id is in the record as ``sender_pid``.
        """
        level, name, text = ipc.unpack_log(message)
        if name != logger.name and not name.startswith(logger.name + "."):
            name = logger.name
        target = logging.getLogger(name)
        if target.isEnabledFor(level):
            target.log(level, "%s", text, extra={"sender_pid": self.process.pid})


class MicroBatch:
    """A sealed micro-batch: one pipe message, a unit of the host queue until its ack."""

    __slots__ = ("count", "done", "left", "message", "sender", "size", "ticket")

    def __init__(self, ticket: int, message: bytearray, count: int, size: int) -> None:
        self.ticket = ticket  # its id in the pipe messages
        self.message = message
        self.count = count
        self.left = count  # events whose outcome is not counted yet (queued or in flight)
        self.size = size  # bytes counted against max_queue_bytes
        self.sender = -1  # the sender holding it; -1 when waiting or acknowledged
        self.done: Optional[Set[int]] = None  # indices already reported (progress messages)

    def undone(self) -> List[bytes]:
        """The events whose outcome is not known yet."""
        events = ipc.batch_events(self.message)
        if not self.done:
            return events
        return [e for i, e in enumerate(events) if i not in self.done]


def sender_command(title: str, target: str) -> List[str]:
    """The command line of a sender, but for its ``--fd``: this interpreter
    (``multiprocessing.set_executable`` sets another) running :mod:`.sender_process` with
    ``title`` and ``target`` shown by ``ps``.

    Args:
        title: ``snowplow-sender[host pid P #i]``.
        target: The collector, without credentials.
    """
    flags: List[str] = []
    if sys.flags.dont_write_bytecode:
        flags.append("-B")
    if sys.flags.no_user_site:
        flags.append("-s")
    if sys.flags.optimize:
        flags.append("-" + "O" * sys.flags.optimize)
    if sys.version_info >= (3, 11):
        flags.append("-P")  # the current directory cannot shadow the modules a sender imports
    executable = os.fsdecode(multiprocessing.spawn.get_executable() or sys.executable)
    return [executable, *flags, "-m", MODULE, title, target]


def sender_environment() -> Dict[str, str]:
    """The environment of a sender: this process's, with the directory this package was
    imported from first on ``PYTHONPATH`` when it is not a site directory (a source tree, the
    script's directory, a ``sys.path`` entry added at run time)."""
    env = dict(os.environ)
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    sites = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    user_site = site.getusersitepackages() if hasattr(site, "getusersitepackages") else None
    if user_site:
        sites.append(user_site)
    known = {os.path.realpath(p) for p in sites}
    if os.path.realpath(package) not in known:
        paths = [package, *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
        env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def start_sender(config: SenderConfig, index: int) -> SenderHandle:
    """Start sender process ``index`` and send it its configuration; returns its handle.

    Raises:
        Exception: The process could not start (logged).
    """
    title = f"snowplow-sender[host pid {config.host_pid} #{index}]"
    # The logging level as configured now (senders start at first use, usually after the
    # application configured logging): the sender sends the records it passes to the host.
    level = logger.getEffectiveLevel()
    config_message = ipc.CONFIG + dataclasses.replace(config, log_level=level).to_json()
    # A new sender inherits this mask through fork and exec: a Ctrl-C to the process group
    # cannot interrupt it while it starts, before sender_process ignores SIGINT.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    command = sender_command(title, config.target)
    env = sender_environment()
    with _START_LOCK:  # no fork of the host gets the sender's ends of its socket and pipe
        host_sock, child_sock = socket.socketpair()
        exit_r, exit_w = os.pipe()
        try:
            popen = subprocess.Popen(
                [*command, "--fd", str(child_sock.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=(child_sock.fileno(), exit_w),
                env=env,
            )
        except Exception:
            host_sock.close()
            os.close(exit_r)
            logger.exception("could not start sender process %d", index)
            raise
        finally:
            child_sock.close()
            os.close(exit_w)
    conn = Connection(host_sock.detach())
    handle = SenderHandle(index, SenderProcess(popen, exit_r), conn, started_at=time.monotonic())
    try:
        conn.send_bytes(config_message)
    except OSError:
        pass  # it exited already: the listener sees it
    return handle
