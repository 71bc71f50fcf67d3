"""The HTTP emitters that send in the host process: synchronous ``Emitter`` and ``AsyncEmitter``.

Both are built on the shared components: :mod:`~snowplow_tracker.wire` (encoding, requests),
:mod:`~snowplow_tracker.batching` (``buffer_size``/``byte_limit``), :mod:`~snowplow_tracker.retry`
and :mod:`~snowplow_tracker.transport` (HTTP). ``ProcessEmitter`` (the sender-process pool) is in
:mod:`snowplow_tracker.process_emitter`.

Example:
    >>> from snowplow_tracker import Emitter, Tracker
    >>> e = Emitter("collector.example.com", method="post", buffer_size=50)
    >>> t = Tracker(e, app_id="shop")
    >>> t.track_page_view("https://shop.example.com/")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import abc
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ._logging import ThrottledLog, logger
from .batching import Batcher, BatchLimits
from .errors import ConfigurationError, EncodingError
from .retry import RetryPolicy
from .stats import Counters, EmitterStats
from .transport import DeliveryResult, HttpTransport, Timeout, deliver
from .wire import PayloadDict, check_method, decode_events, encode_event

SuccessCallback = Callable[[List[PayloadDict]], Any]
FailureCallback = Callable[[int, List[PayloadDict]], Any]

_callback_log = ThrottledLog()
_drop_log = ThrottledLog()


def check_callback(value: Any, name: str, where: str) -> Any:
    """Return ``value`` if it is None or callable, else raise :class:`ConfigurationError`."""
    if value is not None and not callable(value):
        raise ConfigurationError(
            f"{where}: argument '{name}' must be a callable or None, got {value!r}"
        )
    return value


def encode_or_raise(payload: Mapping[str, Any], method: str, where: str) -> bytes:
    """:func:`~snowplow_tracker.wire.encode_event` with a clear error for bad input.

    Raises:
        EncodingError: ``payload`` is not a dict of JSON-serialisable values.
    """
    if payload.__class__ is not dict and not isinstance(payload, abc.Mapping):
        raise EncodingError(
            f"{where}.input: argument 'payload' must be a dict of field names to strings, "
            f"got {type(payload).__name__}: {payload!r:.200}"
        )
    try:
        return encode_event(payload, method)
    except Exception as exc:  # noqa: BLE001 - e.g. a value whose __str__ raises
        raise EncodingError(
            f"{where}.input: argument 'payload' cannot be serialised ({exc}); every value must "
            f"be a string or number, got {payload!r:.200}"
        ) from None


class BaseEmitter:
    """Configuration, callbacks and the flush timer shared by the HTTP emitters.

    Args:
        endpoint: Collector host, e.g. ``"collector.example.com"``; a scheme in it
            (``"https://host"``) wins over ``protocol``.
        protocol: ``"http"`` (default) or ``"https"``.
        port: Collector port; default: the scheme's.
        method: ``"get"`` (one request per event) or ``"post"`` (batches).
        buffer_size: Events per request batch; default 1 for GET, 10 for POST.
        on_success: Called with the list of event dicts sent, after each successful batch.
        on_failure: Called with ``(number sent, list of event dicts not sent)`` after a batch
            that was not wholly sent. The dicts can be passed to ``input`` again to retry.
        byte_limit: Bytes per request batch as sent on the wire; default none.
        request_timeout: Seconds, or a ``(connect, read)`` tuple; default ``(5, 10)``.
        retry_policy: How failed requests are retried (see :class:`RetryPolicy`).
        max_batch_age: Seconds after which a partial batch is sent with the next event that
            arrives (a flush or the flush timer sends it without waiting); default none.
    """

    _where = "Emitter"

    def __init__(
        self,
        endpoint: str,
        protocol: str = "http",
        port: Optional[int] = None,
        method: str = "get",
        buffer_size: Optional[int] = None,
        on_success: Optional[SuccessCallback] = None,
        on_failure: Optional[FailureCallback] = None,
        byte_limit: Optional[int] = None,
        request_timeout: Optional[Timeout] = None,
        *,
        retry_policy: Optional[RetryPolicy] = None,
        max_batch_age: Optional[float] = None,
    ) -> None:
        where = self._where
        self.method = check_method(method, where)
        self.limits = BatchLimits.create(
            self.method, buffer_size, byte_limit, max_batch_age, where=where
        )
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise ConfigurationError(
                f"{where}: argument 'retry_policy' must be a RetryPolicy or None, "
                f"got {retry_policy!r}"
            )
        self.retry_policy = retry_policy or self._default_retry_policy()
        self.transport = HttpTransport(
            endpoint, self.method, protocol, port, request_timeout, self.retry_policy, where=where
        )
        self.endpoint = endpoint
        self.on_success: Optional[SuccessCallback] = check_callback(on_success, "on_success", where)
        self.on_failure: Optional[FailureCallback] = check_callback(on_failure, "on_failure", where)
        self._counters = Counters()
        self._timer: Optional[threading.Thread] = None
        self._timer_stop = threading.Event()

    @staticmethod
    def _default_retry_policy() -> RetryPolicy:
        return RetryPolicy()

    @property
    def buffer_size(self) -> int:
        """Events per request batch."""
        return self.limits.buffer_size

    @property
    def byte_limit(self) -> Optional[int]:
        """Bytes per request batch, or None."""
        return self.limits.byte_limit

    def _report(self, sent: List[bytes], failed: List[bytes], *, dropped: bool = False) -> None:
        """Count an outcome and call the user's callbacks (exceptions in them are logged)."""
        if dropped:
            self._counters.add(dropped=len(failed))
        else:
            self._counters.add(sent=len(sent), failed=len(failed))
        self._notify(sent, failed)

    def _notify(self, sent: List[bytes], failed: List[bytes]) -> None:
        """Call the user's callbacks for an outcome already counted (exceptions are logged)."""
        try:
            if failed:
                if self.on_failure is not None:
                    self.on_failure(len(sent), decode_events(failed, self.method))
            elif sent and self.on_success is not None:
                self.on_success(decode_events(sent, self.method))
        except Exception:  # noqa: BLE001 - a user's callback must not kill a sender thread
            _callback_log.log("an on_success/on_failure callback raised", exc_info=True)

    def _report_delivery(self, result: DeliveryResult) -> None:
        self._counters.add(retried=result.retried)
        self._report(result.sent, result.failed)

    def set_flush_timer(self, timeout: float, flush_now: bool = False) -> None:
        """Flush (asynchronously) every ``timeout`` seconds on a daemon thread.

        Args:
            timeout: Seconds between flushes; a positive number.
            flush_now: Flush once at once as well.
        """
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not 0 < timeout < math.inf
        ):
            raise ConfigurationError(
                f"{self._where}.set_flush_timer: argument 'timeout' must be a positive number "
                f"of seconds, got {timeout!r}"
            )
        self.cancel_flush_timer()
        stop = self._timer_stop = threading.Event()
        if flush_now:
            self.flush(is_async=True)

        def run() -> None:
            while not stop.wait(timeout):
                try:
                    self.flush(is_async=True)
                except Exception:  # noqa: BLE001
                    logger.exception("flush timer: flush failed")

        self._timer = threading.Thread(target=run, name="snowplow-flush-timer", daemon=True)
        self._timer.start()

    def cancel_flush_timer(self) -> None:
        """Stop the flush timer started by :meth:`set_flush_timer`, if any."""
        self._timer_stop.set()
        timer, self._timer = self._timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=5)

    def flush(self, is_async: bool = False, timeout: Optional[float] = None) -> bool:
        """Send every buffered event; see the subclasses for what it promises."""
        raise NotImplementedError

    def stats(self) -> EmitterStats:
        """Counters of this emitter; see :class:`~snowplow_tracker.stats.EmitterStats`."""
        return self._counters.snapshot()


