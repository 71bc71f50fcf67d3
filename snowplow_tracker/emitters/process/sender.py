"""The sender process of a ``ProcessEmitter``: batch, send over HTTP with several requests in
flight, retry, acknowledge.

A sender reads micro-batches of encoded events from its channel to the host, batches them with
the shared :class:`~snowplow_tracker.delivery.batching.Batcher` (``buffer_size``, ``byte_limit``,
``max_batch_age``) and hands each request to a :class:`RequestPool`: up to ``max_in_flight``
threads, each with its own keep-alive connection, send with the shared
:func:`~snowplow_tracker.delivery.transport.deliver`
(retries and backoff per request). A collector a network away answers after a round trip, so a
sender delivers about ``max_in_flight * events per request / round-trip time`` events per second.

An :class:`AckBook` tells the host the outcome of each micro-batch once every one of its events
has one, whatever order the requests end in (a micro-batch may be spread over several requests,
and a request may carry events of several micro-batches).

The sender ignores SIGINT (a terminal sends it to the whole process group; the host decides when
to stop), drains and exits on the ``S`` message, on SIGTERM, or when the host process is gone.

A sender is its own interpreter (``python -m`` :mod:`.sender_process`), so this module imports
only what sending needs: the delivery modules and ``urllib3``, not ``requests``, ``psutil``,
``multiprocessing`` nor the tracker.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    List,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Union,
    cast,
)

from ... import arguments as _args
from ..._logging import logger
from ...delivery.batching import Batcher, BatchLimits
from ...delivery.retry import RetryPolicy
from ...delivery.throttle import Throttle
from ...delivery.transport import DeliveryResult, HttpTransport
from . import ipc
from .request_pool import Request, RequestPool, Tag, failed_positions

#: Seconds between checks that the host is still alive.
LIVENESS_INTERVAL = 0.5
#: Seconds a sender keeps retrying after SIGTERM before it gives up and exits.
SIGTERM_GRACE = 2.0
#: Seconds a sender that gave up waits for requests still on the wire before it exits anyway.
ABANDON_GRACE = 0.5
#: Default requests in flight per sender. A sender delivers at most
#: ``max_in_flight * events per request / round trip`` events per second: with 64 requests of
#: 100 events, 128,000 events/s over a 50 ms link (more than one host process tracks) and still
#: 32,000 over 200 ms; with one event per request (GET), 1,280 events/s over 50 ms. Threads and
#: connections are only opened when that many requests wait at once.
DEFAULT_MAX_IN_FLIGHT = 64

#: What a finished micro-batch is acknowledged with: ``(id, retried, failed indices)``.
Ack = Tuple[int, int, List[int]]


def check_max_in_flight(value: object, where: str) -> int:
    """Validate ``max_in_flight``: a positive integer.

    Args:
        value: What the user passed.
        where: The qualified name of the caller, for error messages.
    """
    _args.positive_integer(where, "max_in_flight", value)
    return cast(int, value)


class Connection(Protocol):
    """The sender's end of its channel to the host: framed messages, as
    ``multiprocessing.connection.Connection`` has them (``send_bytes``/``recv_bytes``)."""

    def send_bytes(self, buf: Union[bytes, bytearray]) -> None: ...

    def recv_bytes(self) -> bytes: ...

    def poll(self, timeout: Optional[float] = 0.0) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SenderConfig:
    """Everything a sender process needs, sent once at start as JSON (no events in it).

    Attributes:
        transport: The keyword arguments of its transports to the collector (``endpoint``,
            ``protocol``, ``port``, ``request_timeout``, ``verify``; no ``session``: a sender
            makes its own connections).
        target: The collector as shown in the sender's process title (``host[:port]``, never
            credentials).
        limits: Batching rules.
        retry_policy: Retry rules.
        host_pid: Process id of the host.
        orphan_timeout: Seconds a sender keeps retrying after the host died.
        log_level: Level of the ``snowplow_tracker`` logger in the sender: the effective level
            of the host's when the sender starts. The sender's records go to the host
            (:class:`PipeLogHandler`).
        max_in_flight: Requests the sender keeps open at once.
    """

    transport: Dict[str, Any]
    target: str
    limits: BatchLimits
    retry_policy: RetryPolicy
    host_pid: int
    orphan_timeout: float = 10.0
    log_level: int = logging.NOTSET
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT

    def to_json(self) -> bytes:
        """This configuration as JSON (the host sends it; :meth:`from_json` reads it)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["limits"] = dataclasses.asdict(self.limits)
        policy = dataclasses.asdict(self.retry_policy)
        policy["no_retry_statuses"] = sorted(self.retry_policy.no_retry_statuses)
        fields["retry_policy"] = policy
        return json.dumps(fields).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> SenderConfig:
        """Inverse of :meth:`to_json`."""
        fields = json.loads(data)
        transport = fields["transport"]
        timeout = transport.get("request_timeout")
        if isinstance(timeout, list):
            transport["request_timeout"] = tuple(timeout)
        fields["limits"] = BatchLimits(**fields["limits"])
        policy = fields["retry_policy"]
        policy["no_retry_statuses"] = frozenset(policy["no_retry_statuses"])
        fields["retry_policy"] = RetryPolicy(**policy)
        return cls(**fields)


