"""``RedisEmitter``: store events in a Redis list, for a :class:`RedisWorker` to send later.

Each event is serialised once, by :func:`snowplow_tracker.wire.encode_event` with
``method="post"``: the list holds the events' JSON objects (every value a string, no ``stm``),
exactly the bytes a POST request carries, so a worker can send them without re-serialising them.
Events are appended with ``RPUSH``; with ``buffer_size`` above 1 they are buffered and pushed in
batches (one ``RPUSH`` of many values per batch, pipelined), which is what makes this emitter
cheap for the caller.

The ``redis`` package is imported only when the first event is pushed (or when a client is
built), never when ``snowplow_tracker`` is imported. Install it with
``pip install snowplow-tracker[redis]``.

A Redis outage never raises into ``track_*``: unpushed events stay in memory, up to
``max_buffered`` of them, and are pushed again after a back-off; past that bound the oldest are
dropped, counted in ``stats().dropped``, logged at a throttled rate and passed to
``on_failure``. The Redis URL's password never appears in a log record or a ``repr``.

Example:
    >>> import redis
    >>> from snowplow_tracker import Tracker
    >>> from snowplow_tracker.redis_emitter import RedisEmitter
    >>> e = RedisEmitter(redis.Redis(db=2), "my_snowplow_key")  # doctest: +SKIP
    >>> t = Tracker(e)  # doctest: +SKIP
    >>> t.track_page_view("http://www.example.com")  # doctest: +SKIP
    >>> redis.Redis(db=2).lrange("my_snowplow_key", 0, -1)  # doctest: +SKIP
    [b'{"e":"pv","url":"http://www.example.com",...}']

    For throughput, buffer: ``RedisEmitter(url="redis://redis.internal:6379/0",
    buffer_size=500, max_batch_age=0.5)``; then run ``snowplow-redis-worker`` to send.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from typing import Any, Callable, List, Mapping, Optional, Tuple

from ._logging import ThrottledLog, logger
from .credentials import mask_credentials
from .emitters import check_callback, encode_or_raise
from .errors import ConfigurationError
from .stats import Counters, EmitterStats
from .wire import PayloadDict, decode_events

__all__ = ["RedisEmitter", "is_redis_error", "redis_client"]

SuccessCallback = Callable[[List[PayloadDict]], Any]
FailureCallback = Callable[[int, List[PayloadDict]], Any]

#: Schemes that ``redis.Redis.from_url`` understands.
REDIS_URL_SCHEMES = ("redis://", "rediss://", "unix://")
#: Default socket timeouts of the clients this module creates: a dead Redis never hangs a caller.
DEFAULT_SOCKET_TIMEOUT = 5.0
DEFAULT_CONNECT_TIMEOUT = 2.0
#: Values per ``RPUSH`` command; bigger batches are split in several commands of one pipeline.
RPUSH_CHUNK = 1000
#: Back-off after a failed push: first delay, cap (seconds).
BACKOFF_START = 0.1
BACKOFF_MAX = 5.0


_drop_log = ThrottledLog()
_push_log = ThrottledLog()
_callback_log = ThrottledLog()


def check_redis_url(url: Any, where: str) -> str:
    """Return ``url`` if it looks like a Redis URL, else raise :class:`ConfigurationError`.

    Args:
        url: What the user passed.
        where: The qualified name of the caller, for the error message.
    """
    if not isinstance(url, str) or not url.strip().lower().startswith(REDIS_URL_SCHEMES):
        shown = mask_credentials(url) if isinstance(url, str) else repr(url)
        raise ConfigurationError(
            f"{where}: argument 'url' must be a Redis URL such as 'redis://localhost:6379/0' "
            f"(schemes redis://, rediss://, unix://), got {shown!r}"
        )
    return url.strip()


def redis_client(
    url: Optional[str] = None,
    *,
    socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
    socket_connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Any:
    """Build a ``redis.Redis`` client (importing ``redis`` now) with bounded socket timeouts.

    Args:
        url: A Redis URL; None for ``localhost:6379``, database 0.
        socket_timeout: Seconds a command may wait for its answer.
        socket_connect_timeout: Seconds a connection attempt may take.

    Raises:
        ConfigurationError: The ``redis`` package is not installed.
    """
    try:
        import redis
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            "the redis package is needed: pip install snowplow-tracker[redis]"
        ) from None
    if url is None:
        return redis.Redis(
            socket_timeout=socket_timeout, socket_connect_timeout=socket_connect_timeout
        )
    return redis.Redis.from_url(
        url, socket_timeout=socket_timeout, socket_connect_timeout=socket_connect_timeout
    )


def describe_client(client: Any) -> str:
    """A short, password-free description of a ``redis.Redis`` client, for logs and reprs."""
    try:
        kwargs = client.connection_pool.connection_kwargs
        if "path" in kwargs:
            return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
    except Exception:  # noqa: BLE001 - any client-like object will do
        return type(client).__name__


def describe_target(url: Optional[str], client: Any) -> str:
    """Where a Redis emitter or worker points, for ``repr`` and logs, without credentials."""
    if url is not None:
        return mask_credentials(url)
    if client is not None:
        return describe_client(client)
    return "localhost:6379/0"


def is_redis_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from talking to Redis (the client's errors or the socket's)."""
    if isinstance(exc, (OSError, TimeoutError, ConnectionError)):
        return True
    return any(cls.__name__ == "RedisError" for cls in type(exc).__mro__)


