"""A shared sender: one sender process that serves several hosts over a Unix socket.

Run by a host (:func:`~snowplow_tracker.emitters.process.shared.connect_shared`) as
``python -m snowplow_tracker.emitters.process.server TITLE SOCKET LOCK_FD``, in a session of its
own, with its :class:`~snowplow_tracker.emitters.process.sender.SenderConfig` as JSON on
standard input. It forks: the child shows ``TITLE`` as its command line
(``snowplow-sender[shared SOCKET] collector``), listens on ``SOCKET`` and serves, and the
parent exits once the child listens (0) or failed (1), so the host knows, and the sender is
nobody's child to reap.

Each accepted connection is one host, served by a
:class:`~snowplow_tracker.emitters.process.sender.Sender` of its own (its batches, its
acknowledgements, the same messages as over a sender's pipe); they share one request pool. A
host's ``S`` message means "this host is done": its connection is closed once every micro-batch
it sent is acknowledged. The sender exits :data:`IDLE_TIMEOUT` seconds after its last
host left and its last request ended, and on SIGTERM (it delivers what it holds within
:data:`~.sender.SIGTERM_GRACE` seconds of retries; its hosts send the rest again). It gives up
its socket and lock before it finishes, so that a host can start its successor at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from multiprocessing.connection import Connection, wait
from typing import Any, Dict, List, Optional

from . import ipc
from .sender import LIVENESS_INTERVAL, Sender, SenderConfig, drain_on_sigterm, forward_logs
from .sender_process import set_process_title

#: Seconds a shared sender lives on after its last host disconnected.
IDLE_TIMEOUT = 2.0


class SharedServer(Sender):
    """The loop of a shared sender (see the module docstring).

    Args:
        listener: The listening socket.
        path: Its path (removed when the sender stops listening).
        lock: The descriptor of the lock file, held while it listens.
        config: What and how to send.
    """

    def __init__(self, listener: socket.socket, path: str, lock: int, config: SenderConfig) -> None:
        super().__init__(None, config)
        self.listener: Optional[socket.socket] = listener
        self.path = path
        self.lock = lock
        self.hosts: Dict[Any, Sender] = {}  # by connection
        self.latest: Optional[Sender] = None  # where the sender's own records go

    def host_alive(self) -> bool:
        """Always: its hosts are its connections."""
        return True

    def send_message(self, message: bytes) -> None:
        """A record or a ``T`` of the sender itself: to the host that connected last."""
        host = self.latest
        if host is not None:
            host.send_message(message)

    def serve(self) -> None:
        """Accept hosts and serve them until idle or SIGTERM; then finish and return."""
        idle_since = time.monotonic()
        while not self.stopping:
            self._check_host()
            ready = self._wait()
            if self.listener in ready:
                self._accept()
            for conn, host in list(self.hosts.items()):
                gone = conn in ready and not self._read(host)
                if host.stopping or host.batcher.is_stale():
                    host.drain()
                if gone or (host.stopping and not len(host.acks)):
                    self._close(host)
            if self.hosts or not self.pool.wait_idle(0):
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= IDLE_TIMEOUT:
                break
        self._stop_listening()
        for host in list(self.hosts.values()):
            host.drain()
        self.pool.close()
        self._wait_for_requests()
        for host in list(self.hosts.values()):
            self._close(host)

    def _wait(self) -> List[Any]:
        timeout = LIVENESS_INTERVAL
        for host in self.hosts.values():
            stale = host.batcher.time_to_stale()
            if stale is not None:
                timeout = min(timeout, stale)
        listening: List[Any] = [self.listener] if self.listener is not None else []
        return wait([*listening, *self.hosts], max(0.0, timeout))

    def _accept(self) -> None:
        assert self.listener is not None
        try:
            sock, _ = self.listener.accept()
        except OSError:  # the host gave up meanwhile
            return
        sock.setblocking(True)
        conn = Connection(sock.detach())
        host = Sender(conn, self.config, self)
        self.hosts[conn] = host
        self.latest = host
        host.send_message(ipc.READY)

    @staticmethod
    def _read(host: Sender) -> bool:
        """Handle the host's messages; False once it closed or died (what it sent is still
        delivered, unacknowledged)."""
        conn = host.conn
        try:
            while conn is not None and conn.poll(0):
                host.handle(conn.recv_bytes())
        except (EOFError, OSError):
            host.stopping = True
            return False
        return True

    def _close(self, host: Sender) -> None:
        if host.conn is not None:
            self.hosts.pop(host.conn, None)
        host.hang_up()
        if self.latest is host:
            self.latest = next(iter(self.hosts.values()), None)

    def _stop_listening(self) -> None:
        """Remove the socket and release the lock: a host may start the next sender now."""
        if self.listener is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            self.listener.close()
            self.listener = None
            os.close(self.lock)


def _listen(path: str) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # stale: its sender is gone (the lock was free)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    listener.setblocking(False)
    return listener


def main(argv: List[str]) -> int:
    """Fork; listen and serve in the child (see the module docstring)."""
    title, path, lock = argv[0], argv[1], int(argv[2])
    config = SenderConfig.from_json(sys.stdin.buffer.read())
    ready_r, ready_w = os.pipe()
    if os.fork():
        os.close(ready_w)
        return 0 if os.read(ready_r, 1) else 1
    os.close(ready_r)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_process_title(title)
    server = SharedServer(_listen(path), path, lock, config)
    os.write(ready_w, b"1")
    os.close(ready_w)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    drain_on_sigterm(server)
    forward_logs(server.send_message, config.log_level)
    server.serve()
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)
