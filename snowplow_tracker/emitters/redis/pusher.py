"""``RedisPusher``: what a ``RedisEmitter`` holds in one process, and the thread that pushes it.

``track_*`` adds the event to the emitter's :class:`~snowplow_tracker.delivery.batching.Batcher`;
a full batch moves to the queue of events to push (held compactly in ``bytearray`` chunks), and
while the last push worked ``track_*`` pushes them itself (pipelined ``RPUSH``, 1,000 values per
command) through a copy of the client with ``push_timeout`` socket timeouts and no retries.
Pushing in the caller's thread matters for a host that tracks in a CPU-bound loop: a background
thread would wait for the GIL after each write. After a failed push ``track_*`` only queues,
and the background thread (``snowplow-redis-pusher``) retries with a capped back-off (0.1 s
doubling to 5 s) until a push works; it also pushes a partial batch older than
``max_batch_age``, on :meth:`RedisEmitter.flush` and on the flush timer's ticks.

A pusher owns the emitter's :class:`~snowplow_tracker.delivery.host_queue.HostQueue` (bounds,
counters, drops, flush barrier; its units are :class:`~snowplow_tracker.delivery.event_chunks.Chunk`
objects of up to 1,000 events, one ``RPUSH`` each), the batcher events arrive in, the back-off
after a failed push, the bounded client of the pushes ``track_*`` makes itself, and the
background thread (``snowplow-redis-pusher``) whose loop asks :meth:`RedisPusher.due` and
pushes. A forked child gets a new one (:meth:`RedisEmitter._rebuild_in_child`).
"""

from __future__ import annotations

import threading
import time
import weakref
from traceback import format_exception
from typing import Any, Callable, List, Optional, Tuple

from ..._logging import ThrottledLog, logger
from ...delivery.batching import Batcher
from ...delivery.event_chunks import Chunk
from ...delivery.host_queue import HostQueue
from ...delivery.retry import RetryPolicy
from ...protocol.credentials import mask_credentials
from ...protocol.wire import decode_events
from .client import bounded_client, is_redis_error

#: Values per ``RPUSH`` command (and events per chunk of the in-memory queue).
RPUSH_CHUNK = 1000
#: Bytes after which a chunk of the in-memory queue is sealed, whatever its event count.
CHUNK_BYTES = 1 << 20
#: ``RPUSH`` commands sent in one pipeline (one push of the background thread).
CHUNKS_PER_PUSH = 32
#: Back-off between pushes while Redis fails: 0.1 s doubling to 5 s, with jitter.
BACKOFF = RetryPolicy(base_delay=0.1, max_delay=5.0, jitter=0.5)


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


