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

Lifecycle: both emitters deliver what they still hold when the interpreter exits (an ``atexit``
handler, bounded by ``shutdown_timeout``), and after ``os.fork()`` the child gets a fresh, empty
emitter (new locks, queue, sending threads, flush timer and connections) while the parent keeps
sending what it had; see :func:`_close_all_at_exit` and :func:`_rebuild_all_in_child`.
"""

from __future__ import annotations

import atexit
import functools
import math
import os
import threading
import time
import weakref
from collections import abc, deque
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional

import requests
from requests.adapters import HTTPAdapter

from ._logging import ThrottledLog, logger
from .batching import Batcher, BatchLimits
from .errors import ConfigurationError, EncodingError
from .retry import RetryPolicy
from .stats import Counters, EmitterStats
from .transport import DeliveryResult, HttpTransport, Timeout, check_timeout, deliver
from .wire import PayloadDict, check_method, decode_events, encode_event

SuccessCallback = Callable[[List[PayloadDict]], Any]
FailureCallback = Callable[[int, List[PayloadDict]], Any]

_callback_log = ThrottledLog()
_drop_log = ThrottledLog()

#: Default seconds that ``close()`` and the exit handler spend delivering what is left.
DEFAULT_SHUTDOWN_TIMEOUT = 5.0
#: Default bound, in bytes of encoded events, of what an ``AsyncEmitter`` holds (128 MiB). It
#: absorbs 8 threads tracking 20,000 events of 0.5 KB each (a subject and a context) while the
#: sending thread gets little of the GIL: 64 MiB dropped 14,700 of those 160,000 events.
DEFAULT_MAX_QUEUE_BYTES = 128 * 1024 * 1024
#: Joins the events of a queued batch into one bytes object. Never inside an encoded event:
#: JSON escapes newlines and a querystring percent-encodes them.
_SEP = b"\n"


def check_callback(value: Any, name: str, where: str) -> Any:
    """Return ``value`` if it is None or callable, else raise :class:`ConfigurationError`."""
    if value is not None and not callable(value):
        raise ConfigurationError(
            f"{where}: argument '{name}' must be a callable or None, got {value!r}"
        )
    return value


def check_seconds(value: Any, name: str, where: str) -> float:
    """Return ``value`` as a float if it is a positive finite number of seconds, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ConfigurationError(
            f"{where}: argument '{name}' must be a positive number of seconds, got {value!r}"
        )
    return float(value)


def check_session(value: Any, where: str) -> Optional[requests.Session]:
    """Return ``value`` if it is None or a ``requests.Session``, else raise."""
    if value is not None and not isinstance(value, requests.Session):
        raise ConfigurationError(
            f"{where}: argument 'session' must be a requests.Session or None, "
            f"got {type(value).__name__}: {value!r:.100}"
        )
    return value


def _wait_until(deadline: float, stop: Optional[threading.Event] = None) -> Callable[[float], bool]:
    """A ``wait`` for :func:`deliver` that gives up on a retry that would end past ``deadline``."""

    def wait(delay: float) -> bool:
        if time.monotonic() + delay > deadline:
            return True
        if stop is not None:
            return stop.wait(delay)
        time.sleep(delay)
        return False

    return wait


