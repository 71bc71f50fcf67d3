"""``ProcessEmitter``: the tracker's hot path hands events to a pool of sender processes.

Data path (see DESIGN.md): ``input`` serialises the event once (orjson) and appends the bytes to
a small micro-batch; a full or old micro-batch goes, as ONE pipe message, to the sender process
with the least work in flight. Senders batch (``buffer_size``, ``byte_limit``,
``max_batch_age``), send over HTTP with retries and acknowledge each micro-batch. The host keeps
every micro-batch until its acknowledgement, so the events of a sender that dies are handed to
its replacement. A listener thread in the host receives the acknowledgements, keeps the
statistics and calls ``on_success``/``on_failure``.

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
``if __name__ == "__main__":``, as for any ``multiprocessing`` code.
"""

from __future__ import annotations

import atexit
import functools
import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Deque, Dict, List, Mapping, Optional, Set, Tuple, Union

import psutil
from orjson import dumps as _dumps

from . import ipc
from ._logging import ThrottledLog, logger
from .batching import throughput_defaults
from .emitters import (
    BaseEmitter,
    FailureCallback,
    SuccessCallback,
    check_capacity,
    encode_or_raise,
    resolve_batch_size,
)
from .errors import ConfigurationError
from .retry import RetryPolicy
from .sender import DEFAULT_MAX_IN_FLIGHT, SenderConfig, check_max_in_flight, sender_main
from .stats import EmitterStats
from .transport import Timeout
from .wire import PayloadDict, encode_event

_FLUSH = "flush"
_STOP = "stop"
_drop_log = ThrottledLog()

#: Default events per pipe message.
DEFAULT_IPC_BATCH_SIZE = 256
#: Default seconds a partial micro-batch waits in the host before it goes to a sender.
DEFAULT_IPC_MAX_DELAY = 0.05


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


