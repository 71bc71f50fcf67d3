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
thread (``track_*`` never waits for a process to start). Each is a fresh interpreter running
:mod:`.sender_process` (``ps`` shows ``snowplow-sender[host pid P #i] collector``): it never runs
the host's main module, so a script needs no ``if __name__ == "__main__":`` guard, and no
``multiprocessing`` resource tracker is started. After ``os.fork()`` the child gets a fresh,
empty emitter that starts its own senders (the parent keeps sending what it had). At
interpreter exit the emitter flushes within ``shutdown_timeout`` and stops its senders. Each
sender reports that it runs; when the first one exits before that (or has not run within
``SENDER_START_TIMEOUT``) and none ever ran, ``track_*`` and ``flush()`` raise
:class:`~snowplow_tracker.errors.SenderStartError`.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
from typing import Any, List, Optional
from urllib.parse import urlsplit

from orjson import dumps as _dumps

from ... import arguments as _args
from ..._logging import logger
from ...delivery.stats import EmitterStats
from ...errors import SenderStartError
from ...protocol.wire import PayloadDict, encode_event
from ...settings import POSITIONAL, Profile
from .. import lifecycle
from ..base import BaseEmitter, encode_or_raise
from ..constructors import ProcessEmitterConstructor
from .handles import install_fork_guard
from .pool import DROP_PILE_BYTES, IPC_MAX_BATCH_BYTES, SenderPool
from .sender import DEFAULT_MAX_IN_FLIGHT, SenderConfig, check_max_in_flight
from .shared import shared_by_default, shared_spec

__all__ = ["DROP_PILE_BYTES", "ProcessEmitter", "default_process_count"]

#: Default events per pipe message.
DEFAULT_IPC_BATCH_SIZE = 256
#: Default seconds a partial micro-batch waits in the host before it goes to a sender.
DEFAULT_IPC_MAX_DELAY = 0.05
#: Default bound, in bytes, of the encoded events a ``ProcessEmitter`` holds in the host.
DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024


#: Default sender processes per emitter. One sender keeps up to ``max_in_flight`` requests in
#: flight and delivers tens of thousands of events per second (README, "Sizing"): more than one
#: host process tracks, and each sender costs memory. Raise ``process_count`` for more.
DEFAULT_PROCESS_COUNT = 1


def default_process_count() -> int:
    """The default ``process_count``: :data:`DEFAULT_PROCESS_COUNT`, whatever the CPUs (senders
    mostly wait on the network; one is enough for a process, see README's "Sizing")."""
    return DEFAULT_PROCESS_COUNT


class ProcessEmitter(ProcessEmitterConstructor, BaseEmitter):
    """Sends events from a pool of sender processes, so the caller only pays for serialising.

    Takes the arguments of :class:`~snowplow_tracker.emitters.Emitter` but ``session`` and
    ``event_store`` (with ``method`` defaulting to ``"post"``), plus the queue bounds and those
    of its senders:

    Args:
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
        process_count: Sender processes (default 1: :func:`default_process_count`). One sender
            delivers what one host process tracks (see README, "Sizing"); each costs memory.
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
        start_method: Accepted for compatibility and checked (one of
            ``multiprocessing.get_all_start_methods()``), with no effect: every sender is a
            fresh interpreter started with ``subprocess`` (as ``spawn`` would, but without
            running the main module again), whatever the value.
        ipc_batch_size: Events per pipe message (default 256; a message also leaves once it
            holds 1 MiB).
        ipc_max_delay: Seconds a partial pipe message waits in the host (default 0.05).
        shutdown_timeout: Seconds ``close()`` and the exit handler wait (default 10.0).
        max_in_flight: Requests each sender keeps open at once (default 64), each on its own
            keep-alive connection, opened only when that many requests wait. A sender delivers
            about ``max_in_flight * events per request / round trip`` events per second: 64
            requests of ~125 events over a 50 ms link is 160,000/s, over 200 ms 40,000/s. With
            GET (one event per request) it is the bound: 1,280 events/s per sender over 50 ms.
        buffer_capacity: 1.x: also bounds the events held (``max_queue_size`` is the smaller
            of the two) and ``buffer_size``.
        verify: How the senders verify the collector's TLS certificate, as in ``requests``:
            True (default: the ``REQUESTS_CA_BUNDLE`` bundle when set, else certifi's), the
            path of a CA bundle file or directory (a private CA), or False.
        shared_pool: Connect to the ``process_count`` senders that every process of this user
            on this machine shares for the same collector and settings, starting them when none
            runs, instead of starting senders of its own: for servers of many worker processes
            (gunicorn, uWSGI; see :mod:`~snowplow_tracker.emitters.process.shared`). Default:
            the environment variable ``SNOWPLOW_TRACKER_SHARED_POOL`` (``1``, ``true``, ``yes``
            or ``on``). When the folder of their sockets is not private to the user, a warning
            is logged and the emitter starts its own senders (the ``shared_pool`` attribute
            then says False).

    The defaults are made for a collector a network away: POST bodies up to 64 kB, sent when
    full or ``max_batch_age`` old, with up to 64 requests in flight per sender.
    """

    _where = "ProcessEmitter"
    _profile = Profile(
        throughput=True,
        queue_arguments=frozenset({"max_queue_size", "max_queue_bytes"}),
        positional=(*POSITIONAL, "process_count"),
        defaults={
            "method": "post",
            "max_queue_bytes": DEFAULT_MAX_QUEUE_BYTES,
            "max_batch_age": 0.25,
            "shutdown_timeout": 10.0,
        },
        excluded=frozenset({"session"}),
    )

    def _setup(
        self,
        *,
        process_count: Optional[int] = None,
        start_method: str = "spawn",
        ipc_batch_size: int = DEFAULT_IPC_BATCH_SIZE,
        ipc_max_delay: float = DEFAULT_IPC_MAX_DELAY,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        shared_pool: Optional[bool] = None,
    ) -> None:
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
        self.max_queue_bytes: int = queue.max_bytes or DEFAULT_MAX_QUEUE_BYTES
        self.ipc_batch_size = ipc_batch_size
        self.ipc_max_delay = float(ipc_max_delay)
        self.start_method = start_method
        collector = self.settings.collector
        transport = collector.transport_arguments()
        del transport["session"]  # a sender makes its own connections
        self._sender_config = SenderConfig(
            transport=transport,
            target=urlsplit(collector.post_url).netloc,
            limits=self.limits,
            retry_policy=self.retry_policy,
            host_pid=os.getpid(),
            orphan_timeout=self.shutdown_timeout,
            log_level=logger.level,
            max_in_flight=self.max_in_flight,
        )
        if shared_pool is None:
            shared_pool = shared_by_default()
        _args.boolean(where, "shared_pool", shared_pool)
        self._shared = shared_spec(self._sender_config, where) if shared_pool else None
        self.shared_pool = self._shared is not None
        self._pool = SenderPool(self, self._sender_config, self._counters)
        # The Tracker's fast path, unless a subclass changed what input() does.
        self._tracker_input = (
            self._input_from_tracker if type(self).input is ProcessEmitter.input else self.input
        )
        install_fork_guard()
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
        # objects would cost ~8 KB of host memory per queued 0.5 KB event. The appends of
        # SenderPool's micro-batch and the room of its HostQueue are inlined here: this runs
        # once per tracked event.
        pool = self._pool
        q = pool.queue
        length = len(event)
        size = length + 4  # ipc.EVENT_OVERHEAD
        with q.lock:
            n = pool.micro_events + 1
            if size <= q.room and n <= q.event_room:
                q.room -= size
                pool.micro_events = n
                pool.micro_lengths.append(length)  # as ipc.append_event
                micro = pool.micro
                micro += event
                if n == 1:
                    pool.micro_started = time.monotonic()
                    if pool.feeder_idle:
                        pool.wake_feeder_locked()
                elif n >= self.ipc_batch_size or len(micro) >= IPC_MAX_BATCH_BYTES:
                    pool.submit_locked()
                return
            started = pool.started
            error = pool.start_error
            drops = None
            if started and error is None:
                drops = pool.drop_locked(event)  # a bound was reached
        if error is not None:
            raise error
        if not started:
            self._start_and_enqueue(event)
        elif drops is not None:
            q.report_taken(drops)

    def _start_and_enqueue(self, event: bytes) -> None:
        """First use, or this run was closed meanwhile (then ``self._pool`` is the next run),
        or its senders could not start (then it raises).

        Raises:
            SenderStartError: No sender could start, or this process cannot start any.
        """
        pool = self._pool
        with pool.lock:
            if pool.start_error is not None:
                raise pool.start_error
            if not pool.started and not pool.stopped:
                lifecycle.keep(self)  # its threads refer to it too, until close()
                pool.start_locked()
        self._enqueue(event)

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
        pool = self._pool
        with pool.lock:
            if pool.start_error is not None:
                raise pool.start_error
            if not pool.started:
                return True
            target = pool.request_flush_locked()
            if is_async:
                return False
            deadline = None if timeout is None else time.monotonic() + timeout
            if not pool.queue.wait_locked(target, deadline, pool.flush_check_locked):
                return False
        # Drops are reported by the listener thread: have on_failure see them all first.
        return pool.queue.settle_drops(deadline)

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
        pool = self._pool
        if not pool.started or pool.pid != os.getpid():
            return True
        timeout = self.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        try:
            done = self.flush(timeout=timeout)
        except SenderStartError:
            done = False  # what is held is dropped and reported below
        dropped = pool.shutdown(deadline, self._next_run)
        lifecycle.release(self)
        return done and not dropped

    def _next_run(self) -> None:
        """A later ``input()`` starts a new run (called when this one stops, under its lock)."""
        self._pool = SenderPool(self, self._sender_config, self._counters)

    def __enter__(self) -> ProcessEmitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> EmitterStats:
        """Counters and gauges; see :class:`~snowplow_tracker.delivery.stats.EmitterStats`."""
        pool = self._pool
        q = pool.queue
        with q.lock:
            handles = [h for h in pool.senders if h is not None]
            snapshot = self._counters.snapshot_locked(
                queued=pool.micro_events + q.ready_events,
                in_flight=q.in_flight_events,
                queued_bytes=q.held_bytes,
            )
            snapshot.accepted += pool.micro_events  # counted at submit
        snapshot.senders_alive = sum(1 for h in handles if h.process.is_alive())
        return snapshot

    def sender_pids(self) -> List[int]:
        """Process ids of the running senders (for operators and tests)."""
        pool = self._pool
        with pool.lock:
            return [h.process.pid for h in pool.senders if h is not None and h.process.pid]

    # ------------------------------------------------ exit and fork (emitters.lifecycle)
    @property
    def _pid(self) -> int:
        """The process whose senders and threads this run belongs to."""
        return self._pool.pid

    def _begin_exit(self) -> None:
        """At exit, before any emitter is waited on: nothing to start (the senders send)."""

    def _shutdown(self, timeout: float, when: str) -> bool:
        """At exit: :meth:`close` within ``timeout`` (a never-started emitter has nothing)."""
        return self.close(max(0.0, timeout))

    def _rebuild_in_child(self) -> None:
        """In a forked child: a fresh, empty run (the parent keeps its senders)."""
        self._pool.abandon_after_fork()
        self._counters = type(self._counters)()
        self._sender_config = dataclasses.replace(self._sender_config, host_pid=os.getpid())
        self._pool = SenderPool(self, self._sender_config, self._counters)
