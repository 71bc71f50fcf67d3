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
import dataclasses
import functools
import math
import os
import threading
import time
import weakref
from collections import Counter, abc, deque
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    Union,
)
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter

from ._logging import ThrottledLog, logger
from .batching import DEFAULT_POST_BUFFER_SIZE, Batcher, BatchLimits, split_batches
from .errors import ConfigurationError, EncodingError
from .event_store import BufferView, EventStore
from .http_client import error_name
from .retry import RetryPolicy, is_success, with_1x_options
from .stats import Counters, EmitterStats
from .transport import DeliveryResult, HttpTransport, Timeout, check_timeout, deliver
from .wire import (
    POST_CONTENT_TYPE,
    PayloadDict,
    check_method,
    collector_urls,
    decode_events,
    encode_event,
    event_cost,
    get_query,
    normalize_payload,
    post_body,
    sent_timestamp,
)

SuccessCallback = Callable[[List[PayloadDict]], Any]
FailureCallback = Callable[[int, List[PayloadDict]], Any]

_callback_log = ThrottledLog()
_drop_log = ThrottledLog()
_request_log = ThrottledLog()
_store_log = ThrottledLog()

#: Tracker 1.x's name for the default POST batch size (10, as ``buffer_size``'s).
DEFAULT_MAX_LENGTH = DEFAULT_POST_BUFFER_SIZE

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


def _deliver_until(deadline: float) -> Callable[..., DeliveryResult]:
    """:func:`deliver` with retries that give up at ``deadline``."""
    return functools.partial(deliver, wait=_wait_until(deadline))


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


def encode_or_raise(
    payload: Mapping[str, Any], method: str, where: str, method_name: str = "input"
) -> bytes:
    """:func:`~snowplow_tracker.wire.encode_event` with a clear error for bad input.

    Raises:
        EncodingError: ``payload`` is not a dict of JSON-serialisable values.
    """
    if payload.__class__ is not dict and not isinstance(payload, abc.Mapping):
        raise EncodingError(
            f"{where}.{method_name}: argument 'payload' must be a dict of field names to strings, "
            f"got {type(payload).__name__}: {payload!r:.200}"
        )
    try:
        return encode_event(payload, method)
    except Exception as exc:  # noqa: BLE001 - e.g. a value whose __str__ raises
        raise EncodingError(
            f"{where}.{method_name}: argument 'payload' cannot be serialised ({exc}); every "
            f"value must be a string or number, got {payload!r:.200}"
        ) from None


def resolve_batch_size(
    buffer_size: Optional[int], batch_size: Optional[int], where: str
) -> Optional[int]:
    """``batch_size`` (tracker 1.x's name) is an alias of ``buffer_size``: return the one given.

    Raises:
        ConfigurationError: Both are given, with different values.
    """
    if batch_size is None:
        return buffer_size
    if buffer_size is not None and buffer_size != batch_size:
        raise ConfigurationError(
            f"{where}: arguments 'buffer_size' and 'batch_size' are one setting (batch_size is "
            f"tracker 1.x's name): give one of them, got buffer_size={buffer_size!r} and "
            f"batch_size={batch_size!r}"
        )
    return batch_size


def check_capacity(value: Any, where: str) -> Optional[int]:
    """Return ``buffer_capacity`` if it is None or a positive integer, else raise."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigurationError(
            f"{where}: argument 'buffer_capacity' must be a positive integer or None, got {value!r}"
        )
    return value


class FlushTimer:
    """The flush timer of an emitter (:meth:`BaseEmitter.set_flush_timer`): a daemon thread
    that calls an action every ``interval`` seconds until cancelled."""

    __slots__ = ("interval", "stop", "thread")

    def __init__(self) -> None:
        self.thread: Optional[threading.Thread] = None
        self.stop = threading.Event()
        self.interval: Optional[float] = None

    def is_active(self) -> bool:
        """Whether the timer is running (tracker 1.x's ``emitter.timer.is_active()``)."""
        return self.thread is not None and not self.stop.is_set()

    def start(self, interval: float, action: Callable[[], object]) -> None:
        """Call ``action`` every ``interval`` seconds on a daemon thread (exceptions logged)."""
        stop = self.stop = threading.Event()
        self.interval = interval

        def run() -> None:
            while not stop.wait(interval):
                try:
                    action()
                except Exception:  # noqa: BLE001
                    logger.exception("flush timer: flush failed")

        self.thread = threading.Thread(target=run, name="snowplow-flush-timer", daemon=True)
        self.thread.start()

    def cancel(self, timeout: float) -> None:
        """Stop the timer; wait up to ``timeout`` seconds for an action in progress to end."""
        self.stop.set()
        self.interval = None
        thread, self.thread = self.thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(0.0, timeout))


