"""Tracker 1.x's emitter spellings, translated into the core's vocabulary in one place.

The core (:mod:`.protocol`, :mod:`.delivery`, :mod:`.emitters`) knows ``buffer_size``, a
:class:`~snowplow_tracker.delivery.retry.RetryPolicy` and queue bounds. Tracker 1.x spelled them
``batch_size``, ``max_retry_delay_seconds`` / ``custom_retry_codes`` and ``buffer_capacity``,
and had emitter helpers (``is_good_status_code``, ``as_collector_uri``...). This module turns
the one into the other (:func:`~snowplow_tracker.settings.resolve` calls it) and holds those
helpers (:class:`EmitterAPI1x`, a base of every HTTP emitter). The 1.x entry points themselves
are :mod:`.snowplow`, :mod:`.emitter_configuration` and :mod:`.tracker_configuration`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Dict, List, Mapping, Optional

from . import arguments as _args
from .delivery.batching import BatchLimits
from .delivery.retry import RetryPolicy, is_success
from .protocol.wire import check_method, collector_urls, sent_timestamp


def buffer_size_of(
    buffer_size: Optional[int], batch_size: Optional[int], where: str
) -> Optional[int]:
    """``batch_size`` (tracker 1.x's name) is an alias of ``buffer_size``: return the one given.

    Raises:
        ConfigurationError: Both are given, with different values.
    """
    if batch_size is None:
        return buffer_size
    if buffer_size is not None and buffer_size != batch_size:
        _args.refuse(
            where,
            f"arguments 'buffer_size' and 'batch_size' are one setting (batch_size is "
            f"tracker 1.x's name): give one of them, got buffer_size={buffer_size!r} and "
            f"batch_size={batch_size!r}",
        )
    return batch_size


def check_retry_code(code: Any, retry: Any, where: str) -> None:
    """Check one ``custom_retry_codes`` entry (tracker 1.x): a failure status -> a bool.

    Args:
        code: The HTTP status: an int from 100 to 599 that is not a success (2xx or 3xx).
        retry: Whether a request answered with it is retried.
        where: The qualified name of the caller, for the error message.

    Raises:
        ConfigurationError: It is not such an entry.
    """
    if (
        isinstance(code, bool)
        or not isinstance(code, int)
        or not 100 <= code < 600
        or is_success(code)
    ):
        _args.fail(
            where,
            "custom_retry_codes",
            "keyed by HTTP statuses that are not a success (2xx and 3xx are)",
            code,
        )
    if not isinstance(retry, bool):
        _args.fail(where, f"custom_retry_codes[{code}]", "True or False", retry)


def with_1x_options(
    policy: RetryPolicy,
    max_retry_delay_seconds: Optional[float] = None,
    custom_retry_codes: Optional[Mapping[int, bool]] = None,
    where: str = "Emitter",
) -> RetryPolicy:
    """Apply tracker 1.x's retry arguments to a policy.

    ``max_retry_delay_seconds`` becomes ``max_delay``; each ``custom_retry_codes`` entry takes
    its status out of ``no_retry_statuses`` (True: retried) or puts it in (False: not
    retried). 413 and 414 are never retried as they are, whatever the entry
    (:data:`~snowplow_tracker.delivery.retry.TOO_LARGE_STATUSES`).

    Args:
        policy: The policy the options change.
        max_retry_delay_seconds: Upper bound of one delay in seconds, or None.
        custom_retry_codes: Status -> whether it is retried, or None.
        where: The qualified name of the caller, for error messages.

    Raises:
        ConfigurationError: An option is invalid.
    """
    changes: Dict[str, Any] = {}
    if max_retry_delay_seconds is not None:
        value = max_retry_delay_seconds
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            value = math.nan  # refused below, with the value given
        if not 0 <= value < math.inf:
            _args.fail(
                where,
                "max_retry_delay_seconds",
                "a number of seconds >= 0 or None",
                max_retry_delay_seconds,
            )
        changes["max_delay"] = float(value)
    if custom_retry_codes is not None:
        if not isinstance(custom_retry_codes, Mapping):
            _args.fail(
                where,
                "custom_retry_codes",
                "a dict of HTTP statuses to True/False",
                custom_retry_codes,
            )
        no_retry = set(policy.no_retry_statuses)
        for code, retry in custom_retry_codes.items():
            check_retry_code(code, retry, where)
            (no_retry.discard if retry else no_retry.add)(code)
        changes["no_retry_statuses"] = frozenset(no_retry)
    return replace(policy, **changes) if changes else policy


class EmitterAPI1x:
    """Tracker 1.x's emitter attributes and helpers, in the core's terms.

    A base of every HTTP emitter; reads the emitter's ``limits`` and ``retry_policy``.
    """

    limits: BatchLimits
    retry_policy: RetryPolicy

    @property
    def batch_size(self) -> int:
        """Events per request batch (tracker 1.x's name of ``buffer_size``)."""
        return self.limits.buffer_size

    @property
    def max_retry_delay_seconds(self) -> float:
        """Upper bound of one retry delay in seconds (the retry policy's ``max_delay``)."""
        return self.retry_policy.max_delay

    @staticmethod
    def is_good_status_code(status_code: int) -> bool:
        """Whether a status means the collector took the request: any 2xx or 3xx.

        Args:
            status_code: An HTTP status (-1 for a failed request).
        """
        return is_success(status_code)

    @staticmethod
    def as_collector_uri(
        endpoint: str, protocol: str = "https", port: Optional[int] = None, method: str = "post"
    ) -> str:
        """The URL events are sent to, with 1.x's defaults (https, POST).

        Args:
            endpoint: Collector host; a scheme in it wins over ``protocol``.
            protocol: ``"http"`` or ``"https"``.
            port: Port, or None for the scheme's default.
            method: ``"get"`` (``/i``) or ``"post"`` (``/com.snowplowanalytics.snowplow/tp2``).

        Raises:
            ConfigurationError: (a ``ValueError``) an argument is invalid, e.g. ``endpoint`` empty.
        """
        where = "Emitter.as_collector_uri"
        get_url, post_url = collector_urls(endpoint, protocol, port, where=where)
        return post_url if check_method(method, where) == "post" else get_url

    @staticmethod
    def attach_sent_timestamp(events: List[Dict[str, Any]]) -> None:
        """Set ``stm``, the send time in milliseconds, in each event dict, in place (1.x).

        The emitters themselves add ``stm`` to the request they send, never to the dicts.

        Args:
            events: Event dicts.
        """
        stm = str(sent_timestamp())
        for event in events:
            event["stm"] = stm
