"""Tracker 1.x's emitter spellings, translated into the core's vocabulary in one place.

The core (:mod:`.protocol`, :mod:`.delivery`, :mod:`.emitters`) knows ``buffer_size``, a
:class:`~snowplow_tracker.delivery.retry.RetryPolicy` and queue bounds. Tracker 1.x spelled them
``batch_size``, ``max_retry_delay_seconds`` / ``custom_retry_codes`` and ``buffer_capacity``;
:func:`~snowplow_tracker.settings.resolve` translates them with this module. It also holds 1.x's
emitter helpers (:class:`EmitterAPI1x`: ``is_good_status_code``, ``as_collector_uri``..., a base
of every HTTP emitter), request hooks (:class:`HttpHooks1x`: ``http_post``, ``http_get``, a
base of the in-host emitters) and the ``event_store`` of the in-host emitters
(:class:`StoredEvents1x`). The 1.x entry points are :mod:`.snowplow`,
:mod:`.emitter_configuration` and :mod:`.tracker_configuration`.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Union
from urllib.parse import urlencode

from . import arguments as _args
from ._logging import ThrottledLog, logger
from .delivery.batching import DEFAULT_POST_BUFFER_SIZE, BatchLimits
from .delivery.event_store import EventStore
from .delivery.http_client import error_name
from .delivery.retry import RetryPolicy, is_success
from .delivery.transport import HttpTransport, Reply
from .protocol.wire import (
    POST_CONTENT_TYPE,
    PayloadDict,
    check_method,
    collector_urls,
    event_cost,
    get_query,
    normalize_payload,
    post_body,
    sent_timestamp,
)

if TYPE_CHECKING:
    from .settings import EmitterSettings

_request_log = ThrottledLog()
_store_log = ThrottledLog()

#: Tracker 1.x's name for the default POST batch size (10, as ``buffer_size``'s).
DEFAULT_MAX_LENGTH = DEFAULT_POST_BUFFER_SIZE


def buffer_size_of(
    buffer_size: Optional[int], batch_size: Optional[int], where: str
) -> Optional[int]:
    """``batch_size`` (tracker 1.x's name) is an alias of ``buffer_size``: return the one given.

    Raises:
        ConfigurationError: ``batch_size`` is not a positive integer, or both are given with
            different values.
    """
    if batch_size is None:
        return buffer_size
    _args.optional_positive_integer(where, "batch_size", batch_size)  # named as given
    if buffer_size is not None and buffer_size != batch_size:
        _args.refuse(
            where,
            f"arguments 'buffer_size' and 'batch_size' are one setting (batch_size is "
            f"tracker 1.x's name): give one of them, got buffer_size={buffer_size!r} and "
            f"batch_size={batch_size!r}",
        )
    return batch_size


def check_retry_code(code: Any, retry: Any, where: str) -> None:
    """Check one ``custom_retry_codes`` entry (tracker 1.x): a failure status -> a bool.

    Args:
        code: The HTTP status: an int from 100 to 599 that is not a success (2xx or 3xx).
        retry: Whether a request answered with it is retried.
        where: The qualified name of the caller, for the error message.

    Raises:
        ConfigurationError: It is not such an entry.
    """
    if (
        isinstance(code, bool)
        or not isinstance(code, int)
        or not 100 <= code < 600
        or is_success(code)
    ):
        _args.fail(
            where,
            "custom_retry_codes",
            "keyed by HTTP statuses that are not a success (2xx and 3xx are)",
            code,
        )
    if not isinstance(retry, bool):
        _args.fail(where, f"custom_retry_codes[{code}]", "True or False", retry)


#: Tracker 1.x's ``max_retry_delay_seconds``: finite seconds, 0 included.
_max_delay_1x = _args.Rule(
    "a number of seconds >= 0", lambda v: _args.non_negative_number.ok(v) and v < math.inf
).or_none()


def with_1x_options(
    policy: RetryPolicy,
    max_retry_delay_seconds: Optional[float] = None,
    custom_retry_codes: Optional[Mapping[int, bool]] = None,
    where: str = "Emitter",
) -> RetryPolicy:
    """Apply tracker 1.x's retry arguments to a policy.

    ``max_retry_delay_seconds`` becomes ``max_delay``; each ``custom_retry_codes`` entry takes
    its status out of ``no_retry_statuses`` (True: retried) or puts it in (False: not
    retried). 413 and 414 are never retried as they are, whatever the entry
    (:data:`~snowplow_tracker.delivery.retry.TOO_LARGE_STATUSES`).

    Args:
        policy: The policy the options change.
        max_retry_delay_seconds: Upper bound of one delay in seconds, or None.
        custom_retry_codes: Status -> whether it is retried, or None.
        where: The qualified name of the caller, for error messages.

    Raises:
        ConfigurationError: An option is invalid.
    """
    changes: Dict[str, Any] = {}
    _max_delay_1x(where, "max_retry_delay_seconds", max_retry_delay_seconds)
    if max_retry_delay_seconds is not None:
        changes["max_delay"] = float(max_retry_delay_seconds)
    if custom_retry_codes is not None:
        if not isinstance(custom_retry_codes, Mapping):
            _args.fail(
                where,
                "custom_retry_codes",
                "a dict of HTTP statuses to True/False",
                custom_retry_codes,
            )
        no_retry = set(policy.no_retry_statuses)
        for code, retry in custom_retry_codes.items():
            check_retry_code(code, retry, where)
            (no_retry.discard if retry else no_retry.add)(code)
        changes["no_retry_statuses"] = frozenset(no_retry)
    return replace(policy, **changes) if changes else policy


class EmitterAPI1x:
    """Tracker 1.x's emitter attributes and helpers, in the core's terms.

    A base of every HTTP emitter; reads the emitter's ``limits`` and ``retry_policy``.
    """

    settings: EmitterSettings
    limits: BatchLimits
    retry_policy: RetryPolicy

    @property
    def buffer_capacity(self) -> Optional[int]:
        """Tracker 1.x's ``buffer_capacity`` as given, or None (it bounds the events held:
        ``settings.queue.max_events``)."""
        return self.settings.buffer_capacity

    @property
    def custom_retry_codes(self) -> Dict[int, bool]:
        """Tracker 1.x's ``custom_retry_codes`` as given (applied to ``retry_policy``)."""
        return dict(self.settings.custom_retry_codes)

    @property
    def batch_size(self) -> int:
        """Events per request batch (tracker 1.x's name of ``buffer_size``)."""
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