def default_process_count() -> int:
    """Half the logical CPUs (psutil), at least 1 and at most 4: senders mostly wait on I/O."""
    return max(1, min(4, (psutil.cpu_count(logical=True) or 1) // 2))


@dataclass
class _SenderHandle:
    index: int
    process: Any  # multiprocessing.Process of the chosen context
    conn: Connection
    in_flight: int = 0


@dataclass
class _State:
    """Everything that belongs to one process: replaced wholesale in a forked child."""

    pid: int = field(default_factory=os.getpid)
    lock: threading.Lock = field(default_factory=threading.Lock)
    micro: List[bytes] = field(default_factory=list)
    micro_started: float = 0.0
    outbox: Deque[Union[Tuple[int, List[bytes]], str]] = field(default_factory=deque)
    outbox_events: int = 0
    in_flight: Dict[int, Tuple[int, List[bytes]]] = field(default_factory=dict)
    in_flight_events: int = 0
    next_id: int = 1
    senders: List[Optional[_SenderHandle]] = field(default_factory=list)
    drops: List[List[bytes]] = field(default_factory=list)
    reporting: Set[int] = field(default_factory=set)  # acknowledged, callbacks not yet run
    feeder: Optional[threading.Thread] = None
    listener: Optional[threading.Thread] = None
    wake_r: Optional[socket.socket] = None
    wake_w: Optional[socket.socket] = None
    started: bool = False
    closing: bool = False
    feeder_idle: bool = False


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
        on_failure: Called on the listener thread with ``(number sent, unsent event dicts)``
            for events given up on after retries, or dropped because a bound was reached.
        byte_limit: Bytes per request as sent on the wire (default 64,000 for POST, also when
            only ``buffer_size`` is given; see
            :func:`~snowplow_tracker.batching.throughput_defaults`).
        request_timeout: Seconds, or ``(connect, read)``; default ``(5, 10)``.
        process_count: Sender processes (default: :func:`default_process_count`).
        max_queue_size: Events held in the host (waiting or in flight) before new events are
            dropped and reported to ``on_failure`` (default 100,000). ``track_*`` never blocks.
        max_batch_age: Seconds a partial request batch may wait in a sender (default 0.25); a
            lone event leaves within about ``max_batch_age + ipc_max_delay``.
        retry_policy: Backoff, attempt/deadline limits and never-retried statuses (default
            :class:`~snowplow_tracker.retry.RetryPolicy()`: 8 attempts within 300 s).
        start_method: ``"spawn"`` (default), ``"forkserver"`` or ``"fork"``.
        ipc_batch_size: Events per pipe message (default 256).
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

    The defaults are made for a collector a network away: POST bodies up to 64 kB, sent when
    full or ``max_batch_age`` old, with up to 64 requests in flight per sender.
    """

    _where = "ProcessEmitter"

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
        max_queue_size: int = 100_000,
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
    ) -> None:
        buffer_size = resolve_batch_size(buffer_size, batch_size, self._where)
        capacity = check_capacity(buffer_capacity, self._where)
        if capacity is not None:
            max_queue_size = min(max_queue_size, capacity)
        buffer_size, byte_limit = throughput_defaults(method, buffer_size, byte_limit)
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
            buffer_capacity=buffer_capacity,
            max_retry_delay_seconds=max_retry_delay_seconds,
            custom_retry_codes=custom_retry_codes,
        )
        where = self._where
        if process_count is None:
            process_count = default_process_count()
        for name, value in (
            ("process_count", process_count),
            ("max_queue_size", max_queue_size),
            ("ipc_batch_size", ipc_batch_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(
                    f"{where}: argument '{name}' must be a positive integer, got {value!r}"
                )
        for name, number in (
            ("ipc_max_delay", ipc_max_delay),
            ("shutdown_timeout", shutdown_timeout),
        ):
            if isinstance(number, bool) or not isinstance(number, (int, float)) or number <= 0:
                raise ConfigurationError(
                    f"{where}: argument '{name}' must be a positive number of seconds, "
                    f"got {number!r}"
                )
        methods = multiprocessing.get_all_start_methods()
        if start_method not in methods:
            raise ConfigurationError(
                f"{where}: argument 'start_method' must be one of {methods}, got {start_method!r}"
            )
        self.process_count = process_count
        self.max_in_flight = check_max_in_flight(max_in_flight, where)
        self.max_queue_size = max_queue_size
        self.ipc_batch_size = ipc_batch_size
        self.ipc_max_delay = float(ipc_max_delay)
        self.shutdown_timeout = float(shutdown_timeout)
        self.start_method = start_method
        self._ctx: Any = multiprocessing.get_context(start_method)
        self._sender_config = SenderConfig(
            endpoint=endpoint,
            protocol=protocol,
            port=port,
            request_timeout=request_timeout,
            limits=self.limits,
            retry_policy=self.retry_policy,
            host_pid=os.getpid(),
            orphan_timeout=self.shutdown_timeout,
            log_level=logger.level,
            max_in_flight=self.max_in_flight,
        )
        self._s = _State()
        # The Tracker's fast path, unless a subclass changed what input() does.
        self._tracker_input = (
            self._input_from_tracker if type(self).input is ProcessEmitter.input else self.input
        )
        _install_fork_guard()
        ref = weakref.ref(self)
        atexit.register(_close_at_exit, ref)
        os.register_at_fork(after_in_child=functools.partial(_reset_in_child, ref))

    # ---------------------------------------------------------------- hot path
    def input(self, payload: Any) -> None:
        """Serialise one event and queue it for the senders; never waits for the network.

        Args:
            payload: The event, a flat dict of protocol field names to strings; not modified.

        Raises:
            EncodingError: The payload cannot be serialised; nothing was queued.
        """
        self._enqueue(encode_or_raise(payload, self.method, self._where))

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
        s = self._s
        with s.lock:
            if not s.started:
                self._start_locked()
            micro = s.micro
            micro.append(event)
            self._counters.accepted += 1
            n = len(micro)
            if n == 1:
                s.micro_started = time.monotonic()
                if s.feeder_idle:
                    self._wake_feeder_locked()
            elif n >= self.ipc_batch_size:
                self._submit_locked()

    # ---------------------------------------------------------------- host internals
    def _wake_feeder_locked(self) -> None:
        s = self._s
        s.feeder_idle = False
        self._feeder_cond.notify()

    def _submit_locked(self) -> None:
        s = self._s
        micro = s.micro
        if not micro:
            return
        s.micro = []
        n = len(micro)
        if s.outbox_events + s.in_flight_events + n > self.max_queue_size:
            s.drops.append(micro)
            self._wake_listener()
            return
        s.outbox.append((s.next_id, micro))
        s.next_id += 1
        s.outbox_events += n
        if s.feeder_idle:
            self._wake_feeder_locked()

    def _wake_listener(self) -> None:
        wake_w = self._s.wake_w
        if wake_w is not None:
            try:
                wake_w.send(b"x")
            except OSError:
                pass  # buffer full: the listener is already due to wake up

    def _start_locked(self) -> None:
        s = self._s
        s.started = True
        s.closing = False
        s.senders = [None] * self.process_count
        s.wake_r, s.wake_w = socket.socketpair()
        s.wake_r.setblocking(False)
        s.wake_w.setblocking(False)
        self._feeder_cond = threading.Condition(s.lock)
        self._done_cond = threading.Condition(s.lock)
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
        process = self._ctx.Process(
            target=sender_main,
            args=(child_conn, self._sender_config),
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
            s.senders[index] = _SenderHandle(index, process, host_conn)
            if s.feeder_idle:
                self._wake_feeder_locked()

    def _pick_sender_locked(self, s: _State) -> Optional[_SenderHandle]:
        best: Optional[_SenderHandle] = None
        for handle in s.senders:
            if handle is not None and (best is None or handle.in_flight < best.in_flight):
                best = handle
        return best

    def _feed(self, s: _State) -> None:
        """Feeder thread: turns old micro-batches into messages and writes them to senders."""
        cond = self._feeder_cond
        while True:
            with s.lock:
                while True:
                    if s.outbox and (
                        isinstance(s.outbox[0], str) or self._pick_sender_locked(s) is not None
                    ):
                        item = s.outbox.popleft()
                        break
                    timeout: Optional[float] = None
                    if s.micro:
                        timeout = self.ipc_max_delay - (time.monotonic() - s.micro_started)
                        if timeout <= 0:
                            self._submit_locked()
                            continue
                    if s.outbox:  # waiting for a sender to (re)start
                        timeout = 0.05 if timeout is None else min(timeout, 0.05)
                    s.feeder_idle = True
                    cond.wait(timeout)
                    s.feeder_idle = False
                if isinstance(item, str):
                    targets = [h for h in s.senders if h is not None]
                    message = ipc.FLUSH if item == _FLUSH else ipc.STOP
                    handle = None
                else:
                    batch_id, events = item
                    handle = self._pick_sender_locked(s)
                    assert handle is not None
                    s.outbox_events -= len(events)
                    s.in_flight[batch_id] = (handle.index, events)
                    s.in_flight_events += len(events)
                    handle.in_flight += len(events)
            if handle is None:
                for target in targets:
                    try:
                        target.conn.send_bytes(message)
                    except OSError:
                        pass  # it died; the listener replaces it
                if item == _STOP:
                    return
                continue
            try:
                handle.conn.send_bytes(ipc.pack_batch(batch_id, events))
            except OSError:
                with s.lock:
                    self._requeue_locked(s, [batch_id])
                time.sleep(0.01)

    def _requeue_locked(self, s: _State, batch_ids: List[int]) -> int:
        """Put in-flight micro-batches back at the head of the outbox; returns the events."""
        moved = 0
        for batch_id in reversed(batch_ids):
            entry = s.in_flight.pop(batch_id, None)
            if entry is None:
                continue
            index, events = entry
            s.in_flight_events -= len(events)
            handle = s.senders[index]
            if handle is not None:
                handle.in_flight -= len(events)
            s.outbox.appendleft((batch_id, events))
            s.outbox_events += len(events)
            moved += len(events)
        if moved and s.feeder_idle:
            self._wake_feeder_locked()
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
                closing = s.closing
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
            self._report_drops(s)
        self._report_drops(s)

    def _read_acks(self, s: _State, handle: _SenderHandle) -> None:
        conn = handle.conn
        try:
            while conn.poll(0):
                message = conn.recv_bytes()
                if message[:1] == ipc.ACK:
                    self._on_ack(s, *ipc.unpack_ack(message))
        except (EOFError, OSError):
            pass

    def _on_ack(self, s: _State, batch_id: int, retried: int, failed_idx: List[int]) -> None:
        with s.lock:
            entry = s.in_flight.pop(batch_id, None)
            if entry is None:
                return
            index, events = entry
            s.in_flight_events -= len(events)
            handle = s.senders[index]
            if handle is not None:
                handle.in_flight -= len(events)
            s.reporting.add(batch_id)  # flush() waits until on_failure/on_success have run
        try:
            self._report_ack(events, retried, failed_idx)
        finally:
            with s.lock:
                s.reporting.discard(batch_id)
                self._done_cond.notify_all()

    def _report_ack(self, events: List[bytes], retried: int, failed_idx: List[int]) -> None:
        if retried:
            self._counters.add(retried=retried)
        if failed_idx:
            bad = set(failed_idx)
            sent = [e for i, e in enumerate(events) if i not in bad]
            failed = [events[i] for i in failed_idx]
        else:
            sent, failed = events, []
        self._report(sent, failed)

    def _on_sender_exit(self, s: _State, handle: _SenderHandle) -> None:
        handle.process.join(0.1)
        handle.conn.close()
        with s.lock:
            if s.senders[handle.index] is handle:
                s.senders[handle.index] = None
            if s.closing:
                return
            lost = [bid for bid, (i, _) in s.in_flight.items() if i == handle.index]
            moved = self._requeue_locked(s, lost)
            if moved:
                # A flush may have been asked of the dead sender: have them sent promptly.
                s.outbox.append(_FLUSH)
        logger.warning(
            "sender process %d (pid %s) exited with code %s; replacing it and handing its %d "
            "unacknowledged event(s) to the pool",
            handle.index,
            handle.process.pid,
            handle.process.exitcode,
            moved,
        )
        self._counters.add(restarts=1, redelivered=moved)

    def _report_drops(self, s: _State) -> None:
        with s.lock:
            drops, s.drops = s.drops, []
        for events in drops:
            _drop_log.log("ProcessEmitter queue full: dropped %d event(s)", len(events))
            self._report([], events, dropped=True)

    # ---------------------------------------------------------------- public control
    def flush(self, is_async: bool = False, timeout: Optional[float] = None) -> bool:
        """Send every event handed over before this call.

        Args:
            is_async: Return at once after asking the senders to send their buffers.
            timeout: Seconds to wait at most; None waits until each event was sent or given
                up on (bounded by the retry policy's deadline).

        Returns:
            True when every event handed over before the call was delivered or reported to
            ``on_failure``; False when ``timeout`` passed first, or with ``is_async``.
        """
        s = self._s
        with s.lock:
            if not s.started:
                return True
            self._submit_locked()
            watermark = s.next_id - 1
            s.outbox.append(_FLUSH)
            self._wake_feeder_locked()
            if is_async:
                return False
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._pending_locked(s, watermark):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._done_cond.wait(remaining if remaining is not None else 1.0)
        return True

    @staticmethod
    def _pending_locked(s: _State, watermark: int) -> bool:
        if any(bid <= watermark for bid in s.in_flight) or s.reporting:
            return True
        return any(not isinstance(item, str) and item[0] <= watermark for item in s.outbox)

    def close(self, timeout: Optional[float] = None) -> bool:
        """Flush, then stop the senders and the emitter's threads.

        Events still undelivered when ``timeout`` passes are dropped, counted and reported to
        ``on_failure``. The emitter can be used again afterwards (it starts anew).

        Args:
            timeout: Seconds for the whole shutdown (default ``shutdown_timeout``).

        Returns:
            True when every event was delivered or reported as failed by the collector, False
            when some had to be dropped at the deadline.
        """
        s = self._s
        if not s.started or s.pid != os.getpid():
            return True
        timeout = self.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        done = self.flush(timeout=timeout)
        with s.lock:
            s.closing = True
            s.outbox.append(_STOP)
            self._wake_feeder_locked()
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
        for handle in handles:
            if handle.process.is_alive():
                handle.process.terminate()
                handle.process.join(1.0)
            if handle.process.is_alive():
                handle.process.kill()
                handle.process.join(1.0)
        self._wake_listener()
        if s.listener is not None:
            s.listener.join(5.0)
        with s.lock:
            left = [events for _, events in s.in_flight.values()]
            left += [item[1] for item in s.outbox if not isinstance(item, str)]
            if s.micro:
                left.append(s.micro)
            s.in_flight.clear()
            s.outbox.clear()
            s.micro = []
            s.in_flight_events = s.outbox_events = 0
            s.started = False
        if left:
            logger.warning(
                "ProcessEmitter.close: dropped %d undelivered event(s) at the deadline",
                sum(map(len, left)),
            )
        for events in left:
            self._report([], events, dropped=True)
        for sock in (s.wake_r, s.wake_w):
            if sock is not None:
                sock.close()
        s.wake_r = s.wake_w = None
        return done and not left

    def __enter__(self) -> ProcessEmitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> EmitterStats:
        """Counters and gauges; see :class:`~snowplow_tracker.stats.EmitterStats`."""
        s = self._s
        with s.lock:
            queued = len(s.micro) + s.outbox_events
            in_flight = s.in_flight_events
            handles = [h for h in s.senders if h is not None]
        alive = sum(1 for h in handles if h.process.is_alive())
        return self._counters.snapshot(queued=queued, in_flight=in_flight, senders_alive=alive)

    def sender_pids(self) -> List[int]:
        """Process ids of the running senders (for operators and tests)."""
        s = self._s
        with s.lock:
            return [h.process.pid for h in s.senders if h is not None and h.process.pid]

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
        self._s = _State()
        self._sender_config = SenderConfig(
            **{**self._sender_config.__dict__, "host_pid": os.getpid()}
        )
        self._counters = type(self._counters)()


def _close_at_exit(ref: weakref.ReferenceType[ProcessEmitter]) -> None:
    emitter = ref()
    if emitter is not None and emitter._s.started and emitter._s.pid == os.getpid():
        try:
            emitter.close()
        except Exception:  # noqa: BLE001 - never fail interpreter exit
            logger.exception("ProcessEmitter: error while closing at exit")


def _reset_in_child(ref: weakref.ReferenceType[ProcessEmitter]) -> None:
    emitter = ref()
    if emitter is not None:
        emitter._reset_after_fork()