def _push_chunks(client: Any, key: str, events: List[bytes]) -> Tuple[List[bytes], List[bytes]]:
    """RPUSH ``events`` in chunks through one pipeline; return ``(pushed, not_pushed)``.

    Raises:
        Exception: The pipeline failed as a whole (connection error): nothing is known pushed.
    """
    chunks = [events[i : i + RPUSH_CHUNK] for i in range(0, len(events), RPUSH_CHUNK)]
    if len(chunks) == 1:
        client.rpush(key, *chunks[0])
        return events, []
    pipe = client.pipeline(transaction=False)
    for chunk in chunks:
        pipe.rpush(key, *chunk)
    results = pipe.execute(raise_on_error=False)
    pushed: List[bytes] = []
    failed: List[bytes] = []
    for chunk, result in zip(chunks, results):
        (failed if isinstance(result, BaseException) else pushed).extend(chunk)
        if isinstance(result, BaseException):
            _push_log.log("RPUSH to Redis failed: %s", mask_credentials(str(result)))
    return pushed, failed


_live: weakref.WeakSet[RedisEmitter] = weakref.WeakSet()
_hooks_installed = False
_hooks_lock = threading.Lock()


def _flush_all_at_exit() -> None:
    for emitter in list(_live):
        try:
            emitter.close()
        except Exception:  # noqa: BLE001 - interpreter exit: best effort
            logger.debug("RedisEmitter: flush at exit failed", exc_info=True)


def _after_fork_in_child() -> None:
    for emitter in list(_live):
        emitter._reset_after_fork()


def _install_hooks(emitter: RedisEmitter) -> None:
    global _hooks_installed
    with _hooks_lock:
        _live.add(emitter)
        if not _hooks_installed:
            atexit.register(_flush_all_at_exit)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_after_fork_in_child)
            _hooks_installed = True