class Emitter(BaseEmitter):
    """Sends events synchronously, in the thread that calls ``track_*``: for scripts and tests.

    A ``track_*`` call that fills the buffer sends the batch before it returns (at most the
    request timeout per request and retry). Thread-safe: many threads may track at once.
    By default a failed request is not retried here: its events go to ``on_failure``, from
    where they can be passed to ``input`` again. See :class:`BaseEmitter` for the arguments.
    """

    _where = "Emitter"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._batcher = Batcher(self.limits)

    @staticmethod
    def _default_retry_policy() -> RetryPolicy:
        return RetryPolicy.never()

    def input(self, payload: Mapping[str, Any]) -> None:
        """Buffer one event and send the buffer when it is full.

        Args:
            payload: The event: a flat dict of protocol field names to strings. It is not
                modified (the same dict may go to several emitters).

        Raises:
            EncodingError: The payload cannot be serialised; nothing was buffered.
        """
        event = encode_or_raise(payload, self.method, self._where)
        with self._lock:
            ready = self._batcher.add(event)
            if not ready and self._batcher.is_stale():  # max_batch_age passed
                ready.append(self._batcher.drain())
        self._counters.add(accepted=1)
        for batch in ready:
            self._send(batch)

    def _send(self, batch: List[bytes]) -> None:
        if batch:
            self._report_delivery(deliver(self.transport, batch, self.retry_policy))

    def flush(self, is_async: bool = False, timeout: Optional[float] = None) -> bool:
        """Send every buffered event now, in this thread, and return when done.

        Args:
            is_async: Accepted for compatibility; the synchronous emitter always blocks.
            timeout: Ignored; each request is bounded by ``request_timeout``.

        Returns:
            True (every buffered event was sent or reported to ``on_failure``).
        """
        with self._lock:
            batch = self._batcher.drain()
        self._send(batch)
        return True

    def close(self, timeout: Optional[float] = None) -> bool:
        """Stop the flush timer, send every buffered event and close the HTTP connections.

        Args:
            timeout: Ignored; each request is bounded by ``request_timeout``.

        Returns:
            True (every buffered event was sent or reported to ``on_failure``).
        """
        self.cancel_flush_timer()
        self.flush()
        self.transport.close()
        return True

    def stats(self) -> EmitterStats:
        """Counters of this emitter; see :class:`~snowplow_tracker.stats.EmitterStats`."""
        with self._lock:
            queued = len(self._batcher)
        return self._counters.snapshot(queued=queued)


