"""Unit tests of :mod:`snowplow_tracker.delivery.batching`: ``buffer_size``, ``byte_limit``, batch
age."""

from __future__ import annotations

import time
from typing import Any, List
from uuid import uuid4

import pytest

from snowplow_tracker.delivery.batching import (
    DEFAULT_GET_BUFFER_SIZE,
    DEFAULT_POST_BUFFER_SIZE,
    THROUGHPUT_BYTE_LIMIT,
    THROUGHPUT_POST_BUFFER_SIZE,
    Batcher,
    BatchLimits,
    throughput_defaults,
)
from snowplow_tracker.errors import ConfigurationError
from snowplow_tracker.protocol.wire import encode_event, event_cost, get_query, post_body


def event(method: str = "post", label: str = "x") -> bytes:
    payload = {
        "e": "se",
        "se_ca": "c",
        "se_ac": "a",
        "se_la": label,
        "eid": str(uuid4()),
        "tv": "py-test",
        "p": "srv",
    }
    return encode_event(payload, method)


def wire_size(batch: List[bytes], method: str) -> int:
    """Bytes the batch takes when sent (the POST body, or the GET querystrings)."""
    stm = 1_700_000_000_000
    if method == "post":
        return len(post_body(batch, stm))
    return sum(len(get_query(e, stm)) for e in batch)


# -- defaults -----------------------------------------------------------------------------------


def test_default_buffer_size_is_1_for_get_and_10_for_post() -> None:
    assert DEFAULT_GET_BUFFER_SIZE == 1
    assert DEFAULT_POST_BUFFER_SIZE == 10
    assert BatchLimits.create("get").buffer_size == 1
    assert BatchLimits.create("post").buffer_size == 10
    assert BatchLimits.create("POST").method == "post"


def test_defaults_have_no_byte_limit_and_no_max_age() -> None:
    limits = BatchLimits.create("post")
    assert limits.byte_limit is None
    assert limits.max_age is None


def test_create_keeps_given_values_and_makes_max_age_a_float() -> None:
    limits = BatchLimits.create("get", buffer_size=5, byte_limit=1000, max_age=2)
    assert limits == BatchLimits("get", 5, 1000, 2.0)
    assert isinstance(limits.max_age, float)


def test_get_sends_every_event_at_once_by_default() -> None:
    batcher = Batcher(BatchLimits.create("get"))
    e = event("get")
    assert batcher.add(e) == [[e]]
    assert len(batcher) == 0


# -- buffer_size --------------------------------------------------------------------------------


def test_buffer_size_releases_a_batch_when_full() -> None:
    batcher = Batcher(BatchLimits.create("post", buffer_size=3))
    events = [event() for _ in range(7)]
    assert batcher.add(events[0]) == []
    assert batcher.add(events[1]) == []
    assert batcher.add(events[2]) == [events[0:3]]
    assert len(batcher) == 0
    assert batcher.extend(events[3:7]) == [events[3:6]]
    assert len(batcher) == 1
    assert batcher.drain() == [events[6]]
    assert batcher.drain() == []
    assert batcher.nbytes == 0


def test_default_post_batcher_releases_ten_events() -> None:
    batcher = Batcher(BatchLimits.create("post"))
    ready = batcher.extend([event() for _ in range(25)])
    assert [len(b) for b in ready] == [10, 10]
    assert len(batcher) == 5


# -- byte_limit ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_byte_limit_sends_before_a_batch_would_exceed_it(method: str) -> None:
    events = [event(method, label="x" * (i % 7 * 10)) for i in range(60)]
    limit = wire_size(events[:3], method) + 5  # room for 3 events, not 4
    batcher = Batcher(BatchLimits.create(method, buffer_size=1000, byte_limit=limit))
    ready = batcher.extend(events)
    ready.append(batcher.drain())
    assert [e for batch in ready for e in batch] == events  # nothing lost, order kept
    for batch in ready:
        assert len(batch) >= 1
        assert wire_size(batch, method) <= limit
    for batch, following in zip(ready, ready[1:]):
        # A batch left only because the next event would not fit.
        assert wire_size([*batch, following[0]], method) > limit


def test_byte_limit_counts_the_post_body_exactly() -> None:
    batcher = Batcher(BatchLimits.create("post", buffer_size=100, byte_limit=100_000))
    events = [event(label="é" * i) for i in range(5)]
    batcher.extend(events)
    assert batcher.nbytes == wire_size(events, "post")


def test_byte_limit_sends_a_batch_that_reaches_it_exactly() -> None:
    events = [event(), event()]
    limit = wire_size(events, "post")
    batcher = Batcher(BatchLimits.create("post", buffer_size=100, byte_limit=limit))
    assert batcher.add(events[0]) == []
    assert batcher.add(events[1]) == [events]


def test_an_event_larger_than_byte_limit_is_sent_alone() -> None:
    small, big, after = event(), event(label="x" * 500), event()
    limit = wire_size([small, small], "post")
    batcher = Batcher(BatchLimits.create("post", buffer_size=100, byte_limit=limit))
    assert batcher.add(small) == []
    # The buffered event leaves first, then the oversize event on its own.
    assert batcher.add(big) == [[small], [big]]
    assert len(batcher) == 0
    assert batcher.add(after) == []
    assert batcher.drain() == [after]


