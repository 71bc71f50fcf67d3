"""``EmitterConfiguration``: the emitter options of ``Snowplow.create_tracker`` (1.x API).

Besides 1.x's fields, :attr:`EmitterConfiguration.emitter` chooses the kind of emitter built:
``"sync"`` (:class:`~snowplow_tracker.emitters.Emitter`, 1.x's choice), ``"async"``
(:class:`~snowplow_tracker.emitters.AsyncEmitter`) or ``"process"``
(:class:`~snowplow_tracker.emitters.process.emitter.ProcessEmitter`), and :attr:`options` passes
that emitter's own arguments (``process_count``, ``thread_count``...).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Mapping, Optional, Set, Tuple, Type, Union

from . import arguments as _args
from .compat import check_retry_code, with_1x_options
from .delivery.event_store import EventStore
from .delivery.retry import RetryPolicy
from .typing import FailureCallback, SuccessCallback

#: The emitter kinds :attr:`EmitterConfiguration.emitter` may name.
EMITTER_KINDS = ("sync", "async", "process")

# 1.x configuration field -> the emitter argument it becomes.
_RENAMED = {"batch_size": "buffer_size"}
_PASSED = (
    "batch_size",
    "on_success",
    "on_failure",
    "byte_limit",
    "request_timeout",
    "buffer_capacity",
    "max_retry_delay_seconds",
    "custom_retry_codes",
    "event_store",
    "session",
    "verify",
)
_WHERE = "EmitterConfiguration"


def emitter_class(kind: str) -> Type[Any]:
    """Return the emitter class of a kind named in :data:`EMITTER_KINDS`.

    Args:
        kind: ``"sync"``, ``"async"`` or ``"process"``.
    """
    if kind == "process":
        from .emitters.process.emitter import ProcessEmitter

        return ProcessEmitter
    from .emitters import AsyncEmitter, Emitter

    return AsyncEmitter if kind == "async" else Emitter


def _accepted(cls: Type[Any]) -> FrozenSet[str]:
    """The names of the parameters of ``cls.__init__``, and of its bases' as long as each
    ``__init__`` passes on ``**kwargs``."""
    names: Set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        params = inspect.signature(init).parameters.values()
        names.update(
            p.name
            for p in params
            if p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        )
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            break
    return frozenset(names)


@dataclass
class EmitterConfiguration:
    """Options of the emitter that :meth:`Snowplow.create_tracker` builds.

    A field left at None (or empty) is not passed, so the emitter's default applies. A 1.x field
    is passed only to an emitter that accepts it; one that is set but not accepted by the chosen
    emitter is listed by :meth:`unsupported` (``create_tracker`` logs it).

    Attributes:
        batch_size: Events per request batch (the emitters' ``buffer_size``), at least 1.
        on_success: Called with the list of events sent after each successful batch.
        on_failure: Called with ``(number sent, events not sent)`` after a failed batch.
        byte_limit: Most bytes per request batch, at least 1.
        request_timeout: Seconds, or ``(connect, read)`` seconds, per request.
        buffer_capacity: Most events buffered, at least 1 (1.x).
        max_retry_delay_seconds: Upper bound of one retry delay in seconds (the emitters'
            argument; not a field of 1.x's configuration).
        custom_retry_codes: Status code -> whether to retry it (1.x).
        event_store: Where unsent events are buffered (1.x; see :mod:`~.event_store`).
        session: A ``requests.Session`` to send with (proxies, adapters, certificates).
        verify: How the collector's TLS certificate is verified (the emitters' argument, as in
            ``requests``): True, False, or the path of a CA bundle file or directory; None
            leaves the emitter's default (True).
        emitter: The emitter kind: ``"sync"`` (default), ``"async"`` or ``"process"``.
        options: Further keyword arguments of the chosen emitter, e.g. ``{"process_count": 2}``.

    Raises:
        ConfigurationError: An argument is invalid.
    """

    batch_size: Optional[int] = None
    on_success: Optional[SuccessCallback] = None
    on_failure: Optional[FailureCallback] = None
    byte_limit: Optional[int] = None
    request_timeout: Optional[Union[float, Tuple[float, float]]] = None
    buffer_capacity: Optional[int] = None
    max_retry_delay_seconds: Optional[float] = None
    custom_retry_codes: Dict[int, bool] = field(default_factory=dict)
    event_store: Optional[EventStore] = None
    session: Optional[Any] = None
    verify: Optional[Union[bool, str]] = None
    emitter: str = "sync"
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _args.optional_count(_WHERE, "batch_size", self.batch_size, minimum=1)
        _args.optional_count(_WHERE, "byte_limit", self.byte_limit, minimum=1)
        _args.optional_count(_WHERE, "buffer_capacity", self.buffer_capacity, minimum=1)
        with_1x_options(RetryPolicy(), self.max_retry_delay_seconds, None, _WHERE)  # checks it
        _args.optional_callable(_WHERE, "on_success", self.on_success)
        _args.optional_callable(_WHERE, "on_failure", self.on_failure)
        if not isinstance(self.custom_retry_codes, dict):
            _args.fail(
                _WHERE,
                "custom_retry_codes",
                "a dict of status codes to booleans",
                self.custom_retry_codes,
            )
        for code, retry in self.custom_retry_codes.items():
            self._check_retry_code(code, retry)
        if self.event_store is not None and not isinstance(self.event_store, EventStore):
            _args.fail(_WHERE, "event_store", "an EventStore or None", self.event_store)
        if self.verify is not None:
            self.verify = _args.tls_verify(_WHERE, "verify", self.verify)
        _args.one_of(_WHERE, "emitter", self.emitter, EMITTER_KINDS)
        if not isinstance(self.options, Mapping):
            _args.fail(_WHERE, "options", "a dict of emitter arguments", self.options)

    @staticmethod
    def _check_retry_code(code: Any, retry: Any) -> None:
        check_retry_code(code, retry, _WHERE)

    def set_retry_code(self, status_code: int, retry: bool = True) -> bool:
        """Add a retry rule for an HTTP status code (1.x); return True.

        Args:
            status_code: A status code that is not a success (2xx or 3xx).
            retry: Whether a request answered with it is retried.

        Raises:
            ConfigurationError: ``status_code`` is a success or not an HTTP status, or
                ``retry`` not a bool.
        """
        self._check_retry_code(status_code, retry)
        self.custom_retry_codes[status_code] = retry
        return True

    def emitter_class(self) -> Type[Any]:
        """Return the class of the emitter :attr:`emitter` names."""
        return emitter_class(self.emitter)

    def emitter_arguments(self) -> Dict[str, Any]:
        """The keyword arguments given to the emitter: set fields it accepts, then options."""
        names = _accepted(self.emitter_class())
        kwargs: Dict[str, Any] = {}
        for name in _PASSED:
            value = getattr(self, name)
            target = _RENAMED.get(name, name)
            if value is None or value == {} or target not in names:
                continue
            kwargs[target] = value
        kwargs.update(self.options)
        return kwargs

    def unsupported(self) -> Tuple[str, ...]:
        """The fields that are set but that the chosen emitter does not accept (yet)."""
        names = _accepted(self.emitter_class())
        return tuple(
            name
            for name in _PASSED
            if getattr(self, name) not in (None, {}) and _RENAMED.get(name, name) not in names
        )
