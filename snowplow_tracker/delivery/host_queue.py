"""The host queue: what an in-host emitter holds for delivery, bounded and accounted for.

``AsyncEmitter``, ``ProcessEmitter`` and ``RedisEmitter`` each hold one :class:`HostQueue`. It
owns, under one lock:

- the bounds: ``room`` (bytes that may still enter, under ``max_bytes``) and ``event_room``
  (events, under ``max_events``); a closed queue has no room, so that a caller's fast path
  falls to its slow path;
- the units waiting (``ready``, first in first out) and those taken by a sender
  (``in_flight``, by ticket), with their event counts: the gauges of ``stats()``;
- the counters (:class:`~snowplow_tracker.delivery.stats.Counters`, on the same lock), so that
  ``accepted == queued + in_flight + sent + failed + dropped`` holds in every snapshot;
- the drop accounting: a dropped event is counted at once, kept for ``on_failure`` and
  reported with one throttled log record;
- the flush barrier: every unit gets an increasing ticket, and :meth:`HostQueue.wait_locked`
  waits until no unit older than a given ticket is held;
- the memory give-back: the peak of bytes held, and a trim of the heap once a burst drained
  (:mod:`snowplow_tracker.delivery.memory`).

What a unit is varies by emitter (a sealed micro-batch message, a batch of joined events, a
chunk of up to 1,000 events for one ``RPUSH``): anything with the attributes of :class:`Unit`.
After ``os.fork()`` an emitter builds a new queue (fresh lock, counters and units: the parent
keeps its own).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, Generic, Iterable, List, Optional, Protocol, TypeVar

from .._logging import ThrottledLog
from .event_chunks import Chunk
from .memory import HeapWatermark, give_back_memory
from .stats import Counters

__all__ = ["NO_LIMIT", "HostQueue", "Unit"]

#: ``max_events`` when events are bounded by bytes only.
NO_LIMIT = sys.maxsize


class Unit(Protocol):
    """What a host queue holds: some events, sent and acknowledged together."""

    ticket: int  # set by HostQueue.put_locked
    count: int  # events in the unit
    left: int  # events whose outcome is not counted yet
    size: int  # bytes counted against the byte bound


U = TypeVar("U", bound=Unit)


class HostQueue(Generic[U]):
    """Units of events held for delivery, bounded in bytes and events (see the module).

    Not a thread: the emitter's threads call it, holding :attr:`lock` for the ``_locked``
    methods.

    Args:
        max_bytes: Bytes of events held at most.
        max_events: Events held at most (None: no bound but bytes).
        full_message: The log record of drops (``%d`` for their number), logged at most every
            10 s.
        notify: The emitter's callbacks for outcomes already counted, ``(sent, failed)``:
            :meth:`report_drops` passes the dropped events as failed. None: the emitter
            reports them itself.
        counters: The emitter's counters (default: new ones); their lock is the queue's.
        keep_dropped: Bytes of dropped events kept for ``notify`` before :meth:`drop_locked`
            asks its caller to report them (0: do not keep them).

    The queue is closed (no room) until :meth:`open_locked`.
    """

    def __init__(
        self,
        max_bytes: int,
        max_events: Optional[int],
        full_message: str,
        notify: Optional[Callable[[List[bytes], List[Any]], None]] = None,
        counters: Optional[Counters] = None,
        keep_dropped: int = 0,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_events = NO_LIMIT if max_events is None else max_events
        self.full_message = full_message
        self.notify = notify
        self.keep_dropped = keep_dropped
        self.counters = Counters() if counters is None else counters
        self.lock: Any = self.counters.lock
        self.changed = threading.Condition(self.lock)  # a unit left: flush barriers wait here
        self.ready: Deque[U] = deque()
        self.ready_events = 0
        self.in_flight: Dict[int, U] = {}  # by ticket, oldest first
        self.in_flight_events = 0
        self.next_ticket = 1
        self.room = 0
        self.event_room = 0
        self.opened = False  # it was opened: held_bytes is counted from the bounds
        self.watermark = HeapWatermark()
        self.drop_log = ThrottledLog()
        self.unreported = 0  # drops not logged yet
        self.pile = Chunk()  # dropped events waiting for report_drops
        self.reporting = 0  # piles taken whose report_taken has not ended yet

    # ------------------------------------------------------------------ bounds
    def open_locked(self) -> None:
        """Let units enter, up to the bounds."""
        self.room = self.max_bytes
        self.event_room = self.max_events
        self.opened = True

    def close_locked(self) -> None:
        """Refuse every unit from now on (the bounds read as reached)."""
        self.room = self.event_room = 0

    @property
    def held_bytes(self) -> int:
        """Bytes held (waiting or in flight) while open."""
        return self.max_bytes - self.room if self.opened else 0

    def reserve_locked(self, size: int, count: int, first_fits: bool = False) -> bool:
        """Take ``size`` bytes and ``count`` events of room; False when a bound is reached.

        Args:
            size: Bytes of the events.
            count: Events.
            first_fits: Accept anything while the queue holds no unit (a batch larger than
                the bound is still sent).
        """
        fits = size <= self.room and count <= self.event_room
        if not fits and not (first_fits and self.room and not self.ready and not self.in_flight):
            return False
        self.room -= size
        self.event_room -= count
        self.watermark.note(self.max_bytes - self.room)
        return True

    def free_locked(self, size: int, count: int) -> bool:
        """Give ``size`` bytes and ``count`` events of room back; True when a burst drained
        (then call :meth:`give_back_memory` outside the lock)."""
        self.room += size
        self.event_room += count
        return self.watermark.drained(self.max_bytes - self.room)

    give_back_memory = staticmethod(give_back_memory)

    # ------------------------------------------------------------------ units
    def put_locked(self, unit: U) -> None:
        """Queue a unit whose room was reserved; it gets the next ticket."""
        unit.ticket = self.next_ticket
        self.next_ticket += 1
        self.ready.append(unit)
        self.ready_events += unit.left

    def take_locked(self) -> U:
        """Take the oldest waiting unit: it is in flight from now on."""
        unit = self.ready.popleft()
        self.ready_events -= unit.left
        self.in_flight[unit.ticket] = unit
        self.in_flight_events += unit.left
        return unit

    def requeue_locked(self, units: Iterable[U]) -> int:
        """Put units in flight back at the head of the queue, in their order; returns how many
        events (not yet counted) they hold."""
        moved = 0
        for unit in reversed(list(units)):
            if self.in_flight.pop(unit.ticket, None) is None:
                continue
            self.in_flight_events -= unit.left
            self.ready.appendleft(unit)
            self.ready_events += unit.left
            moved += unit.left
        return moved

    def land_locked(self, unit: U, events: Optional[int] = None) -> None:
        """``events`` (default: all that are left) of a unit in flight have their outcome
        counted (the caller counts it, under the lock)."""
        n = unit.left if events is None else events
        unit.left -= n
        self.in_flight_events -= n

    def release_locked(self, unit: U) -> bool:
        """A unit in flight is done (counted and reported): forget it, free its room, wake the
        flush barriers. Returns :meth:`free_locked`'s answer."""
        if self.in_flight.pop(unit.ticket, None) is not None and unit.left:
            self.land_locked(unit)
        self.changed.notify_all()
        return self.free_locked(unit.size, unit.count)

    def take_ready_locked(self) -> List[U]:
        """Remove the waiting units and free their room (the caller counts their events)."""
        units = list(self.ready)
        self.ready.clear()
        self.ready_events = 0
        self.free_locked(sum(u.size for u in units), sum(u.count for u in units))
        return units

    def clear_locked(self) -> List[U]:
        """Remove every unit, waiting or in flight (at a shutdown deadline); the caller counts
        their events and frees nothing (the queue is being replaced or closed)."""
        units = list(self.in_flight.values()) + list(self.ready)
        self.in_flight.clear()
        self.ready.clear()
        self.in_flight_events = self.ready_events = 0
        self.changed.notify_all()
        return units

    # ------------------------------------------------------------------ flush barrier
    def pending_ready_locked(self, target: int) -> bool:
        """Whether a waiting unit has a ticket below ``target``."""
        ready = self.ready
        return bool(ready) and ready[0].ticket < target  # the head is the oldest

    def pending_locked(self, target: int) -> bool:
        """Whether a unit with a ticket below ``target`` is still held."""
        if self.pending_ready_locked(target):
            return True
        return any(ticket < target for ticket in self.in_flight)

    def wait_locked(
        self,
        target: int,
        deadline: Optional[float],
        check: Optional[Callable[[], bool]] = None,
    ) -> bool:
        """Wait until no unit with a ticket below ``target`` is held.

        Args:
            target: :attr:`next_ticket` when the flush began.
            deadline: ``time.monotonic()`` to give up at, or None.
            check: Called before each wait; True ends the wait at once (it may raise).

        Returns:
            True when done, False when ``deadline`` passed first.
        """
        while self.pending_locked(target):
            if check is not None and check():
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self.changed.wait(1.0 if remaining is None else min(remaining, 1.0))
        return True

    # ------------------------------------------------------------------ drops
    def drop_locked(self, count: int, events: Iterable[bytes] = ()) -> bool:
        """Count ``count`` events dropped (a bound was reached; the caller counted them as
        accepted) and keep ``events`` for :meth:`report_drops` when ``keep_dropped``.

        Returns:
            True when the kept events exceed ``keep_dropped`` bytes: report them now.
        """
        self.counters.dropped += count
        self.unreported += count
        if self.keep_dropped:
            pile = self.pile
            for event in events:
                pile.append(event)
            return len(pile.data) > self.keep_dropped
        return False

    def take_drops_locked(self) -> List[bytes]:
        """The kept dropped events, for :meth:`report_taken` outside the lock (which must
        follow: :meth:`settle_drops` waits for it)."""
        pile, self.pile = self.pile, Chunk()
        self.reporting += 1
        return pile.events() if len(pile) else []

    def report_taken(self, events: List[Any]) -> None:
        """:meth:`report_drops` for the events of :meth:`take_drops_locked`."""
        try:
            self.report_drops(events)
        finally:
            with self.lock:
                self.reporting -= 1
                self.changed.notify_all()

    def settle_drops(self, deadline: Optional[float]) -> bool:
        """Report the kept drops in this thread and wait for the reports other threads are
        making: afterwards ``notify`` has seen every drop counted so far.

        Args:
            deadline: ``time.monotonic()`` to give up at, or None.

        Returns:
            True when done, False when ``deadline`` passed first.
        """
        with self.lock:
            events = self.take_drops_locked()
        self.report_taken(events)
        with self.lock:
            while self.reporting:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self.changed.wait(1.0 if remaining is None else min(remaining, 1.0))
        return True

    def report_drops(self, events: List[Any]) -> None:
        """Log the drops (throttled) and pass ``events`` (already counted) to ``notify``."""
        with self.lock:
            count, self.unreported = self.unreported, 0
        if count:
            self.drop_log.log(self.full_message, count)
        if events and self.notify is not None:
            self.notify([], events)
