"""The host's side of a ``ProcessEmitter``'s sender processes: starting one, its handle, and
the micro-batches it is given."""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import multiprocessing.process
import os
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from typing import Any, List, Optional, Set

from ..._logging import logger
from . import ipc
from .sender import SenderConfig, sender_main

#: Exit codes of a sender that was stopped, not one that failed: it drained and returned, or
#: SIGTERM ended it before its handler was installed.
STOPPED_EXIT_CODES = (0, -signal.SIGTERM)
#: Seconds a sender process may take to start (to send its READY message) before it is stopped
#: and counted as one that could not start.
SENDER_START_TIMEOUT = 60.0

#: How to guard a script's entry point, for the start errors.
GUARD_ADVICE = (
    "With the 'spawn' and 'forkserver' start methods each new process runs the main script "
    "again: put the code that creates the tracker and tracks under "
    "`if __name__ == \"__main__\":` (or use start_method='fork')."
)

#: Held while a sender process starts, and taken around every ``os.fork()`` of the host (see
#: :func:`install_fork_guard`): a fork in the middle of ``Process.start()`` would copy
#: multiprocessing's internal locks in the held state and the child could never start senders.
_START_LOCK = threading.RLock()
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


def importing_main() -> bool:
    """Whether this process is a ``spawn``/``forkserver`` child still importing the main module
    of the process that started it (``multiprocessing`` refuses to start processes then)."""
    return bool(getattr(multiprocessing.process.current_process(), "_inheriting", False))


@dataclass
class SenderHandle:
    """The host's side of one sender process."""

    index: int
    process: Any  # multiprocessing.Process of the chosen context
    conn: Connection
    in_flight: int = 0
    # The pipe is closed by whoever finishes last: the feeder thread writing to it, or the
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


def start_sender(context: Any, config: SenderConfig, index: int) -> SenderHandle:
    """Start sender process ``index`` from ``context``; returns its handle.

    Raises:
        Exception: The process could not start (logged).
    """
    host_conn, child_conn = context.Pipe(duplex=True)
    # The logging level as configured now (senders start at first use, usually after the
    # application configured logging): the sender sends the records it passes to the host.
    config = dataclasses.replace(config, log_level=logger.getEffectiveLevel())
    process = context.Process(
        target=sender_main, args=(child_conn, config), name=f"snowplow-sender-{index}", daemon=False
    )
    try:
        # Under the start lock, which every os.fork() of the host takes: a fork while the
        # resource tracker is being launched would copy its lock held, and the child could
        # never start a sender.
        with _START_LOCK:
            if context.get_start_method() != "fork":
                # Launching the resource tracker (at the first spawn or forkserver start)
                # unblocks SIGINT in the launching thread when it is done: launch it first.
                resource_tracker.ensure_running()
            # A new sender inherits this mask through fork and exec: a Ctrl-C to the process
            # group cannot interrupt it while it starts, before sender_main ignores SIGINT.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            process.start()
    except Exception:
        host_conn.close()
        logger.exception("could not start sender process %d", index)
        raise
    finally:
        child_conn.close()
    return SenderHandle(index, process, host_conn, started_at=time.monotonic())