def _forget_pooled_connections(session: requests.Session) -> None:
    """In a forked child: give the session's adapters fresh, empty connection pools.

    The pooled connections are the parent's sockets; a child that used them would mix its
    requests into the parent's. ``close()`` is not used: it takes urllib3's locks, which another
    thread of the parent may have held at the fork. Re-initialising through the adapter's own
    pickling protocol keeps its configuration (and a subclass's ``init_poolmanager``).
    """
    for adapter in session.adapters.values():
        if isinstance(adapter, HTTPAdapter):
            # Both exist at run time (requests pickles adapters); the type stubs omit them.
            adapter.__setstate__(adapter.__getstate__())  # type: ignore[attr-defined]


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
        session: A ``requests.Session`` of yours that every request goes through (proxies,
            adapters, client certificates, mocks); it is never closed by the emitter. Default:
            the emitter's own keep-alive connections.
        shutdown_timeout: Seconds ``close()`` and the exit handler spend delivering what is
            left when the interpreter exits (default 5).
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
        session: Optional[requests.Session] = None,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
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
        self.session = check_session(session, where)
        self.shutdown_timeout = check_seconds(shutdown_timeout, "shutdown_timeout", where)
        self.request_timeout = check_timeout(request_timeout, where)
        self._transport_args = (endpoint, protocol, port)
        self.transport = self._new_transport()
        self.endpoint = endpoint
        self.on_success: Optional[SuccessCallback] = check_callback(on_success, "on_success", where)
        self.on_failure: Optional[FailureCallback] = check_callback(on_failure, "on_failure", where)
        self._counters = Counters()
        self._timer: Optional[threading.Thread] = None
        self._timer_stop = threading.Event()
        self._timer_interval: Optional[float] = None

    @staticmethod
    def _default_retry_policy() -> RetryPolicy:
        return RetryPolicy()

    def _new_transport(self) -> HttpTransport:
        endpoint, protocol, port = self._transport_args
        return HttpTransport(
            endpoint,
            self.method,
            protocol,
            port,
            self.request_timeout,
            self.retry_policy,
            session=self.session,
            where=self._where,
            **self._transport_options(),
        )

    def _transport_options(self) -> Dict[str, Any]:
        """Extra keyword arguments for :class:`HttpTransport` (subclasses add to them)."""
        return {}

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
        self._timer_interval = timeout
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

    def cancel_flush_timer(self, timeout: float = 5.0) -> None:
        """Stop the flush timer started by :meth:`set_flush_timer`, if any.

        Args:
            timeout: Seconds to wait at most for a flush the timer is making to end.
        """
        self._timer_stop.set()
        self._timer_interval = None
        timer, self._timer = self._timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=max(0.0, timeout))

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
    where they can be passed to ``input`` again. Arguments as :class:`BaseEmitter` (the 0.10
    positional order: ``endpoint, protocol, port, method, buffer_size, on_success, on_failure,
    byte_limit, request_timeout``; the others are keywords).

    Lifecycle: events still buffered at interpreter exit are sent by an ``atexit`` handler, and
    after ``os.fork()`` the child starts with an empty buffer, new locks, new connections and
    (if one was set) its own flush timer.
    """

    _where = "Emitter"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_process_state()
        _watch_lifecycle(self)

    @staticmethod
    def _default_retry_policy() -> RetryPolicy:
        return RetryPolicy.never()

    def _init_process_state(self) -> None:
        """Create what belongs to one process: locks and buffers (again in a forked child)."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._batcher = Batcher(self.limits)

    def _rebuild_in_child(self) -> None:
        """After ``os.fork()``, in the child: a fresh, empty emitter (the parent sends its own)."""
        interval = self._timer_interval
        self._init_process_state()
        self._counters = Counters()
        self._timer, self._timer_stop, self._timer_interval = None, threading.Event(), None
        if self.session is not None:
            _forget_pooled_connections(self.session)
        self.transport = self._new_transport()
        if interval is not None:
            self.set_flush_timer(interval)

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
            timeout: Ignored; each request is bounded by ``request_timeout`` (and the retry
                policy, by default a single attempt).

        Returns:
            True (every buffered event was sent or reported to ``on_failure``).
        """
        with self._lock:
            batch = self._batcher.drain()
        self._send(batch)
        return True

    def close(self, timeout: Optional[float] = None) -> bool:
        """Stop the flush timer, send every buffered event and close the HTTP connections.

        Time bound: returns within ``timeout`` plus at most one request's ``request_timeout``
        (connect + read). Events not sent by the deadline are dropped: counted in
        ``stats().dropped``, reported to ``on_failure`` and logged once.

        Args:
            timeout: Seconds to spend at most (default ``shutdown_timeout``).

        Returns:
            True when every buffered event was sent or reported as failed by the collector,
            False when some were dropped at the deadline.
        """
        return self._shutdown(self.shutdown_timeout if timeout is None else timeout, "close")

    def _shutdown(self, timeout: float, when: str) -> bool:
        deadline = time.monotonic() + max(0.0, timeout)
        self.cancel_flush_timer(timeout)
        with self._lock:
            batch = self._batcher.drain()
        # GET sends one request per event: check the deadline between them.
        chunks = [[e] for e in batch] if self.method == "get" else [batch] if batch else []
        left: List[bytes] = []
        for chunk in chunks:
            if left or time.monotonic() >= deadline:
                left.extend(chunk)
                continue
            self._report_delivery(
                deliver(self.transport, chunk, self.retry_policy, wait=_wait_until(deadline))
            )
        self.transport.close()
        self._report_dropped([left] if left else [], when)
        return not left

    def _report_dropped(self, batches: List[List[bytes]], when: str) -> None:
        """Report events given up on at a shutdown deadline: counted, on_failure, one log."""
        total = sum(map(len, batches))
        if not total:
            return
        logger.warning(
            "%s: %d event(s) not delivered by the %s deadline were dropped (reported to "
            "on_failure)",
            self._where,
            total,
            when,
        )
        for events in batches:
            self._report([], events, dropped=True)

    def stats(self) -> EmitterStats:
        """Counters of this emitter; see :class:`~snowplow_tracker.stats.EmitterStats`."""
        with self._lock:
            queued = len(self._batcher)
        return self._counters.snapshot(queued=queued)


class _Batch:
    """A queued batch, held compactly: its encoded events joined into one bytes object.

    (orjson hands each event back in a buffer of at least 4 KiB; joining copies the events
    into about their encoded size.)
    """

    __slots__ = ("abandoned", "claimed", "count", "data", "ticket")

    def __init__(self, events: List[bytes]) -> None:
        self.data = _SEP.join(events)
        self.count = len(events)
        self.ticket = 0
        self.claimed = False  # its sending thread reports it
        self.abandoned = False  # close() gave up waiting and reported it

    def events(self) -> List[bytes]:
        return self.data.split(_SEP)


class _Run:
    """The sending threads of one life of an ``AsyncEmitter`` (until ``close()`` or a fork)."""

    __slots__ = ("inline", "stop", "threads")

    def __init__(self) -> None:
        self.stop = threading.Event()  # set by close(): no new batch, no retry
        self.threads: List[threading.Thread] = []
        self.inline = False  # threads cannot start (interpreter exit): flush sends itself


class AsyncEmitter(Emitter):
    """Sends events from a pool of threads in the host process (the documented ``AsyncEmitter``).

    ``track_*`` only buffers; full batches go to a queue that up to ``thread_count`` threads send
    from at once, each over its own keep-alive connection. A request that fails waits out its
    retry backoff without holding a sending slot: the batches queued behind it go out on other
    threads meanwhile (up to ``max(thread_count, 4)`` more threads may be waiting to retry).

    The queue holds each batch as one bytes object (about the encoded size of its events) and
    is bounded in bytes by ``max_queue_bytes``: a batch that would exceed it is dropped (counted
    in ``stats().dropped``, passed to ``on_failure`` in the thread that tracked, logged at a
    throttled rate), so ``track_*`` never blocks on the network. Callbacks of sent and failed
    batches run on the sending threads: do not call ``flush()`` from them.

    Positional arguments in the documented 0.10 order: ``endpoint, protocol, port, method,
    buffer_size, on_success, on_failure, thread_count, byte_limit`` (see :class:`BaseEmitter`);
    the others (``request_timeout``, ``retry_policy``, ``max_batch_age``, ``session``,
    ``shutdown_timeout`` and those below) are keywords.

    Args:
        thread_count: Requests in flight at once, one sending thread each (default 1).
        max_queue_bytes: Bytes of encoded events held (queued or in flight) before new batches
            are dropped (default 128 MiB, :data:`DEFAULT_MAX_QUEUE_BYTES`).
        max_queued_batches: Also drop when this many batches wait (default None: no bound by
            count).

    Lifecycle: at interpreter exit an ``atexit`` handler delivers what is buffered and queued
    within ``shutdown_timeout`` (see :meth:`close`); after ``os.fork()`` the child gets a fresh,
    empty emitter (threads, locks, queue and connections of its own).
    """

    _where = "AsyncEmitter"

    def __init__(
        self,
        endpoint: str,
        protocol: str = "http",
        port: Optional[int] = None,
        method: str = "get",
        buffer_size: Optional[int] = None,
        on_success: Optional[SuccessCallback] = None,
        on_failure: Optional[FailureCallback] = None,
        thread_count: int = 1,
        byte_limit: Optional[int] = None,
        *,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        max_queued_batches: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        for name, value, optional in (
            ("thread_count", thread_count, False),
            ("max_queue_bytes", max_queue_bytes, False),
            ("max_queued_batches", max_queued_batches, True),
        ):
            if optional and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(
                    f"{self._where}: argument '{name}' must be a positive integer"
                    f"{' or None' if optional else ''}, got {value!r}"
                )
        self.thread_count = thread_count
        self.max_queue_bytes = max_queue_bytes
        self.max_queued_batches = max_queued_batches
        # Sending threads plus those waiting out a retry backoff.
        self._max_threads = thread_count + max(thread_count, 4)
        kwargs.update(byte_limit=byte_limit, on_success=on_success, on_failure=on_failure)
        super().__init__(endpoint, protocol, port, method, buffer_size, **kwargs)

    @staticmethod
    def _default_retry_policy() -> RetryPolicy:
        return RetryPolicy()

    def _transport_options(self) -> Dict[str, Any]:
        # One keep-alive connection per thread that may send at once.
        return {"pool_size": self._max_threads}

    def _init_process_state(self) -> None:
        super()._init_process_state()
        lock = threading.Lock()
        self._has_work = threading.Condition(lock)  # idle threads wait here
        self._has_slot = threading.Condition(lock)  # threads back from a backoff wait here
        self._done = threading.Condition(lock)  # flush() waits here
        self._ready: Deque[_Batch] = deque()
        self._active: Dict[int, _Batch] = {}  # taken by a thread: sending, retrying, reporting
        self._next_ticket = 0
        self._held_bytes = 0
        self._ready_events = 0
        self._active_events = 0
        self._sending = 0  # threads holding a sending slot (at most thread_count)
        self._parked = 0  # threads waiting out a backoff, or for a slot after it
        self._slot_waiters = 0
        self._run = _Run()

    # ---------------------------------------------------------------- queueing (caller side)
    def _send(self, batch: List[bytes]) -> None:
        if not batch:
            return
        item = _Batch(batch)
        with self._has_work:
            full = (
                self._held_bytes and self._held_bytes + len(item.data) > self.max_queue_bytes
            ) or (
                self.max_queued_batches is not None and len(self._ready) >= self.max_queued_batches
            )
            if not full:
                item.ticket = self._next_ticket
                self._next_ticket += 1
                self._ready.append(item)
                self._ready_events += item.count
                self._held_bytes += len(item.data)
                self._wake_locked()
                return
        _drop_log.log(
            "AsyncEmitter: queue full (max_queue_bytes=%d, max_queued_batches=%s): dropped "
            "%d event(s), reported to on_failure",
            self.max_queue_bytes,
            self.max_queued_batches,
            len(batch),
        )
        self._report([], batch, dropped=True)

    def _wake_locked(self, run: Optional[_Run] = None) -> None:
        """Make sure a thread of ``run`` (default: the current one) will take the ready batches;
        start threads as needed."""
        if run is None:
            run = self._run
        if run.inline or run.stop.is_set() or run is not self._run:
            return
        threads = len(run.threads)
        idle = threads - self._sending - self._parked
        while threads < self.thread_count or (
            idle <= 0
            and self._ready
            and self._sending < self.thread_count
            and threads < self._max_threads
        ):
            if not self._start_thread_locked(run):
                return
            threads += 1
            idle += 1
        self._has_work.notify()

    def _start_thread_locked(self, run: _Run) -> bool:
        thread = threading.Thread(
            target=self._work, args=(run,), name=f"snowplow-async-{len(run.threads)}", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # no new threads at interpreter exit (3.12+): flush sends itself
            run.inline = not run.threads
            return False
        run.threads.append(thread)
        return True

    # ---------------------------------------------------------------- sending (thread side)
    def _take_locked(self) -> _Batch:
        batch = self._ready.popleft()
        self._ready_events -= batch.count
        self._active[batch.ticket] = batch
        self._active_events += batch.count
        self._sending += 1
        return batch

    def _work(self, run: _Run) -> None:
        me = threading.current_thread()
        while True:
            with self._has_work:
                while True:
                    if run.stop.is_set() or (
                        len(run.threads) > self.thread_count
                        and not (self._ready and self._sending < self.thread_count)
                    ):
                        run.threads.remove(me)  # stopped, or a surplus thread gone idle
                        self._has_work.notify()
                        return
                    if self._ready and self._sending < self.thread_count:
                        batch = self._take_locked()
                        break
                    self._has_work.wait()
            self._deliver(batch, functools.partial(self._park, run))

    def _deliver(self, batch: _Batch, wait: Callable[[float], bool]) -> None:
        """Send one taken batch with retries, then report it (unless ``close()`` gave up)."""
        try:
            result = deliver(self.transport, batch.events(), self.retry_policy, wait=wait)
        except Exception:  # noqa: BLE001 - never lose a batch to a bug in a sending thread
            logger.exception("AsyncEmitter: sending a batch failed")
            result = DeliveryResult(failed=batch.events())
        with self._has_work:
            self._sending -= 1
            self._release_slot_locked()
            claimed = batch.claimed = not batch.abandoned
        if not claimed:
            return
        try:
            self._report_delivery(result)
        finally:
            with self._done:
                self._forget_locked(batch)
                self._done.notify_all()

    def _forget_locked(self, batch: _Batch) -> None:
        del self._active[batch.ticket]
        self._active_events -= batch.count
        self._held_bytes -= len(batch.data)

    def _release_slot_locked(self) -> None:
        if self._slot_waiters:
            self._has_slot.notify()
        else:
            self._has_work.notify()

    def _park(self, run: _Run, delay: float) -> bool:
        """``deliver``'s wait between attempts: free the sending slot meanwhile.

        Returns:
            True when the emitter is closing (no more retries).
        """
        with self._has_work:
            self._sending -= 1
            self._parked += 1
            self._release_slot_locked()
            self._wake_locked(run)  # the batches behind this one go out on other threads
        stop = run.stop.wait(delay)
        with self._has_slot:
            self._slot_waiters += 1
            while not stop and self._sending >= self.thread_count:
                self._has_slot.wait()
                stop = run.stop.is_set()
            self._slot_waiters -= 1
            self._parked -= 1
            self._sending += 1
        return stop

    # ---------------------------------------------------------------- flush and close
    def flush(self, is_async: bool = False, timeout: Optional[float] = None) -> bool:
        """Queue the buffered events for sending; unless ``is_async``, wait until all are done.

        Time bound: at most ``timeout`` seconds (None: until done; each batch is bounded by
        its retry policy's attempts and deadline and by ``request_timeout`` per request).

        Args:
            is_async: Return at once after queueing.
            timeout: Seconds to wait at most.

        Returns:
            True when every event queued before the call was sent or reported to
            ``on_failure``; False if ``timeout`` passed first (or ``is_async``).
        """
        with self._lock:
            batch = self._batcher.drain()
        self._send(batch)
        if is_async:
            return False
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        run = self._run
        with self._done:
            # Wait for the batches queued so far only: events tracked meanwhile by other
            # threads must not keep a flush waiting for ever.
            target = self._next_ticket
        while True:
            with self._done:
                ready = self._ready
                if not (ready and ready[0].ticket < target) and not any(
                    ticket < target for ticket in self._active
                ):
                    return True
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                if not (run.inline and ready):
                    self._done.wait(remaining)
                    continue
                taken = self._take_locked()  # no threads (interpreter exit): send it here
            self._deliver(taken, _wait_until(math.inf if deadline is None else deadline, run.stop))

    def close(self, timeout: Optional[float] = None) -> bool:
        """Flush, then stop the sending threads and close the connections.

        Time bound: waits up to ``timeout`` for delivery; then retries stop and the requests
        in progress end (each within ``request_timeout``, connect + read). Batches not sent by
        then are dropped: counted in ``stats().dropped``, passed to ``on_failure`` and logged
        once. The emitter can be used again afterwards (threads start anew).

        Args:
            timeout: Seconds to wait for the flush (default ``shutdown_timeout``).

        Returns:
            Whether everything was delivered or reported as failed by the collector before the
            deadline (False when some events were dropped or the flush timed out).
        """
        return self._shutdown(self.shutdown_timeout if timeout is None else timeout, "close")

    def _shutdown(self, timeout: float, when: str) -> bool:
        timeout = max(0.0, timeout)
        deadline = time.monotonic() + timeout
        self.cancel_flush_timer(timeout)
        done = self.flush(timeout=max(0.0, deadline - time.monotonic()))
        with self._has_work:
            run, self._run = self._run, _Run()
            run.stop.set()
            self._has_work.notify_all()
            self._has_slot.notify_all()
            left = list(self._ready)
            self._ready.clear()
            self._ready_events = 0
            self._held_bytes -= sum(len(b.data) for b in left)
            threads = list(run.threads)
        # Retries stop at once; a request in progress ends within its timeout.
        join_by = time.monotonic() + sum(self.request_timeout) + 1.0
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, join_by - time.monotonic()))
        with self._done:
            for batch in list(self._active.values()):
                if not batch.claimed:
                    batch.abandoned = True
                    self._forget_locked(batch)
                    left.append(batch)
            self._done.notify_all()
        self.transport.close()
        self._report_dropped([b.events() for b in left], when)
        return done and not left

    def stats(self) -> EmitterStats:
        """Counters and gauges; see :class:`~snowplow_tracker.stats.EmitterStats`.

        ``queued`` counts buffered and queued events, ``in_flight`` those taken by a sending
        thread (sending, or waiting to retry), ``queued_bytes`` the bytes of both.
        """
        with self._lock:
            buffered = len(self._batcher)
            buffered_bytes = self._batcher.nbytes
        with self._done:
            queued = buffered + self._ready_events
            in_flight = self._active_events
            held = self._held_bytes + buffered_bytes
            threads = list(self._run.threads)
        alive = sum(t.is_alive() for t in threads)
        return self._counters.snapshot(
            queued=queued, in_flight=in_flight, queued_bytes=held, senders_alive=alive
        )


# -------------------------------------------------------------------- exit and fork
_live: weakref.WeakSet[Emitter] = weakref.WeakSet()
_live_lock = threading.Lock()
_hooks_installed = False


def _watch_lifecycle(emitter: Emitter) -> None:
    """Remember ``emitter`` (weakly) for the exit handler and the fork hook."""
    global _hooks_installed
    with _live_lock:
        _live.add(emitter)
        if not _hooks_installed:
            _hooks_installed = True
            atexit.register(_close_all_at_exit)
            os.register_at_fork(after_in_child=_rebuild_all_in_child)


def _close_all_at_exit() -> None:
    """At interpreter exit: deliver what every live emitter of this process holds.

    Bounded: each emitter gets its ``shutdown_timeout`` from the start of the handler (plus
    the requests in progress); what is not sent by then is dropped and reported.
    """
    pid = os.getpid()
    with _live_lock:
        emitters = [e for e in _live if e._pid == pid]
    start = time.monotonic()
    # Start every async emitter's sending before waiting on any, then close each.
    steps: List[Callable[[Emitter], object]] = [
        lambda e: e.flush(is_async=True) if isinstance(e, AsyncEmitter) else None,
        lambda e: e._shutdown(start + e.shutdown_timeout - time.monotonic(), "exit"),
    ]
    for step in steps:
        for emitter in emitters:
            try:
                step(emitter)
            except Exception:  # noqa: BLE001 - never fail interpreter exit
                logger.exception("%s: error while delivering at exit", emitter._where)


def _rebuild_all_in_child() -> None:
    """``os.fork()`` hook, in the child: every live emitter starts afresh."""
    global _live_lock
    _live_lock = threading.Lock()  # another thread may have held it at the fork
    pid = os.getpid()
    for emitter in list(_live):
        if emitter._pid != pid:
            try:
                emitter._rebuild_in_child()
            except Exception:  # noqa: BLE001 - never fail the child's start
                logger.exception("%s: error while rebuilding after fork", emitter._where)
