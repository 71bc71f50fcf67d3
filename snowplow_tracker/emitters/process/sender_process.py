"""The program of a ``ProcessEmitter`` sender process.

The host starts it as its own interpreter (:func:`~.handles.start_sender`)::

    python -m snowplow_tracker.emitters.process.sender_process \\
        'snowplow-sender[host pid 1234 #0]' collector.example.com --fd 5

``--fd`` is the sender's end of a socket pair to the host: framed messages
(``multiprocessing.connection.Connection``, ``send_bytes``/``recv_bytes``, never pickle), the
first of them the :class:`~.sender.SenderConfig` as JSON (an ``ipc.CONFIG`` message). The
first two arguments are the process title: on Linux the sender also shows them alone as its
command line and ``snowplow-sender`` as its name, so ``ps`` and ``top`` tell senders apart from
the host.

SIGINT arrives blocked (the host blocks it in the thread that starts senders, and the mask is
inherited through ``exec``): the sender ignores it before it unblocks it, so a Ctrl-C to the
process group never interrupts a sender, even while it starts. Only what sending needs is
imported (:mod:`.sender`).
"""

from __future__ import annotations

import signal
import socket
import sys
from multiprocessing.connection import Connection
from typing import List, Optional

from . import ipc
from .sender import SenderConfig, sender_main

#: This module, as ``python -m`` runs it.
MODULE = "snowplow_tracker.emitters.process.sender_process"
#: The process name (``/proc/PID/comm``, what ``top`` shows; 15 bytes at most on Linux).
PROCESS_NAME = b"snowplow-sender"


def set_process_title(title: str) -> None:
    """On Linux, show ``title`` as this process's command line and :data:`PROCESS_NAME` as its
    name; elsewhere, or when ``/proc`` refuses, leave them (the arguments hold the title).

    The command line is the memory of the original arguments (``/proc/self/stat`` gives its
    bounds): ``title`` is written over it, NUL-terminated, and its last byte is made non-NUL,
    which tells the kernel that the command line ends at the first NUL (as ``setproctitle``
    does). The interpreter keeps its own copy of the arguments (``sys.argv``).

    Args:
        title: The new command line; cut to fit the original's length.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        with open("/proc/self/comm", "wb") as comm:
            comm.write(PROCESS_NAME)
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        # proc(5): fields 48 and 49 (arg_start, arg_end); the split starts at field 3.
        start, end = int(fields[48 - 3]), int(fields[49 - 3])
        size = end - start
        text = title.encode("utf-8", "replace")[: max(0, size - 2)]
        if size < 2 or not text:
            return
        area = text + bytes(size - len(text) - 1) + b"."
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            mem.write(area)
    except (OSError, ValueError, IndexError):
        pass  # the arguments still say what this process is


def parse(argv: List[str]) -> Optional[int]:
    """The file descriptor of ``--fd N`` in ``argv``, or None."""
    try:
        return int(argv[argv.index("--fd") + 1])
    except (ValueError, IndexError):
        return None


def serve(conn: Connection) -> None:
    """Run a sender on one channel to a host: read its configuration (the first message), then
    send until it is told to stop, SIGTERM, or the host is gone.

    Args:
        conn: The channel (its socket framed by ``multiprocessing.connection.Connection``).

    Raises:
        ValueError: The first message is not a configuration.
    """
    try:
        message = conn.recv_bytes()
    except (EOFError, OSError):
        conn.close()
        return  # the host is gone before it configured this sender: nothing to send
    if message[:1] != ipc.CONFIG:
        conn.close()
        raise ValueError(f"the host's first message is not a configuration: {message[:1]!r}")
    sender_main(conn, SenderConfig.from_json(message[1:]))


def main(argv: List[str]) -> int:
    """Run one sender; returns the exit status.

    Args:
        argv: ``[title, collector, "--fd", fd]`` (``sys.argv[1:]``).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    fd = parse(argv)
    if fd is None:
        print(f"usage: python -m {MODULE} TITLE COLLECTOR --fd FD", file=sys.stderr)
        return 2
    set_process_title(" ".join(argv[:2]))
    serve(Connection(socket.socket(fileno=fd).detach()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
