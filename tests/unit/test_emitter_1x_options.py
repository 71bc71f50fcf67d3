"""Tracker 1.x's emitter options mapped onto the shared components: the retry policy and the
batcher."""

from __future__ import annotations

import pytest

from snowplow_tracker.compat import with_1x_options
from snowplow_tracker.delivery.batching import Batcher, BatchLimits, split_batches
from snowplow_tracker.delivery.retry import DEFAULT_NO_RETRY_STATUSES, RetryPolicy
from snowplow_tracker.errors import ConfigurationError


def test_no_1x_options_keep_the_policy() -> None:
    """Without options the very same policy is returned."""
    policy = RetryPolicy()
    assert with_1x_options(policy) is policy


def test_custom_retry_codes_edit_the_never_retried_statuses() -> None:
    """True takes a status out of ``no_retry_statuses``, False puts it in; others stay."""
    policy = with_1x_options(RetryPolicy(), custom_retry_codes={400: True, 500: False})
    assert policy.no_retry_statuses == (DEFAULT_NO_RETRY_STATUSES - {400}) | {500}
    assert policy.is_retryable(400)
    assert not policy.is_retryable(500)


def test_a_too_large_status_stays_unretried_whatever_the_code_says() -> None:
    """413 and 414 are never retried as they are, even mapped to True."""
    policy = with_1x_options(RetryPolicy(), custom_retry_codes={413: True, 414: True})
    assert not policy.is_retryable(413)
    assert not policy.is_retryable(414)


def test_max_retry_delay_seconds_is_the_max_delay() -> None:
    """The cap applies to every delay."""
    policy = with_1x_options(RetryPolicy(jitter=0), max_retry_delay_seconds=3)
    assert policy.max_delay == 3.0
    assert policy.delay(20) == 3.0


@pytest.mark.parametrize("value", [-1, float("inf"), "60", True])
def test_bad_max_retry_delay_seconds_is_refused(value: object) -> None:
    """A negative, infinite or non-number delay is a clear error naming the argument."""
    with pytest.raises(ConfigurationError, match="'max_retry_delay_seconds' must be a number"):
        with_1x_options(RetryPolicy(), max_retry_delay_seconds=value)  # type: ignore[arg-type]


def test_custom_retry_codes_must_be_a_mapping() -> None:
    """A list is refused with a clear error."""
    with pytest.raises(ConfigurationError, match="'custom_retry_codes' must be a dict"):
        with_1x_options(RetryPolicy(), custom_retry_codes=[400])  # type: ignore[arg-type]


def test_keep_full_leaves_a_full_batch_for_its_owner() -> None:
    """With ``keep_full`` a batch that fills up stays buffered and ``is_full`` says so."""
    batcher = Batcher(BatchLimits("post", buffer_size=2))
    assert batcher.add(b"{}", keep_full=True) == []
    assert not batcher.is_full()
    assert batcher.add(b"{}", keep_full=True) == []
    assert batcher.is_full()
    assert batcher.events() == [b"{}", b"{}"]


def test_split_batches_respects_the_limits_in_order() -> None:
    """Events drained at once are cut into batches within ``buffer_size``, in order."""
    events = [b'{"i":"%d"}' % i for i in range(5)]
    assert split_batches(events, BatchLimits("post", buffer_size=2)) == [
        events[:2],
        events[2:4],
        events[4:],
    ]
    assert split_batches([], BatchLimits("post")) == []
