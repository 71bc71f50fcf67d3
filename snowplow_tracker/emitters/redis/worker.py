"""``RedisWorker``: send the events a
:class:`~snowplow_tracker.emitters.redis.emitter.RedisEmitter` stored.

The worker drains a Redis list with the *reliable queue* pattern, so that an event leaves Redis
only after the collector accepted it (or after the emitter gave up on it):

1. ``BLMOVE``/``LMOVE`` atomically move up to ``batch_size`` items from the list ``key`` to the
   worker's own processing list ``{key}:processing:{worker_id}``;
2. each item is checked (one ``orjson.loads``): an event is a JSON object of string values
   with at least ``e`` and ``eid``. The stored bytes are handed to the emitter as they are
   (``emitter.input_encoded(bytes)`` when the emitter has it and sends POST; otherwise the
   checked dict goes to ``emitter.input``);
3. an acknowledging thread waits (``emitter.flush()``, bounded) until the events taken so far
   were sent or given up on, then, in one ``MULTI`` transaction, moves the events the emitter
   reported to ``on_failure`` (retry budget spent, rejected by the collector) and the items
   that are not events to the dead-letter list ``{key}:failed``, and removes the acknowledged
   items from the head of the processing list (``LTRIM``). Nothing is silently lost: dead
   letters can be replayed with ``LMOVE {key}:failed {key} LEFT RIGHT``.

Taking and acknowledging overlap: while one flush waits for the collector, the worker keeps
taking and handing over items, up to ``max_unacked`` items not yet acknowledged, so that the
emitter always has work and a small take never costs a full round trip of its own.

Each worker keeps a heartbeat key ``{key}:worker:{worker_id}`` (``SET ... PX heartbeat_ttl``,
refreshed by a thread). On start, and then every ``heartbeat_ttl`` seconds, a worker looks for
processing lists whose worker has no heartbeat any more (it crashed, was killed or lost its
machine) and moves their items back to the head of ``key``. Delivery is therefore
*at-least-once*: an event that was being sent when its worker died may arrive twice, never
zero times. Any number of workers on any number of machines can drain the same list.

``run()`` stops on :meth:`RedisWorker.stop` or, when it runs on the main thread, on SIGINT or
SIGTERM: it stops taking items, flushes and acknowledges what it holds (within
``shutdown_timeout``; what is still unsent then goes back to ``key``), and returns.

The ``redis`` package is imported only when a worker builds its client.

Command line (console script ``snowplow-redis-worker``, or ``python -m
snowplow_tracker.emitters.redis.cli``; options also come from environment variables)::

    SNOWPLOW_REDIS_URL=redis://:secret@redis.internal:6379/0 \\
    snowplow-redis-worker --endpoint collector.example.com --protocol https --process-count 2

Example:
    >>> from snowplow_tracker import AsyncEmitter
    >>> from snowplow_tracker.emitters.redis.worker import RedisWorker
    >>> e = AsyncEmitter("collector.example.com", method="post", buffer_size=100)
    >>> RedisWorker(e, key="snowplow").run()  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import inspect
import os
import signal
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from types import FrameType
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Union

import orjson

from ... import arguments as _args
from ..._logging import ThrottledLog, logger
from ...protocol.credentials import mask_credentials
from ...protocol.wire import encode_event
from .client import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_SOCKET_TIMEOUT,
    check_redis_client,
    check_redis_url,
    describe_target,
    is_redis_error,
    redis_client,
)

__all__ = ["RedisWorker", "WorkerStats"]

_error_log = ThrottledLog()
_invalid_log = ThrottledLog()
_flush_log = ThrottledLog()

#: Moves per pipeline when a processing list is given back to the main list.
_REQUEUE_CHUNK = 1000
#: Longest single wait in ``emitter.flush``: how fast a stop request is noticed while sending.
_FLUSH_SLICE = 1.0
_GLOB_SPECIALS = "\\*?[]"


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in _GLOB_SPECIALS else c for c in text)


def _text(value: Union[bytes, str]) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def default_worker_id() -> str:
    """``hostname-pid-random``: unique across machines, processes and restarts."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass
class WorkerStats:
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

    def as_dict(self) -> Dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


@dataclass
class _Take:
    """Items taken together, handed to the emitter, not yet acknowledged."""

    items: int
    handed: int = 0
    dead: List[bytes] = field(default_factory=list)


def _can_send(value: Any) -> bool:
    return callable(getattr(value, "input", None)) and callable(getattr(value, "flush", None))


def _is_worker_id(value: Any) -> bool:
    return isinstance(value, str) and value != "" and not any(c.isspace() for c in value)


