"""``ProcessEmitter``: the tracker's hot path hands events to a pool of sender processes.

Data path: ``input`` serialises the event once (orjson) and copies the bytes
into the micro-batch being filled, which is already framed as its pipe message (a ``bytearray``:
no Python object per queued event); a full or old micro-batch goes, as ONE pipe message, to the
sender process with the least work in flight. What the host holds (micro-batch, outbox, in
flight) is bounded in bytes by ``max_queue_bytes``; beyond it new events are dropped, counted at
once, logged (throttled) and passed to ``on_failure``.

Senders batch (``buffer_size``, ``byte_limit``, ``max_batch_age``), send over HTTP with retries,
report the events each successful request delivered and acknowledge each micro-batch. The host
keeps every micro-batch until its acknowledgement, so the events of a sender that dies are
handed to its replacement. A listener thread in the host receives the acknowledgements, keeps
the statistics, calls ``on_success``/``on_failure``, and gives the memory of a burst back to the
OS once it has drained (:mod:`snowplow_tracker.delivery.memory`).

Example:
    >>> from snowplow_tracker import ProcessEmitter, Tracker
    >>> e = ProcessEmitter("collector.example.com", method="post", process_count=2)
    >>> t = Tracker(e, namespace="api", app_id="shop")
    >>> t.track_struct_event("shop", "add-to-basket", "sku-1", "pcs", 2)  # doctest: +SKIP

Lifecycle: senders start on first use, in the process that uses the emitter, from a background
thread (``track_*`` never waits for a process to start). After ``os.fork()`` the child gets a
fresh, empty emitter that starts its own senders (the parent keeps sending what it had). At
interpreter exit the emitter flushes within ``shutdown_timeout`` and stops its senders. With
the ``spawn`` (default) and ``forkserver`` start methods, a script's entry point must be guarded by
``if __name__ == "__main__":``, as for any ``multiprocessing`` code. Each sender reports that it
runs; when the first one exits before that (or has not run within ``SENDER_START_TIMEOUT``) and
none ever ran, ``track_*`` and ``flush()`` raise :class:`~snowplow_tracker.errors.SenderStartError`
(a sender started while the main module is still being imported raises it there, naming the
guard, so an unguarded script fails at once instead of hanging).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Deque, Dict, List, Mapping, Optional, Set, Tuple, Union

import psutil
from orjson import dumps as _dumps

from ... import arguments as _args
from ..._logging import ThrottledLog, logger
from ...delivery.http_client import Verify
from ...delivery.memory import HeapWatermark, give_back_memory
from ...delivery.retry import RetryPolicy
from ...delivery.stats import EmitterStats
from ...delivery.transport import Timeout
from ...errors import SenderStartError
from ...protocol.wire import PayloadDict, encode_event
from ...settings import Profile
from .. import lifecycle
from ..base import BaseEmitter, FailureCallback, SuccessCallback, encode_or_raise
from . import ipc
from .sender import DEFAULT_MAX_IN_FLIGHT, SenderConfig, check_max_in_flight, sender_main

_FLUSH = "flush"
_STOP = "stop"
_drop_log = ThrottledLog()

#: Default events per pipe message.
DEFAULT_IPC_BATCH_SIZE = 256
#: Default seconds a partial micro-batch waits in the host before it goes to a sender.
DEFAULT_IPC_MAX_DELAY = 0.05
#: Default bound, in bytes, of the encoded events a ``ProcessEmitter`` holds in the host.
DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024
#: A micro-batch goes to a sender once it holds this many bytes, whatever its event count.
IPC_MAX_BATCH_BYTES = 1024 * 1024
#: Bytes of dropped events held for ``on_failure`` before the tracking thread reports them
#: itself (when the listener thread falls behind): bounds what a tight loop can pile up.
DROP_PILE_BYTES = 1024 * 1024
#: Seconds between two wake-ups of the listener thread for drops (a wake-up is a syscall in the
#: tracking thread and a GIL hand-over; a tight loop dropping events must not pay it per event).
DROP_WAKE_INTERVAL = 0.05
_NO_LIMIT = sys.maxsize
#: Exit codes of a sender that was stopped, not one that failed: it drained and returned, or
#: SIGTERM ended it before its handler was installed.
_STOPPED_EXIT_CODES = (0, -signal.SIGTERM)
#: Seconds a sender process may take to start (to send its READY message) before it is stopped
#: and counted as one that could not start.
SENDER_START_TIMEOUT = 60.0


def importing_main() -> bool:
    """Whether this process is a ``spawn``/``forkserver`` child still importing the main module
    of the process that started it (``multiprocessing`` refuses to start processes then)."""
    return bool(getattr(multiprocessing.process.current_process(), "_inheriting", False))


#: How to guard a script's entry point, for the start errors.
GUARD_ADVICE = (
    "With the 'spawn' and 'forkserver' start methods each new process runs the main script "
    "again: put the code that creates the tracker and tracks under "
    "`if __name__ == \"__main__\":` (or use start_method='fork')."
)


#: Held while a sender process starts, and taken around every ``os.fork()`` of the host (see
#: :func:`_install_fork_guard`): a fork in the middle of ``Process.start()`` would copy
#: multiprocessing's internal locks in the held state and the child could never start senders.
_START_LOCK = threading.RLock()
_fork_guard_installed = False


def _install_fork_guard() -> None:
    global _fork_guard_installed
    if not _fork_guard_installed:
        _fork_guard_installed = True
        os.register_at_fork(
            before=_START_LOCK.acquire,
            after_in_parent=_START_LOCK.release,
            after_in_child=_START_LOCK.release,
        )


def _log_from_sender(handle: _SenderHandle, message: bytes) -> None:
    """Log a sender's record (an ``L`` message) on the host's ``snowplow_tracker`` logger.

    Its logger name is kept when it is ``snowplow_tracker`` or below it; the sender process id
    is in the record as ``sender_pid``.
    """
    level, name, text = ipc.unpack_log(message)
    if name != logger.name and not name.startswith(logger.name + "."):
        name = logger.name
    target = logging.getLogger(name)
    if target.isEnabledFor(level):
        target.log(level, "%s", text, extra={"sender_pid": handle.process.pid})


def default_process_count() -> int:
    """Half the logical CPUs (psutil), at least 1 and at most 4: senders mostly wait on I/O."""
    return max(1, min(4, (psutil.cpu_count(logical=True) or 1) // 2))


@dataclass
class _SenderHandle:
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


class _Batch:
    """A micro-batch: one sealed pipe message, kept in the host until its acknowledgement."""

    __slots__ = ("count", "done", "id", "left", "message", "sender", "size")

    def __init__(self, batch_id: int, message: bytearray, count: int, size: int) -> None:
        self.id = batch_id
        self.message = message
        self.count = count
        self.left = count  # events whose outcome is not counted yet (queued or in flight)
        self.size = size  # bytes counted against max_queue_bytes
        self.sender = -1
        self.done: Optional[Set[int]] = None  # indices already reported (progress messages)

    def undone(self) -> List[bytes]:
        """The events whose outcome is not known yet."""
        events = ipc.batch_events(self.message)
        if not self.done:
            return events
        return [e for i, e in enumerate(events) if i not in self.done]


_OutboxItem = Union[_Batch, str]
#: Dropped events taken from a run: how many, and those kept for ``on_failure`` (framed).
_Drops = Tuple[int, bytearray]


class _State:
    """Everything that belongs to one run of the emitter in one process.

    Replaced wholesale after ``close()`` and in a forked child: threads of an older run see
    ``stopped`` and end, and never touch the new run's queues.
    """

    def __init__(self, lock: Any) -> None:
        self.pid = os.getpid()
        self.lock = lock  # the emitter's counters' lock: stats() is one consistent snapshot
        self.feeder_cond = threading.Condition(self.lock)
        self.done_cond = threading.Condition(self.lock)
        self.micro = ipc.new_batch()  # the micro-batch being filled, framed in place
        self.micro_lengths = ipc.new_lengths()  # the lengths of its events
        self.micro_events = 0
        self.micro_started = 0.0
        self.outbox: Deque[_OutboxItem] = deque()
        self.outbox_events = 0
        self.in_flight: Dict[int, _Batch] = {}
        self.in_flight_events = 0
        # What may still be queued before the bounds are reached: bytes under max_queue_bytes
        # (the events of micro, outbox and in flight hold the rest), and events under
        # max_queue_size besides those of outbox and in flight. Both 0 while not started, so
        # that the hot path takes the slow path then.
        self.room = 0
        self.event_room = 0
        self.watermark = HeapWatermark()  # bytes held at the peak since memory was given back
        self.next_id = 1
        self.senders: List[Optional[_SenderHandle]] = []
        self.drop_events = 0  # dropped, not yet added to the counters
        self.drop_pile = ipc.new_batch()  # dropped events waiting for on_failure, as a batch
        self.drop_lengths = ipc.new_lengths()
        self.drop_wake_at = 0.0
        self.reporting: Set[int] = set()  # acknowledged, callbacks not yet run
        self.feeder: Optional[threading.Thread] = None
        self.listener: Optional[threading.Thread] = None
        self.wake_r: Optional[socket.socket] = None
        self.wake_w: Optional[socket.socket] = None
        self.started = False
        self.closing = False
        self.stopped = False
        self.feeder_idle = False
        self.ever_ready = False  # a sender of this run ran
        self.start_error: Optional[SenderStartError] = None  # no sender could start


class ProcessEmitter(BaseEmitter):
    """Sends events from a pool of sender processes, so the caller only pays for serialising.

    Takes every argument of :class:`~snowplow_tracker.emitters.Emitter` (with ``method``
    defaulting to ``"post"``) plus:

    Args:
        endpoint: Collector host; a scheme in it (``"https://host"``) wins over ``protocol``.
        protocol: ``"http"`` (default) or ``"https"``.
        port: Collector port; default: the scheme's.
        method: ``"post"`` (default; batches) or ``"get"`` (one request per event).
        buffer_size: Events per request (default 500 for POST, so that ``byte_limit`` and
            ``max_batch_age`` cut batches; 1 for GET, one request per event anyway).
        on_success: Called on the emitter's listener thread with the sent event dicts.
        on_failure: Called with ``(number sent, unsent event dicts)`` for events given up on
            after retries, or dropped because a bound was reached. It runs on the emitter's
            listener thread; when events are dropped faster than that thread reports them
            (more than 1 MiB of them waiting), the tracking thread reports them itself.
        byte_limit: Bytes per request as sent on the wire (default 64,000 for POST, also when
            only ``buffer_size`` is given; see
            :func:`~snowplow_tracker.delivery.batching.throughput_defaults`).
        request_timeout: Seconds, or ``(connect, read)``; default ``(5, 10)``.
        process_count: Sender processes (default: :func:`default_process_count`).
        max_queue_size: Events held in the host (waiting or in flight) before new events are
            dropped (default None: bounded by ``max_queue_bytes`` only).
        max_queue_bytes: Bytes of encoded events held in the host (waiting or in flight;
            ``stats().queued_bytes``) before new events are dropped, counted in
            ``stats().dropped``, reported to ``on_failure`` and logged at most every 10 s
            (default 64 MiB). The host holds each queued event as its encoded bytes plus a
            4-byte length, packed in its micro-batch, so this bounds the host's memory for events.
            ``track_*`` never blocks.
        max_batch_age: Seconds a partial request batch may wait in a sender (default 0.25); a
            lone event leaves within about ``max_batch_age + ipc_max_delay``.
        retry_policy: Backoff, attempt/deadline limits and never-retried statuses (default
            :class:`~snowplow_tracker.delivery.retry.RetryPolicy()`: 8 attempts within 300 s).
        start_method: ``"spawn"`` (default), ``"forkserver"`` or ``"fork"``.
        ipc_batch_size: Events per pipe message (default 256; a message also leaves once it
            holds 1 MiB).
        ipc_max_delay: Seconds a partial pipe message waits in the host (default 0.05).
        shutdown_timeout: Seconds ``close()`` and the exit handler wait (default 10.0).
        max_in_flight: Requests each sender keeps open at once (default 64), each on its own
            keep-alive connection, opened only when that many requests wait. A sender delivers
            about ``max_in_flight * events per request / round trip`` events per second: 64
            requests of ~125 events over a 50 ms link is 160,000/s, over 200 ms 40,000/s. With
            GET (one event per request) it is the bound: 1,280 events/s per sender over 50 ms.
        batch_size: Tracker 1.x's name of ``buffer_size`` (give one of them).
        buffer_capacity: 1.x: also bounds the events held (``max_queue_size`` is the smaller
            of the two) and ``buffer_size``.
        max_retry_delay_seconds: 1.x: the retry policy's ``max_delay``.
        custom_retry_codes: 1.x: HTTP status -> whether it is retried (the retry policy's
            ``no_retry_statuses``).
        verify: How the senders verify the collector's TLS certificate, as in ``requests``:
            True (default: the ``REQUESTS_CA_BUNDLE`` bundle when set, else certifi's), the
            path of a CA bundle file or directory (a private CA), or False.

    The defaults are made for a collector a network away: POST bodies up to 64 kB, sent when
    full or ``max_batch_age`` old, with up to 64 requests in flight per sender.
    """

    _where = "ProcessEmitter"
    _profile = Profile(
        throughput=True, queue_arguments=frozenset({"max_queue_size", "max_queue_bytes"})
    )

    def __init__(
        self,
        endpoint: str,
        protocol: str = "http",
        port: Optional[int] = None,
        method: str = "post",
        buffer_size: Optional[int] = None,
        on_success: Optional[SuccessCallback] = None,
        on_failure: Optional[FailureCallback] = None,
        byte_limit: Optional[int] = None,
        request_timeout: Optional[Timeout] = None,
        process_count: Optional[int] = None,
        *,
        max_queue_size: Optional[int] = None,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        max_batch_age: float = 0.25,
        retry_policy: Optional[RetryPolicy] = None,
        start_method: str = "spawn",
        ipc_batch_size: int = DEFAULT_IPC_BATCH_SIZE,
        ipc_max_delay: float = DEFAULT_IPC_MAX_DELAY,
        shutdown_timeout: float = 10.0,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        batch_size: Optional[int] = None,
        buffer_capacity: Optional[int] = None,
        max_retry_delay_seconds: Optional[float] = None,
        custom_retry_codes: Optional[Mapping[int, bool]] = None,
        verify: Verify = True,
    ) -> None:
        super().__init__(
            endpoint,
            protocol,
            port,
            method,
            buffer_size,
            on_success,
            on_failure,
            byte_limit,
            request_timeout,
            retry_policy=retry_policy,
            max_batch_age=max_batch_age,
            shutdown_timeout=shutdown_timeout,
            max_queue_size=max_queue_size,
            max_queue_bytes=max_queue_bytes,
            batch_size=batch_size,
            buffer_capacity=buffer_capacity,
            max_retry_delay_seconds=max_retry_delay_seconds,
            custom_retry_codes=custom_retry_codes,
            verify=verify,
        )
        where = self._where
        if process_count is None:
            process_count = default_process_count()
        _args.positive_integer(where, "process_count", process_count)
        _args.positive_integer(where, "ipc_batch_size", ipc_batch_size)
        _args.positive_seconds(where, "ipc_max_delay", ipc_max_delay)
        methods = multiprocessing.get_all_start_methods()
        if start_method not in methods:
            _args.fail(where, "start_method", f"one of {methods}", start_method)
        self.process_count = process_count
        self.max_in_flight = check_max_in_flight(max_in_flight, where)
        queue = self.settings.queue
        self.max_queue_size = queue.max_events
        self.max_queue_bytes: int = queue.max_bytes or max_queue_bytes
        self._max_events = _NO_LIMIT if queue.max_events is None else queue.max_events
        self.ipc_batch_size = ipc_batch_size
        self.ipc_max_delay = float(ipc_max_delay)
        self.start_method = start_method
        self._ctx: Any = multiprocessing.get_context(start_method)
        self._sender_config = SenderConfig(
            collector=self.settings.collector,
            limits=self.limits,
            retry_policy=self.retry_policy,
            host_pid=os.getpid(),
            orphan_timeout=self.shutdown_timeout,
            log_level=logger.level,
            max_in_flight=self.max_in_flight,
        )
        self._s = _State(self._counters.lock)
        # The Tracker's fast path, unless a subclass changed what input() does.
        self._tracker_input = (
            self._input_from_tracker if type(self).input is ProcessEmitter.input else self.input
        )
        _install_fork_guard()
        lifecycle.watch(self)

    # ---------------------------------------------------------------- hot path
    def input(self, payload: Any) -> None:
        """Serialise one event and queue it for the senders; never waits for the network.

        Args:
            payload: The event, a flat dict of protocol field names to strings; not modified.

        Raises:
            EncodingError: The payload cannot be serialised; nothing was queued.
            SenderStartError: The sender processes could not start; nothing was queued.
        """
        self._enqueue(encode_or_raise(payload, self.method, self._where))

    def input_encoded(self, event: bytes) -> None:
        """Queue one event already encoded for POST (``wire.encode_event(payload, "post")``).

        For relays that hold encoded events, such as :class:`~snowplow_tracker.RedisWorker`:
        the bytes are sent as they are, never parsed again.

        Args:
            event: The event's compact JSON object, UTF-8, without ``stm``.

        Raises:
            ConfigurationError: The emitter sends by GET, which needs the event's fields.
        """
        if self.method != "post":
            _args.refuse(
                f"{self._where}.input_encoded",
                f"needs method 'post', this emitter sends by {self.method!r}; pass the event "
                "dict to input() instead",
            )
        self._enqueue(bytes(event))

    def _input_from_tracker(self, payload: PayloadDict) -> None:
        """``input`` for dicts built by :class:`~snowplow_tracker.tracker.Tracker`.

        They are already in protocol form (non-empty string values, no ``stm``: pinned by
        ``tests/unit/test_tracker_payloads.py``), so the check of ``input`` is skipped and the
        event is only serialised.
        """
        try:
            event = _dumps(payload) if self.method == "post" else encode_event(payload, "get")
        except Exception:  # noqa: BLE001 - the checked path raises the clear EncodingError
            self.input(payload)
            return
        self._enqueue(event)

    def _enqueue(self, event: bytes) -> None:
        # The event is copied into the micro-batch message, and the bytes object is freed at
        # once: orjson returns each dump inside a buffer of several KB, so keeping the bytes
        # objects cost ~8 KB of host memory per queued 0.5 KB event (see CHANGELOG, issue 9).
        s = self._s
        length = len(event)
        size = length + 4  # ipc.EVENT_OVERHEAD
        with s.lock:
            n = s.micro_events + 1
            if size <= s.room and n <= s.event_room:
                s.room -= size
                s.micro_events = n
                s.micro_lengths.append(length)  # as ipc.append_event
                micro = s.micro
                micro += event
                if n == 1:
                    s.micro_started = time.monotonic()
                    if s.feeder_idle:
                        self._wake_feeder_locked(s)
                elif n >= self.ipc_batch_size or len(micro) >= IPC_MAX_BATCH_BYTES:
                    self._submit_locked(s)
                return
            started = s.started
            error = s.start_error
            drops = None
            if started and error is None:
                drops = self._drop_locked(s, event)  # a bound was reached
        if error is not None:
            raise error
        if not started:
            self._start_and_enqueue(event)
        elif drops is not None:
            self._notify_drops(drops)

    def _start_and_enqueue(self, event: bytes) -> None:
        """First use, or this run was closed meanwhile (then ``self._s`` is the next run), or
        its senders could not start (then it raises).

        Raises:
            SenderStartError: No sender could start, or this process cannot start any.
        """
        s = self._s
        with s.lock:
            if s.start_error is not None:
                raise s.start_error
            if not s.started and not s.stopped:
                if importing_main():
                    raise SenderStartError(
                        f"{self._where}: cannot start sender processes while this process is "
                        "still starting, importing the main module of the process that "
                        f"started it. {GUARD_ADVICE}"
                    )
                self._start_locked(s)
        self._enqueue(event)

    def _drop_locked(self, s: _State, event: bytes) -> Optional[_Drops]:
        """Drop one event (a bound was reached); returns drops for the caller to report."""
        self._counters.accepted += 1
        s.drop_events += 1
        if self.on_failure is not None:
            ipc.append_event(s.drop_pile, s.drop_lengths, event)
            pile = s.drop_pile
            if len(pile) > DROP_PILE_BYTES:  # the listener falls behind: report them here
                return self._take_drops_locked(s)
        if s.drop_events == 1:  # the listener logs and reports them: wake it, at most every
            now = time.monotonic()  # DROP_WAKE_INTERVAL (else it finds them within 1 s)
            if now >= s.drop_wake_at:
                s.drop_wake_at = now + DROP_WAKE_INTERVAL
                self._wake_listener(s)
        return None

    def _take_drops_locked(self, s: _State) -> _Drops:
        """Move the pending drops to the counters; returns them for :meth:`_notify_drops`."""
        dropped, s.drop_events = s.drop_events, 0
        pile, s.drop_pile = s.drop_pile, ipc.new_batch()
        lengths, s.drop_lengths = s.drop_lengths, ipc.new_lengths()
        if lengths:
            ipc.seal_batch(pile, lengths, 0)
        if dropped:
            self._counters.add_locked(dropped=dropped)
        return dropped, pile

    def _notify_drops(self, drops: _Drops) -> None:
        """Log drops (throttled) and pass their events (already counted) to ``on_failure``."""
        dropped, pile = drops
        if dropped:
            _drop_log.log(
                "ProcessEmitter queue full (max_queue_bytes=%d, max_queue_size=%s): "
                "dropped %d event(s)",
                self.max_queue_bytes,
                self.max_queue_size,
                dropped,
            )
        if len(pile) > ipc.BATCH_HEADER_SIZE:
            self._notify([], ipc.batch_events(pile))

    # ---------------------------------------------------------------- host internals
    @staticmethod
    def _wake_feeder_locked(s: _State) -> None:
        s.feeder_idle = False
        s.feeder_cond.notify()

    def _submit_locked(self, s: _State) -> None:
        """Seal the micro-batch being filled and queue it for the feeder."""
        n = s.micro_events
        if not n:
            return
        message = s.micro
        size = len(message) - ipc.BATCH_HEADER_SIZE + ipc.EVENT_OVERHEAD * n
        ipc.seal_batch(message, s.micro_lengths, s.next_id)
        s.micro = ipc.new_batch()
        s.micro_lengths = ipc.new_lengths()
        s.micro_events = 0
        s.outbox.append(_Batch(s.next_id, message, n, size))
        s.next_id += 1
        s.outbox_events += n
        s.event_room -= n
        self._counters.accepted += n  # micro_events are added by stats()
        s.watermark.note(self.max_queue_bytes - s.room)
        if s.feeder_idle:
            self._wake_feeder_locked(s)

    @staticmethod
    def _wake_listener(s: _State) -> None:
        wake_w = s.wake_w
        if wake_w is not None:
            try:
                wake_w.send(b"x")
            except OSError:
                pass  # buffer full: the listener is already due to wake up

    def _start_locked(self, s: _State) -> None:
        lifecycle.keep(self)  # its threads refer to it too, until close()
        s.started = True
        s.room = self.max_queue_bytes
        s.event_room = self._max_events
        s.senders = [None] * self.process_count
        s.wake_r, s.wake_w = socket.socketpair()
        s.wake_r.setblocking(False)
        s.wake_w.setblocking(False)
        s.listener = threading.Thread(
            target=self._listen, args=(s,), name="snowplow-listener", daemon=True
        )
        s.feeder = threading.Thread(
            target=self._feed, args=(s,), name="snowplow-feeder", daemon=True
        )
        s.listener.start()
        s.feeder.start()

    def _spawn(self, s: _State, index: int) -> None:
        host_conn, child_conn = self._ctx.Pipe(duplex=True)
        # The logging level as configured now (senders start at first use, usually after the
        # application configured logging): the sender sends the records it passes to the host.
        config = dataclasses.replace(self._sender_config, log_level=logger.getEffectiveLevel())
        process = self._ctx.Process(
            target=sender_main,
            args=(child_conn, config),
            name=f"snowplow-sender-{index}",
            daemon=False,
        )
        try:
            with _START_LOCK:
                process.start()
        except Exception:
            host_conn.close()
            logger.exception("could not start sender process %d", index)
            raise
        finally:
            child_conn.close()
        with s.lock:
            s.senders[index] = _SenderHandle(index, process, host_conn, started_at=time.monotonic())
            if s.feeder_idle:
                self._wake_feeder_locked(s)

    @staticmethod
    def _pick_sender_locked(s: _State) -> Optional[_SenderHandle]:
        best: Optional[_SenderHandle] = None
        for handle in s.senders:
            if handle is not None and (best is None or handle.in_flight < best.in_flight):
                best = handle
        return best

    def _next_item_locked(self, s: _State) -> Optional[_OutboxItem]:
        """Wait for the next message to write (the feeder thread); None once stopped."""
        while not s.stopped:
            if s.outbox and (isinstance(s.outbox[0], str) or self._pick_sender_locked(s)):
                return s.outbox.popleft()
            timeout: Optional[float] = None
            if s.micro_events:
                timeout = self.ipc_max_delay - (time.monotonic() - s.micro_started)
                if timeout <= 0:
                    self._submit_locked(s)
                    continue
            if s.outbox:  # waiting for a sender to (re)start
                timeout = 0.05 if timeout is None else min(timeout, 0.05)
            s.feeder_idle = True
            s.feeder_cond.wait(timeout)
            s.feeder_idle = False
        return None

    def _feed(self, s: _State) -> None:
        """Feeder thread: turns old micro-batches into messages and writes them to senders."""
        while True:
            with s.lock:
                item = self._next_item_locked(s)
                if item is None:
                    return
                if isinstance(item, str):
                    targets = [h for h in s.senders if h is not None]
                    message: Union[bytes, bytearray] = ipc.FLUSH if item == _FLUSH else ipc.STOP
                else:
                    handle = self._pick_sender_locked(s)
                    assert handle is not None
                    item.sender = handle.index
                    s.outbox_events -= item.left
                    s.in_flight[item.id] = item
                    s.in_flight_events += item.left
                    handle.in_flight += item.count
                    targets = [handle]
                    message = item.message
                for target in targets:
                    target.writing = True
            failed = False
            for target in targets:
                try:
                    target.conn.send_bytes(message)
                except OSError:
                    failed = True  # it died; the listener replaces it
                with s.lock:
                    target.writing = False
                    if target.exited:
                        target.conn.close()  # the listener left it to us
            if isinstance(item, str):
                if item == _STOP:
                    return
            elif failed:
                with s.lock:
                    self._requeue_locked(s, [item.id])
                time.sleep(0.01)

    def _requeue_locked(self, s: _State, batch_ids: List[int]) -> int:
        """Put in-flight micro-batches back at the head of the outbox; returns the events."""
        moved = 0
        for batch_id in reversed(batch_ids):
            batch = s.in_flight.pop(batch_id, None)
            if batch is None:
                continue
            s.in_flight_events -= batch.left
            handle = s.senders[batch.sender]
            if handle is not None:
                handle.in_flight -= batch.count
            s.outbox.appendleft(batch)
            s.outbox_events += batch.left
            moved += batch.left
        if moved and s.feeder_idle:
            self._wake_feeder_locked(s)
        return moved

    def _listen(self, s: _State) -> None:
        """Listener thread: starts senders, takes acknowledgements, replaces dead senders."""
        # Senders start from this thread: with SIGINT blocked here, they inherit the blocked
        # mask through fork and exec, so a Ctrl-C cannot kill one before it ignores SIGINT.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        for index in range(self.process_count):
            try:
                self._spawn(s, index)
            except Exception:  # noqa: BLE001 - retried below
                time.sleep(0.5)
        while True:
            with s.lock:
                handles = [h for h in s.senders if h is not None]
                missing = [i for i, h in enumerate(s.senders) if h is None]
                closing = s.closing or s.start_error is not None
            if closing and not handles:
                break
            if missing and not closing:
                for index in missing:
                    try:
                        self._spawn(s, index)
                    except Exception:  # noqa: BLE001
                        time.sleep(0.5)
                continue
            assert s.wake_r is not None
            objects: List[Any] = [s.wake_r]
            for h in handles:
                objects.append(h.conn)
                objects.append(h.process.sentinel)
            ready = wait(objects, timeout=1.0)
            if s.wake_r in ready:
                try:
                    while s.wake_r.recv(4096):
                        pass
                except OSError:
                    pass
            for handle in handles:
                if handle.conn in ready or handle.process.sentinel in ready:
                    self._read_acks(s, handle)
                if handle.process.sentinel in ready:
                    self._on_sender_exit(s, handle)
            self._stop_senders_not_ready(handles)
            self._report_drops(s)
            self._give_back_memory(s)
        self._report_drops(s)

    @staticmethod
    def _stop_senders_not_ready(handles: List[_SenderHandle]) -> None:
        """Stop the senders that did not start within :data:`SENDER_START_TIMEOUT` (their exit
        is then handled as a failed start)."""
        now = time.monotonic()
        for handle in handles:
            if not handle.ready and now - handle.started_at > SENDER_START_TIMEOUT:
                handle.late = True
                if handle.process.is_alive():
                    handle.process.kill()

    def _read_acks(self, s: _State, handle: _SenderHandle) -> None:
        conn = handle.conn
        try:
            while conn.poll(0):
                message = conn.recv_bytes()
                kind = message[:1]
                if kind == ipc.ACK:
                    self._on_ack(s, *ipc.unpack_ack(message))
                elif kind == ipc.PROGRESS:
                    self._on_progress(s, *ipc.unpack_progress(message))
                elif kind == ipc.THROTTLED:
                    self._counters.add(throttled=ipc.unpack_throttled(message))
                elif kind == ipc.READY:
                    with s.lock:
                        handle.ready = s.ever_ready = True
                elif kind == ipc.LOG:
                    _log_from_sender(handle, message)
        except (EOFError, OSError):
            pass

    def _on_progress(self, s: _State, batch_id: int, sent_idx: List[int]) -> None:
        """Some events of an in-flight micro-batch were accepted: count and report them now."""
        with s.lock:
            batch = s.in_flight.get(batch_id)
            if batch is None:
                return
            if batch.done is None:
                batch.done = set()
            new = [i for i in sent_idx if i not in batch.done and 0 <= i < batch.count]
            batch.done.update(new)
            batch.left -= len(new)
            s.in_flight_events -= len(new)
            self._counters.add_locked(sent=len(new))
        if new and self.on_success is not None:
            events = ipc.batch_events(batch.message)
            self._notify([events[i] for i in new], [])

    def _on_ack(self, s: _State, batch_id: int, retried: int, failed_idx: List[int]) -> None:
        with s.lock:
            batch = s.in_flight.pop(batch_id, None)
            if batch is None:
                return
            done = batch.done or set()
            bad = sorted({i for i in failed_idx if i not in done and 0 <= i < batch.count})
            s.in_flight_events -= batch.left
            self._counters.add_locked(sent=batch.left - len(bad), failed=len(bad), retried=retried)
            batch.left = 0
            s.event_room += batch.count
            s.room += batch.size
            handle = s.senders[batch.sender]
            if handle is not None:
                handle.in_flight -= batch.count
            s.reporting.add(batch_id)  # flush() waits until on_failure/on_success have run
        try:
            self._report_ack(batch, bad)
        finally:
            with s.lock:
                s.reporting.discard(batch_id)
                s.done_cond.notify_all()

    def _report_ack(self, batch: _Batch, bad: List[int]) -> None:
        """Pass the events of an acknowledged micro-batch (already counted) to the callbacks."""
        if not (bad and self.on_failure is not None) and self.on_success is None:
            return
        events = ipc.batch_events(batch.message)
        skip = (batch.done or set()).union(bad)
        sent = [e for i, e in enumerate(events) if i not in skip]
        self._notify(sent, [events[i] for i in bad])

    def _on_sender_exit(self, s: _State, handle: _SenderHandle) -> None:
        handle.process.join(0.1)
        with s.lock:
            handle.exited = True
            if not handle.writing:
                handle.conn.close()  # else the feeder closes it when its write ends
            if s.senders[handle.index] is handle:
                s.senders[handle.index] = None
            if s.closing or s.start_error is not None:
                return
            # An error before it ran (a Python exception exits with 1; a signal sent to the
            # process group is not one) while no sender ever ran: senders cannot start here.
            code = handle.process.exitcode
            failed_start = handle.late or (code is not None and code > 0)
            if failed_start and not handle.ready and not s.ever_ready:
                self._fail_start_locked(s, handle)
                return
            lost = [bid for bid, batch in s.in_flight.items() if batch.sender == handle.index]
            moved = self._requeue_locked(s, lost)
            if moved:
                # A flush may have been asked of the dead sender: have them sent promptly.
                s.outbox.append(_FLUSH)
        # 0 or SIGTERM: the sender was stopped on purpose (a service manager or `kill -TERM
        # -PGID` signals the whole process group, host included): not a failure.
        log = logger.info if code in _STOPPED_EXIT_CODES else logger.warning
        log(
            "sender process %d (pid %s) exited with code %s; replacing it and handing its %d "
            "unacknowledged event(s) to the pool",
            handle.index,
            handle.process.pid,
            code,
            moved,
        )
        self._counters.add(restarts=1, redelivered=moved)

    def _fail_start_locked(self, s: _State, handle: _SenderHandle) -> None:
        """A sender exited before it ran, and none of this run ever did: senders cannot start.
        ``track_*`` and ``flush()`` raise from now on; ``close()`` drops what is held."""
        advice = GUARD_ADVICE if self.start_method != "fork" else ""
        how = (
            f"did not start within {SENDER_START_TIMEOUT:g} s"
            if handle.late
            else f"exited with code {handle.process.exitcode} before it started"
        )
        s.start_error = SenderStartError(
            f"{self._where}: sender process {handle.index} (pid {handle.process.pid}) {how}, "
            f"and no sender could start (start_method={self.start_method!r}; its error is on "
            f"standard error). {advice}"
        )
        s.room = s.event_room = 0  # track_* takes the slow path, which raises
        s.done_cond.notify_all()
        logger.error("%s", s.start_error)

    def _report_drops(self, s: _State) -> None:
        with s.lock:
            if not s.drop_events:
                return
            drops = self._take_drops_locked(s)
        self._notify_drops(drops)

    def _give_back_memory(self, s: _State) -> None:
        """After a burst drained, return the freed heap pages to the OS (see ``_memory``)."""
        with s.lock:
            if not s.watermark.drained(self.max_queue_bytes - s.room):
                return
        give_back_memory()

    # ---------------------------------------------------------------- public control
    def flush(self, is_async: bool = False, timeout: Optional[float] = None) -> bool:
        """Send every event handed over before this call.

        Args:
            is_async: Return at once after asking the senders to send their buffers.
            timeout: Seconds to wait at most; None waits until each event was sent or given
                up on (bounded by the retry policy's deadline), or until it is known that the
                senders cannot start (then it raises).

        Returns:
            True when every event handed over before the call was delivered or reported to
            ``on_failure``; False when ``timeout`` passed first, or with ``is_async``.

        Raises:
            SenderStartError: No sender process could start (found when the first one exits
                before it ran, or has not run after ``SENDER_START_TIMEOUT`` seconds).
        """
        s = self._s
        with s.lock:
            if s.start_error is not None:
                raise s.start_error
            if not s.started:
                return True
            self._submit_locked(s)
            watermark = s.next_id - 1
            s.outbox.append(_FLUSH)
            self._wake_feeder_locked(s)
            if is_async:
                return False
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._pending_locked(s, watermark):
                if s.start_error is not None:
                    raise s.start_error
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                s.done_cond.wait(remaining if remaining is not None else 1.0)
        return True

    @staticmethod
    def _pending_locked(s: _State, watermark: int) -> bool:
        if s.stopped:
            return False
        if any(bid <= watermark for bid in s.in_flight) or s.reporting:
            return True
        return any(not isinstance(item, str) and item.id <= watermark for item in s.outbox)

    def close(self, timeout: Optional[float] = None) -> bool:
        """Flush, then stop the senders and the emitter's threads.

        Events still undelivered when ``timeout`` passes are dropped, counted and reported to
        ``on_failure``; events the collector accepted are counted as sent, never as dropped.
        The emitter can be used again afterwards (it starts anew).

        Args:
            timeout: Seconds for the whole shutdown (default ``shutdown_timeout``). Senders
                still running then get SIGTERM, and SIGKILL 1 s later: close returns within
                about ``timeout + 2`` s, plus up to 5 s while an ``on_success``/``on_failure``
                callback is still running.

        Returns:
            True when every event was delivered or reported as failed by the collector, False
            when some had to be dropped at the deadline.
        """
        s = self._s
        if not s.started or s.pid != os.getpid():
            return True
        timeout = self.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        try:
            done = self.flush(timeout=timeout)
        except SenderStartError:
            done = False  # what is held is dropped and reported below
        with s.lock:
            s.closing = True
            s.outbox.append(_STOP)
            self._wake_feeder_locked(s)
        if s.feeder is not None:
            s.feeder.join(max(0.1, deadline - time.monotonic()))
        while time.monotonic() < deadline:
            with s.lock:  # includes a replacement that started while we were closing
                handles = [h for h in s.senders if h is not None and h.process.is_alive()]
            if not handles:
                break
            handles[0].process.join(min(0.1, max(0.0, deadline - time.monotonic())))
        with s.lock:
            handles = [h for h in s.senders if h is not None]
        for stop in ("terminate", "kill"):  # SIGTERM: send what you can in 1 s; then SIGKILL
            alive = [h.process for h in handles if h.process.is_alive()]
            for process in alive:
                getattr(process, stop)()
            end = time.monotonic() + 1.0
            for process in alive:
                process.join(max(0.0, end - time.monotonic()))
        self._wake_listener(s)
        if s.listener is not None:
            s.listener.join(5.0)  # it reads what the senders acknowledged before they ended
        with s.lock:
            left = [batch.undone() for batch in s.in_flight.values()]
            left += [item.undone() for item in s.outbox if isinstance(item, _Batch)]
            if s.micro_events:
                self._counters.accepted += s.micro_events
                ipc.seal_batch(s.micro, s.micro_lengths, 0)
                left.append(ipc.batch_events(s.micro))
            self._counters.add_locked(dropped=sum(map(len, left)))
            s.in_flight.clear()
            s.outbox.clear()
            s.stopped = True
            s.started = False
            s.feeder_cond.notify_all()
            s.done_cond.notify_all()
            drops = self._take_drops_locked(s)
            self._s = _State(s.lock)  # a later input() starts a new run
        self._notify_drops(drops)
        dropped = sum(map(len, left))
        if dropped:
            logger.warning(
                "ProcessEmitter.close: dropped %d undelivered event(s) at the deadline", dropped
            )
        for events in left:
            if events:
                self._notify([], events)  # counted above
        for sock in (s.wake_r, s.wake_w):
            if sock is not None:
                sock.close()
        lifecycle.release(self)
        return done and not dropped

    def __enter__(self) -> ProcessEmitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> EmitterStats:
        """Counters and gauges; see :class:`~snowplow_tracker.delivery.stats.EmitterStats`."""
        s = self._s
        with s.lock:
            handles = [h for h in s.senders if h is not None]
            snapshot = self._counters.snapshot_locked(
                queued=s.micro_events + s.outbox_events,
                in_flight=s.in_flight_events,
                queued_bytes=self.max_queue_bytes - s.room if s.started else 0,
            )
            snapshot.accepted += s.micro_events  # counted at submit
            snapshot.dropped += s.drop_events  # dropped already, reported soon
        snapshot.senders_alive = sum(1 for h in handles if h.process.is_alive())
        return snapshot

    def sender_pids(self) -> List[int]:
        """Process ids of the running senders (for operators and tests)."""
        s = self._s
        with s.lock:
            return [h.process.pid for h in s.senders if h is not None and h.process.pid]

    # ------------------------------------------------ exit and fork (emitters.lifecycle)
    @property
    def _pid(self) -> int:
        """The process whose senders and threads this run's state belongs to."""
        return self._s.pid

    def _begin_exit(self) -> None:
        """At exit, before any emitter is waited on: nothing to start (the senders send)."""

    def _shutdown(self, timeout: float, when: str) -> bool:
        """At exit: :meth:`close` within ``timeout`` (a never-started emitter has nothing)."""
        return self.close(max(0.0, timeout))

    def _rebuild_in_child(self) -> None:
        """In a forked child: a fresh, empty run (the parent keeps its senders)."""
        self._reset_after_fork()

    def _reset_after_fork(self) -> None:
        old = self._s
        children = getattr(multiprocessing.process, "_children", None)
        for handle in old.senders:
            if handle is None:
                continue
            try:
                handle.conn.close()
            except OSError:
                pass
            if isinstance(children, set):
                children.discard(handle.process)
        for sock in (old.wake_r, old.wake_w):
            if sock is not None:
                sock.close()
        self._counters = type(self._counters)()
        self._s = _State(self._counters.lock)
        self._sender_config = SenderConfig(
            **{**self._sender_config.__dict__, "host_pid": os.getpid()}
        )