class AckBook:
    """Per micro-batch: events still waiting for an outcome, failed indices, re-sends.

    Thread-safe: request threads settle their events in any order; a micro-batch is complete,
    and returned once, when the last of its events is settled.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._remaining: Dict[int, int] = {}
        self._failed: Dict[int, List[int]] = {}
        self._retried: Dict[int, int] = {}

    def __len__(self) -> int:
        """Micro-batches not yet complete."""
        with self._lock:
            return len(self._remaining)

    def open(self, batch_id: int, events: int) -> None:
        """Start counting a micro-batch of ``events`` (> 0) events."""
        with self._lock:
            self._remaining[batch_id] = events

    def settle(self, tags: Sequence[Tag], failed: Sequence[int], retried: int) -> List[Ack]:
        """Record the outcome of one request's events.

        Args:
            tags: The ``(micro-batch id, index)`` of each event of the request.
            failed: Positions in ``tags`` of the events given up on; the others were sent.
            retried: Re-sends the request took (counted on its first micro-batch, so that the
                totals add up).

        Returns:
            The micro-batches this completed, as ``(id, retried, sorted failed indices)``.
        """
        done: List[Ack] = []
        with self._lock:
            for position in failed:
                batch_id, index = tags[position]
                self._failed.setdefault(batch_id, []).append(index)
            if retried and tags:
                first = tags[0][0]
                self._retried[first] = self._retried.get(first, 0) + retried
            remaining = self._remaining
            for batch_id, _ in tags:
                left = remaining[batch_id] - 1
                if left:
                    remaining[batch_id] = left
                else:
                    del remaining[batch_id]
                    done.append(
                        (
                            batch_id,
                            self._retried.pop(batch_id, 0),
                            sorted(self._failed.pop(batch_id, [])),
                        )
                    )
        return done


class Sender:
    """The loop of one sender process (see the module docstring).

    Args:
        conn: This sender's end of the channel to the host (None: it serves no host itself).
        config: What and how to send.
        parent: A sender whose request pool, throttle and ``abandon`` this one shares (one host
            of a shared sender, :mod:`~snowplow_tracker.emitters.process.shared`).
    """

    def __init__(
        self, conn: Optional[Connection], config: SenderConfig, parent: Optional[Sender] = None
    ) -> None:
        self.conn = conn
        self.config = config
        self.method = config.limits.method
        self.batcher = Batcher(config.limits)
        self.tags: Deque[Tag] = deque()  # aligned with the batcher's events
        self.acks = AckBook()
        self.abandon: threading.Event = parent.abandon if parent else threading.Event()
        # One "not before" time for every request thread: a 429 holds the whole sender.
        self.throttle: Throttle = parent.throttle if parent else Throttle(self._report_hold)
        self.pool: RequestPool = (
            parent.pool
            if parent
            else RequestPool(
                config.max_in_flight,
                self._new_transport,
                config.retry_policy,
                self._on_done,
                self.abandon,
            )
        )
        self._conn_lock = threading.Lock()  # request threads acknowledge at once
        self.stopping = False
        self.abandon_at: Optional[float] = None
        self._next_check = 0.0

    def _new_transport(self) -> HttpTransport:
        return HttpTransport(
            method=self.method,
            retry_policy=self.config.retry_policy,
            client="urllib3",  # about half the CPU per request of requests
            pool_size=1,  # one transport per request thread
            **self.config.transport,
            throttle=self.throttle,
            where="ProcessEmitter",
        )

    # -- host liveness -------------------------------------------------------------------
    def host_alive(self) -> bool:
        """Whether the host process still runs: it started this sender, so it is the parent
        until it dies (then another process adopts the sender)."""
        return os.getppid() == self.config.host_pid

    def _check_host(self) -> None:
        """On the main thread: notice a dead host, and give up retrying once it is time to."""
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + LIVENESS_INTERVAL
            if self.abandon_at is None and not self.host_alive():
                logger.info(
                    "sender %d: host %d is gone; draining", os.getpid(), self.config.host_pid
                )
                self.stopping = True
                self.abandon_at = now + self.config.orphan_timeout
        if self.abandon_at is not None and now >= self.abandon_at:
            self.abandon.set()

    # -- batching and sending ------------------------------------------------------------
    def add(self, batch_id: int, events: List[bytes]) -> None:
        """Buffer a micro-batch and hand the request batches that became full to the pool."""
        if not events:
            self._send_ack((batch_id, 0, []))
            return
        self.acks.open(batch_id, len(events))
        for index, event in enumerate(events):
            self.tags.append((batch_id, index))
            for batch in self.batcher.add(event):
                self.send(batch)

    def send(self, batch: List[bytes]) -> None:
        """Hand one request batch to the pool (a GET batch as one request per event)."""
        if not batch:
            return
        tags = [self.tags.popleft() for _ in batch]
        if self.method == "post":
            self.pool.submit(Request(batch, tags, self))
        else:
            for event, tag in zip(batch, tags):
                self.pool.submit(Request([event], [tag], self))

    def _on_done(self, request: Request, result: DeliveryResult) -> None:
        """On a request thread: settle the request's events and acknowledge what completed (to
        the request's owner)."""
        owner = request.owner or self
        failed = failed_positions(request.events, result.failed)
        done = owner.acks.settle(request.tags, failed, result.retried)
        # Events accepted for micro-batches that other requests still hold: report them now, so
        # the host counts them as sent even if it gives up on the rest (exact acknowledgements).
        completed = {ack[0] for ack in done}
        refused = set(failed)
        progress: Dict[int, List[int]] = {}
        for position, (batch_id, index) in enumerate(request.tags):
            if batch_id not in completed and position not in refused:
                progress.setdefault(batch_id, []).append(index)
        for batch_id, indices in progress.items():
            owner.send_message(ipc.pack_progress(batch_id, indices))
        for ack in done:
            owner.send_message(ipc.pack_ack(*ack))

    def _report_hold(self) -> None:
        """On a request thread: a ``Retry-After`` was obeyed; the host counts it at once."""
        self.send_message(ipc.pack_throttled(1))

    def _send_ack(self, ack: Ack) -> None:
        self.send_message(ipc.pack_ack(*ack))

    def send_message(self, message: bytes) -> None:
        """Send one framed message to the host (from any thread); drop it if the host is gone."""
        try:
            with self._conn_lock:
                if self.conn is not None:
                    self.conn.send_bytes(message)
        except OSError:
            pass  # host gone: nobody to tell

    def hang_up(self) -> None:
        """Close the connection to the host; messages to it are dropped from now on."""
        with self._conn_lock:
            if self.conn is not None:
                self.conn.close()
                self.conn = None

    def drain(self) -> None:
        """Hand everything buffered to the pool now."""
        if len(self.batcher):
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
        assert conn is not None
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
        # Take what is already in the channel, then send everything.
        try:
            while conn.poll(0):
                message = conn.recv_bytes()
                if message[:1] == ipc.BATCH:
                    self.add(*ipc.unpack_batch(message))
        except (EOFError, OSError):
            pass
        self.drain()
        self.pool.close()
        self._wait_for_requests()

    def _wait_for_requests(self) -> None:
        """Wait for the requests in flight; once given up, wait ``ABANDON_GRACE`` at most."""
        given_up: Optional[float] = None
        while not self.pool.wait_idle(0.05 if given_up is not None else LIVENESS_INTERVAL):
            self._check_host()
            if self.abandon.is_set():
                now = time.monotonic()
                if given_up is None:
                    given_up = now
                elif now - given_up >= ABANDON_GRACE:
                    # Requests still on the wire: their events stay unacknowledged, and the
                    # host reports them at its deadline (or redelivers them).
                    return