#: The rules of the worker's arguments that :mod:`snowplow_tracker.arguments` has no word for.
sending_emitter = _args.Rule(
    "an object with input() and flush() methods (an Emitter, AsyncEmitter or ProcessEmitter)",
    _can_send,
)
worker_id_rule = _args.Rule("a non-empty string without spaces", _is_worker_id)


class RedisWorker:
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
        _args.positive_seconds(where, "block_timeout", block_timeout)
        _args.positive_seconds(where, "heartbeat_ttl", heartbeat_ttl)
        _args.positive_seconds(where, "flush_timeout", flush_timeout)
        _args.positive_seconds(where, "shutdown_timeout", shutdown_timeout)
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
        self._rdb = rdb
        self._stop = threading.Event()
        self._running = threading.Lock()
        self._failed_lock = threading.Lock()
        self._failed: List[Mapping[str, Any]] = []
        self._stats = WorkerStats()
        self._stop_deadline: Optional[float] = None
        self._resync = False
        self._flush_takes_timeout = _accepts_timeout(emitter.flush)
        self._cond = threading.Condition()
        self._takes: Deque[_Take] = deque()  # handed over, not acknowledged, oldest first
        self._unacked = 0  # items in the processing list taken by this run, not acknowledged
        self._plist_lock = threading.Lock()  # the processing list's head vs. ``_unacked``
        self._input_encoded: Optional[Callable[[bytes], Any]] = None

    def __repr__(self) -> str:
        target = describe_target(self.url, self._rdb)
        return f"RedisWorker(key={self.key!r}, worker_id={self.worker_id!r}, redis={target!r})"

    @property
    def client(self) -> Any:
        """The Redis client, created on first use when none was given."""
        if self._rdb is None:
            self._rdb = redis_client(
                self.url,
                socket_timeout=max(DEFAULT_SOCKET_TIMEOUT, self.block_timeout + 5.0),
                socket_connect_timeout=DEFAULT_CONNECT_TIMEOUT,
            )
        return self._rdb

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
        restore_signals = self._install_signal_handlers()
        original_on_failure = self._hook_on_failure()
        heartbeat = threading.Thread(
            target=self._heartbeat_loop, name="snowplow-redis-heartbeat", daemon=True
        )
        acker = threading.Thread(target=self._ack_loop, name="snowplow-redis-ack", daemon=True)
        self._takes.clear()
        self._unacked = 0
        self._resync = False
        self._input_encoded = self._raw_input()
        logger.info(
            "RedisWorker %s: draining Redis list %r on %s", self.worker_id, self.key, repr(self)
        )
        try:
            self._retrying(self._beat)
            heartbeat.start()
            self._retrying(lambda: self.recover(include_own=True))
            acker.start()
            next_recover = time.monotonic() + self.heartbeat_ttl
            while not self._stop.is_set():
                if time.monotonic() >= next_recover:
                    self._retrying(self.recover)
                    next_recover = time.monotonic() + self.heartbeat_ttl
                room = self._wait_for_room()
                if room <= 0:
                    continue
                items = self._retrying(functools.partial(self._take, min(self.batch_size, room)))
                if items:
                    self._hand_over(items)
        finally:
            self.stop()
            with self._cond:
                self._cond.notify_all()
            if acker.is_alive():  # it finishes within the shutdown deadline
                acker.join(timeout=self.shutdown_timeout + 5.0)
            if heartbeat.is_alive():
                heartbeat.join(timeout=self.heartbeat_ttl)
            self._give_back()
            self._dead_letter_late_failures()
            try:
                self.client.delete(self.heartbeat_key)
            except Exception as exc:  # noqa: BLE001 - Redis down at exit: the heartbeat expires by itself
                self._redis_error("deleting the heartbeat", exc)
            self._unhook_on_failure(original_on_failure)
            restore_signals()
            self._running.release()
            logger.info("RedisWorker %s stopped: %s", self.worker_id, self._stats.as_dict())

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
            mask_credentials(str(exc), [] if self.url is None else [self.url]),
        )

    def _wait_for_room(self) -> int:
        """Wait until fewer than ``max_unacked`` items are unacknowledged; return the room."""
        with self._cond:
            while self._unacked >= self.max_unacked and not self._stop.is_set():
                self._cond.wait(0.5)
            return self.max_unacked - self._unacked

    def _take(self, limit: int) -> List[bytes]:
        """Move up to ``limit`` items to the processing list (blocking for the first).

        After a Redis error in the middle of a move, the processing list may hold items that
        were never returned here: the next call then takes every item of the processing list
        beyond the unacknowledged ones, so that acknowledging cannot lose them.
        """
        client = self.client
        if self._resync:
            with self._plist_lock:
                items: List[bytes] = list(client.lrange(self.processing_key, self._unacked, -1))
                self._resync = False
                self._taken(items)
            if items:
                return items
        self._resync = True
        first = client.blmove(self.key, self.processing_key, self.block_timeout, "LEFT", "RIGHT")
        if first is None:
            self._resync = False
            return []
        items = [first]
        if limit > 1:
            available = min(limit - 1, int(client.llen(self.key)))
            if available > 0:
                pipe = client.pipeline(transaction=False)
                for _ in range(available):
                    pipe.lmove(self.key, self.processing_key, "LEFT", "RIGHT")
                items.extend(item for item in pipe.execute() if item is not None)
        self._resync = False
        self._taken(items)
        return items

    def _taken(self, items: List[bytes]) -> None:
        self._stats.taken += len(items)
        with self._cond:
            self._unacked += len(items)

    def _raw_input(self) -> Optional[Callable[[bytes], Any]]:
        """The emitter's ``input_encoded`` when it takes POST event bytes as they are."""
        method = getattr(self.emitter, "method", "post")
        raw = getattr(self.emitter, "input_encoded", None)
        return raw if callable(raw) and method == "post" else None

    def _hand_over(self, items: List[bytes]) -> None:
        """Check ``items`` and hand the events to the emitter; queue them for acknowledgement."""
        take = _Take(len(items))
        raw_input = self._input_encoded
        for raw in items:
            event = parse_event(raw)
            if event is None:
                take.dead.append(raw)
                continue
            try:
                if raw_input is None:
                    self.emitter.input(event)
                elif raw[-1:] == b"}" and raw[:1] == b"{" and "stm" not in event:
                    raw_input(raw)  # the stored bytes, as they are
                else:  # padded or with a send time: make it what the request builder expects
                    raw_input(encode_event(event, "post"))
                take.handed += 1
            except Exception as exc:
                logger.debug("RedisWorker: emitter refused an item", exc_info=True)
                _invalid_log.log(
                    "RedisWorker %s: the emitter refused an item (%s); dead-lettered",
                    self.worker_id,
                    type(exc).__name__,
                )
                take.dead.append(raw)
        if take.dead:
            _invalid_log.log(
                "RedisWorker %s: %d item(s) are not valid events; moved to %r",
                self.worker_id,
                len(take.dead),
                self.failed_key,
            )
        with self._cond:
            self._takes.append(take)
            self._cond.notify_all()

    def _ack_loop(self) -> None:
        """Flush the emitter and acknowledge the takes handed over before each flush."""
        while True:
            with self._cond:
                while not self._takes and not self._stop.is_set():
                    self._cond.wait(0.5)
                takes = list(self._takes)
            if not takes:
                return  # stopping, nothing left
            if not self._flush_emitter():
                return  # stopping and out of time: _give_back() requeues the processing list
            with self._failed_lock:
                failed, self._failed = self._failed, []
            count = sum(take.items for take in takes)
            dead = [item for take in takes for item in take.dead]
            invalid = len(dead)
            dead.extend(orjson.dumps(dict(event)) for event in failed)
            if not self._retrying(functools.partial(self._acknowledge, count, dead)):
                with self._failed_lock:  # stopping with Redis down: dead-lettered at exit
                    self._failed[:0] = failed
                return
            with self._cond:
                for _ in takes:
                    self._takes.popleft()
                self._cond.notify_all()
            handed = sum(take.handed for take in takes)
            self._stats.batches += len(takes)
            self._stats.invalid += invalid
            self._stats.dead_lettered += len(dead)
            self._stats.delivered += max(0, handed - len(failed))
            logger.debug(
                "RedisWorker %s: %d item(s) acknowledged (%d dead-lettered)",
                self.worker_id,
                count,
                len(dead),
            )

    def _flush_emitter(self) -> bool:
        """Flush until done; False only when stopping and ``shutdown_timeout`` passed.

        The wait is cut in slices of at most a second so that a stop request is noticed while
        the emitter retries; a flush slower than ``flush_timeout`` is logged (throttled).
        """
        started = time.monotonic()
        while True:
            now = time.monotonic()
            deadline = self._stop_deadline
            if deadline is not None and now >= deadline:
                logger.warning(
                    "RedisWorker %s: stopping before the emitter finished sending; the batch "
                    "goes back to the list (its events may arrive twice)",
                    self.worker_id,
                )
                return False
            timeout = _FLUSH_SLICE if deadline is None else min(_FLUSH_SLICE, deadline - now)
            try:
                if self._flush_takes_timeout:
                    done = self.emitter.flush(timeout=timeout)
                else:
                    done = self.emitter.flush()
                failed = False
            except Exception:
                logger.exception("RedisWorker %s: emitter.flush() raised", self.worker_id)
                done, failed = False, True
            if done is None or done:
                return True
            if time.monotonic() - started >= self.flush_timeout:
                _flush_log.log(
                    "RedisWorker %s: the emitter has not finished sending after %.0f s "
                    "(collector down?); still waiting",
                    self.worker_id,
                    time.monotonic() - started,
                )
            if failed or not self._flush_takes_timeout:
                self._stop.wait(0.1)  # never spin on a flush that returns at once

    def _acknowledge(self, count: int, dead: List[bytes]) -> bool:
        """Dead-letter ``dead`` and remove the first ``count`` processing items, atomically."""
        with self._plist_lock:
            pipe = self.client.pipeline(transaction=True)
            if dead:
                pipe.rpush(self.failed_key, *dead)
            pipe.ltrim(self.processing_key, count, -1)
            pipe.execute()
            with self._cond:
                self._unacked -= count
        return True

    def _give_back(self) -> None:
        """At exit: move what is still in the processing list back to the main list."""
        try:
            moved = self._requeue(self.processing_key)
        except Exception as exc:  # noqa: BLE001 - Redis down at exit: logged
            self._redis_error("giving back the processing list", exc)
            return
        if moved:
            self._stats.requeued += moved
            logger.warning(
                "RedisWorker %s: gave %d unsent item(s) back to %r", self.worker_id, moved, self.key
            )

    def _dead_letter_late_failures(self) -> None:
        """At exit: dead-letter failures the emitter reported after the last acknowledgement."""
        with self._failed_lock:
            failed, self._failed = self._failed, []
        if not failed:
            return
        try:
            self.client.rpush(self.failed_key, *(orjson.dumps(dict(e)) for e in failed))
        except Exception as exc:  # noqa: BLE001 - Redis down at exit: logged
            self._redis_error("dead-lettering failed events", exc)
            logger.error(
                "RedisWorker %s: %d failed event(s) could not be dead-lettered",
                self.worker_id,
                len(failed),
            )
            return
        self._stats.dead_lettered += len(failed)

    # -- recovery and heartbeat --------------------------------------------------------------

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
            moved = self._requeue(list_name)
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

    def _requeue(self, list_name: str) -> int:
        """Move every item of ``list_name`` to the head of ``key``, keeping their order."""
        client = self.client
        moved = 0
        while True:
            length = int(client.llen(list_name))
            if length == 0:
                return moved
            pipe = client.pipeline(transaction=False)
            for _ in range(min(length, _REQUEUE_CHUNK)):
                pipe.lmove(list_name, self.key, "RIGHT", "LEFT")
            results = pipe.execute()
            done = sum(1 for r in results if r is not None)
            moved += done
            if done == 0:
                return moved

    def _beat(self) -> None:
        value = orjson.dumps({"worker_id": self.worker_id, "pid": os.getpid(), "at": time.time()})
        self.client.set(self.heartbeat_key, value, px=max(1, int(self.heartbeat_ttl * 1000)))

    def _heartbeat_loop(self) -> None:
        interval = self.heartbeat_ttl / 3.0
        while not self._stop.wait(interval):
            try:
                self._beat()
            except Exception as exc:  # noqa: BLE001 - the heartbeat thread must survive outages
                self._redis_error("refreshing the heartbeat", exc)

    # -- the emitter's failure callback ------------------------------------------------------

    def _hook_on_failure(self) -> Any:
        if not hasattr(self.emitter, "on_failure"):
            logger.warning(
                "RedisWorker: %s has no on_failure attribute: events it fails to send cannot "
                "be dead-lettered",
                type(self.emitter).__name__,
            )
            return None
        original = self.emitter.on_failure

        def on_failure(sent: int, failed: List[Mapping[str, Any]]) -> None:
            with self._failed_lock:
                self._failed.extend(failed)
            if original is not None:
                original(sent, failed)

        self.emitter.on_failure = on_failure
        return original

    def _unhook_on_failure(self, original: Any) -> None:
        if hasattr(self.emitter, "on_failure"):
            self.emitter.on_failure = original

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handler(signum: int, frame: Optional[FrameType]) -> None:
            self.stop()

        previous = {
            signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)
        }

        def restore() -> None:
            for signum, old in previous.items():
                signal.signal(signum, old)

        return restore


def parse_event(raw: bytes) -> Optional[Dict[str, str]]:
    """The event dict of a list item, or None if it is not an event.

    An event is a JSON object whose values are all strings, with non-empty ``e`` and ``eid``
    (what :class:`~snowplow_tracker.emitters.redis.emitter.RedisEmitter` stores).
    """
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if (
        event.__class__ is not dict
        or not event.get("e")
        or not event.get("eid")
        or not all(value.__class__ is str for value in event.values())
    ):
        return None
    return event


def _accepts_timeout(flush: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(flush).parameters
    except (TypeError, ValueError):
        return False
    return "timeout" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


# -- the command line --------------------------------------------------------------------------
