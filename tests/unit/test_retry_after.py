"""``Retry-After`` values (delta-seconds, HTTP-date), the policy's cap, and the sender's hold."""

from __future__ import annotations

from email.utils import formatdate
from typing import Optional

import pytest

from snowplow_tracker.delivery.retry import RetryPolicy, parse_retry_after
from snowplow_tracker.delivery.throttle import Throttle
from snowplow_tracker.emitters.process import ipc

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        ("120", 120.0),
        (formatdate(NOW + 7, usegmt=True), 7.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: no wait
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("1.5", None),
        ("\u0663", None),  # a digit, but not an ASCII one
        ("Wed, 21 Oct 2015 07:28:00", None),  # no zone: not an HTTP-date
        ("Wed, 99 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_retry_after_is_delta_seconds_or_an_http_date(
    value: Optional[str], seconds: Optional[float]
) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_policy_holds_for_429_and_503_only_capped_at_max_retry_after() -> None:
    policy = RetryPolicy(max_retry_after=10)
    assert policy.max_retry_after == 10
    assert RetryPolicy().max_retry_after == 60.0
    assert policy.hold(429, "3") == 3.0
    assert policy.hold(503, "3") == 3.0
    assert policy.hold(503, "3600") == 10.0
    assert policy.hold(500, "3") is None
    assert policy.hold(429, None) is None
    assert policy.hold(429, "soon") is None
    assert policy.hold(None, "3") is None


def test_no_hold_when_disabled_or_when_the_policy_never_retries() -> None:
    assert RetryPolicy(max_retry_after=0).hold(429, "3") is None
    assert RetryPolicy.never().hold(429, "3") is None


def test_a_throttle_keeps_the_later_hold_and_reports_each() -> None:
    holds = []
    throttle = Throttle(on_hold=lambda: holds.append(1))
    assert throttle.remaining() == 0.0
    throttle.hold(100)
    throttle.hold(1)  # an earlier end does not shorten the hold
    assert 99 < throttle.remaining() <= 100
    assert len(holds) == 2


def test_the_throttled_message_round_trips() -> None:
    message = ipc.pack_throttled(3)
    assert message[:1] == ipc.THROTTLED
    assert ipc.unpack_throttled(message) == 3
