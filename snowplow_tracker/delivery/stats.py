"""Delivery counters reported by ``stats()`` on every emitter.

Every emitter's ``stats()`` is one consistent snapshot: the counters and the gauges are read
under the one lock that guards them, and every event that leaves a gauge is counted in the same
step (under that lock) where it goes. So at every moment, for every emitter::

    accepted == queued + in_flight + sent + failed + dropped

Each event handed to ``input`` is in exactly one of the five: waiting in this process
(``queued``), handed on and not settled (``in_flight``), or settled (``sent``, ``failed``,
``dropped``). ``retried``, ``restarts`` and ``redelivered`` count occurrences, not events,
and are outside the identity. (With an ``event_store`` of the application's, ``queued`` is its
``size()``, which changes outside the emitter's lock: the identity holds whenever the store is
not being changed.)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Dict, Optional


class CounterRecord:
    """Base of the dataclasses of counters (``EmitterStats``, ``WorkerStats``)."""

    def as_dict(self) -> Dict[str, int]:
        """The counters as a plain dict."""
        return dict(vars(self))


@dataclass
class EmitterStats(CounterRecord):
    """A snapshot of an emitter's counters, in events unless said otherwise.

    ``accepted == queued + in_flight + sent + failed + dropped`` in every snapshot (see the
    module docstring).

    Attributes:
        accepted: Events handed to ``input`` (including those dropped at once because a bound
            was reached), and events handed to ``send_events`` that were not buffered first.
        sent: Events the collector accepted (2xx/3xx); for ``RedisEmitter`` pushed to Redis,
            for ``CeleryEmitter`` handed to the broker.
        failed: Events given up on after their retry budget, or refused by the collector for
            good; they went to ``on_failure``.
        retried: Event re-sends after a failed attempt.
        dropped: Events discarded because a bound was reached (queue full, shutdown deadline,
            including a batch still waiting to retry when ``close()`` gave up); they went to
            ``on_failure`` too.
        queued: Events waiting in this process (buffers and queues).
        in_flight: Events handed to senders (a thread, a process, a request) whose outcome is
            not counted yet.
        queued_bytes: Bytes of encoded events this process holds for delivery (``queued`` and
            ``in_flight`` together); bounded by ``max_queue_bytes`` on the emitters that hold
            events in the host (``ProcessEmitter``, ``AsyncEmitter``, ``RedisEmitter``).
        senders_alive: Sender processes or threads running.
        restarts: Sender processes replaced after they died.
        redelivered: Events handed again to a sender after the one holding them died (they may
            reach the collector twice).
        throttled: Collector answers (429 or 503) whose ``Retry-After`` the emitter obeyed: its
            requests to the collector were held until then (capped by the retry policy's
            ``max_retry_after``). Counted per answer, not per event.
    """

    accepted: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    dropped: int = 0
    queued: int = 0
    queued_bytes: int = 0
    in_flight: int = 0
    senders_alive: int = 0
    restarts: int = 0
    redelivered: int = 0
    throttled: int = 0


class Counters:
    """Running totals behind :class:`EmitterStats`, guarded by one lock.

    The emitter passes the lock that also guards its queues (or uses :attr:`lock` for them), so
    that an event moves from a gauge to a counter in one step and :meth:`snapshot_locked`, taken
    with the gauges under that lock, always satisfies the identity of the module docstring.

    Args:
        lock: The emitter's lock; default: a new one.
    """

    def __init__(self, lock: Optional[Any] = None) -> None:
        self.lock: Any = threading.Lock() if lock is None else lock
        self.accepted = 0
        self.sent = 0
        self.failed = 0
        self.retried = 0
        self.dropped = 0
        self.restarts = 0
        self.redelivered = 0
        self.throttled = 0

    def add(self, **deltas: int) -> None:
        """Add each keyword's value to the counter of that name (takes :attr:`lock`)."""
        with self.lock:
            self.add_locked(**deltas)

    def add_locked(self, **deltas: int) -> None:
        """:meth:`add`, for a caller that holds :attr:`lock`."""
        for name, delta in deltas.items():
            setattr(self, name, getattr(self, name) + delta)

    def snapshot(self, **extra: int) -> EmitterStats:
        """An :class:`EmitterStats` of the totals plus the gauges given as keywords."""
        with self.lock:
            return self.snapshot_locked(**extra)

    def snapshot_locked(self, **extra: int) -> EmitterStats:
        """:meth:`snapshot`, for a caller that holds :attr:`lock` (and read the gauges under
        it)."""
        return EmitterStats(
            accepted=self.accepted,
            sent=self.sent,
            failed=self.failed,
            retried=self.retried,
            dropped=self.dropped,
            restarts=self.restarts,
            redelivered=self.redelivered,
            throttled=self.throttled,
            **extra,
        )
