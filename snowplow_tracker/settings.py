"""An emitter's settings, resolved once from what the user passed.

:func:`resolve` checks the arguments of an HTTP emitter (0.10 and 1.x spellings; the 1.x ones
are translated by :mod:`.compat`), fills in the defaults of the kind of emitter (a
:class:`Profile`) and returns frozen :class:`EmitterSettings`: the collector's address and TLS,
the batch limits, the retry policy and the queue bounds. The emitters take their configuration
from it and check nothing else of it. Errors name the emitter class, the argument, what was
expected and the value given (:mod:`.arguments`).

The profile also says which arguments the kind takes and in which positional order, and
:data:`DOCS` is the one text of the arguments' ``Args:`` entries: from them, and the emitters'
``_setup`` arguments, ``python -m tools.generate_tracker`` writes the emitters' constructors
(:mod:`snowplow_tracker.emitters.constructors`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Tuple

from . import arguments as _args
from . import compat
from .delivery.batching import BatchLimits, throughput_defaults
from .delivery.http_client import Verify
from .delivery.retry import RetryPolicy
from .delivery.transport import Timeout, check_timeout
from .protocol.wire import PayloadDict, check_method, collector_urls

if TYPE_CHECKING:
    import requests

SuccessCallback = Callable[[List[PayloadDict]], Any]
FailureCallback = Callable[[int, List[PayloadDict]], Any]

#: Default seconds that ``close()`` and the exit handler spend delivering what is left.
DEFAULT_SHUTDOWN_TIMEOUT = 5.0


@dataclass(frozen=True)
class Collector:
    """Where and how requests go.

    Attributes:
        endpoint: The collector host as given (credentials and scheme included).
        protocol: ``"http"`` or ``"https"`` as given (a scheme in ``endpoint`` wins).
        port: The port as given, or None.
        get_url: The GET URL, without credentials.
        post_url: The POST URL, without credentials.
        request_timeout: ``(connect, read)`` seconds.
        verify: TLS certificate verification, as in ``requests``.
        session: The user's ``requests.Session``, or None.
    """

    endpoint: str
    protocol: str
    port: Optional[int]
    get_url: str
    post_url: str
    request_timeout: Tuple[float, float]
    verify: Verify = True
    session: Optional[requests.Session] = None

    def transport_arguments(self) -> Dict[str, Any]:
        """The keyword arguments of an
        :class:`~snowplow_tracker.delivery.transport.HttpTransport` to this collector."""
        return {
            "endpoint": self.endpoint,
            "protocol": self.protocol,
            "port": self.port,
            "request_timeout": self.request_timeout,
            "verify": self.verify,
            "session": self.session,
        }


@dataclass(frozen=True)
class QueueBounds:
    """What the emitter holds at most before it drops new events.

    Attributes:
        max_events: Events (``max_queue_size``, and 1.x's ``buffer_capacity``), or None.
        max_bytes: Bytes of encoded events (``max_queue_bytes``), or None.
    """

    max_events: Optional[int] = None
    max_bytes: Optional[int] = None


#: The 0.10 positional order of an emitter's first arguments (``Emitter``'s and ``BaseEmitter``'s).
POSITIONAL = (
    "endpoint",
    "protocol",
    "port",
    "method",
    "buffer_size",
    "on_success",
    "on_failure",
    "byte_limit",
    "request_timeout",
)


@dataclass(frozen=True)
class Profile:
    """One kind of emitter: its defaults and the arguments it takes.

    Attributes:
        retry_policy: The retry policy when the user gives none.
        throughput: Fill in ``ProcessEmitter``'s POST batch defaults
            (:func:`~snowplow_tracker.delivery.batching.throughput_defaults`).
        queue_arguments: The queue bounds (``max_queue_size``, ``max_queue_bytes``) the kind
            takes; giving another is a ``TypeError``, as an unknown keyword argument is. A kind
            that takes ``max_queue_bytes`` needs it (its signature gives the default).
        positional: The arguments that may be given positionally, in their order (the kind's
            own arguments among them); with ``defaults`` and ``excluded``, it makes the
            signature of the kind's generated constructor.
        defaults: The kind's defaults of :func:`resolve`'s arguments, where they differ.
        excluded: :func:`resolve`'s arguments the kind does not take.
        no_callbacks: Why the kind refuses ``on_success``/``on_failure``; empty: it takes them.
    """

    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    throughput: bool = False
    queue_arguments: FrozenSet[str] = frozenset()
    positional: Tuple[str, ...] = POSITIONAL
    defaults: Mapping[str, Any] = field(default_factory=dict)
    excluded: FrozenSet[str] = frozenset()
    no_callbacks: str = ""


@dataclass(frozen=True)
class EmitterSettings:
    """An HTTP emitter's resolved settings (see :func:`resolve`).

    Attributes:
        collector: Where requests go.
        limits: When a batch is full.
        retry_policy: How failed requests are retried.
        queue: Bounds of what is held.
        shutdown_timeout: Seconds ``close()`` and the exit handler spend delivering.
        on_success: Called with the event dicts of each sent batch, or None.
        on_failure: Called with ``(sent, unsent event dicts)``, or None.
        buffer_capacity: Tracker 1.x's ``buffer_capacity`` as given, or None.
        custom_retry_codes: Tracker 1.x's ``custom_retry_codes`` as given.
    """

    collector: Collector
    limits: BatchLimits
    retry_policy: RetryPolicy
    queue: QueueBounds = QueueBounds()
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    on_success: Optional[SuccessCallback] = None
    on_failure: Optional[FailureCallback] = None
    buffer_capacity: Optional[int] = None
    custom_retry_codes: Mapping[int, bool] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The URL requests go to (GET: without the querystring), without credentials."""
        post = self.limits.method == "post"
        return self.collector.post_url if post else self.collector.get_url


def resolve(
    where: str,
    profile: Profile = Profile(),
    *,
    endpoint: str,
    protocol: str = "http",
    port: Optional[int] = None,
    request_timeout: Optional[Timeout] = None,
    verify: Verify = True,
    session: Optional[requests.Session] = None,
    method: str = "get",
    buffer_size: Optional[int] = None,
    byte_limit: Optional[int] = None,
    max_batch_age: Optional[float] = None,
    retry_policy: Optional[RetryPolicy] = None,
    max_queue_size: Optional[int] = None,
    max_queue_bytes: Optional[int] = None,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    on_success: Optional[SuccessCallback] = None,
    on_failure: Optional[FailureCallback] = None,
    batch_size: Optional[int] = None,
    buffer_capacity: Optional[int] = None,
    max_retry_delay_seconds: Optional[float] = None,
    custom_retry_codes: Optional[Mapping[int, bool]] = None,
) -> EmitterSettings:
    """Check what the user passed to an HTTP emitter and resolve it into settings.

    A pure function: it only reads its arguments. The arguments are the emitters' (see
    :class:`~snowplow_tracker.emitters.base.BaseEmitter`), grouped by the setting they make;
    ``batch_size``, ``buffer_capacity``, ``max_retry_delay_seconds`` and ``custom_retry_codes``
    are tracker 1.x's. The emitters' generated constructors call it with every argument they
    take (:mod:`snowplow_tracker.emitters.constructors`).

    Args:
        where: The emitter class, for error messages.
        profile: The defaults of the kind of emitter.

    Raises:
        ConfigurationError: An argument is invalid.
    """
    if profile.no_callbacks and (on_success is not None or on_failure is not None):
        _args.refuse(
            where, f"on_success and on_failure callbacks are not supported: {profile.no_callbacks}"
        )
    method = check_method(method, where)
    buffer_size = compat.buffer_size_of(buffer_size, batch_size, where)
    _args.optional_positive_integer(where, "buffer_capacity", buffer_capacity)
    if profile.throughput:
        buffer_size, byte_limit = throughput_defaults(method, buffer_size, byte_limit)
    # Checked here under its own name (BatchLimits would call it 'max_age').
    _args.optional_positive_seconds(where, "max_batch_age", max_batch_age)
    limits = BatchLimits.create(method, buffer_size, byte_limit, max_batch_age, where=where)
    if buffer_capacity is not None and limits.buffer_size > buffer_capacity:
        limits = replace(limits, buffer_size=buffer_capacity)  # as 1.x
    _args.optional_instance(where, "retry_policy", retry_policy, RetryPolicy)
    policy = compat.with_1x_options(
        retry_policy or profile.retry_policy, max_retry_delay_seconds, custom_retry_codes, where
    )
    return EmitterSettings(
        collector=_collector(where, endpoint, protocol, port, request_timeout, verify, session),
        limits=limits,
        retry_policy=policy,
        queue=_queue(where, profile, max_queue_size, max_queue_bytes, buffer_capacity),
        shutdown_timeout=_seconds(where, "shutdown_timeout", shutdown_timeout),
        on_success=_callback(where, "on_success", on_success),
        on_failure=_callback(where, "on_failure", on_failure),
        buffer_capacity=buffer_capacity,
        custom_retry_codes=dict(custom_retry_codes or {}),
    )


#: What each argument of the HTTP emitters means: the one text of their constructors' ``Args:``
#: sections (written by ``python -m tools.generate_tracker``). An emitter's docstring describes
#: the arguments only it takes, and those it reads in its own way.
DOCS: Dict[str, str] = {
    "endpoint": 'Collector host, e.g. ``"collector.example.com"``; a scheme in it '
    '(``"https://host"``) wins over ``protocol``.',
    "protocol": '``"http"`` (default) or ``"https"``.',
    "port": "Collector port; default: the scheme's.",
    "method": '``"get"`` (one request per event) or ``"post"`` (batches).',
    "buffer_size": "Events per request batch; default 1 for GET, 10 for POST.",
    "on_success": "Called with the list of event dicts sent, after each successful batch.",
    "on_failure": "Called with ``(number sent, list of event dicts not sent)`` after a batch "
    "that was not wholly sent. The dicts can be passed to ``input`` again to retry.",
    "byte_limit": "Bytes per request batch as sent on the wire; default none.",
    "request_timeout": "Seconds, or a ``(connect, read)`` tuple; default ``(5, 10)``.",
    "retry_policy": "How failed requests are retried (see :class:`RetryPolicy`).",
    "max_batch_age": "Seconds after which a partial batch is sent with the next event that "
    "arrives (a flush or the flush timer sends it without waiting); default none.",
    "session": "A ``requests.Session`` of yours that every request goes through (proxies, "
    "adapters, client certificates, mocks); it is never closed by the emitter. Default: the "
    "emitter's own keep-alive connections.",
    "shutdown_timeout": "Seconds ``close()`` and the exit handler spend delivering what is "
    "left when the interpreter exits (default 5).",
    "batch_size": "Tracker 1.x's name of ``buffer_size`` (give one of them).",
    "buffer_capacity": "Most events held (1.x): ``buffer_size`` is lowered to it, and the "
    "``AsyncEmitter`` drops new batches beyond it (reported to ``on_failure``).",
    "max_retry_delay_seconds": "Upper bound of one retry delay (1.x; the retry policy's "
    "``max_delay``).",
    "custom_retry_codes": "HTTP status -> whether a request answered with it is retried (1.x; "
    "changes the retry policy's ``no_retry_statuses``; 413/414 are never retried as they are).",
    "event_store": "An :class:`~snowplow_tracker.delivery.event_store.EventStore` of yours "
    "(1.x): events are buffered in it, taken from it to be sent, and given back to it with "
    "``cleanup(batch, need_retry=True)`` when their sending failed in a retryable way (sent "
    "again after a backoff, and at each later flush); rejected ones go to ``on_failure``. "
    "Default: a compact buffer of encoded bytes.",
    "verify": "How the collector's TLS certificate is verified, as in ``requests``: True "
    "(default: the ``REQUESTS_CA_BUNDLE`` bundle when set, else certifi's), the path of a CA "
    "bundle file or directory (a private CA), or False (no verification). It reaches wherever "
    "the emitter sends from (sender processes, Celery workers). A certificate that cannot be "
    "verified is logged at ERROR and its events fail at once (not retried). With ``session``, "
    "True keeps the session's own ``verify``.",
}


def _collector(
    where: str,
    endpoint: str,
    protocol: str,
    port: Optional[int],
    request_timeout: Optional[Timeout],
    verify: Verify,
    session: Optional[requests.Session],
) -> Collector:
    _args.optional_session(where, "session", session)
    checked_verify: Verify = _args.tls_verify(where, "verify", verify)
    timeout = check_timeout(request_timeout, where)
    get_url, post_url = collector_urls(endpoint, protocol, port, where=where)
    return Collector(endpoint, protocol, port, get_url, post_url, timeout, checked_verify, session)


def _queue(
    where: str,
    profile: Profile,
    max_queue_size: Optional[int],
    max_queue_bytes: Optional[int],
    buffer_capacity: Optional[int],
) -> QueueBounds:
    for name, value in (("max_queue_size", max_queue_size), ("max_queue_bytes", max_queue_bytes)):
        if value is not None and name not in profile.queue_arguments:
            raise TypeError(f"{where}() got an unexpected keyword argument {name!r}")
    if max_queue_size is not None:
        _args.positive_integer(where, "max_queue_size", max_queue_size)
    if "max_queue_bytes" in profile.queue_arguments:  # a bound in bytes is never left out
        _args.positive_integer(where, "max_queue_bytes", max_queue_bytes)
    events = max_queue_size
    if buffer_capacity is not None:
        events = buffer_capacity if events is None else min(events, buffer_capacity)
    return QueueBounds(events, max_queue_bytes)


def _seconds(where: str, name: str, value: Any) -> float:
    _args.positive_finite_seconds(where, name, value)
    return float(value)


def _callback(where: str, name: str, value: Any) -> Any:
    _args.optional_callable(where, name, value)
    return value
