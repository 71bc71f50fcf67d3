"""Unit tests of :mod:`snowplow_tracker.delivery.retry`: success statuses, retryability, backoff,
budget."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from snowplow_tracker.delivery.retry import (
    DEFAULT_NO_RETRY_STATUSES,
    RetryPolicy,
    is_success,
    should_split,
)
from snowplow_tracker.errors import ConfigurationError

# -- is_success ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (199, False),
        (200, True),
        (201, True),
        (204, True),
        (299, True),
        (301, True),
        (302, True),
        (304, True),
        (399, True),
        (400, False),
        (404, False),
        (500, False),
        (503, False),
    ],
)
def test_is_success_means_any_2xx_or_3xx(status: int, expected: bool) -> None:
    assert is_success(status) is expected


# -- retryable statuses -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [None, 404, 408, 429, 500, 502, 503, 504, 599])
def test_network_errors_and_other_failures_are_retryable(status: Any) -> None:
    assert RetryPolicy().is_retryable(status)


@pytest.mark.parametrize("status", [400, 401, 403, 410, 422])
def test_default_no_retry_statuses_are_never_retried(status: int) -> None:
    assert status in DEFAULT_NO_RETRY_STATUSES
    assert not RetryPolicy().is_retryable(status)


def test_default_no_retry_statuses_are_those_of_the_1x_tracker() -> None:
    assert frozenset({400, 401, 403, 410, 422}) == DEFAULT_NO_RETRY_STATUSES


@pytest.mark.parametrize("status", [200, 302])
def test_successes_are_not_retried(status: int) -> None:
    assert not RetryPolicy().is_retryable(status)


def test_custom_no_retry_statuses_replace_the_defaults() -> None:
    policy = RetryPolicy(no_retry_statuses=[404, 501])  # type: ignore[arg-type]
    assert policy.no_retry_statuses == frozenset({404, 501})
    assert not policy.is_retryable(404)
    assert not policy.is_retryable(501)
    assert policy.is_retryable(400)
    assert policy.is_retryable(503)
    assert policy.is_retryable(None)


@pytest.mark.parametrize("status", [413, 414])
@pytest.mark.parametrize("no_retry", [DEFAULT_NO_RETRY_STATUSES, frozenset()])
def test_too_large_statuses_are_never_retried_whatever_the_policy(
    status: int, no_retry: Any
) -> None:
    """The same request would be refused again (413 body, 414 URL)."""
    assert not RetryPolicy(no_retry_statuses=no_retry).is_retryable(status)


@pytest.mark.parametrize(
    ("status", "events", "expected"),
    [(413, 2, True), (413, 100, True), (413, 1, False), (414, 10, False), (503, 10, False)],
)
def test_only_a_413_to_several_events_splits_the_batch(
    status: int, events: int, expected: bool
) -> None:
    assert should_split(status, events) is expected


# -- delay --------------------------------------------------------------------------------------


def test_delay_doubles_from_base_delay_without_jitter() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=60, jitter=0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_delay_is_capped_at_max_delay() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3, jitter=0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_delay_stays_capped_after_very_many_attempts() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=60, jitter=0, max_attempts=None)
    assert policy.delay(5000) == 60.0
    assert RetryPolicy(base_delay=0, jitter=0).delay(5000) == 0.0


def test_delay_before_the_first_attempt_is_base_delay() -> None:
    assert RetryPolicy(base_delay=0.25, jitter=0).delay(0) == 0.25


@pytest.mark.parametrize("jitter", [0.1, 0.5, 1.0])
def test_jitter_removes_at_most_its_fraction_of_the_delay(jitter: float) -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8, jitter=jitter)
    rng = random.Random(1234)
    for attempt in range(1, 8):
        raw = min(8.0, 2.0 ** (attempt - 1))
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(raw * (1 - jitter) <= d <= raw for d in delays)
        assert max(delays) - min(delays) > raw * jitter * 0.5  # really randomised


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    policy = RetryPolicy()
    first = [policy.delay(n, random.Random(7)) for n in range(1, 6)]
    second = [policy.delay(n, random.Random(7)) for n in range(1, 6)]
    assert first == second


def test_default_delays_follow_the_documented_defaults() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts == 8
    assert policy.deadline == 300.0
    assert policy.base_delay == 0.5
    assert policy.max_delay == 60.0
    assert policy.jitter == 0.5
    assert 0.25 <= policy.delay(1, random.Random(0)) <= 0.5
    assert 30.0 <= policy.delay(20, random.Random(0)) <= 60.0


# -- may_retry ----------------------------------------------------------------------------------


def test_may_retry_until_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, deadline=None)
    assert policy.may_retry(1, elapsed=0)
    assert policy.may_retry(2, elapsed=1e9)
    assert not policy.may_retry(3, elapsed=0)
    assert not policy.may_retry(4, elapsed=0)


def test_may_retry_until_the_deadline_including_the_next_delay() -> None:
    policy = RetryPolicy(max_attempts=None, deadline=10)
    assert policy.may_retry(1000, elapsed=9.0)
    assert policy.may_retry(1, elapsed=8.0, next_delay=2.0)
    assert not policy.may_retry(1, elapsed=8.0, next_delay=2.5)
    assert not policy.may_retry(1, elapsed=10.5)


def test_may_retry_stops_at_whichever_limit_comes_first() -> None:
    policy = RetryPolicy(max_attempts=5, deadline=10)
    assert not policy.may_retry(5, elapsed=0)
    assert not policy.may_retry(1, elapsed=11)
    assert policy.may_retry(4, elapsed=9)


def test_never_makes_one_attempt_only() -> None:
    policy = RetryPolicy.never()
    assert policy.max_attempts == 1
    assert policy.deadline is None
    assert not policy.may_retry(1, elapsed=0)
    assert policy.no_retry_statuses == DEFAULT_NO_RETRY_STATUSES


def test_policy_is_immutable() -> None:
    policy = RetryPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_attempts = 3  # type: ignore[misc]


# -- validation ---------------------------------------------------------------------------------


#: (argument, invalid value, what the message says it must be)
INVALID = [
    *(("max_attempts", bad, "an integer >= 1 or None") for bad in (0, -1, 1.5, "3", True)),
    *(
        (name, bad, "a number >= 0")
        for name in ("deadline", "base_delay", "max_delay", "max_retry_after")
        for bad in (-0.1, "1", True, float("nan"))
    ),
    *(
        ("jitter", bad, "a number from 0 to 1")
        for bad in (-0.1, 1.5, "0.5", None, True, float("nan"))
    ),
]


@pytest.mark.parametrize(("name", "bad", "expected"), INVALID)
def test_an_invalid_argument_is_refused_with_its_rule_and_value(
    name: str, bad: Any, expected: str
) -> None:
    """max_attempts: int >= 1 or None; deadline and delays: numbers >= 0; jitter: 0 to 1."""
    with pytest.raises(ConfigurationError) as info:
        RetryPolicy(**{name: bad})
    assert str(info.value) == f"RetryPolicy: argument '{name}' must be {expected}, got {bad!r}"


def test_max_attempts_and_deadline_cannot_both_be_none() -> None:
    with pytest.raises(ConfigurationError, match="'max_attempts' and 'deadline' cannot both"):
        RetryPolicy(max_attempts=None, deadline=None)


@pytest.mark.parametrize("name", ["base_delay", "max_delay"])
def test_delays_may_not_be_none(name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"argument '{name}'"):
        RetryPolicy(**{name: None})  # type: ignore[arg-type]


def test_zero_delays_and_jitter_bounds_are_valid() -> None:
    policy = RetryPolicy(base_delay=0, max_delay=0, jitter=1, deadline=0)
    assert policy.delay(3) == 0.0
    assert RetryPolicy(jitter=0).jitter == 0