class AsyncEmitter(Emitter):
    """Sends events from a pool of threads in the host process (the documented ``AsyncEmitter``).

    ``track_*`` only buffers; full batches go to a bounded queue that ``thread_count`` threads
    send from, with retries. When ``max_queued_batches`` batches wait already, a new batch is
    dropped (counted in ``stats().dropped`` and passed to ``on_failure``), so ``track_*`` never
    blocks on the network. Callbacks run on the sending threads: do not call ``flush()`` from
    them. Arguments as :class:`BaseEmitter`, plus:

    Args:
        thread_count: Sending threads (default 1).
        max_queued_batches: Bound of the batch queue (default 1,000 batches).
    """

    _where = "AsyncEmitter"

    def __init__(
        self,
        *args: Any,
        thread_count: int = 1,
        max_queued_batches: int = 1000,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("protocol", "http")
        super().__init__(*args, **kwargs)
        for name, value in (
            ("thread_count", thread_count),
            ("max_queued_batches", max_queued_batches),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(
                    f"{self._where}: argument '{name}' must be a positive integer, got {value!r}"
                )
        self.thread_count = thread_count
        self._queue: queue.Queue[Optional[Tuple[int, List[bytes]]]] = queue.Queue(
            max_queued_batches
        )
        self._threads: List[threading.Thread] = []
        # Batches queued or being sent, by ticket (in queueing order): their number of events.
        self._outstanding: Dict[int, int] = {}
        self._next_ticket = 0
        self._in_flight = 0  # events taken by a sending thread
        self._idle = threading.Condition()
        self._closed = threading.Event()

    @staticmethod
    def _default_retry_policy() -> RetryPolicy:
        return RetryPolicy()

    def _start_threads(self) -> None:
        with self._idle:
            if self._threads:
                return
            for i in range(self.thread_count):
                thread = threading.Thread(target=self._run, name=f"snowplow-async-{i}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            ticket, batch = item
            with self._idle:
                self._in_flight += len(batch)
            try:
                result = deliver(self.transport, batch, self.retry_policy, wait=self._closed.wait)
                self._report_delivery(result)
            finally:
                with self._idle:
                    self._in_flight -= len(batch)
                    del self._outstanding[ticket]
                    self._idle.notify_all()

    def _send(self, batch: List[bytes]) -> None:
        if not batch:
            return
        if not self._threads:
            self._start_threads()
        with self._idle:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._outstanding[ticket] = len(batch)
        try:
            self._queue.put_nowait((ticket, batch))
        except queue.Full:
            with self._idle:
                del self._outstanding[ticket]
                self._idle.notify_all()
            _drop_log.log("AsyncEmitter queue full: dropped %d event(s)", len(batch))
            self._report([], batch, dropped=True)

    def flush(self, is_async: bool = False, timeout: Optional[float] = None) -> bool:
        """Queue the buffered events for sending; unless ``is_async``, wait until all are done.

        Args:
            is_async: Return at once after queueing.
            timeout: Seconds to wait at most (None: until done; each batch is bounded by its
                retry policy's deadline).

        Returns:
            True when every event queued before the call was sent or reported to
            ``on_failure``; False if ``timeout`` passed first (or ``is_async``).
        """
        super().flush()
        if is_async:
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            # Wait for the batches queued so far only: events tracked meanwhile by other
            # threads must not keep a flush waiting for ever.
            target = self._next_ticket
            while self._outstanding and min(self._outstanding) < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self, timeout: Optional[float] = 10.0) -> bool:
        """Flush, then stop the sending threads.

        Args:
            timeout: Seconds to wait for the flush; after it, retries in progress stop and
                their events go to ``on_failure``.

        Returns:
            Whether everything was delivered or reported before the timeout.
        """
        self.cancel_flush_timer()
        done = self.flush(timeout=timeout)
        self._closed.set()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        self.transport.close()
        return done

    def stats(self) -> EmitterStats:
        """Counters of this emitter; see :class:`~snowplow_tracker.stats.EmitterStats`."""
        with self._lock:
            buffered = len(self._batcher)
        with self._idle:
            in_flight = self._in_flight
            queued = buffered + sum(self._outstanding.values()) - in_flight
        alive = sum(t.is_alive() for t in self._threads)
        return self._counters.snapshot(queued=queued, in_flight=in_flight, senders_alive=alive)