class _HookTransport(HttpTransport):
    """The in-host emitters' transport: requests go through the emitter's ``http_post`` and
    ``http_get`` when a subclass or a test overrides them (as in tracker 1.x), straight to the
    HTTP client otherwise. The sending, retries and reporting stay those of
    :class:`~snowplow_tracker.transport.HttpTransport` and :func:`deliver` either way."""

    def __init__(self, *args: Any, owner: Emitter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = weakref.ref(owner)
        auth = {k: v for k, v in self._headers.items() if k != "Content-Type"}
        self._headers_of = {"post": {"Content-Type": POST_CONTENT_TYPE, **auth}, "get": auth}

    def _request(self, events: List[bytes], stm: int) -> Tuple[Optional[int], Optional[str]]:
        owner = self._owner()
        hook = None if owner is None else owner._http_override(self.method)
        if hook is None:
            return super()._request(events, stm)
        if self.method == "post":
            arg: Any = post_body(events, stm).decode("utf-8")
        else:
            arg = get_query(events[0], stm)
        try:
            status = int(hook(arg))
        except Exception as exc:  # noqa: BLE001 - nothing an override raises crashes a sender
            return None, error_name(exc)
        return (status, None) if status >= 0 else (None, "network error")

    def request_status(self, method: str, target: Union[str, bytes]) -> int:
        """One request, as 1.x's ``http_post``/``http_get``: the status, or -1 on a network
        error (logged at a throttled rate, by name).

        Args:
            method: ``"post"`` (``target`` is the body) or ``"get"`` (``target`` is the
                querystring).
            target: The body or the querystring.
        """
        try:
            if method == "post":
                url = self.post_url
                body = target.encode("utf-8") if isinstance(target, str) else target
                return self._get_client().request("POST", url, body, self._headers_of["post"])
            query = target.decode("utf-8") if isinstance(target, bytes) else target
            url = f"{self.get_url}?{query}"
            return self._get_client().request("GET", url, None, self._headers_of["get"])
        except Exception as exc:  # noqa: BLE001 - 1.x answers -1 for a failed request
            _request_log.log("request to %s failed: %s", self.url, error_name(exc))
            return -1


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
        batch_size: Tracker 1.x's name of ``buffer_size`` (give one of them).
        buffer_capacity: Most events held (1.x): ``buffer_size`` is lowered to it, and the
            ``AsyncEmitter`` drops new batches beyond it (reported to ``on_failure``).
        max_retry_delay_seconds: Upper bound of one retry delay (1.x; the retry policy's
            ``max_delay``).
        custom_retry_codes: HTTP status -> whether a request answered with it is retried (1.x;
            changes the retry policy's ``no_retry_statuses``; 413/414 are never retried as
            they are).
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
        batch_size: Optional[int] = None,
        buffer_capacity: Optional[int] = None,
        max_retry_delay_seconds: Optional[float] = None,
        custom_retry_codes: Optional[Mapping[int, bool]] = None,
    ) -> None:
        where = self._where
        self.method = check_method(method, where)
        buffer_size = resolve_batch_size(buffer_size, batch_size, where)
        self.buffer_capacity = check_capacity(buffer_capacity, where)
        limits = BatchLimits.create(
            self.method, buffer_size, byte_limit, max_batch_age, where=where
        )
        if buffer_capacity is not None and limits.buffer_size > buffer_capacity:
            limits = dataclasses.replace(limits, buffer_size=buffer_capacity)  # as 1.x
        self.limits = limits
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise ConfigurationError(
                f"{where}: argument 'retry_policy' must be a RetryPolicy or None, "
                f"got {retry_policy!r}"
            )
        self.retry_policy = with_1x_options(
            retry_policy or self._default_retry_policy(),
            max_retry_delay_seconds,
            custom_retry_codes,
            where,
        )
        self.custom_retry_codes: Dict[int, bool] = dict(custom_retry_codes or {})
        self.session = check_session(session, where)
        self.shutdown_timeout = check_seconds(shutdown_timeout, "shutdown_timeout", where)
        self.request_timeout = check_timeout(request_timeout, where)
        self._transport_args = (endpoint, protocol, port)
        self.transport = self._new_transport()
        self.endpoint = endpoint
        self.on_success: Optional[SuccessCallback] = check_callback(on_success, "on_success", where)
        self.on_failure: Optional[FailureCallback] = check_callback(on_failure, "on_failure", where)
        self._counters = Counters()
        #: The flush timer (``timer.is_active()``, as 1.x).
        self.timer = FlushTimer()

    @staticmethod
    def _default_retry_policy() -> RetryPolicy:
        return RetryPolicy()

    #: The transport class; the in-host emitters' routes requests through ``http_post``/``get``.
    _transport_class: Type[HttpTransport] = HttpTransport

    def _new_transport(self) -> HttpTransport:
        endpoint, protocol, port = self._transport_args
        return self._transport_class(
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
        if flush_now:
            self.flush(is_async=True)
        self.timer.start(timeout, lambda: self.flush(is_async=True))

    def cancel_flush_timer(self, timeout: float = 5.0) -> None:
        """Stop the flush timer started by :meth:`set_flush_timer`, if any.

        Args:
            timeout: Seconds to wait at most for a flush the timer is making to end.
        """
        self.timer.cancel(timeout)

    def flush(self, is_async: bool = False, timeout: Optional[float] = None) -> bool:
        """Send every buffered event; see the subclasses for what it promises."""
        raise NotImplementedError

    # ------------------------------------------------------------ tracker 1.x's emitter API
    @property
    def batch_size(self) -> int:
        """Events per request batch (tracker 1.x's name of :attr:`buffer_size`)."""
        return self.limits.buffer_size

    @property
    def max_retry_delay_seconds(self) -> float:
        """Upper bound of one retry delay in seconds (the retry policy's ``max_delay``)."""
        return self.retry_policy.max_delay

    @staticmethod
    def is_good_status_code(status_code: int) -> bool:
        """Whether a status means the collector took the request: any 2xx or 3xx.

        Args:
            status_code: An HTTP status (-1 for a failed request).
        """
        return is_success(status_code)

    @staticmethod
    def as_collector_uri(
        endpoint: str, protocol: str = "https", port: Optional[int] = None, method: str = "post"
    ) -> str:
        """The URL events are sent to, with 1.x's defaults (https, POST).

        Args:
            endpoint: Collector host; a scheme in it wins over ``protocol``.
            protocol: ``"http"`` or ``"https"``.
            port: Port, or None for the scheme's default.
            method: ``"get"`` (``/i``) or ``"post"`` (``/com.snowplowanalytics.snowplow/tp2``).

        Raises:
            ConfigurationError: (a ``ValueError``) an argument is invalid, e.g. ``endpoint`` empty.
        """
        where = "Emitter.as_collector_uri"
        get_url, post_url = collector_urls(endpoint, protocol, port, where=where)
        return post_url if check_method(method, where) == "post" else get_url

    @staticmethod
    def attach_sent_timestamp(events: List[Dict[str, Any]]) -> None:
        """Set ``stm``, the send time in milliseconds, in each event dict, in place (1.x).

        The emitters themselves add ``stm`` to the request they send, never to the dicts.

        Args:
            events: Event dicts.
        """
        stm = str(sent_timestamp())
        for event in events:
            event["stm"] = stm

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

    Besides :class:`BaseEmitter`'s arguments:

    Args:
        event_store: An :class:`~snowplow_tracker.event_store.EventStore` of yours (1.x): events
            are buffered in it, taken from it to be sent, and given back to it with
            ``cleanup(batch, need_retry=True)`` when their sending failed in a retryable way
            (sent again after a backoff, and at each later flush); rejected ones go to
            ``on_failure``. Default: a compact buffer of encoded bytes.

    Tracker 1.x's methods work too: ``sync_flush``, ``async_flush``, ``send_events``,
    ``reached_limit``, ``http_post``/``http_get`` (every request goes through them when a
    subclass or a test replaces them), ``attach_sent_timestamp``, ``as_collector_uri``,
    ``is_good_status_code``, and the ``bytes_queued``, ``batch_size``, ``event_store`` and
    ``timer`` attributes.

    Lifecycle: events still buffered at interpreter exit are sent by an ``atexit`` handler, and
    after ``os.fork()`` the child starts with an empty buffer, new locks, new connections and
    (if one was set) its own flush timer.
    """

    _where = "Emitter"
    _transport_class = _HookTransport

    def __init__(self, *args: Any, event_store: Optional[EventStore] = None, **kwargs: Any) -> None:
        if event_store is not None and not isinstance(event_store, EventStore):
            raise ConfigurationError(
                f"{self._where}: argument 'event_store' must be an EventStore (add_event, "
                f"get_events_batch, cleanup, size) or None, got {type(event_store).__name__}"
            )
        self._store: Optional[EventStore] = event_store
        self._store_bytes = 0
        self._closing = False  # close() runs: events given back to the store wait there
        self._retry_timer: Optional[threading.Timer] = None
        self._retry_attempt = 0
        super().__init__(*args, **kwargs)
        self._init_process_state()
        _watch_lifecycle(self)

    def _transport_options(self) -> Dict[str, Any]:
        return {"owner": self}

    @staticmethod
    def _default_retry_policy() -> RetryPolicy:
        return RetryPolicy.never()

    def _init_process_state(self) -> None:
        """Create what belongs to one process: locks and buffers (again in a forked child)."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._batcher = Batcher(self.limits)

    # ------------------------------------------------------------ tracker 1.x's emitter API
    @property
    def event_store(self) -> Union[EventStore, BufferView]:
        """The user's ``event_store``, or a read-only 1.x view of the default buffer
        (``event_buffer``, ``size()``)."""
        if self._store is not None:
            return self._store
        return BufferView(self._buffered_events, self.method, self.buffer_capacity)

    def _buffered_events(self) -> List[bytes]:
        """A copy of the events buffered, not yet sent (default buffer)."""
        with self._lock:
            return self._batcher.events()

    @property
    def bytes_queued(self) -> Optional[int]:
        """Bytes the buffered events will take on the wire (what ``byte_limit`` counts); None
        without a ``byte_limit`` (as 1.x)."""
        if self.byte_limit is None:
            return None
        return self._buffered_bytes()

    def _buffered_bytes(self) -> int:
        with self._lock:
            return self._store_bytes if self._store is not None else self._batcher.nbytes

    def reached_limit(self) -> bool:
        """Whether the buffered events reach ``batch_size`` or ``byte_limit`` (1.x)."""
        if self._store is None:
            with self._lock:
                return self._batcher.is_full()
        limit = self.byte_limit
        return self._store.size() >= self.buffer_size or (
            limit is not None and self._buffered_bytes() >= limit
        )

    def sync_flush(self) -> None:
        """Send the buffered events in this thread, then wait for the events already being
        sent (1.x). Time bound: the retry policy's attempts and deadline per batch, and
        ``request_timeout`` per request."""
        self.send_events(self._take_buffered())
        self.flush()

    def async_flush(self) -> None:
        """Start sending the buffered events and return at once (1.x); the synchronous
        ``Emitter`` sends them before it returns."""
        self.flush(is_async=True)

    def _take_buffered(self) -> Union[List[bytes], List[PayloadDict]]:
        """Take every buffered event: encoded bytes, or the event store's dicts."""
        if self._store is not None:
            with self._lock:
                self._store_bytes = 0
            return self._store.get_events_batch()
        with self._lock:
            return self._batcher.drain()

    def send_events(self, evts: Sequence[Union[Mapping[str, Any], bytes]]) -> None:
        """Send events now, in this thread, in batches within the limits, with retries as the
        retry policy says; report them to ``on_success``/``on_failure`` (1.x).

        Time bound: per batch, the retry policy's attempts and deadline, and
        ``request_timeout`` per request.

        Args:
            evts: Event dicts (as ``input`` takes), or encoded events. Dicts taken from the
                ``event_store`` are given back to it (``cleanup``) once sent or failed.

        Raises:
            EncodingError: An event cannot be serialised; nothing was sent.
        """
        self._send_now(evts, deliver)

    def _send_now(
        self,
        evts: Sequence[Union[Mapping[str, Any], bytes]],
        send: Callable[..., DeliveryResult],
    ) -> None:
        where = self._where
        events = [
            e if isinstance(e, bytes) else encode_or_raise(e, self.method, where, "send_events")
            for e in evts
        ]
        stored = self._store is not None and bool(evts) and not isinstance(evts[0], bytes)
        start = 0
        # GET sends one request per event whatever the batch: one delivery, one report.
        batches = split_batches(events, self.limits) if self.method == "post" else [events]
        for batch in batches:
            records = list(evts[start : start + len(batch)]) if stored else None
            start += len(batch)
            result = send(self.transport, batch, self.retry_policy)
            self._settle(result, batch, records)  # type: ignore[arg-type]

    def _settle(
        self, result: DeliveryResult, batch: List[bytes], records: Optional[List[PayloadDict]]
    ) -> None:
        """Report a delivered batch; with an event store, give its events back to it: failed
        ones that may be retried with ``need_retry=True``, then retry after a backoff."""
        store = self._store
        if records is None or store is None:
            self._report_delivery(result)
            return
        by_event: Dict[bytes, List[PayloadDict]] = {}
        for event, record in zip(batch, records):
            by_event.setdefault(event, []).append(record)
        unfinished = Counter(result.unfinished)
        rejected = []
        for event in result.failed:
            if unfinished[event]:
                unfinished[event] -= 1
            else:
                rejected.append(event)
        for events, need_retry in ((result.sent, False), (rejected, False)):
            self._cleanup(store, [by_event[e].pop() for e in events], need_retry)
        self._counters.add(retried=result.retried + len(result.unfinished))
        if result.unfinished:
            self._cleanup(store, [by_event[e].pop() for e in result.unfinished], True)
            if not self._closing:
                self._schedule_retry()
        elif result.sent:
            self._retry_attempt = 0
        self._report(result.sent, rejected)

    @staticmethod
    def _cleanup(store: EventStore, records: List[PayloadDict], need_retry: bool) -> None:
        if not records:
            return
        try:
            store.cleanup(records, need_retry)
        except Exception:  # noqa: BLE001 - a user's store must not kill a sending thread
            _store_log.log("event_store.cleanup raised", exc_info=True)

    def _schedule_retry(self) -> None:
        """Flush again after the retry policy's backoff (events given back to the store)."""
        with self._lock:
            if self._retry_timer is not None:
                return
            self._retry_attempt += 1
            delay = self.retry_policy.delay(self._retry_attempt)
            timer = self._retry_timer = threading.Timer(delay, self._retry_flush)
            timer.daemon = True
        timer.start()

    def _retry_flush(self) -> None:
        with self._lock:
            self._retry_timer = None
        try:
            self.flush(is_async=True)
        except Exception:  # noqa: BLE001
            logger.exception("%s: retrying the event store's events failed", self._where)

    def _cancel_retry(self) -> None:
        with self._lock:
            timer, self._retry_timer = self._retry_timer, None
        if timer is not None:
            timer.cancel()

    def _http_override(self, method: str) -> Optional[Callable[[Any], int]]:
        """``http_post``/``http_get`` when a subclass or a test replaced it, else None."""
        name = "http_" + method
        bound = getattr(self, name)
        if getattr(bound, "__func__", None) is getattr(Emitter, name):
            return None
        hook: Callable[[Any], int] = bound
        return hook

    def http_post(self, data: Union[str, bytes]) -> int:
        """POST a request body to the collector (1.x); every POST the emitter sends goes
        through this method when a subclass overrides it.

        Args:
            data: The ``payload_data`` JSON body.

        Returns:
            The HTTP status, or -1 when the request failed (network error, timeout).
        """
        return self._hook_transport().request_status("post", data)

    def http_get(self, payload: Union[Mapping[str, Any], str]) -> int:
        """GET one event from the collector's ``/i`` (1.x); every GET the emitter sends goes
        through this method when a subclass overrides it.

        Args:
            payload: The event's fields, or its querystring.

        Returns:
            The HTTP status, or -1 when the request failed (network error, timeout).
        """
        if not isinstance(payload, str):
            payload = urlencode({str(k): str(v) for k, v in payload.items()})
        return self._hook_transport().request_status("get", payload)

    def _hook_transport(self) -> _HookTransport:
        transport = self.transport
        assert isinstance(transport, _HookTransport)
        return transport

    def _rebuild_in_child(self) -> None:
        """After ``os.fork()``, in the child: a fresh, empty emitter (the parent sends its own)."""
        interval = self.timer.interval
        self._init_process_state()
        self._counters = Counters()
        self.timer = FlushTimer()
        self._retry_timer, self._retry_attempt = None, 0
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

        When the buffer reaches ``buffer_size`` or ``byte_limit`` (or ``max_batch_age``
        passed), it calls :meth:`flush` (without waiting, for the ``AsyncEmitter``), as 1.x.
        An event that does not fit into the ``byte_limit`` of the buffered batch sends that
        batch first.

        Raises:
            EncodingError: The payload cannot be serialised; nothing was buffered.
        """
        event = encode_or_raise(payload, self.method, self._where)
        if self._store is not None:
            self._input_to_store(payload, event)
            return
        with self._lock:
            ready = self._batcher.add(event, keep_full=True)
            full = self._batcher.is_full() or self._batcher.is_stale()
        self._counters.add(accepted=1)
        for batch in ready:
            self._send(batch)
        if full:
            self.flush(True)  # positional, as 1.x code that replaces flush() expects

    def _input_to_store(self, payload: Mapping[str, Any], event: bytes) -> None:
        """``input`` with an ``event_store``: add a copy of the event dict to the store."""
        if not self._store.add_event(dict(normalize_payload(payload))):  # type: ignore[union-attr]
            _drop_log.log("%s: event_store is full: dropped an event", self._where)
            self._report([], [event], dropped=True)
            return
        with self._lock:
            self._store_bytes += event_cost(event, self.method)
        self._counters.add(accepted=1)
        if self.reached_limit():
            self.flush(True)

    def _send(self, batch: List[bytes]) -> None:
        if batch:
            self._report_delivery(deliver(self.transport, batch, self.retry_policy))

    def _take_batches(self) -> List[List[bytes]]:
        """Take the default buffer's events, cut into batches within the limits."""
        with self._lock:
            return self._batcher.drain_batches()

    def flush(self, is_async: bool = False, timeout: Optional[float] = None) -> bool:
        """Send every buffered event now, in this thread, and return when done.

        Args:
            is_async: Accepted for compatibility; the synchronous emitter always blocks.
            timeout: Ignored; each request is bounded by ``request_timeout`` (and the retry
                policy, by default a single attempt).

        Returns:
            True (every buffered event was sent or reported to ``on_failure``; with an
            ``event_store``, or given back to it to be retried).
        """
        if self._store is not None:
            self.send_events(self._take_buffered())
            return True
        for batch in self._take_batches():
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
        """Close within ``timeout``; events given back to an event store meanwhile stay there."""
        self._closing = True
        try:
            return self._shutdown_steps(timeout, when)
        finally:
            self._closing = False

    def _shutdown_steps(self, timeout: float, when: str) -> bool:
        deadline = time.monotonic() + max(0.0, timeout)
        self.cancel_flush_timer(timeout)
        self._cancel_retry()
        if self._store is not None:  # what is not sent goes back to the user's store
            self._send_now(self._take_buffered(), _deliver_until(deadline))
            self.transport.close()
            return True
        with self._lock:
            batch = self._batcher.drain()
        # GET sends one request per event: check the deadline between them.
        limits = self.limits
        if self.method == "get":
            limits = dataclasses.replace(limits, buffer_size=1)
        left: List[bytes] = []
        for chunk in split_batches(batch, limits):
            if left or time.monotonic() >= deadline:
                left.extend(chunk)
                continue
            self._report_delivery(
                _deliver_until(deadline)(self.transport, chunk, self.retry_policy)
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
        """Counters of this emitter; see :class:`~snowplow_tracker.stats.EmitterStats`.

        ``queued`` counts the buffered events (with an ``event_store``: its ``size()``).
        """
        return self._counters.snapshot(queued=self._buffered_count())

    def _buffered_count(self) -> int:
        if self._store is not None:
            return self._store.size()
        with self._lock:
            return len(self._batcher)


class _Batch:
    """A queued batch, held compactly: its encoded events joined into one bytes object.

    (orjson hands each event back in a buffer of at least 4 KiB; joining copies the events
    into about their encoded size.)
    """

    __slots__ = ("abandoned", "claimed", "count", "data", "records", "ticket")

    def __init__(self, events: List[bytes], records: Optional[List[PayloadDict]] = None) -> None:
        self.data = _SEP.join(events)
        self.count = len(events)
        self.records = records  # the event store's dicts of these events, if any
        self.ticket = 0
        self.claimed = False  # its sending thread reports it
        self.abandoned = False  # close() gave up waiting and reported it

    def events(self) -> List[bytes]:
        return self.data.split(_SEP)


class _QueueView:
    """Tracker 1.x's ``AsyncEmitter.queue``: the batches waiting for a sending thread."""

    __slots__ = ("_emitter",)

    def __init__(self, emitter: AsyncEmitter) -> None:
        self._emitter = emitter

    def qsize(self) -> int:
        """Return the number of batches waiting."""
        with self._emitter._has_work:
            return len(self._emitter._ready)

    def empty(self) -> bool:
        """Whether no batch is waiting."""
        return self.qsize() == 0


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
        return {**super()._transport_options(), "pool_size": self._max_threads}

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
    @property
    def queue(self) -> _QueueView:
        """Tracker 1.x's ``queue`` of batches waiting for a sending thread (``empty()``,
        ``qsize()``)."""
        return _QueueView(self)

    def _send(self, batch: List[bytes], records: Optional[List[PayloadDict]] = None) -> None:
        if not batch:
            return
        item = _Batch(batch, records)
        capacity = self.buffer_capacity
        with self._has_work:
            full = (
                (self._held_bytes and self._held_bytes + len(item.data) > self.max_queue_bytes)
                or (
                    self.max_queued_batches is not None
                    and len(self._ready) >= self.max_queued_batches
                )
                or (
                    capacity is not None
                    and self._ready_events + self._active_events + item.count > capacity
                    and bool(self._ready or self._active)
                )
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
            "AsyncEmitter: queue full (max_queue_bytes=%d, max_queued_batches=%s, "
            "buffer_capacity=%s): dropped %d event(s), reported to on_failure",
            self.max_queue_bytes,
            self.max_queued_batches,
            capacity,
            len(batch),
        )
        if records is not None and self._store is not None:
            self._cleanup(self._store, records, False)
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
            self._settle(result, batch.events(), batch.records)
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
        if self._store is not None:
            self._queue_records(self._take_buffered())  # type: ignore[arg-type]
        else:
            for batch in self._take_batches():
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

    def _queue_records(self, records: List[PayloadDict]) -> None:
        """Queue the event store's dicts in batches within the limits."""
        where = self._where
        events = [encode_or_raise(r, self.method, where, "flush") for r in records]
        start = 0
        for batch in split_batches(events, self.limits):
            self._send(batch, records[start : start + len(batch)])
            start += len(batch)

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

    def _shutdown_steps(self, timeout: float, when: str) -> bool:
        timeout = max(0.0, timeout)
        deadline = time.monotonic() + timeout
        self.cancel_flush_timer(timeout)
        self._cancel_retry()
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
        store = self._store
        for batch in left:  # with an event store, what was not sent goes back to it
            if batch.records is not None and store is not None:
                self._cleanup(store, batch.records, True)
        dropped = [b.events() for b in left if b.records is None or store is None]
        self._report_dropped(dropped, when)
        return done and not left

    def stats(self) -> EmitterStats:
        """Counters and gauges; see :class:`~snowplow_tracker.stats.EmitterStats`.

        ``queued`` counts buffered and queued events, ``in_flight`` those taken by a sending
        thread (sending, or waiting to retry), ``queued_bytes`` the bytes of both.
        """
        buffered = self._buffered_count()
        buffered_bytes = self._buffered_bytes()
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
