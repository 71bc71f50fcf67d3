"""``RedisEmitter``: store events in a Redis list, for a :class:`RedisWorker` to send later.

Each event is serialised once, by :func:`snowplow_tracker.protocol.wire.encode_event` with
``method="post"``: the list holds the events' JSON objects (every value a string, no ``stm``),
exactly the bytes a POST request carries, so a worker can send them without re-serialising them.

**The caller waits on Redis at most twice ``push_timeout`` (0.5 s by default), once per
outage.** ``track_*`` adds the event to the emitter's
:class:`~snowplow_tracker.delivery.batching.Batcher`; a full batch moves to the queue of events
to push (held compactly in ``bytearray`` chunks), and while the last push worked ``track_*``
pushes them itself (pipelined ``RPUSH``, 1,000 values per command) through a copy of the client
with ``push_timeout`` socket timeouts and no retries: with the default ``buffer_size=1`` an
event is in Redis when ``track_*`` returns. Pushing in the caller's thread matters for a host
that tracks in a CPU-bound loop: a background thread would wait for the GIL after each write.
After a failed push ``track_*`` only queues, and a background thread (``snowplow-redis-pusher``)
retries with a capped back-off (0.1 s doubling to 5 s) until a push works; it also pushes a
partial batch older than ``max_batch_age``, on :meth:`RedisEmitter.flush` and on the flush
timer's ticks. Delivery is at-least-once: a push that timed out may still be carried out.

What is held is bounded by its :class:`~snowplow_tracker.delivery.host_queue.HostQueue`
(``max_queue_bytes``, ``max_buffered`` events, counting those being pushed): an event tracked
beyond a bound is dropped, counted in ``stats().dropped``, passed to ``on_failure`` and logged
at a throttled rate. On :meth:`RedisEmitter.close` and at interpreter exit
(:mod:`snowplow_tracker.emitters.lifecycle`) the emitter pushes what it holds for up to
``shutdown_timeout`` seconds; what is left then is dropped and reported the same way.

``redis`` is imported when the first event is tracked (or a client is built), never with
``snowplow_tracker``: ``pip install 'snowplow-multiprocess-tracker[redis]'``. The Redis URL's
password never appears in a log record or a ``repr``.

Example:
    >>> import redis
    >>> from snowplow_tracker import Tracker
    >>> from snowplow_tracker.emitters.redis.emitter import RedisEmitter
    >>> e = RedisEmitter(redis.Redis(db=2), "my_snowplow_key")  # doctest: +SKIP
    >>> t = Tracker(e)  # doctest: +SKIP
    >>> t.track_page_view("http://www.example.com")  # doctest: +SKIP
    >>> redis.Redis(db=2).lrange("my_snowplow_key", 0, -1)  # doctest: +SKIP
    [b'{"e":"pv","url":"http://www.example.com",...}']

    For throughput, buffer: ``RedisEmitter(url="redis://redis.internal:6379/0",
    buffer_size=500, max_batch_age=0.5)``; then run ``snowplow-redis-worker`` to send.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import weakref
from traceback import format_exception
from typing import Any, Callable, List, Mapping, Optional, Tuple

from ... import arguments as _args
from ..._logging import ThrottledLog, logger
from ...delivery.batching import Batcher, BatchLimits
from ...delivery.credentials import (
    mask_credentials,
)
from ...delivery.event_chunks import Chunk
from ...delivery.host_queue import HostQueue
from ...delivery.retry import RetryPolicy
from ...delivery.stats import EmitterStats
from ...protocol.wire import PayloadDict, decode_events
from .. import lifecycle
from ..base import FlushTimer, encode_or_raise
from .client import (
    bounded_client,
    check_redis_client,
    check_redis_url,
    describe_target,
    is_redis_error,
    redis_client,
)

__all__ = ["RedisEmitter", "is_redis_error", "redis_client"]

SuccessCallback = Callable[[List[PayloadDict]], Any]
FailureCallback = Callable[[int, List[PayloadDict]], Any]

#: Values per ``RPUSH`` command (and events per chunk of the in-memory queue).
RPUSH_CHUNK = 1000
#: Bytes after which a chunk of the in-memory queue is sealed, whatever its event count.
CHUNK_BYTES = 1 << 20
#: ``RPUSH`` commands sent in one pipeline (one push of the background thread).
CHUNKS_PER_PUSH = 32
#: Default bound of the bytes of events held in memory.
DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024
#: Default seconds :meth:`RedisEmitter.flush` waits.
DEFAULT_FLUSH_TIMEOUT = 10.0
#: Default seconds :meth:`RedisEmitter.close` (and interpreter exit) keeps pushing.
DEFAULT_SHUTDOWN_TIMEOUT = 5.0
#: Default seconds a ``track_*`` call may wait on Redis (its socket timeouts).
DEFAULT_PUSH_TIMEOUT = 0.5
#: Back-off between pushes while Redis fails: 0.1 s doubling to 5 s, with jitter.
BACKOFF = RetryPolicy(base_delay=0.1, max_delay=5.0, jitter=0.5)


#: Seconds for a timer: positive and finite (a thread cannot wait an infinite time).
timer_seconds = _args.Rule("a positive number of seconds", _args.is_positive_finite)


def _push_chunks(
    client: Any, key: str, chunks: List[Chunk], log: ThrottledLog
) -> Tuple[List[Chunk], List[Chunk]]:
    """RPUSH each chunk's events (one command per chunk; several through one pipeline).

    The values are passed as ``bytes``: redis-py writes each ``memoryview`` value with a
    system call of its own, but joins small ``bytes`` values into larger writes.

    Returns:
        ``(pushed, not_pushed)`` chunks.

    Raises:
        Exception: The command or pipeline failed as a whole (connection error): nothing is
            known pushed.
    """
    if len(chunks) == 1:
        client.rpush(key, *chunks[0].events())
        return chunks, []
    pipe = client.pipeline(transaction=False)
    for chunk in chunks:
        pipe.rpush(key, *chunk.events())
    results = pipe.execute(raise_on_error=False)
    pushed: List[Chunk] = []
    failed: List[Chunk] = []
    for chunk, result in zip(chunks, results):
        (failed if isinstance(result, BaseException) else pushed).append(chunk)
        if isinstance(result, BaseException):
            log.log("RPUSH to Redis failed: %s", mask_credentials(str(result)))
    return pushed, failed


def _count(chunks: List[Chunk]) -> int:
    return sum(len(chunk) for chunk in chunks)


class RedisEmitter:
    """Appends events to a Redis list (``RPUSH``), as JSON objects, for a worker to send.

    ``input`` (every ``track_*``) waits on Redis ``push_timeout`` seconds at most, and not at
    all while Redis is failing (see the module documentation). Thread-safe; survives
    ``os.fork`` (a child starts with an empty queue and its own connections and threads, the
    flush timer running again if it ran: :mod:`snowplow_tracker.emitters.lifecycle`).

    Args:
        rdb: A ``redis.Redis`` (or ``StrictRedis``) client; by default one is created on first
            use, from ``url`` or for ``localhost:6379`` database 0, with socket timeouts of
            2 s (connect) and 5 s. A client of your own should have a ``socket_timeout``:
            it bounds how long :meth:`close` may wait for a push already sent to a hung Redis.
        key: The Redis list the events are appended to (default ``"snowplow"``).
        url: A Redis URL (``redis://[[user]:password@]host:port/db``, ``rediss://``,
            ``unix://``) for the default client; cannot be combined with ``rdb``.
        buffer_size: Events queued before they are pushed. The default, 1, pushes each event
            before ``track_*`` returns (while Redis answers); a few hundred is much cheaper
            per event.
        max_batch_age: Seconds a partial buffer may wait before it is pushed anyway; None to
            push only on a full buffer, :meth:`flush`, the flush timer or exit. Default 1.0.
        max_buffered: Bound of the events held in memory (queued or being pushed; default
            100,000); an event tracked beyond it is dropped and reported.
        max_queue_bytes: Bound of the bytes of events held in memory (default 64 MiB); an event
            tracked beyond it is dropped and reported.
        shutdown_timeout: Seconds :meth:`close` and interpreter exit keep trying to push what
            is held (default 5); what is left then is dropped and reported.
        push_timeout: The socket timeouts of the pushes ``track_*`` makes, never retried in
            the caller (default 0.5 s); a ``track_*`` call waits on Redis twice this at most
            (a push in progress by another thread, then its own).
        on_success: Called with the list of event dicts after each successful push.
        on_failure: Called with ``(0, list of event dicts)`` for events dropped (a bound was
            reached, or Redis could not be reached before ``shutdown_timeout`` at close);
            they can be passed to ``input`` of another emitter.

    Raises:
        ConfigurationError: An argument is invalid (the message names it).
    """

    _where = "RedisEmitter"

    #: Held strongly by :mod:`~snowplow_tracker.emitters.lifecycle` (from the first event).
    _kept = False

    def __init__(
        self,
        rdb: Any = None,
        key: str = "snowplow",
        *,
        url: Optional[str] = None,
        buffer_size: int = 1,
        max_batch_age: Optional[float] = 1.0,
        max_buffered: int = 100_000,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        push_timeout: float = DEFAULT_PUSH_TIMEOUT,
        on_success: Optional[SuccessCallback] = None,
        on_failure: Optional[FailureCallback] = None,
    ) -> None:
        where = self._where
        check_redis_client(rdb, url, where)
        self.url = None if url is None else check_redis_url(url, where)
        _args.non_empty_string(where, "key", key)
        _args.positive_integer(where, "buffer_size", buffer_size)
        _args.positive_integer(where, "max_buffered", max_buffered)
        _args.positive_integer(where, "max_queue_bytes", max_queue_bytes)
        if max_buffered < buffer_size:
            _args.fail(
                where,
                "max_buffered",
                f"an integer of at least 'buffer_size' ({buffer_size})",
                max_buffered,
            )
        _args.optional_positive_seconds(where, "max_batch_age", max_batch_age)
        _args.positive_seconds(where, "shutdown_timeout", shutdown_timeout)
        _args.positive_seconds(where, "push_timeout", push_timeout)
        _args.optional_callable(where, "on_success", on_success)
        _args.optional_callable(where, "on_failure", on_failure)
        self.key = key
        #: When a batch is full (``buffer_size``) or old enough (``max_batch_age``) to push.
        self.limits = BatchLimits.create("post", buffer_size, None, max_batch_age, where=where)
        self.max_buffered = max_buffered
        self.max_queue_bytes = max_queue_bytes
        self.shutdown_timeout = float(shutdown_timeout)
        self.push_timeout = float(push_timeout)
        self.on_success: Optional[SuccessCallback] = on_success
        self.on_failure: Optional[FailureCallback] = on_failure
        self._rdb = rdb
        self._client_lock = threading.Lock()
        # Throttled per emitter: one emitter's outage never hides another's.
        self._push_log = ThrottledLog()
        self._callback_log = ThrottledLog()
        #: The flush timer of :meth:`set_flush_timer` (``timer.is_active()``, as 1.x).
        self.timer = FlushTimer()
        self._init_state()
        lifecycle.watch(self)

    @property
    def buffer_size(self) -> int:
        """Events in a full batch: it is pushed at once."""
        return self.limits.buffer_size

    @property
    def max_batch_age(self) -> Optional[float]:
        """Seconds a partial batch may wait before it is pushed, or None."""
        return self.limits.max_age

    def _init_state(self) -> None:
        """Create what belongs to one process: locks, buffers, counters (again after fork)."""
        self._pid = os.getpid()
        # The bounds, counters and drop accounting; its lock is the counters' and the pusher's
        # condition's: stats() is one consistent snapshot (delivery.stats).
        key = repr(self.key).replace("%", "%%")
        full = (
            f"RedisEmitter: {self.max_buffered} events or {self.max_queue_bytes} bytes held "
            f"for Redis list {key} (Redis slow or unreachable?): dropped new event(s) (%d)"
        )
        self._host: HostQueue[Any] = HostQueue(self.max_queue_bytes, self.max_buffered, full)
        self._host.open_locked()
        self._counters = self._host.counters
        self._cond = self._host.changed
        # Events arrive in the batcher, which says when they make a batch to push (full, or
        # old enough); a batch then moves to the queue of events to push, compact and
        # bounded, where failed pushes are put back.
        self._batcher = Batcher(self.limits)
        self._open = Chunk()  # events out of the batcher, until sealed as a unit of the queue
        self._attempt = 0  # failed pushes in a row
        self._retry_at = 0.0  # no push before this monotonic time (back-off)
        self._flush_wanted = False  # push now, whatever the batch's size or age
        self._failures = 0  # failed pushes so far, for flush
        self._pusher: Optional[threading.Thread] = None
        self._pusher_idle = False
        self._push_lock = threading.Lock()  # one push at a time, in order
        self._healthy = True  # the last push worked: track_* may push itself
        self._inline: Any = None  # the bounded client of track_*'s pushes; False: none
        self._closed = False

    def _rebuild_in_child(self) -> None:
        """After ``os.fork()``, in the child (:mod:`~snowplow_tracker.emitters.lifecycle`).

        The parent still holds (and will push) the queued events: the child starts empty.
        redis-py's connection pool notices the new pid by itself. Locks (the counters' too)
        may have been held by another thread at the fork, and the pusher and flush timer
        threads do not exist in the child: make new ones (the timer runs again if it ran).
        """
        interval = self.timer.interval
        self._client_lock = threading.Lock()
        self._init_state()
        self.timer = FlushTimer()
        if interval is not None:
            self.set_flush_timer(interval)

    def _secret_urls(self) -> List[str]:
        """The URLs whose passwords no message may show."""
        return [] if self.url is None else [self.url]

    def __repr__(self) -> str:
        target = describe_target(self.url, self._rdb)
        return f"RedisEmitter(key={self.key!r}, redis={target!r}, buffer_size={self.buffer_size})"

    @property
    def client(self) -> Any:
        """The Redis client, created on first use when none was given."""
        if self._rdb is None:
            with self._client_lock:
                if self._rdb is None:
                    self._rdb = redis_client(self.url)
        return self._rdb

    def _inline_client(self) -> Any:
        """A client like :attr:`client` with ``push_timeout`` socket timeouts and no retries,
        for the pushes of ``track_*``; None if it cannot be built (then those pushes are left
        to the background thread)."""
        if self._inline is None:
            client = self.client
            with self._client_lock:
                if self._inline is None:
                    self._inline = bounded_client(client, self.push_timeout) or False
        return self._inline or None

    # -- the caller's side -------------------------------------------------------------------

    def input(self, payload: Mapping[str, Any]) -> None:
        """Queue one event; push the queue when it holds ``buffer_size`` events and Redis works.

        Waits on Redis twice ``push_timeout`` at most; a failed push keeps the events for the
        background thread.

        Args:
            payload: The event: a flat dict of protocol field names to strings (not modified).

        Raises:
            EncodingError: The payload cannot be serialised; nothing was queued.
        """
        event = encode_or_raise(payload, "post", self._where)
        if not self._kept:  # pushed at exit from now on, even if its owner drops it
            lifecycle.keep(self)
        if self._rdb is None:
            # The client (and the ``redis`` import) at the first event, not at the first push:
            # that may be at interpreter exit, when redis-py can no longer be imported (it
            # registers a thread exit hook), and the events held then would be lost.
            self.client  # noqa: B018 - created for its side effect
        size = len(event)
        cond = self._cond
        with cond:
            batcher = self._batcher
            batched = len(batcher)
            refused = self._closed or not self._host.reserve_locked(size, 1)
            if not refused:
                # An event that will wait in the batcher is copied to a ``bytes`` of its own
                # size (orjson's output sits in an allocation of 4 KB or more); one that fills
                # the batch moves to the compact queue at once.
                waits = batched + 1 < self.limits.buffer_size
                batcher.add(bytes(memoryview(event)) if waits else event, keep_full=True)
                due = batcher.is_full()
                if due:
                    self._queue_batch_locked()
                inline = due and self._healthy and self._inline is not False
                backlog = self._waiting_locked() >= 2 * self.limits.buffer_size
                if self._pusher is None:
                    self._start_pusher()
                elif due and not inline and self._pusher_idle:
                    self._pusher_idle = False
                    cond.notify()
            self._counters.accepted += 1  # the counters' lock is self._cond's
            if refused:
                self._host.drop_locked(1)
        if refused:
            self._drop_one(payload)
        elif inline:
            self._push_inline(backlog)

    def _queue_batch_locked(self) -> None:
        """With the lock held: move the batcher's events to the queue of events to push (into
        the open chunk, sealed when full)."""
        for event in self._batcher.drain():
            chunk = self._open
            chunk.append(event)
            if len(chunk) >= RPUSH_CHUNK or chunk.nbytes >= CHUNK_BYTES:
                self._seal_locked()

    def _seal_locked(self) -> None:
        """With the lock held: queue the open chunk as a unit of the host queue."""
        chunk = self._open
        if len(chunk):
            chunk.left = len(chunk)
            self._host.put_locked(chunk)
            self._open = Chunk()

    def _waiting_locked(self) -> int:
        """Events out of the batcher waiting to be pushed."""
        return len(self._open) + self._host.ready_events

    def _push_inline(self, backlog: bool) -> None:
        """Push the queue from the caller's thread.

        When another thread is pushing, it (or the background thread) takes these events next;
        but with a backlog of two buffers the caller waits for it, ``push_timeout`` at most
        (waiting frees the GIL for a background push that a CPU-bound caller would starve).
        A push still in progress after that wait means Redis is slow or hung: until a push
        works again, ``track_*`` only queues, so that callers wait once per outage, not once
        per call while the background thread's push (5 s socket timeout) hangs.

        Args:
            backlog: Wait for a push in progress instead of leaving at once.
        """
        if backlog:
            acquired = self._push_lock.acquire(timeout=self.push_timeout)
            if not acquired:
                with self._cond:
                    if self._push_lock.locked():  # not ended meanwhile (a success sets it)
                        self._healthy = False
                return
        else:
            acquired = self._push_lock.acquire(blocking=False)
        if not acquired:
            return
        try:
            client = self._inline_client()
            if client is None:  # no bounded client: the background thread pushes
                with self._cond:
                    self._wake_locked()
                return
            with self._cond:
                chunks = self._take_locked()
            if chunks:
                self._push(chunks, client)
        finally:
            self._push_lock.release()

    def _drop_one(self, payload: Mapping[str, Any]) -> None:
        """Log and report one event dropped (already counted)."""
        host = self._host
        if self._closed:
            with self._cond:
                host.unreported = 0
            host.drop_log.log("RedisEmitter: closed; dropped event(s) tracked after close()")
        else:
            host.report_drops([])
        if self.on_failure is not None:
            self._call(self.on_failure, 0, [dict(payload)])

    def flush(self, is_async: bool = False, timeout: Optional[float] = None) -> bool:
        """Ask the background thread to push every queued event now (also during a back-off).

        Args:
            is_async: Return at once, without waiting.
            timeout: Seconds to wait at most (default 10).

        Returns:
            True when every event tracked before the call is in Redis (or was dropped and
            reported); False with ``is_async`` (unless nothing was queued), when a push failed
            while waiting (the events are kept and retried), or after ``timeout``.
        """
        wait = DEFAULT_FLUSH_TIMEOUT if timeout is None else max(0.0, float(timeout))
        deadline = time.monotonic() + wait
        host = self._host
        with self._cond:
            self._queue_batch_locked()
            self._seal_locked()
            target = host.next_ticket
            if not host.pending_locked(target):
                return True
            self._flush_wanted = True
            self._retry_at = 0.0
            self._wake_locked()
            if is_async:
                return False
            failures = self._failures
            host.wait_locked(target, deadline, lambda: self._failures != failures)
            return not host.pending_locked(target)

    def set_flush_timer(self, timeout: float, flush_now: bool = False) -> None:
        """Push what is held every ``timeout`` seconds, from the shared flush timer thread.

        A partial buffer is then pushed at most ``timeout`` seconds after its first event
        arrived: the timer replaces ``max_batch_age`` (set to None). While Redis fails, the
        timer's pushes wait for the back-off, as the others do.

        Args:
            timeout: Seconds between pushes; a positive number.
            flush_now: Push what is held at once as well (without waiting for it).
        """
        timer_seconds(f"{self._where}.set_flush_timer", "timeout", timeout)
        self.timer.cancel(5.0)
        self._set_max_age(None)
        if flush_now:
            self.flush(is_async=True)
        self.timer.start(float(timeout), self._push_on_timer)

    def cancel_flush_timer(self, timeout: float = 5.0) -> None:
        """Stop pushing partial buffers on a timer (the flush timer and ``max_batch_age``);
        a full buffer is still pushed.

        Args:
            timeout: Seconds to wait at most for a push request the timer is making to end.
        """
        self.timer.cancel(timeout)
        self._set_max_age(None)

    def _set_max_age(self, max_age: Optional[float]) -> None:
        with self._cond:
            self.limits = dataclasses.replace(self.limits, max_age=max_age)
            self._batcher.limits = self.limits

    def _push_on_timer(self) -> None:
        """The flush timer's action: have the background thread push what is held (after the
        back-off, if Redis is failing)."""
        with self._cond:
            if len(self._batcher) or self._waiting_locked():
                self._flush_wanted = True
                self._wake_locked()

    def close(self, timeout: Optional[float] = None) -> bool:
        """Push what is held, stop the background thread; events tracked later are dropped.

        Runs at interpreter exit too (:mod:`~snowplow_tracker.emitters.lifecycle`). Events not
        stored in Redis when the time is up are counted in ``stats().dropped``, passed to
        ``on_failure`` and logged once.

        Args:
            timeout: Seconds allowed (default: ``shutdown_timeout``, 5 s unless configured).

        Returns:
            Whether everything held was pushed.
        """
        wait = self.shutdown_timeout if timeout is None else max(0.0, float(timeout))
        return self._shutdown(wait, "close")

    def _begin_exit(self) -> None:
        """At interpreter exit, before any emitter is waited on: start pushing what is held."""
        with self._cond:
            self._start_final_push_locked()

    def _start_final_push_locked(self) -> None:
        self._flush_wanted = True
        self._attempt = 0  # a fresh back-off: several attempts fit in the time allowed
        self._retry_at = 0.0
        self._wake_locked()

    def _shutdown(self, timeout: float, when: str) -> bool:
        """Push what is held within ``timeout`` seconds, then stop; report what is left.

        Args:
            timeout: Seconds allowed.
            when: ``"close"`` or ``"exit"``, for the log.

        Returns:
            Whether everything held was pushed.
        """
        lifecycle.release(self)  # closed for good: it takes no more events
        deadline = time.monotonic() + max(0.0, timeout)
        self.timer.cancel(max(0.0, timeout))
        cond = self._cond
        host = self._host
        with cond:
            self._start_final_push_locked()
            while not self._closed and (len(self._batcher) or host.held_bytes):
                self._wake_locked()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                cond.wait(min(remaining, 0.1))
            self._closed = True
            self._queue_batch_locked()
            self._seal_locked()
            left = host.clear_locked()  # a push still hanging first: given up on
            host.free_locked(sum(chunk.size for chunk in left), _count(left))
            self._counters.add_locked(dropped=_count(left))
            pusher, self._pusher = self._pusher, None
            cond.notify_all()
        if pusher is not None and pusher is not threading.current_thread():
            pusher.join(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
        if not left:
            return True
        events = [event for chunk in left for event in chunk.events()]
        logger.error(
            "RedisEmitter: closing (%s) with Redis list %r unreachable: %d event(s) not stored, "
            "passed to on_failure",
            when,
            self.key,
            len(events),
        )
        if self.on_failure is not None:
            self._call(self.on_failure, 0, decode_events(events, "post"))
        return False

    def stats(self) -> EmitterStats:
        """Counters: ``sent`` counts events pushed to Redis, ``retried`` events pushed again
        after a failed push, ``dropped`` events lost to a bound or to ``close``; ``queued``
        events waiting, ``in_flight`` events being pushed, ``queued_bytes`` the bytes of both.
        """
        with self._cond:
            return self._counters.snapshot_locked(
                queued=len(self._batcher) + self._waiting_locked(),
                in_flight=self._host.in_flight_events,
                queued_bytes=self._host.held_bytes,
                senders_alive=int(self._pusher is not None and self._pusher.is_alive()),
            )

    # -- the background pusher ---------------------------------------------------------------

    def _wake_locked(self) -> None:
        if self._closed:
            return
        if self._pusher is None:
            if self._waiting_locked() or len(self._batcher):
                self._start_pusher()
        else:
            self._pusher_idle = False
            self._cond.notify_all()

    def _start_pusher(self) -> None:
        """Start the background pusher thread; the caller holds the lock."""
        thread = threading.Thread(
            target=_pusher_loop,
            args=(weakref.ref(self),),
            name="snowplow-redis-pusher",
            daemon=True,
        )
        self._pusher = thread
        self._pusher_idle = False
        thread.start()

    def _due(self) -> Optional[float]:
        """With the lock held: 0 to push now, else seconds to sleep (None: stop).

        The batcher says when its events make a batch (full, or older than
        ``max_batch_age``; any size on :meth:`flush`): they then move to the queue, and
        whatever the queue holds is pushed, after the back-off if the last push failed.
        """
        if self._closed or self._pusher is not threading.current_thread():
            return None
        batcher = self._batcher
        if not self._waiting_locked() and not len(batcher):
            self._flush_wanted = False
            return 1.0
        now = time.monotonic()
        if now < self._retry_at:
            return self._retry_at - now
        if self._flush_wanted or batcher.is_full() or batcher.is_stale(now):
            self._queue_batch_locked()
        if self._waiting_locked():
            return 0.0
        wait = batcher.time_to_stale(now)
        return 1.0 if wait is None else wait

    def _take_locked(self) -> List[Chunk]:
        """With the lock held: take the chunks of the next push (in flight from now on)."""
        self._seal_locked()
        host = self._host
        return [host.take_locked() for _ in range(min(CHUNKS_PER_PUSH, len(host.ready)))]

    def _push_due(self) -> None:
        """The background thread's push (after the caller's own, if one is running)."""
        with self._push_lock:
            with self._cond:
                if self._due() != 0.0:
                    return
                chunks = self._take_locked()
            if chunks:
                self._push(chunks, self.client)

    def _push(self, chunks: List[Chunk], client: Any) -> None:
        """Push ``chunks``; on failure put them back at the head of the queue. Never raises.

        The caller holds ``_push_lock``.
        """
        try:
            pushed, failed = _push_chunks(client, self.key, chunks, self._push_log)
        except Exception as exc:  # noqa: BLE001 - logged with its traceback, events kept
            if not is_redis_error(exc):
                logger.error(
                    "RedisEmitter: unexpected error while pushing (%s: %s); events kept",
                    type(exc).__name__,
                    mask_credentials(str(exc), self._secret_urls()),
                )
                logger.debug(
                    "RedisEmitter: traceback:\n%s",
                    mask_credentials(
                        "".join(format_exception(type(exc), exc, exc.__traceback__)),
                        self._secret_urls(),
                    ),
                )
            else:
                self._push_log.log(
                    "RedisEmitter: push of %d event(s) to Redis list %r failed (%s: %s); "
                    "kept for retry",
                    _count(chunks),
                    self.key,
                    type(exc).__name__,
                    mask_credentials(str(exc), self._secret_urls()),
                )
            pushed, failed = [], chunks
        sent = _count(pushed)
        host = self._host
        with self._cond:
            if chunks[0].ticket not in host.in_flight:  # close() gave up on this push meanwhile
                logger.debug("RedisEmitter: a push ended after close() gave up on it")
                return
            self._counters.add_locked(sent=sent, retried=_count(failed))
            drained = False
            for chunk in pushed:
                drained = host.release_locked(chunk) or drained
            self._healthy = not failed
            if failed:
                self._attempt += 1
                self._failures += 1
                self._retry_at = time.monotonic() + BACKOFF.delay(self._attempt)
                host.requeue_locked(failed)
                self._wake_locked()  # the background thread retries after the back-off
            else:
                self._attempt = 0
                self._retry_at = 0.0
            self._cond.notify_all()
        if drained:  # a burst was pushed: return its heap pages to the OS
            host.give_back_memory()
        if pushed and self.on_success is not None:
            events = [event for chunk in pushed for event in chunk.events()]
            self._call(self.on_success, decode_events(events, "post"))

    def _call(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            self._callback_log.log("RedisEmitter: an on_success/on_failure callback raised")
            logger.debug("RedisEmitter: callback traceback", exc_info=True)


def _pusher_loop(ref: weakref.ReferenceType[RedisEmitter]) -> None:
    """Push queued events when they are due; ends when its emitter closes or is collected."""
    while True:
        emitter = ref()
        if emitter is None:
            return
        with emitter._cond:
            sleep = emitter._due()
            if sleep is None:
                return
            if sleep > 0:
                # During a back-off new events must not wake it (one wake-up per event would
                # take the host's GIL for nothing); flush() and close() still do.
                emitter._pusher_idle = time.monotonic() >= emitter._retry_at
                emitter._cond.wait(min(sleep, 1.0))
                emitter._pusher_idle = False
        if sleep == 0:
            emitter._push_due()
        del emitter