class RedisEmitter:
    """Appends events to a Redis list (``RPUSH``), as JSON objects, for a worker to send.

    Thread-safe; survives ``os.fork`` (a child starts with an empty buffer and its own
    connections). Buffered events are pushed at interpreter exit.

    Args:
        rdb: A ``redis.Redis`` (or ``StrictRedis``) client; by default one is created on first
            use, from ``url`` or for ``localhost:6379`` database 0, with socket timeouts of
            2 s (connect) and 5 s.
        key: The Redis list the events are appended to (default ``"snowplow"``).
        url: A Redis URL (``redis://[[user]:password@]host:port/db``, ``rediss://``,
            ``unix://``) for the default client; cannot be combined with ``rdb``.
        buffer_size: Events buffered before one batched push. The default, 1, pushes each
            event before ``track_*`` returns (as documented); a few hundred is much cheaper
            per event.
        max_batch_age: Seconds a partial buffer (or events kept after a failed push) may wait
            before a background thread pushes it; None to push only on a full buffer,
            :meth:`flush` or exit. Default 1.0.
        max_buffered: Bound of the events kept in memory while Redis cannot be reached
            (default 100,000); past it the oldest are dropped and reported.
        on_success: Called with the list of event dicts after each successful push.
        on_failure: Called with ``(0, list of event dicts)`` for events dropped because the
            bound was reached; they can be passed to ``input`` again later.

    Raises:
        ConfigurationError: An argument is invalid (the message names it).
    """

    _where = "RedisEmitter"

    def __init__(
        self,
        rdb: Any = None,
        key: str = "snowplow",
        *,
        url: Optional[str] = None,
        buffer_size: int = 1,
        max_batch_age: Optional[float] = 1.0,
        max_buffered: int = 100_000,
        on_success: Optional[SuccessCallback] = None,
        on_failure: Optional[FailureCallback] = None,
    ) -> None:
        where = self._where
        if rdb is not None and not callable(getattr(rdb, "pipeline", None)):
            raise ConfigurationError(
                f"{where}: argument 'rdb' must be a redis.Redis client or None, got "
                f"{type(rdb).__name__}"
            )
        if rdb is not None and url is not None:
            raise ConfigurationError(f"{where}: pass either 'rdb' or 'url', not both")
        self.url = None if url is None else check_redis_url(url, where)
        if not isinstance(key, str) or not key:
            raise ConfigurationError(
                f"{where}: argument 'key' must be a non-empty string, got {key!r}"
            )
        for name, value in (("buffer_size", buffer_size), ("max_buffered", max_buffered)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(
                    f"{where}: argument '{name}' must be a positive integer, got {value!r}"
                )
        if max_buffered < buffer_size:
            raise ConfigurationError(
                f"{where}: argument 'max_buffered' ({max_buffered}) must be at least "
                f"'buffer_size' ({buffer_size})"
            )
        if max_batch_age is not None and (
            isinstance(max_batch_age, bool)
            or not isinstance(max_batch_age, (int, float))
            or max_batch_age <= 0
        ):
            raise ConfigurationError(
                f"{where}: argument 'max_batch_age' must be a positive number of seconds or "
                f"None, got {max_batch_age!r}"
            )
        self.key = key
        self.buffer_size = buffer_size
        self.max_batch_age = None if max_batch_age is None else float(max_batch_age)
        self.max_buffered = max_buffered
        self.on_success: Optional[SuccessCallback] = check_callback(on_success, "on_success", where)
        self.on_failure: Optional[FailureCallback] = check_callback(on_failure, "on_failure", where)
        self._rdb = rdb
        self._counters = Counters()
        self._init_state()
        _install_hooks(self)

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._client_lock = threading.Lock()
        self._buffer: List[bytes] = []
        self._oldest = 0.0  # monotonic time the buffer became non-empty
        self._retry_at = 0.0  # no automatic push before this monotonic time (back-off)
        self._backoff = 0.0
        self._timer: Optional[threading.Thread] = None
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._pid = os.getpid()

    def _reset_after_fork(self) -> None:
        # The parent still holds (and will push) the buffered events: the child starts empty.
        # redis-py's connection pool notices the new pid by itself. Locks (the counters' too)
        # may have been held by another thread at the fork: make new ones.
        self._counters = Counters()
        self._init_state()

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

    # -- the caller's side -------------------------------------------------------------------

    def input(self, payload: Mapping[str, Any]) -> None:
        """Buffer one event; push the buffer when it holds ``buffer_size`` events.

        Never raises because of Redis: a failed push keeps the events for later (see the class
        documentation).

        Args:
            payload: The event: a flat dict of protocol field names to strings (not modified).

        Raises:
            EncodingError: The payload cannot be serialised; nothing was buffered.
        """
        event = encode_or_raise(payload, "post", self._where)
        batch: Optional[List[bytes]] = None
        dropped: List[bytes] = []
        with self._lock:
            buffer = self._buffer
            if not buffer:
                self._oldest = time.monotonic()
            buffer.append(event)
            if len(buffer) >= self.buffer_size and time.monotonic() >= self._retry_at:
                batch, self._buffer = buffer, []
            else:
                if len(buffer) > self.max_buffered:
                    dropped = self._trim()
                if self.max_batch_age is not None and self._timer is None:
                    self._start_timer()
        self._counters.add(accepted=1)
        if dropped:
            self._report_dropped(dropped)
        if batch:
            self._push(batch)

    def flush(self, is_async: bool = False, timeout: Optional[float] = None) -> bool:
        """Push every buffered event now (also during a back-off).

        Args:
            is_async: Push on a background thread and return at once.
            timeout: Accepted for compatibility; a push is bounded by the client's socket
                timeouts (5 s by default for the client created here).

        Returns:
            True when the buffer was empty or pushed; False if Redis failed (the events are
            kept, see the class documentation) or with ``is_async``.
        """
        with self._lock:
            batch, self._buffer = self._buffer, []
        if not batch:
            return not is_async
        if is_async:
            threading.Thread(
                target=self._push, args=(batch,), name="snowplow-redis-flush", daemon=True
            ).start()
            return False
        return self._push(batch)

    def set_flush_timer(self, timeout: float, flush_now: bool = False) -> None:
        """Push a partial buffer at most ``timeout`` seconds after its first event arrived.

        Same as constructing the emitter with ``max_batch_age=timeout``.

        Args:
            timeout: Seconds; a positive number.
            flush_now: Push the buffer at once as well.
        """
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigurationError(
                f"{self._where}.set_flush_timer: argument 'timeout' must be a positive number "
                f"of seconds, got {timeout!r}"
            )
        with self._lock:
            self.max_batch_age = float(timeout)
            if self._timer is None:
                self._start_timer()
            self._wake.notify_all()
        if flush_now:
            self.flush()

    def cancel_flush_timer(self) -> None:
        """Stop pushing partial buffers on a timer (a full buffer is still pushed)."""
        with self._lock:
            self.max_batch_age = None
            self._wake.notify_all()

    def close(self, timeout: Optional[float] = None) -> bool:
        """Stop the timer thread and push what is buffered.

        Args:
            timeout: Accepted for symmetry with the other emitters; see :meth:`flush`.

        Returns:
            Whether everything buffered was pushed.
        """
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            timer, self._timer = self._timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=1.0)
        return self.flush(timeout=timeout)

    def stats(self) -> EmitterStats:
        """Counters: ``sent`` counts events pushed to Redis, ``retried`` events pushed again
        after a failed push, ``dropped`` events lost to the ``max_buffered`` bound, ``queued``
        events waiting in memory.
        """
        with self._lock:
            queued = len(self._buffer)
        return self._counters.snapshot(queued=queued)

    # -- pushing -----------------------------------------------------------------------------

    def _push(self, batch: List[bytes]) -> bool:
        """Push ``batch``; on failure put it back at the head of the buffer. Never raises."""
        try:
            pushed, failed = _push_chunks(self.client, self.key, batch)
        except Exception as exc:  # noqa: BLE001 - nothing Redis does may crash the host
            if not is_redis_error(exc):
                logger.error(
                    "RedisEmitter: unexpected error while pushing (%s: %s); events kept",
                    type(exc).__name__,
                    mask_credentials(str(exc)),
                )
                logger.debug("RedisEmitter: traceback", exc_info=True)
            else:
                _push_log.log(
                    "RedisEmitter: push of %d event(s) to Redis list %r failed (%s: %s); "
                    "kept for retry",
                    len(batch),
                    self.key,
                    type(exc).__name__,
                    mask_credentials(str(exc)),
                )
            pushed, failed = [], batch
        with self._lock:
            if failed:
                self._backoff = min(BACKOFF_MAX, max(BACKOFF_START, self._backoff * 2))
                self._retry_at = time.monotonic() + self._backoff
                if not self._buffer:
                    self._oldest = time.monotonic()
                self._buffer[:0] = failed
                dropped = self._trim() if len(self._buffer) > self.max_buffered else []
                if self.max_batch_age is not None and self._timer is None and not self._closed:
                    self._start_timer()
            else:
                self._backoff = 0.0
                self._retry_at = 0.0
                dropped = []
        self._counters.add(sent=len(pushed), retried=len(failed) - len(dropped))
        if dropped:
            self._report_dropped(dropped)
        if pushed and self.on_success is not None:
            self._call(self.on_success, decode_events(pushed, "post"))
        return not failed

    def _trim(self) -> List[bytes]:
        """Drop the oldest events beyond ``max_buffered``; the caller holds the lock."""
        overflow = len(self._buffer) - self.max_buffered
        dropped = self._buffer[:overflow]
        del self._buffer[:overflow]
        return dropped

    def _report_dropped(self, dropped: List[bytes]) -> None:
        self._counters.add(dropped=len(dropped))
        _drop_log.log(
            "RedisEmitter: Redis unreachable and %d events buffered: dropped %d event(s)",
            self.max_buffered,
            len(dropped),
        )
        if self.on_failure is not None:
            self._call(self.on_failure, 0, decode_events(dropped, "post"))

    def _call(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - a user's callback must not break tracking
            _callback_log.log("RedisEmitter: an on_success/on_failure callback raised")
            logger.debug("RedisEmitter: callback traceback", exc_info=True)

    # -- the flush timer ---------------------------------------------------------------------

    def _start_timer(self) -> None:
        """Start the background pusher thread; the caller holds the lock."""
        ref = weakref.ref(self)
        thread = threading.Thread(
            target=_timer_loop, args=(ref,), name="snowplow-redis-timer", daemon=True
        )
        self._timer = thread
        thread.start()

    def _due(self) -> Tuple[Optional[List[bytes]], Optional[float]]:
        """With the lock held: the batch to push now, or how long to sleep (None: stop)."""
        if self._closed or self._pid != os.getpid():
            return None, None
        max_age = self.max_batch_age
        if not self._buffer:
            return None, max_age if max_age is not None else 1.0
        now = time.monotonic()
        if max_age is None:
            if self._retry_at == 0.0:
                return None, 1.0
            due_at = self._retry_at
        else:
            due_at = max(self._oldest + max_age, self._retry_at)
        if now >= due_at:
            batch, self._buffer = self._buffer, []
            return batch, 0.0
        return None, due_at - now


def _timer_loop(ref: weakref.ReferenceType[RedisEmitter]) -> None:
    """Push partial or kept-back buffers when they are due; ends with its emitter."""
    while True:
        emitter = ref()
        if emitter is None:
            return
        with emitter._lock:
            if emitter._timer is not threading.current_thread():
                return
            batch, sleep = emitter._due()
            if sleep is None:
                if emitter._timer is threading.current_thread():
                    emitter._timer = None
                return
            if batch is None:
                emitter._wake.wait(min(sleep, 1.0))
        if batch:
            emitter._push(batch)
        del emitter
