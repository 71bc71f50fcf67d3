"""Event stores: where an emitter keeps the events it has not sent yet (the 1.x protocol).

An :class:`EventStore` holds payload dicts: the emitter adds each event, takes a batch to send,
then calls :meth:`~EventStore.cleanup` with the batch, asking for a retry when sending failed (the
events go back to the store). :class:`InMemoryEventStore` is the bounded in-memory store of
tracker 1.x. A user's store (one that persists events, say) can be handed to the emitters that
accept ``event_store=``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Dict, List, Optional, Protocol, runtime_checkable

from .. import arguments as _args
from .._logging import logger as _package_logger
from ..protocol.wire import decode_events

PayloadDict = Dict[str, str]


@runtime_checkable
class EventStore(Protocol):
    """The protocol of an event buffer used by an emitter."""

    def add_event(self, payload: PayloadDict) -> bool:
        """Add one event; return False when it was dropped (the store is full).

        Args:
            payload: The event's fields.
        """
        ...

    def get_events_batch(self) -> List[PayloadDict]:
        """Take every event in the store (they leave it until :meth:`cleanup` returns them)."""
        ...

    def cleanup(self, batch: List[PayloadDict], need_retry: bool) -> None:
        """Finish with a batch: forget it once sent, or put it back to be retried.

        Args:
            batch: The events of a batch taken with :meth:`get_events_batch`.
            need_retry: Whether the events must be sent again.
        """
        ...

    def size(self) -> int:
        """Return the number of events in the store."""
        ...


class InMemoryEventStore:
    """A bounded in-memory event store (tracker 1.x's default, 10,000 events).

    When the store is full a new event is dropped, counted in :attr:`dropped` and logged at
    ERROR, at most once a second (the payload itself only at DEBUG). Thread-safe.

    Args:
        logger: Where drops are logged; the ``snowplow_tracker`` logger when None.
        buffer_capacity: The most events held at once, at least 1.

    Raises:
        ConfigurationError: ``buffer_capacity`` is not an integer of at least 1.
    """

    def __init__(
        self, logger: Optional[logging.Logger] = None, buffer_capacity: int = 10_000
    ) -> None:
        _args.optional_instance("InMemoryEventStore", "logger", logger, logging.Logger)
        _args.count("InMemoryEventStore", "buffer_capacity", buffer_capacity, minimum=1)
        #: The events held, oldest first.
        self.event_buffer: List[PayloadDict] = []
        #: The most events held at once.
        self.buffer_capacity = buffer_capacity
        #: Where drops are logged.
        self.logger = logger if logger is not None else _package_logger
        #: How many events were dropped because the store was full.
        self.dropped = 0
        self._lock = threading.Lock()
        self._last_drop_log = 0.0

    def add_event(self, payload: PayloadDict) -> bool:
        """Add one event; return False (and count a drop) when the store is full.

        Args:
            payload: The event's fields.
        """
        with self._lock:
            if len(self.event_buffer) >= self.buffer_capacity:
                self._drop(payload)
                return False
            self.event_buffer.append(payload)
            return True

    def get_events_batch(self) -> List[PayloadDict]:
        """Take every event in the store, oldest first."""
        with self._lock:
            batch, self.event_buffer = self.event_buffer, []
            return batch

    def cleanup(self, batch: List[PayloadDict], need_retry: bool) -> None:
        """Forget a sent batch, or put a failed one back (events already back are skipped).

        Args:
            batch: The events of a batch taken with :meth:`get_events_batch`.
            need_retry: Whether the events must be sent again.
        """
        if not need_retry:
            return
        for event in batch:
            with self._lock:
                if any(event is held for held in self.event_buffer):
                    continue
            if not self.add_event(event):
                return

    def size(self) -> int:
        """Return the number of events in the store."""
        return len(self.event_buffer)

    def _drop(self, payload: PayloadDict) -> None:
        self.dropped += 1
        now = time.monotonic()
        if now - self._last_drop_log >= 1.0:
            self._last_drop_log = now
            self.logger.error(
                "Event buffer is full (%d events), dropping event (%d dropped so far).",
                self.buffer_capacity,
                self.dropped,
            )
        self.logger.debug("Dropped event: %r", payload)


class BufferView:
    """Tracker 1.x's ``emitter.event_store`` for an emitter without a store of yours: a
    read-only view of its compact buffer of encoded events.

    Args:
        events: Returns a copy of the buffered encoded events.
        method: The emitter's ``"get"`` or ``"post"`` (how the events are encoded).
        buffer_capacity: The emitter's ``buffer_capacity``, or None.
    """

    def __init__(
        self,
        events: Callable[[], List[bytes]],
        method: str,
        buffer_capacity: Optional[int] = None,
    ) -> None:
        self._events = events
        self._method = method
        #: The emitter's ``buffer_capacity``, or None.
        self.buffer_capacity = buffer_capacity

    @property
    def event_buffer(self) -> List[PayloadDict]:
        """The buffered events, decoded to dicts, oldest first (a copy)."""
        return decode_events(self._events(), self._method)

    def size(self) -> int:
        """Return the number of events buffered."""
        return len(self._events())
