"""Delivery counters reported by ``stats()`` on every emitter."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Dict


@dataclass
class EmitterStats:
    """A snapshot of an emitter's counters, in events unless said otherwise.

    Attributes:
        accepted: Events handed to ``input`` and queued.
        sent: Events the collector accepted (2xx/3xx).
        failed: Events given up on after their retry budget; they went to ``on_failure``.
        retried: Event re-sends after a failed attempt.
        dropped: Events discarded because a bound was reached (queue full, shutdown deadline);
            they went to ``on_failure`` too.
        queued: Events waiting in this process (buffers and queues).
        in_flight: Events handed to senders whose outcome is not known yet.
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

    def as_dict(self) -> Dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


class Counters:
    """Thread-safe running totals behind :class:`EmitterStats`.

    ``accepted`` is the one counter written per event: each emitter increments it under the
    lock its ``input`` already holds (so ``track_*`` takes no second lock), and only there. The
    others change through :meth:`add`, under :attr:`lock`.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted = 0
        self.sent = 0
        self.failed = 0
        self.retried = 0
        self.dropped = 0
        self.restarts = 0
        self.redelivered = 0
        self.throttled = 0

    def add(self, **deltas: int) -> None:
        """Add each keyword's value to the counter of that name."""
        with self.lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def snapshot(self, **extra: int) -> EmitterStats:
        """An :class:`EmitterStats` of the totals plus the gauges given as keywords."""
        with self.lock:
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
