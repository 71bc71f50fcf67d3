"""What the HTTP emitters share: :class:`BaseEmitter` (configuration, callbacks, flush timer).

The emitters are composed of shared parts: a buffer (:mod:`~snowplow_tracker.delivery.batching`,
``buffer_size``/``byte_limit``), a dispatcher (inline: ``Emitter``, :mod:`.sync`; threads:
``AsyncEmitter``, :mod:`.threads`; sender processes: ``ProcessEmitter``, :mod:`.process`;
Celery workers: ``CeleryEmitter``, :mod:`.celery`) and a transport
(:mod:`~snowplow_tracker.delivery.transport` with :mod:`~snowplow_tracker.delivery.retry`,
requests built by :mod:`~snowplow_tracker.protocol.wire`), which only the emitters sending from
the host process hold there.

Lifecycle: every emitter that holds events in this process (all five) delivers them when the
interpreter exits (one ``atexit`` handler, bounded by ``shutdown_timeout``), and after
``os.fork()`` the child gets a fresh, empty emitter (new locks, queue, sending threads, flush
timer and connections) while the parent keeps sending what it had; see :mod:`.lifecycle`.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter, abc
from operator import attrgetter
from typing import Any, Callable, List, Mapping, Optional, Tuple

from .. import arguments as _args
from .._logging import ThrottledLog, logger
from ..compat import EmitterAPI1x
from ..delivery.stats import Counters, EmitterStats
from ..delivery.transport import DeliveryResult, deliver
from ..errors import EncodingError
from ..protocol.wire import PayloadDict, decode_event, decode_events, encode_event
from ..settings import EmitterSettings, Profile
from ..settings import FailureCallback as FailureCallback  # re-exported: emitters' callbacks
from ..settings import SuccessCallback as SuccessCallback
from .constructors import BaseEmitterConstructor

_callback_log = ThrottledLog()
drop_log = ThrottledLog()

#: Default bound, in bytes of encoded events, of what an ``AsyncEmitter`` holds (96 MiB): room
#: for a burst from many tracking threads while the sending threads get little of the GIL, and
#: a bounded growth of the host while the collector is down.
DEFAULT_MAX_QUEUE_BYTES = 96 * 1024 * 1024


def wait_until(deadline: float, stop: Optional[threading.Event] = None) -> Callable[[float], bool]:
    """A ``wait`` for :func:`deliver` that gives up on a retry that would end past ``deadline``."""

    def wait(delay: float) -> bool:
        if time.monotonic() + delay > deadline:
            return True
        if stop is not None:
            return stop.wait(delay)
        time.sleep(delay)
        return False

    return wait


def deliver_until(deadline: float) -> Callable[..., DeliveryResult]:
    """:func:`deliver` with retries that give up at ``deadline``."""
    return functools.partial(deliver, wait=wait_until(deadline))


class StopWatch:
    """Wraps a ``wait`` for :func:`deliver` and remembers whether it stopped the retries.

    Retries stopped by a shutdown (``close()``'s deadline, the emitter closing) leave events
    still retryable: they are counted as dropped, not failed (see :func:`split_outcome`).

    Args:
        wait: The ``wait`` to wrap (returns True to stop retrying).
    """

    __slots__ = ("_wait", "stopped")

    def __init__(self, wait: Callable[[float], bool]) -> None:
        self._wait = wait
        self.stopped = False

    def __call__(self, delay: float) -> bool:
        if self._wait(delay):
            self.stopped = True
            return True
        return False


def split_outcome(
    result: DeliveryResult, stopped: bool
) -> Tuple[List[bytes], List[bytes], List[bytes]]:
    """The ``(sent, failed, dropped)`` events of a delivery.

    Args:
        result: What :func:`deliver` gave.
        stopped: Whether a shutdown stopped its retries: the events still retryable then
            (``result.unfinished``) are dropped; the others of ``result.failed`` failed.
    """
    if not stopped or not result.unfinished:
        return result.sent, result.failed, []
    if len(result.unfinished) == len(result.failed):
        return result.sent, [], result.failed
    unfinished = Counter(result.unfinished)
    failed: List[bytes] = []
    for event in result.failed:
        if unfinished[event]:
            unfinished[event] -= 1
        else:
            failed.append(event)
    return result.sent, failed, list(result.unfinished)


def encode_or_raise(
    payload: Mapping[str, Any], method: str, where: str, method_name: str = "input"
) -> bytes:
    """:func:`~snowplow_tracker.protocol.wire.encode_event` with a clear error for bad input.

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
                except Exception:
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


class BaseEmitter(BaseEmitterConstructor, EmitterAPI1x):
    """Configuration, callbacks and the flush timer shared by the HTTP emitters.

    An emitter is composed of a buffer (a :class:`~snowplow_tracker.delivery.batching.Batcher`
    under these batch limits), a dispatcher (inline, threads, processes, Celery) and a
    transport. This base holds only what they share: the checked configuration, the collector's
    address (:attr:`url`), the callbacks, counters and flush timer. It builds no transport:
    ``Emitter`` and ``AsyncEmitter``, which send from this process, own one (``transport``);
    ``ProcessEmitter``'s senders and the Celery workers build theirs where they send.

    The arguments are resolved once, by :func:`~snowplow_tracker.settings.resolve`, into
    :attr:`settings` (frozen); the first nine may be given positionally, in the 0.10 order
    (:data:`~snowplow_tracker.settings.POSITIONAL`). The package's emitters are described by
    data: a :class:`~snowplow_tracker.settings.Profile` (defaults, positional order, the
    arguments it takes) and the keyword arguments of ``_setup``, which receives the arguments
    only that kind takes. From them ``python -m tools.generate_tracker`` writes each emitter's
    constructor, with its ``Args:`` (its docstring's entries, else
    :data:`~snowplow_tracker.settings.DOCS`), into :mod:`.constructors`; the emitter inherits it
    as its first base. A subclass that takes arguments of its own writes an ``__init__`` that
    passes the resolved settings and them to :meth:`_build`.
    """

    _where = "Emitter"
    #: The defaults of this kind of emitter (see :func:`~snowplow_tracker.settings.resolve`).
    _profile = Profile()

    #: Held strongly by :mod:`~snowplow_tracker.emitters.lifecycle` (from the first event).
    _kept = False

    def _build(self, settings: EmitterSettings, **own: Any) -> None:
        """Build the emitter from its resolved settings and the arguments only its kind takes
        (what its generated constructor hands over)."""
        self._configure(settings)
        self._setup(**own)

    def _setup(self) -> None:
        """Check and take the arguments only this kind of emitter takes (keyword-only; the
        subclasses' add to the constructor's signature), and build its parts."""

    def _configure(self, settings: EmitterSettings) -> None:
        """Take the resolved settings (and start the counters and the flush timer)."""
        #: What the arguments resolved to (:class:`~snowplow_tracker.settings.EmitterSettings`).
        self.settings = settings
        self.limits, self.retry_policy = settings.limits, settings.retry_policy
        self.method = self.limits.method
        c = settings.collector
        self.endpoint, self.session, self.verify = c.endpoint, c.session, c.verify
        self.request_timeout, self.shutdown_timeout = c.request_timeout, settings.shutdown_timeout
        self.on_success: Optional[SuccessCallback] = settings.on_success
        self.on_failure: Optional[FailureCallback] = settings.on_failure
        self._counters = Counters()
        #: The flush timer (``timer.is_active()``, as 1.x).
        self.timer = FlushTimer()

    @property
    def url(self) -> str:
        """The collector URL events are sent to (GET: without the querystring), never with the
        endpoint's credentials; the same as ``transport.url`` of the emitters that have one."""
        return self.settings.url

    buffer_size = property(attrgetter("limits.buffer_size"), doc="Events per request batch.")
    byte_limit = property(attrgetter("limits.byte_limit"), doc="Bytes per request batch, or None.")

    def _notify(self, sent: List[bytes], failed: List[bytes]) -> None:
        """Call the user's callbacks for an outcome already counted.

        Nothing here raises: an exception in a callback is logged (throttled), and an event
        that cannot be decoded back into a dict is logged and left out of the callback's list
        (the others are still passed), so that accounting and dead-lettering never stop.
        """
        try:
            if failed:
                if self.on_failure is not None:
                    self.on_failure(len(sent), self._decoded(failed))
            elif sent and self.on_success is not None:
                self.on_success(self._decoded(sent))
        except Exception:  # noqa: BLE001 - a user's callback must not kill a sender thread
            _callback_log.log("an on_success/on_failure callback raised", exc_info=True)

    def _decoded(self, events: List[bytes]) -> List[PayloadDict]:
        """The event dicts of ``events``; those that do not decode are logged and skipped."""
        try:
            return decode_events(events, self.method)
        except Exception:  # noqa: BLE001 - one bad event must not hide the others
            decoded: List[PayloadDict] = []
            for event in events:
                try:
                    decoded.append(decode_event(event, self.method))
                except Exception:  # noqa: BLE001
                    _callback_log.log(
                        "%s: an event could not be decoded for on_success/on_failure; left out",
                        self._where,
                    )
                    logger.debug("%s: the event that could not be decoded: %r", self._where, event)
            return decoded

    def set_flush_timer(self, timeout: float, flush_now: bool = False) -> None:
        """Flush (asynchronously) every ``timeout`` seconds on a daemon thread.

        Args:
            timeout: Seconds between flushes; a positive number.
            flush_now: Flush once at once as well.
        """
        _args.positive_finite_seconds(f"{self._where}.set_flush_timer", "timeout", timeout)
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

    def stats(self) -> EmitterStats:
        """Counters of this emitter; see :class:`~snowplow_tracker.delivery.stats.EmitterStats`."""
        return self._counters.snapshot()
