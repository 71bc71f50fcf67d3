"""Batching rules shared by every emitter: ``buffer_size``, ``byte_limit`` and batch age.

A :class:`Batcher` collects encoded events (see :mod:`snowplow_tracker.protocol.wire`) and hands
back a batch as soon as one of the limits is reached. It is not thread-safe; its owner locks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import List, Optional, Tuple

from .. import arguments as _args
from ..protocol.wire import POST_ENVELOPE_OVERHEAD, check_method, event_cost

#: Default ``buffer_size`` for GET: every event leaves at once, as documented.
DEFAULT_GET_BUFFER_SIZE = 1
#: Default ``buffer_size`` for POST, as documented.
DEFAULT_POST_BUFFER_SIZE = 10
#: ``ProcessEmitter``'s default POST ``byte_limit``: bodies of at most 64 kB, far below what
#: collectors accept (the Snowplow collector takes up to 1 MB per request) and in line with the
#: JavaScript and mobile trackers (40 kB), yet about 125 typical 500-byte events per request.
THROUGHPUT_BYTE_LIMIT = 64_000
#: ``ProcessEmitter``'s default POST ``buffer_size``: high enough that bytes and age cut batches.
THROUGHPUT_POST_BUFFER_SIZE = 500


@dataclass(frozen=True)
class BatchLimits:
    """When a batch is full.

    Attributes:
        method: ``"get"`` or ``"post"``; it decides the default ``buffer_size`` and byte costs.
        buffer_size: Events per batch (default 1 for GET, 10 for POST).
        byte_limit: Bytes per batch as sent on the wire, or None for no byte limit. A batch is
            sent when adding an event would exceed it; a single event larger than the limit is
            sent alone.
        max_age: Seconds a partial batch may wait before it is sent, or None to wait for a flush.
    """

    method: str = "post"
    buffer_size: int = DEFAULT_POST_BUFFER_SIZE
    byte_limit: Optional[int] = None
    max_age: Optional[float] = None

    @classmethod
    def create(
        cls,
        method: str,
        buffer_size: Optional[int] = None,
        byte_limit: Optional[int] = None,
        max_age: Optional[float] = None,
        *,
        where: str = "Emitter",
    ) -> BatchLimits:
        """Validate user arguments and fill in the documented defaults.

        Args:
            method: ``"get"`` or ``"post"`` (any case).
            buffer_size: Positive integer or None for the method's default.
            byte_limit: Positive integer or None.
            max_age: Positive number of seconds or None.
            where: The qualified name of the caller, for error messages.
        """
        method = check_method(method, where)
        _args.optional_positive_integer(where, "buffer_size", buffer_size)
        _args.optional_positive_integer(where, "byte_limit", byte_limit)
        _args.optional_positive_seconds(where, "max_age", max_age)
        size = buffer_size
        if size is None:
            size = DEFAULT_GET_BUFFER_SIZE if method == "get" else DEFAULT_POST_BUFFER_SIZE
        return cls(method, size, byte_limit, None if max_age is None else float(max_age))


def throughput_defaults(
    method: object, buffer_size: Optional[int], byte_limit: Optional[int]
) -> Tuple[Optional[int], Optional[int]]:
    """Fill in ``ProcessEmitter``'s defaults, made for a collector a network away.

    A POST request carries as many events as fit in :data:`THROUGHPUT_BYTE_LIMIT` bytes (at most
    :data:`THROUGHPUT_POST_BUFFER_SIZE`), rather than the ``Emitter``'s 10: with requests in
    flight at once, events per second are ``requests in flight * events per request / round
    trip``. The byte limit applies also when only ``buffer_size`` is given. GET sends one request
    per event whatever the batch, so its defaults are unchanged.

    Args:
        method: The user's ``method`` (checked later by :meth:`BatchLimits.create`).
        buffer_size: The user's ``buffer_size`` or None.
        byte_limit: The user's ``byte_limit`` or None.

    Returns:
        ``(buffer_size, byte_limit)`` to pass to :meth:`BatchLimits.create`.
    """
    if isinstance(method, str) and method.lower() == "post":
        if buffer_size is None:
            buffer_size = THROUGHPUT_POST_BUFFER_SIZE
        if byte_limit is None:
            byte_limit = THROUGHPUT_BYTE_LIMIT
    return buffer_size, byte_limit


class Batcher:
    """Accumulates encoded events and releases them in batches that respect :class:`BatchLimits`.

    Args:
        limits: The rules to apply.
    """

    __slots__ = ("_bytes", "_events", "_started", "limits")

    def __init__(self, limits: BatchLimits) -> None:
        self.limits = limits
        self._events: List[bytes] = []
        self._bytes = 0
        self._started = 0.0

    def __len__(self) -> int:
        return len(self._events)

    @property
    def nbytes(self) -> int:
        """Bytes the buffered events will take on the wire."""
        return self._bytes

    def add(self, event: bytes, keep_full: bool = False) -> List[List[bytes]]:
        """Buffer one event; return the batches that became ready (usually none or one).

        Args:
            event: Bytes from :func:`snowplow_tracker.protocol.wire.encode_event`.
            keep_full: Keep a batch this event fills (see :meth:`is_full`) for the owner to
                drain; a batch the event does not fit into is still returned.
        """
        limits = self.limits
        ready: List[List[bytes]] = []
        cost = event_cost(event, limits.method)
        if (
            limits.byte_limit is not None
            and self._events
            and self._bytes + cost > limits.byte_limit
        ):
            ready.append(self.drain())
        if not self._events:
            self._started = time.monotonic()
            # A POST body also carries the payload_data envelope: count it once per batch.
            self._bytes = POST_ENVELOPE_OVERHEAD if limits.method == "post" else 0
        self._events.append(event)
        self._bytes += cost
        if not keep_full and self.is_full():
            ready.append(self.drain())
        return ready

    def is_full(self) -> bool:
        """Whether the buffered events reach ``buffer_size`` or ``byte_limit``."""
        limits = self.limits
        return len(self._events) >= limits.buffer_size or (
            limits.byte_limit is not None and self._bytes >= limits.byte_limit
        )

    def extend(self, events: List[bytes]) -> List[List[bytes]]:
        """Buffer many events; return the batches that became ready."""
        ready: List[List[bytes]] = []
        for event in events:
            ready.extend(self.add(event))
        return ready

    def events(self) -> List[bytes]:
        """A copy of the buffered events, oldest first."""
        return list(self._events)

    def drain(self) -> List[bytes]:
        """Take every buffered event as one batch (possibly empty)."""
        events, self._events, self._bytes = self._events, [], 0
        return events

    def drain_batches(self) -> List[List[bytes]]:
        """Take every buffered event, cut into batches within the limits (none when empty)."""
        return split_batches(self.drain(), self.limits)

    def age(self, now: Optional[float] = None) -> float:
        """Seconds since the oldest buffered event arrived (0 when empty)."""
        if not self._events:
            return 0.0
        return (time.monotonic() if now is None else now) - self._started

    def is_stale(self, now: Optional[float] = None) -> bool:
        """True when a partial batch has waited longer than ``limits.max_age``."""
        max_age = self.limits.max_age
        return bool(self._events) and max_age is not None and self.age(now) >= max_age

    def time_to_stale(self, now: Optional[float] = None) -> Optional[float]:
        """Seconds until the partial batch is stale, or None when empty or without ``max_age``."""
        max_age = self.limits.max_age
        if not self._events or max_age is None:
            return None
        return max(0.0, max_age - self.age(now))


def split_batches(events: List[bytes], limits: BatchLimits) -> List[List[bytes]]:
    """Cut ``events`` into batches within ``limits``, in order.

    Args:
        events: Encoded events.
        limits: The batching rules.
    """
    batcher = Batcher(limits)
    ready = batcher.extend(events)
    tail = batcher.drain()
    return [*ready, tail] if tail else ready