def test_an_oversize_event_into_an_empty_batcher_is_sent_alone() -> None:
    big = event(label="x" * 500)
    batcher = Batcher(BatchLimits.create("post", buffer_size=100, byte_limit=100))
    assert batcher.add(big) == [[big]]


def test_buffer_size_still_applies_with_a_byte_limit() -> None:
    batcher = Batcher(BatchLimits.create("post", buffer_size=2, byte_limit=1_000_000))
    events = [event() for _ in range(4)]
    assert batcher.extend(events) == [events[:2], events[2:]]


def test_nbytes_uses_the_get_event_cost() -> None:
    batcher = Batcher(BatchLimits.create("get", buffer_size=10))
    events = [event("get"), event("get")]
    batcher.extend(events)
    assert batcher.nbytes == sum(event_cost(e, "get") for e in events)


# -- max_age ------------------------------------------------------------------------------------


def test_an_empty_batcher_is_never_stale() -> None:
    batcher = Batcher(BatchLimits.create("post", max_age=0.001))
    assert batcher.age() == 0.0
    assert not batcher.is_stale(now=time.monotonic() + 100)
    assert batcher.time_to_stale() is None


def test_a_partial_batch_becomes_stale_after_max_age() -> None:
    batcher = Batcher(BatchLimits.create("post", max_age=5))
    before = time.monotonic()
    batcher.add(event())
    after = time.monotonic()
    assert not batcher.is_stale(now=after)
    assert 4.9 <= batcher.time_to_stale(now=after) <= 5.0  # type: ignore[operator]
    assert batcher.age(now=after + 1) == pytest.approx(1.0, abs=after - before + 1e-6)
    assert not batcher.is_stale(now=before + 4.9)
    assert batcher.is_stale(now=after + 5)
    assert batcher.time_to_stale(now=after + 6) == 0.0


def test_age_counts_from_the_oldest_buffered_event() -> None:
    batcher = Batcher(BatchLimits.create("post", max_age=5))
    batcher.add(event())
    first = time.monotonic()
    batcher.add(event())
    assert batcher.is_stale(now=first + 5.01)


def test_age_restarts_after_a_drain() -> None:
    batcher = Batcher(BatchLimits.create("post", max_age=5))
    batcher.add(event())
    batcher.drain()
    assert not batcher.is_stale(now=time.monotonic() + 10)
    batcher.add(event())
    assert not batcher.is_stale()


def test_without_max_age_a_batch_is_never_stale() -> None:
    batcher = Batcher(BatchLimits.create("post"))
    batcher.add(event())
    assert not batcher.is_stale(now=time.monotonic() + 10_000)
    assert batcher.time_to_stale() is None


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["buffer_size", "byte_limit"])
@pytest.mark.parametrize("bad", [0, -1, 1.5, "10", True])
def test_create_rejects_non_positive_integer_sizes(name: str, bad: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        BatchLimits.create("post", **{name: bad}, where="Emitter")
    message = str(info.value)
    assert message.startswith(f"Emitter: argument '{name}'")
    assert "positive integer or None" in message
    assert repr(bad) in message


@pytest.mark.parametrize("bad", [0, -1.0, "1", True, float("nan")])
def test_create_rejects_a_non_positive_max_age(bad: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        BatchLimits.create("post", max_age=bad, where="AsyncEmitter")
    message = str(info.value)
    assert message.startswith("AsyncEmitter: argument 'max_age'")
    assert "positive number of seconds or None" in message
    assert repr(bad) in message


def test_create_rejects_an_unknown_method() -> None:
    with pytest.raises(ConfigurationError, match=r"^Emitter: argument 'method' must be"):
        BatchLimits.create("put")


# -- ProcessEmitter's throughput defaults -------------------------------------------------------


def test_throughput_defaults_cut_post_batches_by_bytes() -> None:
    assert throughput_defaults("post", None, None) == (
        THROUGHPUT_POST_BUFFER_SIZE,
        THROUGHPUT_BYTE_LIMIT,
    )
    assert throughput_defaults("POST", 100, None) == (100, THROUGHPUT_BYTE_LIMIT)
    assert throughput_defaults("post", None, 1000) == (THROUGHPUT_POST_BUFFER_SIZE, 1000)
    assert 50_000 <= THROUGHPUT_BYTE_LIMIT <= 100_000  # far below what collectors accept


def test_throughput_defaults_leave_get_and_bad_methods_alone() -> None:
    assert throughput_defaults("get", None, None) == (None, None)
    assert throughput_defaults(42, None, None) == (None, None)  # create() names the error


def test_throughput_batcher_fills_64kb_bodies_of_typical_events() -> None:
    buffer_size, byte_limit = throughput_defaults("post", None, None)
    batcher = Batcher(BatchLimits.create("post", buffer_size, byte_limit))
    events = [event(label="x" * 300) for _ in range(1000)]
    ready = batcher.extend(events)
    assert len(ready) >= 2
    for batch in ready:
        assert THROUGHPUT_BYTE_LIMIT - 1000 < wire_size(batch, "post") <= THROUGHPUT_BYTE_LIMIT
