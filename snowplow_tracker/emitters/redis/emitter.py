"""``RedisEmitter``: store events in a Redis list, for a :class:`RedisWorker` to send later.

Each event is serialised once, by :func:`snowplow_tracker.protocol.wire.encode_event` with
``method="post"``: the list holds the events' JSON objects (every value a string, no ``stm``),
exactly the bytes a POST request carries, so a worker can send them without re-serialising them.

**The caller waits on Redis at most twice ``push_timeout`` (0.5 s by default), once per
outage.** While the last push worked, ``track_*`` pushes a full batch itself: with the default
``buffer_size=1`` an event is in Redis when ``track_*`` returns. After a failed push it only
queues, and a background thread retries with a capped back-off; :mod:`.pusher` says how.
Delivery is at-least-once: a push that timed out may still be carried out.

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
from typing import Any, Mapping, Optional

from ... import arguments as _args
from ..._logging import logger
from ...delivery.batching import BatchLimits
from ...delivery.stats import EmitterStats
from ...protocol.wire import decode_events
from .. import lifecycle
from ..base import FailureCallback, FlushTimer, SuccessCallback, encode_or_raise
from .client import (
    LazyClient,
    RedisUser,
    check_redis_client,
    check_redis_url,
    is_redis_error,
    redis_client,
)
from .pusher import RedisPusher

__all__ = ["RedisEmitter", "is_redis_error", "redis_client"]

#: Default bound of the bytes of events held in memory.
DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024
#: Default seconds :meth:`RedisEmitter.flush` waits.
DEFAULT_FLUSH_TIMEOUT = 10.0
#: Default seconds :meth:`RedisEmitter.close` (and interpreter exit) keeps pushing.
DEFAULT_SHUTDOWN_TIMEOUT = 5.0
#: Default seconds a ``track_*`` call may wait on Redis (its socket timeouts).
DEFAULT_PUSH_TIMEOUT = 0.5


class RedisEmitter(RedisUser):
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
    _shown = ("key", "redis", "buffer_size")

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
        self._redis = LazyClient(rdb, self.url)
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
        """Create what belongs to one process (again after fork): the pusher and its queue."""
        self._pid = os.getpid()
        self._pusher = RedisPusher(self)

    def _rebuild_in_child(self) -> None:
        """After ``os.fork()``, in the child (:mod:`~snowplow_tracker.emitters.lifecycle`).

        The parent still holds (and will push) the queued events: the child starts empty.
        redis-py's connection pool notices the new pid by itself. Locks (the counters' too)
        may have been held by another thread at the fork, and the pusher and flush timer
        threads do not exist in the child: make new ones (the timer runs again if it ran).
        """
        interval = self.timer.interval
        self._redis.lock = threading.Lock()
        self._init_state()
        self.timer = FlushTimer()
        if interval is not None:
            self.set_flush_timer(interval)

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
        if self._redis.client is None:
            # The client (and the ``redis`` import) at the first event, not at the first push:
            # that may be at interpreter exit, when redis-py can no longer be imported (it
            # registers a thread exit hook), and the events held then would be lost.
            self._redis.get()
        if not self._pusher.add(event):
            self._drop_one(payload)

    def _drop_one(self, payload: Mapping[str, Any]) -> None:
        """Log and report one event dropped (already counted)."""
        pusher = self._pusher
        if pusher.closed:
            with pusher.cond:
                pusher.host.unreported = 0
            pusher.host.drop_log.log("RedisEmitter: closed; dropped event(s) tracked after close()")
        else:
            pusher.host.report_drops([])
        if self.on_failure is not None:
            pusher.call(self.on_failure, 0, [dict(payload)])

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
        return self._pusher.flush(is_async, time.monotonic() + wait)

    def set_flush_timer(self, timeout: float, flush_now: bool = False) -> None:
        """Push what is held every ``timeout`` seconds, from the shared flush timer thread.

        A partial buffer is then pushed at most ``timeout`` seconds after its first event
        arrived: the timer replaces ``max_batch_age`` (set to None). While Redis fails, the
        timer's pushes wait for the back-off, as the others do.

        Args:
            timeout: Seconds between pushes; a positive number.
            flush_now: Push what is held at once as well (without waiting for it).
        """
        _args.positive_finite_seconds(f"{self._where}.set_flush_timer", "timeout", timeout)
        self.timer.cancel(5.0)
        self._no_max_age()
        if flush_now:
            self.flush(is_async=True)
        self.timer.start(float(timeout), self._pusher.push_on_timer)

    def cancel_flush_timer(self, timeout: float = 5.0) -> None:
        """Stop pushing partial buffers on a timer (the flush timer and ``max_batch_age``);
        a full buffer is still pushed.

        Args:
            timeout: Seconds to wait at most for a push request the timer is making to end.
        """
        self.timer.cancel(timeout)
        self._no_max_age()

    def _no_max_age(self) -> None:
        with self._pusher.cond:
            self.limits = dataclasses.replace(self.limits, max_age=None)
            self._pusher.batcher.limits = self.limits

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
        with self._pusher.cond:
            self._pusher.start_final_push_locked()

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
        left = self._pusher.stop(deadline)
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
            self._pusher.call(self.on_failure, 0, decode_events(events, "post"))
        return False

    def stats(self) -> EmitterStats:
        """Counters: ``sent`` counts events pushed to Redis, ``retried`` events pushed again
        after a failed push, ``dropped`` events lost to a bound or to ``close``; ``queued``
        events waiting, ``in_flight`` events being pushed, ``queued_bytes`` the bytes of both.
        """
        pusher = self._pusher
        with pusher.cond:
            return pusher.counters.snapshot_locked(
                queued=len(pusher.batcher) + pusher.waiting_locked(),
                in_flight=pusher.host.in_flight_events,
                queued_bytes=pusher.host.held_bytes,
                senders_alive=int(pusher.thread is not None and pusher.thread.is_alive()),
            )
