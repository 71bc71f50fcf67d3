"""What one sender keeps about its collector: the "not before" time of its requests
(``Retry-After``), and the throttled record of a certificate it cannot verify."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

from .._logging import ThrottledLog

#: Seconds between two ERROR records of one sender about a certificate it cannot verify.
CERTIFICATE_LOG_INTERVAL = 60.0


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
        #: The sender's record of a collector certificate it cannot verify: logged at ERROR at
        #: once, then at most once per :data:`CERTIFICATE_LOG_INTERVAL`.
        self.certificate_log = ThrottledLog(CERTIFICATE_LOG_INTERVAL, logging.ERROR)

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