class HookTransport(HttpTransport):
    """The in-host emitters' transport: requests go through the emitter's ``http_post`` and
    ``http_get`` when a subclass or a test overrides them (as in tracker 1.x), straight to the
    HTTP client otherwise. The sending, retries and reporting stay those of
    :class:`~snowplow_tracker.delivery.transport.HttpTransport` and :func:`deliver` either way."""

    def __init__(self, *args: Any, owner: HttpHooks1x, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = weakref.ref(owner)
        auth = {k: v for k, v in self._headers.items() if k != "Content-Type"}
        self._headers_of = {"post": {"Content-Type": POST_CONTENT_TYPE, **auth}, "get": auth}

    def _request(self, events: List[bytes], stm: int) -> Reply:
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
            return Reply(None, error_name(exc))
        return Reply(status) if status >= 0 else Reply(None, "network error")

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
                return self._get_client().request("POST", url, body, self._headers_of["post"])[0]
            query = target.decode("utf-8") if isinstance(target, bytes) else target
            url = f"{self.get_url}?{query}"
            return self._get_client().request("GET", url, None, self._headers_of["get"])[0]
        except Exception as exc:  # noqa: BLE001 - 1.x answers -1 for a failed request
            _request_log.log("request to %s failed: %s", self.url, error_name(exc))
            return -1


class HttpHooks1x:
    """Tracker 1.x's ``http_post`` and ``http_get`` of the in-host emitters: every request
    goes through them when a subclass or a test replaces them (see :class:`HookTransport`)."""

    transport: HookTransport

    def _http_override(self, method: str) -> Optional[Callable[[Any], int]]:
        """``http_post``/``http_get`` when a subclass or a test replaced it, else None."""
        name = "http_" + method
        bound = getattr(self, name)
        if getattr(bound, "__func__", None) is getattr(HttpHooks1x, name):
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
        return self.transport.request_status("post", data)

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
        return self.transport.request_status("get", payload)


class StoredEvents1x:
    """Tracker 1.x's ``event_store`` of an in-host emitter: the user's store, the bytes its
    events will take on the wire (what ``byte_limit`` counts: :attr:`nbytes`), and the retry,
    after a backoff, of the events given back to it.

    Args:
        store: The user's :class:`~snowplow_tracker.delivery.event_store.EventStore`.
        method: The emitter's ``"get"`` or ``"post"``.
        where: The emitter class, for the log.
    """

    def __init__(self, store: EventStore, method: str, where: str) -> None:
        self.store, self.method, self.where = store, method, where
        self.nbytes = 0
        self.renew()

    def renew(self) -> None:
        """No retry scheduled, and a lock of its own (again in a forked child)."""
        self._lock = threading.Lock()
        self._timer: Optional[threading.Timer] = None
        self.attempt = 0  # retries since events were last sent

    def add(self, payload: Mapping[str, Any], event: bytes) -> bool:
        """Add a copy of the event dict; False when the store refused it (full)."""
        if not self.store.add_event(dict(normalize_payload(payload))):
            return False
        with self._lock:
            self.nbytes += event_cost(event, self.method)
        return True

    def take(self) -> List[PayloadDict]:
        """Take every stored event."""
        with self._lock:
            self.nbytes = 0
        return self.store.get_events_batch()

    def cleanup(self, records: List[PayloadDict], need_retry: bool) -> None:
        """``store.cleanup``; an exception in it is logged (throttled)."""
        try:
            if records:
                self.store.cleanup(records, need_retry)
        except Exception:  # noqa: BLE001 - a user's store must not kill a sending thread
            _store_log.log("event_store.cleanup raised", exc_info=True)

    def settle(
        self,
        batch: List[bytes],
        records: List[PayloadDict],
        done: Sequence[List[bytes]],
        back: List[bytes],
    ) -> None:
        """Give a delivered batch's dicts (``records``, in the order of ``batch``) back to the
        store: those of each list of ``done`` (the sent, then the rejected events) to be
        forgotten, then those of ``back`` (still retryable) to be sent again."""
        by_event: Dict[bytes, List[PayloadDict]] = {}
        for event, record in zip(batch, records):
            by_event.setdefault(event, []).append(record)
        for events, need_retry in [*((d, False) for d in done), (back, True)]:
            self.cleanup([by_event[e].pop() for e in events], need_retry)

    def retry_later(self, delay: Callable[[int], float], flush: Callable[[], object]) -> None:
        """Call ``flush`` after ``delay(attempt)`` seconds, unless a call is already due."""
        with self._lock:
            if self._timer is not None:
                return
            self.attempt += 1
            timer = self._timer = threading.Timer(delay(self.attempt), self._retry, (flush,))
            timer.daemon = True
        timer.start()

    def _retry(self, flush: Callable[[], object]) -> None:
        with self._lock:
            self._timer = None
        try:
            flush()
        except Exception:
            logger.exception("%s: retrying the event store's events failed", self.where)

    def cancel_retry(self) -> None:
        """Cancel the retry that is due, if any."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
