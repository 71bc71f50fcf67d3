"""``RedisWorker``: send the events a
:class:`~snowplow_tracker.emitters.redis.emitter.RedisEmitter` stored.

The worker drains a Redis list with the *reliable queue* pattern, so that an event leaves Redis
only after the collector accepted it (or after the emitter gave up on it):

1. ``BLMOVE``/``LMOVE`` atomically move up to ``batch_size`` items from the list ``key`` to the
   worker's own processing list ``{key}:processing:{worker_id}`` (:mod:`.claims`);
2. each item is checked (one ``orjson.loads``): an event is a JSON object of string values
   with at least ``e`` and ``eid``. The stored bytes are handed to the emitter as they are
   (``emitter.input_encoded(bytes)`` when the emitter has it and sends POST; otherwise the
   checked dict goes to ``emitter.input``; :mod:`.handover`);
3. an acknowledging thread waits (``emitter.flush()``, bounded) until the events taken so far
   were sent or given up on, then, in one ``MULTI`` transaction, moves the events the emitter
   reported to ``on_failure`` (retry budget spent, rejected by the collector) and the items
   that are not events to the dead-letter list ``{key}:failed``, and removes the acknowledged
   items from the head of the processing list (``LTRIM``). Nothing is silently lost: dead
   letters can be replayed with ``LMOVE {key}:failed {key} LEFT RIGHT``.

While one flush waits for the collector, the worker keeps taking items (up to ``max_unacked``),
so that the emitter always has work and a small take never costs a round trip of its own.

Each worker keeps a heartbeat key ``{key}:worker:{worker_id}``. On start, and then every
``heartbeat_ttl`` seconds, a worker moves the items of processing lists whose worker has no
heartbeat any more (it crashed, was killed or lost its machine) back to the head of ``key``.
Delivery is therefore *at-least-once*: an event that was being sent when its worker died may
arrive twice, never zero times. Any number of workers on any number of machines can drain the
same list. On a stop (:meth:`RedisWorker.stop`, SIGINT, SIGTERM) what is unsent after
``shutdown_timeout`` goes back to ``key``.

The ``redis`` package is imported only when a worker builds its client. The command line
(``snowplow-redis-worker``) is :mod:`snowplow_tracker.emitters.redis.cli`.

Example:
    >>> from snowplow_tracker import AsyncEmitter
    >>> from snowplow_tracker.emitters.redis.worker import RedisWorker
    >>> e = AsyncEmitter("collector.example.com", method="post", buffer_size=100)
    >>> RedisWorker(e, key="snowplow").run()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Union

import orjson

from ... import arguments as _args
from ..._logging import ThrottledLog, logger
from ...delivery.stats import CounterRecord
from ...protocol.credentials import mask_credentials
from .claims import Claims, requeue
from .client import (
    LazyClient,
    RedisUser,
    blocking_socket_timeout,
    check_redis_client,
    check_redis_url,
    is_redis_error,
)
from .handover import Handover, parse_event

__all__ = ["RedisWorker", "WorkerStats", "parse_event"]

_error_log = ThrottledLog()
#: The arguments in seconds, checked in this order.
_SECONDS = ("block_timeout", "heartbeat_ttl", "flush_timeout", "shutdown_timeout")
_GLOB_SPECIALS = "\\*?[]"


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in _GLOB_SPECIALS else c for c in text)


def _text(value: Union[bytes, str]) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def default_worker_id() -> str:
    """``hostname-pid-random``: unique across machines, processes and restarts."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass
class WorkerStats(CounterRecord):
    """Counters of a :class:`RedisWorker`, in items (events) unless said otherwise.

    Attributes:
        taken: Items moved from the list to this worker's processing list.
        delivered: Events acknowledged after the emitter sent them.
        dead_lettered: Items moved to ``{key}:failed`` (given up on by the emitter, or invalid).
        invalid: Of those, items that were not events (a JSON object of string values with
            ``e`` and ``eid``) or that the emitter refused.
        recovered: Items moved back to the list from processing lists of dead workers.
        requeued: Items this worker gave back to the list because it stopped before they were
            sent.
        batches: Takes acknowledged.
        redis_errors: Redis operations that failed (and were retried).
    """

    taken: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    invalid: int = 0
    recovered: int = 0
    requeued: int = 0
    batches: int = 0
    redis_errors: int = 0


#: The rules of the worker's arguments that :mod:`snowplow_tracker.arguments` has no word for.
sending_emitter = _args.Rule(
    "an object with input() and flush() methods (an Emitter, AsyncEmitter or ProcessEmitter)",
    lambda v: callable(getattr(v, "input", None)) and callable(getattr(v, "flush", None)),
)
worker_id_rule = _args.Rule(
    "a non-empty string without spaces",
    lambda v: isinstance(v, str) and v != "" and not any(c.isspace() for c in v),
)