class PipeLogHandler(logging.Handler):
    """Sends the sender's log records to the host over its channel (an ``L`` message each).

    The host logs them on its own ``snowplow_tracker`` logger, where the application's logging
    configuration applies (a sender is a fresh interpreter, without the application's
    handlers). Records are throttled where they are made (:class:`ThrottledLog`), as in the
    host.

    Args:
        send: Sends one framed message to the host (never raises).
    """

    def __init__(self, send: Callable[[bytes], None]) -> None:
        super().__init__()
        self._send = send
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + self._formatter.formatException(record.exc_info)
            self._send(ipc.pack_log(record.levelno, record.name, text))
        except Exception:  # noqa: BLE001 - logging must never break sending
            self.handleError(record)


def forward_logs(send: Callable[[bytes], None], level: int) -> PipeLogHandler:
    """In a sender process: route the ``snowplow_tracker`` logger's records to the host only.

    Handlers inherited through ``fork`` are removed and records do not propagate to the root
    logger, so that each record reaches the application once, from the host.

    Args:
        send: Sends one framed message to the host.
        level: The level of the host's ``snowplow_tracker`` logger (its effective level).
    """
    handler = PipeLogHandler(send)
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.propagate = False
    if level:
        logger.setLevel(level)
    return handler


def drain_on_sigterm(target: Any) -> None:
    """Make SIGTERM drain ``target`` (a :class:`Sender` or a shared sender's server): what it
    holds is still sent, but retries end within :data:`SIGTERM_GRACE`.

    Args:
        target: Has ``stopping`` and ``abandon_at`` attributes, read by its loop.
    """

    def on_sigterm(signum: int, frame: object) -> None:
        target.stopping = True
        if target.abandon_at is None:
            target.abandon_at = time.monotonic() + SIGTERM_GRACE

    signal.signal(signal.SIGTERM, on_sigterm)


def sender_main(conn: Connection, config: SenderConfig) -> None:
    """Run a sender on ``conn`` until it is told to stop, SIGTERM, or the host is gone.

    SIGINT must already be ignored (:mod:`.sender_process` does it first).

    Args:
        conn: This sender's end of the channel to the host.
        config: See :class:`SenderConfig`.
    """
    sender = Sender(conn, config)
    drain_on_sigterm(sender)
    forward_logs(sender.send_message, config.log_level)
    try:
        # The host may be gone already, its micro-batches still in the channel: read them.
        sender.send_message(ipc.READY)
        sender.run()
    finally:
        conn.close()
