"""Retry policy shared by every emitter that retries: exponential backoff with jitter."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import FrozenSet, Optional

from .. import arguments as _args

#: Statuses that are never retried: the collector will answer the same again (as the 1.x tracker).
DEFAULT_NO_RETRY_STATUSES: FrozenSet[int] = frozenset({400, 401, 403, 410, 422})
#: Statuses saying a request was too large (413 body, 414 URL): never retried as they are,
#: whatever the policy; the same request would be refused again.
TOO_LARGE_STATUSES: FrozenSet[int] = frozenset({413, 414})
#: Of those, the ones a smaller batch may avoid: the batch is split in halves and sent again.
SPLIT_STATUSES: FrozenSet[int] = frozenset({413})
#: Statuses whose ``Retry-After`` header is obeyed (too many requests, service unavailable).
RETRY_AFTER_STATUSES: FrozenSet[int] = frozenset({429, 503})
#: Default most seconds a ``Retry-After`` is obeyed for (:attr:`RetryPolicy.max_retry_after`).
DEFAULT_MAX_RETRY_AFTER = 60.0


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds a ``Retry-After`` header asks to wait: delta-seconds or an HTTP-date.

    Args:
        value: The header's value, or None when the answer had none.
        now: ``time.time()`` to measure an HTTP-date from (default: now).

    Returns:
        The seconds (0 for a date in the past), or None when ``value`` is absent or cannot be
        parsed (the retry then waits the backoff only).
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110: an HTTP-date is in GMT
        return None
    seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def is_success(status: int) -> bool:
    """Any 2xx or 3xx answer means the collector accepted the request."""
    return 200 <= status < 400


def should_split(status: int, events: int) -> bool:
    """Whether a batch of ``events`` answered ``status`` is split in halves and sent again
    (a 413 to more than one event); a single event answered 413 fails alone.

    Args:
        status: The HTTP status answered.
        events: How many events the request carried.
    """
    return status in SPLIT_STATUSES and events > 1


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed request is retried.

    A network error (refused, reset, timeout, garbage) and any status that is neither a success,
    nor in ``no_retry_statuses``, nor 413/414 (:data:`TOO_LARGE_STATUSES`, never retried as they
    are) are retried after ``base_delay * 2**attempt`` seconds, capped at ``max_delay``, with up
    to ``jitter`` of that delay removed at random (so that many senders do not retry in step).
    A batch gives up, and its events go to ``on_failure``, once ``max_attempts`` attempts were
    made or ``deadline`` seconds passed since its first attempt.

    A 429 or 503 answer with a ``Retry-After`` header (delta-seconds or an HTTP-date) holds
    every request of that sender to the collector until then, capped at ``max_retry_after``
    seconds: the retry waits the longer of its backoff and that hold. A policy of one attempt
    (:meth:`never`) does not wait for it.

    Attributes:
        max_attempts: Attempts per batch including the first (default 8); None for no limit
            (then ``deadline`` must be set).
        deadline: Seconds after the first attempt after which a batch gives up (default 300);
            None for no limit.
        base_delay: Seconds before the first retry (default 0.5).
        max_delay: Upper bound of one delay in seconds (default 60).
        jitter: Fraction of each delay that is randomised, 0 to 1 (default 0.5).
        no_retry_statuses: Statuses that fail at once (default 400, 401, 403, 410, 422).
        max_retry_after: Most seconds a ``Retry-After`` header holds the sender (default 60);
            a longer one is cut to it, 0 ignores the header.
    """

    max_attempts: Optional[int] = 8
    deadline: Optional[float] = 300.0
    base_delay: float = 0.5
    max_delay: float = 60.0
    jitter: float = 0.5
    no_retry_statuses: FrozenSet[int] = field(default=DEFAULT_NO_RETRY_STATUSES)
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER

    def __post_init__(self) -> None:
        where = "RetryPolicy"
        attempts = self.max_attempts
        if attempts is not None and (not _args.is_integer(attempts) or attempts < 1):
            _args.fail(where, "max_attempts", "an integer >= 1 or None", attempts)  # text pinned
        if self.max_attempts is None and self.deadline is None:
            _args.refuse(
                where,
                "'max_attempts' and 'deadline' cannot both be None (retries would be unbounded)",
            )
        for name in ("deadline", "base_delay", "max_delay", "max_retry_after"):
            value = getattr(self, name)
            if value is not None or name != "deadline":
                _args.non_negative_number(where, name, value)
        _args.number_between(where, "jitter", self.jitter, 0, 1)
        object.__setattr__(self, "no_retry_statuses", frozenset(self.no_retry_statuses))

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that makes one attempt only (the synchronous ``Emitter``'s default)."""
        return cls(max_attempts=1, deadline=None)

    def is_retryable(self, status: Optional[int]) -> bool:
        """Whether a failed attempt may be retried; ``status`` None means a network error."""
        return status is None or (
            not is_success(status)
            and status not in self.no_retry_statuses
            and status not in TOO_LARGE_STATUSES
        )

    @property
    def retries(self) -> bool:
        """Whether a failed attempt may ever be retried (more than one attempt allowed)."""
        return self.max_attempts is None or self.max_attempts > 1

    def hold(self, status: Optional[int], retry_after: Optional[str]) -> Optional[float]:
        """Seconds an answer holds the sender's requests: its ``Retry-After``, capped.

        Args:
            status: The HTTP status answered (None after a network error).
            retry_after: The answer's ``Retry-After`` header, or None.

        Returns:
            The seconds to hold, or None when the answer asks for no hold (not a 429 or 503,
            no or an unparsable header, ``max_retry_after`` 0, or a policy that never retries).
        """
        if status not in RETRY_AFTER_STATUSES or not self.max_retry_after or not self.retries:
            return None
        seconds = parse_retry_after(retry_after)
        return None if seconds is None else min(seconds, self.max_retry_after)

    def delay(self, attempt: int, rng: Optional[random.Random] = None) -> float:
        """Seconds to wait after the ``attempt``-th failed attempt (1-based)."""
        # A float power, bounded: an int power would overflow float() after ~1000 attempts.
        raw = min(self.max_delay, self.base_delay * 2.0 ** min(max(0, attempt - 1), 1000))
        if self.jitter:
            raw -= raw * self.jitter * (rng or random).random()
        return raw

    def may_retry(self, attempts: int, elapsed: float, next_delay: float = 0.0) -> bool:
        """Whether another attempt is allowed after ``attempts`` attempts and ``elapsed`` s."""
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return False
        return self.deadline is None or elapsed + next_delay <= self.deadline