@contextlib.contextmanager
def _stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """On the main thread, SIGINT and SIGTERM call ``stop`` while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        signum: signal.signal(signum, lambda signum, frame: stop())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class Heartbeat:
    """A worker's heartbeat key (``SET ... PX heartbeat_ttl``), refreshed every third of
    ``heartbeat_ttl`` by a thread (``snowplow-redis-heartbeat``) until the worker stops."""

    def __init__(self, worker: RedisWorker) -> None:
        self.worker = worker
        self.thread = threading.Thread(
            target=self._loop, name="snowplow-redis-heartbeat", daemon=True
        )

    def start(self) -> None:
        """Beat once (retried until Redis answers or a stop is asked), then start the thread."""
        self.worker._retrying(self.beat)
        self.thread.start()

    def beat(self) -> None:
        worker = self.worker
        value = orjson.dumps({"worker_id": worker.worker_id, "pid": os.getpid(), "at": time.time()})
        worker.client.set(worker.heartbeat_key, value, px=max(1, int(worker.heartbeat_ttl * 1000)))

    def _loop(self) -> None:
        interval = self.worker.heartbeat_ttl / 3.0
        while not self.worker._stop.wait(interval):
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 - the heartbeat thread must survive outages
                self.worker._redis_error("refreshing the heartbeat", exc)

    def join(self) -> None:
        if self.thread.is_alive():
            self.thread.join(timeout=self.worker.heartbeat_ttl)

    def remove(self) -> None:
        """Delete the heartbeat key (when Redis is down, it expires by itself)."""
        try:
            self.worker.client.delete(self.worker.heartbeat_key)
        except Exception as exc:  # noqa: BLE001 - logged; the key expires
            self.worker._redis_error("deleting the heartbeat", exc)


class RedisWorker(RedisUser):
    """Moves events from a Redis list to an emitter, reliably (see the module documentation).

    Args:
        emitter: Where events go: any object with ``input(dict)`` and ``flush()`` (an
            ``Emitter``, ``AsyncEmitter`` or ``ProcessEmitter``). Its ``on_failure`` attribute
            is wrapped while :meth:`run` runs (the original is still called) so that failed
            events reach the dead-letter list; ``flush`` must return only once the events
            were sent or reported to ``on_failure``.
        key: The Redis list to drain (default ``"snowplow"``).
        rdb: A ``redis.Redis`` client; its socket timeout must exceed ``block_timeout``. By
            default one is created from ``url`` (or for ``localhost:6379`` database 0).
        url: A Redis URL for the default client; cannot be combined with ``rdb``.
        batch_size: Items taken at most with one ``BLMOVE`` and pipelined ``LMOVE`` s
            (default 500).
        block_timeout: Seconds one ``BLMOVE`` waits for an item; also how soon :meth:`stop`
            is noticed when idle (default 1.0).
        worker_id: This worker's name in Redis keys; default ``hostname-pid-random``. Reuse a
            fixed id only if a single process ever runs with it.
        heartbeat_ttl: Seconds after which a worker that stopped refreshing its heartbeat is
            considered dead and its processing list is recovered by others (default 30).
        flush_timeout: Seconds a batch may take to be sent before a warning is logged (the
            worker keeps waiting: the emitter's retry policy bounds the wait; default 60).
        shutdown_timeout: Seconds allowed, after a stop was requested, to finish sending what
            was taken; the rest goes back to the list (default 30).
        max_unacked: Items taken but not yet acknowledged, at most (default 4 x
            ``batch_size``): while the emitter sends, the worker keeps taking up to this bound.
            It also bounds what may arrive twice after a crash.

    Raises:
        ConfigurationError: An argument is invalid (the message names it).
    """

    _where = "RedisWorker"
    _shown = ("key", "worker_id", "redis")

    def __init__(
        self,
        emitter: Any,
        key: str = "snowplow",
        rdb: Any = None,
        *,
        url: Optional[str] = None,
        batch_size: int = 500,
        block_timeout: float = 1.0,
        worker_id: Optional[str] = None,
        heartbeat_ttl: float = 30.0,
        flush_timeout: float = 60.0,
        shutdown_timeout: float = 30.0,
        max_unacked: Optional[int] = None,
    ) -> None:
        where = self._where
        if not sending_emitter.ok(emitter):
            _args.fail(
                where, "emitter", sending_emitter.expected, emitter, shown=type(emitter).__name__
            )
        if key is None:  # the 0.7 documentation's default
            key = "snowplow"
        _args.non_empty_string(where, "key", key)
        check_redis_client(rdb, url, where)
        self.url = None if url is None else check_redis_url(url, where)
        _args.positive_integer(where, "batch_size", batch_size)
        seconds = (block_timeout, heartbeat_ttl, flush_timeout, shutdown_timeout)
        for name, value in zip(_SECONDS, seconds):
            _args.positive_seconds(where, name, value)
        if max_unacked is None:
            max_unacked = 4 * batch_size
        _args.positive_integer(where, "max_unacked", max_unacked)
        if worker_id is None:
            worker_id = default_worker_id()
        worker_id_rule(where, "worker_id", worker_id)
        self.batch_size: int = batch_size
        self.block_timeout = float(block_timeout)
        self.heartbeat_ttl = float(heartbeat_ttl)
        self.flush_timeout = float(flush_timeout)
        self.shutdown_timeout = float(shutdown_timeout)
        self.max_unacked: int = max_unacked
        self.emitter = emitter
        self.key = key
        self.worker_id = worker_id
        self.processing_key = f"{key}:processing:{worker_id}"
        self.heartbeat_key = f"{key}:worker:{worker_id}"
        self.failed_key = f"{key}:failed"
        self._redis = LazyClient(rdb, self.url, blocking_socket_timeout(self.block_timeout))
        self._stop = threading.Event()
        self._running = threading.Lock()
        self._stats = WorkerStats()
        self._stop_deadline: Optional[float] = None

    def stats(self) -> WorkerStats:
        """A copy of this worker's counters."""
        return WorkerStats(**self._stats.as_dict())

    def stop(self) -> None:
        """Ask :meth:`run` to stop taking items, finish the current batch and return.

        Safe from any thread and from signal handlers.
        """
        if not self._stop.is_set():
            self._stop_deadline = time.monotonic() + self.shutdown_timeout
            self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether a stop was requested."""
        return self._stop.is_set()

    # -- the main loop -----------------------------------------------------------------------

    def run(self) -> None:
        """Drain the list until :meth:`stop` (or SIGINT/SIGTERM on the main thread).

        Redis outages are logged (throttled) and retried with back-off; they never end the
        loop. Signal handlers are installed only on the main thread and restored on return.

        Raises:
            RuntimeError: The worker is already running.
        """
        if not self._running.acquire(blocking=False):
            raise RuntimeError("RedisWorker.run: this worker is already running")
        self._stop.clear()
        self._stop_deadline = None
        try:
            with _stop_on_signals(self.stop), Handover(self).hooked() as handover:
                self._drain(handover)
        finally:
            self._running.release()
            logger.info("RedisWorker %s stopped: %s", self.worker_id, self._stats.as_dict())

    def _drain(self, handover: Handover) -> None:
        """Start the heartbeat and the acknowledging thread, claim items until stopped, then
        stop both and give back what was not sent."""
        claims = Claims(self, handover)
        heartbeat = Heartbeat(self)
        logger.info(
            "RedisWorker %s: draining Redis list %r on %s", self.worker_id, self.key, repr(self)
        )
        try:
            heartbeat.start()
            self._retrying(lambda: self.recover(include_own=True))
            claims.start()
            self._claim_until_stopped(claims, handover)
        finally:
            self.stop()
            claims.stop()
            heartbeat.join()
            claims.give_back()
            claims.dead_letter_late_failures()
            heartbeat.remove()

    def _claim_until_stopped(self, claims: Claims, handover: Handover) -> None:
        """Claim items while there is room, hand them over; recover dead workers' items."""
        next_recover = time.monotonic() + self.heartbeat_ttl
        while not self._stop.is_set():
            if time.monotonic() >= next_recover:
                self._retrying(self.recover)
                next_recover = time.monotonic() + self.heartbeat_ttl
            room = claims.wait_for_room()
            if room <= 0:
                continue
            items = self._retrying(functools.partial(claims.claim, min(self.batch_size, room)))
            if items:
                claims.handed(handover.hand_over(items))

    def _retrying(self, operation: Callable[[], Any]) -> Any:
        """Run a Redis operation, retrying with back-off until it works or a stop is asked."""
        delay = 0.1
        while True:
            try:
                return operation()
            except Exception as exc:
                if not is_redis_error(exc):
                    raise
                self._redis_error("draining the list", exc)
            if self._stop.wait(delay):
                return None
            delay = min(delay * 2, 5.0)

    def _redis_error(self, doing: str, exc: BaseException) -> None:
        self._stats.redis_errors += 1
        _error_log.log(
            "RedisWorker %s: Redis error while %s: %s: %s",
            self.worker_id,
            doing,
            type(exc).__name__,
            mask_credentials(str(exc), self._redis.secrets),
        )

    def recover(self, include_own: bool = False) -> int:
        """Move the items of dead workers' processing lists back to the head of the list.

        A worker is dead when its heartbeat key has expired.

        Args:
            include_own: Also recover this worker's own processing list (left by an earlier
                process with the same ``worker_id``); only safe before taking anything.

        Returns:
            How many items were moved back.
        """
        client = self.client
        prefix = f"{self.key}:processing:"
        total = 0
        for name in client.scan_iter(match=_glob_escape(prefix) + "*", count=200):
            list_name = _text(name)
            worker_id = list_name[len(prefix) :]
            if worker_id == self.worker_id:
                if not include_own:
                    continue
            elif client.exists(f"{self.key}:worker:{worker_id}"):
                continue
            moved = requeue(client, list_name, self.key)
            if moved:
                logger.warning(
                    "RedisWorker %s: recovered %d item(s) left by worker %s",
                    self.worker_id,
                    moved,
                    worker_id,
                )
            total += moved
        self._stats.recovered += total
        return total