class RedisPusher:
    """The events a ``RedisEmitter`` holds in this process, and their pushing (see the module).

    The ``locked`` methods are called with :attr:`cond` held (the queue's lock).

    Args:
        owner: The emitter: its ``key``, ``url``, ``limits``, ``max_queue_bytes``,
            ``max_buffered``, ``push_timeout``, ``client`` and ``on_success``.
    """

    def __init__(self, owner: Any) -> None:
        self.owner = owner
        key = repr(owner.key).replace("%", "%%")
        full = (
            f"RedisEmitter: {owner.max_buffered} events or {owner.max_queue_bytes} bytes held "
            f"for Redis list {key} (Redis slow or unreachable?): dropped new event(s) (%d)"
        )
        self.host: HostQueue[Chunk] = HostQueue(owner.max_queue_bytes, owner.max_buffered, full)
        self.host.open_locked()
        self.counters = self.host.counters
        self.cond = self.host.changed  # the counters' lock: stats() is one snapshot
        # Events arrive in the batcher, which says when they make a batch to push (full, or
        # old enough); a batch then moves to the open chunk, sealed into the queue.
        self.batcher = Batcher(owner.limits)
        self.open = Chunk()
        self.attempt = 0  # failed pushes in a row
        self.retry_at = 0.0  # no push before this monotonic time (back-off)
        self.flush_wanted = False  # push now, whatever the batch's size or age
        self.failures = 0  # failed pushes so far, for flush
        self.thread: Optional[threading.Thread] = None
        self.idle = False
        self.push_lock = threading.Lock()  # one push at a time, in order
        self.healthy = True  # the last push worked: track_* may push itself
        self.inline: Any = None  # the bounded client of track_*'s pushes; False: none
        self.client_lock = threading.Lock()
        self.closed = False
        self.secrets: List[str] = [] if owner.url is None else [owner.url]
        # Throttled per emitter: one emitter's outage never hides another's.
        self.push_log = ThrottledLog()
        self.callback_log = ThrottledLog()

    def add(self, event: bytes) -> bool:
        """Queue one event (its room is taken in the host queue); push when the batch is full
        and Redis works. Returns False when a bound was reached (the event is counted as
        dropped, for the caller to report)."""
        size = len(event)
        cond = self.cond
        with cond:
            batcher = self.batcher
            accepted = not self.closed and self.host.reserve_locked(size, 1)
            self.counters.accepted += 1
            if not accepted:
                self.host.drop_locked(1)
                return False
            # An event that will wait in the batcher is copied to a ``bytes`` of its own size
            # (orjson's output sits in an allocation of 4 KB or more); one that fills the batch
            # moves to the compact queue at once.
            waits = len(batcher) + 1 < batcher.limits.buffer_size
            batcher.add(bytes(memoryview(event)) if waits else event, keep_full=True)
            due = batcher.is_full()
            if due:
                self.queue_batch_locked()
            inline = due and self.healthy and self.inline is not False
            backlog = self.waiting_locked() >= 2 * batcher.limits.buffer_size
            if self.thread is None:
                self.start_thread()
            elif due and not inline and self.idle:
                self.idle = False
                cond.notify()
        if inline:
            self.push_inline(backlog)
        return True

    def flush(self, is_async: bool, deadline: float) -> bool:
        """Have every event held pushed now (also during a back-off); unless ``is_async``,
        wait until they are in Redis, a push fails, or ``deadline`` passes.

        Returns:
            True when every event held at the call is in Redis (or was dropped and reported).
        """
        host = self.host
        with self.cond:
            self.queue_batch_locked()
            self.seal_locked()
            target = host.next_ticket
            if not host.pending_locked(target):
                return True
            self.flush_wanted = True
            self.retry_at = 0.0
            self.wake_locked()
            if is_async:
                return False
            failures = self.failures
            host.wait_locked(target, deadline, lambda: self.failures != failures)
            return not host.pending_locked(target)

    def stop(self, deadline: float) -> List[Chunk]:
        """Push what is held until ``deadline``, then stop: returns the chunks left (counted
        as dropped), a push still hanging first."""
        cond = self.cond
        host = self.host
        with cond:
            self.start_final_push_locked()
            while not self.closed and host.held_bytes:
                self.wake_locked()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                cond.wait(min(remaining, 0.1))
            self.closed = True
            self.queue_batch_locked()
            self.seal_locked()
            left = host.clear_locked()
            host.free_locked(sum(chunk.size for chunk in left), _count(left))
            self.counters.add_locked(dropped=_count(left))
            thread, self.thread = self.thread, None
            cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
        return left

    def queue_batch_locked(self) -> None:
        """With the lock held: move the batcher's events to the queue of events to push (into
        the open chunk, sealed when full)."""
        for event in self.batcher.drain():
            chunk = self.open
            chunk.append(event)
            if len(chunk) >= RPUSH_CHUNK or len(chunk.data) >= CHUNK_BYTES:
                self.seal_locked()

    def seal_locked(self) -> None:
        """With the lock held: queue the open chunk as a unit of the host queue."""
        chunk = self.open
        if len(chunk):
            chunk.seal()
            self.host.put_locked(chunk)
            self.open = Chunk()

    def waiting_locked(self) -> int:
        """Events out of the batcher waiting to be pushed."""
        return len(self.open) + self.host.ready_events

    def push_inline(self, backlog: bool) -> None:
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
            acquired = self.push_lock.acquire(timeout=self.owner.push_timeout)
            if not acquired:
                with self.cond:
                    if self.push_lock.locked():  # not ended meanwhile (a success sets it)
                        self.healthy = False
                return
        else:
            acquired = self.push_lock.acquire(blocking=False)
        if not acquired:
            return
        try:
            client = self.inline_client()
            if client is None:  # no bounded client: the background thread pushes
                with self.cond:
                    self.wake_locked()
                return
            with self.cond:
                chunks = self.take_locked()
            if chunks:
                self.push(chunks, client)
        finally:
            self.push_lock.release()

    def wake_locked(self) -> None:
        if self.closed:
            return
        if self.thread is None:
            if self.waiting_locked() or len(self.batcher):
                self.start_thread()
        else:
            self.idle = False
            self.cond.notify_all()

    def start_thread(self) -> None:
        """Start the background pusher thread; the caller holds the lock."""
        thread = threading.Thread(
            target=_pusher_loop,
            args=(weakref.ref(self),),
            name="snowplow-redis-pusher",
            daemon=True,
        )
        self.thread = thread
        self.idle = False
        thread.start()

    def due(self) -> Optional[float]:
        """With the lock held: 0 to push now, else seconds to sleep (None: stop).

        The batcher says when its events make a batch (full, or older than
        ``max_batch_age``; any size on :meth:`flush`): they then move to the queue, and
        whatever the queue holds is pushed, after the back-off if the last push failed.
        """
        if self.closed or self.thread is not threading.current_thread():
            return None
        batcher = self.batcher
        if not self.waiting_locked() and not len(batcher):
            self.flush_wanted = False
            return 1.0
        now = time.monotonic()
        if now < self.retry_at:
            return self.retry_at - now
        if self.flush_wanted or batcher.is_full() or batcher.is_stale(now):
            self.queue_batch_locked()
        if self.waiting_locked():
            return 0.0
        wait = batcher.time_to_stale(now)
        return 1.0 if wait is None else wait

    def take_locked(self) -> List[Chunk]:
        """With the lock held: take the chunks of the next push (in flight from now on)."""
        self.seal_locked()
        host = self.host
        return [host.take_locked() for _ in range(min(CHUNKS_PER_PUSH, len(host.ready)))]

    def push_due(self) -> None:
        """The background thread's push (after the caller's own, if one is running)."""
        with self.push_lock:
            with self.cond:
                if self.due() != 0.0:
                    return
                chunks = self.take_locked()
            if chunks:
                self.push(chunks, self.owner.client)

    def push(self, chunks: List[Chunk], client: Any) -> None:
        """Push ``chunks``; on failure put them back at the head of the queue. Never raises.

        The caller holds ``_push_lock``.
        """
        try:
            pushed, failed = _push_chunks(client, self.owner.key, chunks, self.push_log)
        except Exception as exc:  # noqa: BLE001 - logged with its traceback, events kept
            said = mask_credentials(f"{type(exc).__name__}: {exc}", self.secrets)
            if is_redis_error(exc):
                self.push_log.log(
                    "RedisEmitter: push of %d event(s) to Redis list %r failed (%s); "
                    "kept for retry",
                    _count(chunks),
                    self.owner.key,
                    said,
                )
            else:
                logger.error("RedisEmitter: unexpected error while pushing (%s); events kept", said)
                trace = "".join(format_exception(type(exc), exc, exc.__traceback__))
                logger.debug("RedisEmitter: traceback:\n%s", mask_credentials(trace, self.secrets))
            pushed, failed = [], chunks
        sent = _count(pushed)
        host = self.host
        with self.cond:
            if chunks[0].ticket not in host.in_flight:  # close() gave up on this push meanwhile
                logger.debug("RedisEmitter: a push ended after close() gave up on it")
                return
            self.counters.add_locked(sent=sent, retried=_count(failed))
            drained = False
            for chunk in pushed:
                drained = host.release_locked(chunk) or drained
            self.healthy = not failed
            if failed:
                self.attempt += 1
                self.failures += 1
                self.retry_at = time.monotonic() + BACKOFF.delay(self.attempt)
                host.requeue_locked(failed)
                self.wake_locked()  # the background thread retries after the back-off
            else:
                self.attempt = 0
                self.retry_at = 0.0
            self.cond.notify_all()
        if drained:  # a burst was pushed: return its heap pages to the OS
            host.give_back_memory()
        if pushed and self.owner.on_success is not None:
            events = [event for chunk in pushed for event in chunk.events()]
            self.call(self.owner.on_success, decode_events(events, "post"))

    def call(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            self.callback_log.log("RedisEmitter: an on_success/on_failure callback raised")
            logger.debug("RedisEmitter: callback traceback", exc_info=True)

    def start_final_push_locked(self) -> None:
        self.flush_wanted = True
        self.attempt = 0  # a fresh back-off: several attempts fit in the time allowed
        self.retry_at = 0.0
        self.wake_locked()

    def push_on_timer(self) -> None:
        """The flush timer's action: have the background thread push what is held (after the
        back-off, if Redis is failing)."""
        with self.cond:
            if len(self.batcher) or self.waiting_locked():
                self.flush_wanted = True
                self.wake_locked()

    def inline_client(self) -> Any:
        """A client like :attr:`client` with ``push_timeout`` socket timeouts and no retries,
        for the pushes of ``track_*``; None if it cannot be built (then those pushes are left
        to the background thread)."""
        if self.inline is None:
            client = self.owner.client
            with self.client_lock:
                if self.inline is None:
                    self.inline = bounded_client(client, self.owner.push_timeout) or False
        return self.inline or None


def _pusher_loop(ref: weakref.ReferenceType[RedisPusher]) -> None:
    """Push queued events when they are due; ends when its emitter closes or is collected."""
    while True:
        pusher = ref()
        if pusher is None:
            return
        with pusher.cond:
            sleep = pusher.due()
            if sleep is None:
                return
            if sleep > 0:
                # During a back-off new events must not wake it (one wake-up per event would
                # take the host's GIL for nothing); flush() and close() still do.
                pusher.idle = time.monotonic() >= pusher.retry_at
                pusher.cond.wait(min(sleep, 1.0))
                pusher.idle = False
        if sleep == 0:
            pusher.push_due()
        del pusher
