"""The "not before" time of one sender's requests to its collector (``Retry-After``)."""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional


class Throttle:
    """When a sender's next request to its collector may start, after a ``Retry-After``.

    One throttle is shared by every request a sender makes to its collector (every thread of an
    ``AsyncEmitter``, every request thread of a ``ProcessEmitter`` sender), so a 429 holds the
    sender's whole stream, not only the refused batch. Thread-safe.

    Args:
        on_hold: Called (outside the lock, on the thread that got the answer) each time a
            ``Retry-After`` is obeyed: the emitters count it in ``stats().throttled``.
    """

    def __init__(self, on_hold: Optional[Callable[[], None]] = None) -> None:
        self._lock = threading.Lock()
        self._not_before = 0.0  # time.monotonic()
        self._on_hold = on_hold

    def hold(self, seconds: float) -> None:
        """Hold requests for ``seconds`` from now (a later hold already set is kept).

        Args:
            seconds: How long, >= 0.
        """
        until = time.monotonic() + seconds
        with self._lock:
            if until > self._not_before:
                self._not_before = until
        if self._on_hold is not None:
            self._on_hold()

    def remaining(self) -> float:
        """Seconds until requests may start again (0 when they may now)."""
        with self._lock:
            not_before = self._not_before
        return max(0.0, not_before - time.monotonic())
