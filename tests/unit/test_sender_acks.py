"""Unit tests of the sender's acknowledgement book and request pool (no processes, no network)."""

from __future__ import annotations

import threading
from typing import List, Tuple

import pytest

from snowplow_tracker.delivery.batching import BatchLimits
from snowplow_tracker.delivery.retry import RetryPolicy
from snowplow_tracker.delivery.transport import DeliveryResult, HttpTransport
from snowplow_tracker.emitters.process.sender import (
    DEFAULT_MAX_IN_FLIGHT,
    AckBook,
    Request,
    RequestPool,
    SenderConfig,
    check_max_in_flight,
    failed_positions,
)
from snowplow_tracker.errors import ConfigurationError


def test_micro_batch_spread_over_requests_is_acked_once_after_the_last_one() -> None:
    book = AckBook()
    book.open(1, 6)
    # Three requests of two events each end in reverse order; only the last completes it.
    assert book.settle([(1, 4), (1, 5)], [], 0) == []
    assert book.settle([(1, 2), (1, 3)], [1], 2) == []
    assert book.settle([(1, 0), (1, 1)], [0], 0) == [(1, 2, [0, 3])]
    assert len(book) == 0


def test_request_spanning_micro_batches_completes_each_with_its_own_failed_indices() -> None:
    book = AckBook()
    book.open(7, 2)
    book.open(8, 3)
    assert book.settle([(8, 2)], [0], 0) == []
    done = book.settle([(7, 0), (7, 1), (8, 0), (8, 1)], [1, 2], 3)
    # Re-sends count once, on the request's first micro-batch; indices are per micro-batch.
    assert sorted(done) == [(7, 3, [1]), (8, 0, [0, 2])]
    assert len(book) == 0


def test_acks_are_exact_whatever_order_threads_settle_in() -> None:
    book = AckBook()
    batches = 50
    for batch_id in range(batches):
        book.open(batch_id, 10)
    # Requests of 3 events that straddle micro-batches; every event at index 7 fails.
    tags = [(b, i) for b in range(batches) for i in range(10)]
    requests = [tags[i : i + 3] for i in range(0, len(tags), 3)]
    done: List[Tuple[int, int, List[int]]] = []
    lock = threading.Lock()

    def run(part: List[List[Tuple[int, int]]]) -> None:
        for request in reversed(part):
            failed = [p for p, (_, index) in enumerate(request) if index == 7]
            acks = book.settle(request, failed, 0)
            with lock:
                done.extend(acks)

    threads = [threading.Thread(target=run, args=(requests[k::4],)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(done) == [(b, 0, [7]) for b in range(batches)]


def test_failed_positions_match_by_identity_even_for_equal_bytes() -> None:
    a, b = b"x", b"x"  # equal, possibly the same object
    events = [a, b"yy", b]
    assert failed_positions(events, []) == []
    assert failed_positions(events, list(events)) == [0, 1, 2]
    assert sorted(failed_positions(events, [events[1]])) == [1]
    assert sorted(failed_positions(events, [events[0], events[2]])) == [0, 2]


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "8", None])
def test_max_in_flight_must_be_a_positive_integer(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"Where: argument 'max_in_flight' must be a"):
        check_max_in_flight(value, "Where")


def test_default_max_in_flight_fills_a_50ms_link_and_keeps_half_at_200ms() -> None:
    # events/s = in flight * events per request / round trip; a host tracks ~40,000/s.
    assert DEFAULT_MAX_IN_FLIGHT * 100 / 0.05 >= 2 * 40_000
    assert DEFAULT_MAX_IN_FLIGHT * 100 / 0.2 >= 40_000 / 2
    assert check_max_in_flight(DEFAULT_MAX_IN_FLIGHT, "x") == DEFAULT_MAX_IN_FLIGHT


def test_abandoned_pool_fails_queued_requests_without_sending_them() -> None:
    made: List[HttpTransport] = []

    def new_transport() -> HttpTransport:
        transport = HttpTransport("127.0.0.1:9", "post")  # never used: nothing is sent
        made.append(transport)
        return transport

    results: List[DeliveryResult] = []
    finished = threading.Event()

    def on_done(request: Request, result: DeliveryResult) -> None:
        results.append(result)
        if len(results) == 3:
            finished.set()

    abandon = threading.Event()
    abandon.set()
    pool = RequestPool(2, new_transport, RetryPolicy(), on_done, abandon)
    events = [[b'{"e":"pv"}'] for _ in range(3)]
    for batch in events:
        pool.submit(Request(batch, [(1, 0)]))
    assert finished.wait(10)
    assert pool.wait_idle(10)
    pool.close()
    assert pool.threads <= 2
    assert sorted(len(r.failed) for r in results) == [1, 1, 1]
    assert all(not r.sent and r.attempts == 0 for r in results)


def test_request_whose_transport_cannot_be_made_fails_and_the_thread_lives_on() -> None:
    calls: List[int] = []
    results: List[DeliveryResult] = []
    finished = threading.Event()

    def new_transport() -> HttpTransport:
        calls.append(1)
        raise OSError("no sockets left")

    def on_done(request: Request, result: DeliveryResult) -> None:
        results.append(result)
        if len(results) == 2:
            finished.set()

    pool = RequestPool(1, new_transport, RetryPolicy(), on_done, threading.Event())
    pool.submit(Request([b'{"e":"pv"}'], [(1, 0)]))
    pool.submit(Request([b'{"e":"se"}'], [(2, 0)]))
    assert finished.wait(10)
    assert pool.wait_idle(10)
    pool.close()
    assert pool.threads == 1
    assert [r.failed for r in results] == [[b'{"e":"pv"}'], [b'{"e":"se"}']]
    assert len(calls) == 2  # tried again for the second request


def test_sender_config_goes_to_the_sender_as_json_and_comes_back_equal() -> None:
    """What the host sends a new sender (JSON, never pickle) is the configuration it built."""
    config = SenderConfig(
        transport={
            "endpoint": "https://user:pw@collector.example.com",
            "protocol": "https",
            "port": 8443,
            "request_timeout": (2.5, 7.0),
            "verify": "/etc/ssl/private-ca.pem",
        },
        target="collector.example.com:8443",
        limits=BatchLimits.create("post", 50, 10_000, 0.5),
        retry_policy=RetryPolicy(max_attempts=None, deadline=30.0, no_retry_statuses={400, 418}),
        host_pid=1234,
        orphan_timeout=3.0,
        log_level=10,
        max_in_flight=8,
    )
    data = config.to_json()
    assert data.startswith(b"{")
    assert SenderConfig.from_json(data) == config
