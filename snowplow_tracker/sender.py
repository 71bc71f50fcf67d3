"""The sender process of a ``ProcessEmitter``: batch, send over HTTP, retry, acknowledge.

A sender reads micro-batches of encoded events from its pipe, batches them with the shared
:class:`~snowplow_tracker.batching.Batcher` (``buffer_size``, ``byte_limit``, ``max_batch_age``),
sends with the shared :func:`~snowplow_tracker.transport.deliver` (retry policy), and tells the
host the outcome of each micro-batch. It ignores SIGINT (a terminal sends it to the whole process
group; the host decides when to stop), drains and exits on the ``S`` message, on SIGTERM, or when
the host process is gone.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Deque, Dict, List, Optional, Tuple

import psutil

from . import ipc
from ._logging import logger
from .batching import Batcher, BatchLimits
from .retry import RetryPolicy
from .transport import HttpTransport, Timeout, deliver

#: Seconds between checks that the host is still alive.
LIVENESS_INTERVAL = 0.5
#: Seconds a sender keeps retrying after SIGTERM before it gives up and exits.
SIGTERM_GRACE = 2.0


@dataclass(frozen=True)
class SenderConfig:
    """Everything a sender process needs, passed once at start (no events in it).

    Attributes:
        endpoint: Collector host as given to the emitter.
        protocol: ``"http"`` or ``"https"``.
        port: Collector port or None.
        request_timeout: Seconds or ``(connect, read)``.
        limits: Batching rules.
        retry_policy: Retry rules.
        host_pid: Process id of the host.
        orphan_timeout: Seconds a sender keeps retrying after the host died.
        log_level: Level of the ``snowplow_tracker`` logger in the sender.
    """

    endpoint: str
    protocol: str
    port: Optional[int]
    request_timeout: Optional[Timeout]
    limits: BatchLimits
    retry_policy: RetryPolicy
    host_pid: int
    orphan_timeout: float = 10.0
    log_level: int = logging.NOTSET


class Sender:
    """The loop of one sender process (see the module docstring).

    Args:
        conn: This sender's end of the pipe to the host.
        config: What and how to send.
    """

    def __init__(self, conn: Connection, config: SenderConfig) -> None:
        self.conn = conn
        self.config = config
        self.method = config.limits.method
        self.transport = HttpTransport(
            config.endpoint,
            self.method,
            config.protocol,
            config.port,
            config.request_timeout,
            config.retry_policy,
            where="ProcessEmitter",
        )
        self.batcher = Batcher(config.limits)
        self.tags: Deque[Tuple[int, int]] = deque()  # (micro-batch id, index), aligned with batcher
        self.remaining: Dict[int, int] = {}
        self.failed: Dict[int, List[int]] = {}
        self.retried: Dict[int, int] = {}
        self.stopping = False
        self.abandon_at: Optional[float] = None
        self._host: Optional[psutil.Process] = None
        self._next_check = 0.0

    # -- host liveness -------------------------------------------------------------------
    def host_alive(self) -> bool:
        """Whether the host process still exists (its parent, or by pid for forkserver)."""
        pid = self.config.host_pid
        if os.getppid() == pid:
            return True
        try:
            if self._host is None:
                self._host = psutil.Process(pid)
            return bool(self._host.is_running() and self._host.status() != psutil.STATUS_ZOMBIE)
        except psutil.Error:
            return False

    def _check_host(self) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + LIVENESS_INTERVAL
        if self.abandon_at is None and not self.host_alive():
            logger.info("sender %d: host %d is gone; draining", os.getpid(), self.config.host_pid)
            self.stopping = True
            self.abandon_at = now + self.config.orphan_timeout

    def _wait(self, seconds: float) -> bool:
        """Backoff sleep; True means give up retrying (host gone and orphan time spent)."""
        end = time.monotonic() + seconds
        while True:
            self._check_host()
            now = time.monotonic()
            if self.abandon_at is not None and now >= self.abandon_at:
                return True
            if now >= end:
                return False
            time.sleep(min(LIVENESS_INTERVAL, end - now))

    # -- batching and sending ------------------------------------------------------------
    def add(self, batch_id: int, events: List[bytes]) -> None:
        """Buffer a micro-batch and send the request batches that became full."""
        if not events:
            self._send_ack(batch_id, 0, [])
            return
        self.remaining[batch_id] = len(events)
        for index, event in enumerate(events):
            self.tags.append((batch_id, index))
            for batch in self.batcher.add(event):
                self.send(batch)

    def send(self, batch: List[bytes]) -> None:
        """Deliver one request batch with retries, then acknowledge finished micro-batches."""
        if not batch:
            return
        tags = [self.tags.popleft() for _ in batch]
        result = deliver(self.transport, batch, self.config.retry_policy, wait=self._wait)
        if result.failed:
            failed_ids = {id(e) for e in result.failed}
            for event, (batch_id, index) in zip(batch, tags):
                if id(event) in failed_ids:
                    self.failed.setdefault(batch_id, []).append(index)
        if result.retried:  # attributed to the first micro-batch, so that the totals add up
            first = tags[0][0]
            self.retried[first] = self.retried.get(first, 0) + result.retried
        for batch_id, _ in tags:
            left = self.remaining[batch_id] - 1
            if left:
                self.remaining[batch_id] = left
            else:
                del self.remaining[batch_id]
                self._send_ack(
                    batch_id, self.retried.pop(batch_id, 0), self.failed.pop(batch_id, [])
                )
        self._send_progress(batch, tags, result.failed)

    def _send_progress(
        self, batch: List[bytes], tags: List[Tuple[int, int]], failed: List[bytes]
    ) -> None:
        """Tell the host which events of still-unfinished micro-batches were just sent."""
        failed_ids = {id(e) for e in failed}
        sent: Dict[int, List[int]] = {}
        for event, (batch_id, index) in zip(batch, tags):
            if batch_id in self.remaining and id(event) not in failed_ids:
                sent.setdefault(batch_id, []).append(index)
        for batch_id, indices in sent.items():
            try:
                self.conn.send_bytes(ipc.pack_progress(batch_id, indices))
            except OSError:
                pass  # host gone: nobody to tell

    def _send_ack(self, batch_id: int, retried: int, failed: List[int]) -> None:
        try:
            self.conn.send_bytes(ipc.pack_ack(batch_id, retried, failed))
        except OSError:
            pass  # host gone: nobody to tell

    def drain(self) -> None:
        """Send everything buffered now."""
        while len(self.batcher):
            self.send(self.batcher.drain())

    # -- main loop -----------------------------------------------------------------------
    def handle(self, message: bytes) -> None:
        """Act on one message from the host."""
        kind = message[:1]
        if kind == ipc.BATCH:
            self.add(*ipc.unpack_batch(message))
        elif kind == ipc.FLUSH:
            self.drain()
        elif kind == ipc.STOP:
            self.stopping = True

    def run(self) -> None:
        """Serve until told to stop, SIGTERM, or the host is gone; then drain and return."""
        conn = self.conn
        while not self.stopping:
            self._check_host()
            wait = self.batcher.time_to_stale()
            timeout = LIVENESS_INTERVAL if wait is None else min(wait, LIVENESS_INTERVAL)
            try:
                if conn.poll(timeout):
                    self.handle(conn.recv_bytes())
            except (EOFError, OSError):
                self.stopping = True  # the host closed its end
            if self.batcher.is_stale():
                self.drain()
        # Take what is already in the pipe, then send everything.
        try:
            while conn.poll(0):
                message = conn.recv_bytes()
                if message[:1] == ipc.BATCH:
                    self.add(*ipc.unpack_batch(message))
        except (EOFError, OSError):
            pass
        self.drain()
        self.transport.close()


def sender_main(conn: Connection, config: SenderConfig) -> None:
    """Entry point of a sender process (module-level so that every start method can run it).

    Args:
        conn: This sender's end of the pipe.
        config: See :class:`SenderConfig`.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by the host at start
    sender = Sender(conn, config)

    def on_sigterm(signum: int, frame: object) -> None:
        # Drain: what is buffered is still sent, but retries end within SIGTERM_GRACE.
        sender.stopping = True
        if sender.abandon_at is None:
            sender.abandon_at = time.monotonic() + SIGTERM_GRACE

    signal.signal(signal.SIGTERM, on_sigterm)
    if config.log_level:
        logger.setLevel(config.log_level)
    try:
        sender.run()
    finally:
        conn.close()
