"""Integration tests of :class:`AsyncEmitter` (sending threads) against the embedded collector."""

from __future__ import annotations

import logging
import threading
import time
import tracemalloc
from typing import Any, Callable, Dict, Iterator, List, Set

import pytest

from snowplow_tracker import AsyncEmitter
from snowplow_tracker._logging import ThrottledLog
from snowplow_tracker.delivery.retry import RetryPolicy
from snowplow_tracker.emitters import base
from snowplow_tracker.errors import ConfigurationError
from snowplow_tracker.protocol.wire import encode_event
from snowplow_tracker.testing import Collector
from tests.capture import Calls
from tests.http_sessions import TAG_HEADER, CountingAdapter, session_with
from tests.payloads import make_payload, without_stm

FAST = RetryPolicy(base_delay=0.01, max_delay=0.05, jitter=0, max_attempts=3)

MakeEmitter = Callable[..., AsyncEmitter]


class Gates:
    """An ``on_success`` that holds the sending thread on chosen events until released."""

    def __init__(self, *eids: str) -> None:
        self.entered = {eid: threading.Event() for eid in eids}
        self.released = {eid: threading.Event() for eid in eids}
        self.sent: List[str] = []

    def on_success(self, events: List[Dict[str, str]]) -> None:
        for event in events:
            eid = event["eid"]
            self.sent.append(eid)
            if eid in self.entered:
                self.entered[eid].set()
                self.released[eid].wait(timeout=10)

    def wait_entered(self, eid: str) -> None:
        assert self.entered[eid].wait(timeout=5)

    def release(self, eid: str) -> None:
        self.released[eid].set()


def wait_until_flush_waits(emitter: AsyncEmitter) -> None:
    """Wait (bounded) until a ``flush()`` on another thread waits for the sending threads."""
    deadline = time.monotonic() + 5
    while not emitter._done._waiters:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "flush() never started waiting"
        time.sleep(0.001)


def library_threads() -> Set[threading.Thread]:
    return {
        t
        for t in threading.enumerate()
        if t.name.startswith(("snowplow-async", "snowplow-flush-timer"))
    }


@pytest.fixture
def make_emitter() -> Iterator[MakeEmitter]:
    """Builds async emitters and closes them all after the test (asserting no thread is left)."""
    before = library_threads()
    made: List[AsyncEmitter] = []

    def make(*args: Any, **kwargs: Any) -> AsyncEmitter:
        emitter = AsyncEmitter(*args, **kwargs)
        made.append(emitter)
        return emitter

    yield make
    for emitter in made:
        emitter.close(timeout=5)
    assert library_threads() - before == set()


# -- sending from threads -----------------------------------------------------------------------


def test_input_returns_before_the_request_completes(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    collector.set_delay(0.3)
    calls = Calls()
    emitter = make_emitter(collector.endpoint, on_success=calls.on_success)
    payload = make_payload()
    emitter.input(payload)  # GET: the batch is full at once, but a thread sends it
    # The collector answers (and records) only after its delay.
    assert collector.requests == []
    assert calls.successes == []
    stats = emitter.stats()  # one snapshot: the batch moves from queued to in flight
    assert stats.in_flight + stats.queued == 1
    assert emitter.flush() is True
    assert calls.successes == [[payload]]
    assert collector.eids() == [payload["eid"]]


@pytest.mark.parametrize("method", ["get", "post"])
def test_flush_blocks_until_every_event_is_delivered(
    collector: Collector, make_emitter: MakeEmitter, method: str
) -> None:
    emitter = make_emitter(collector.endpoint, method=method)
    payloads = [make_payload(se_la="é ✓ 😀 & =", se_va=str(i)) for i in range(25)]
    for payload in payloads:
        emitter.input(payload)
    assert emitter.flush() is True
    assert sorted(collector.eids()) == sorted(p["eid"] for p in payloads)
    assert sorted(without_stm(collector.events), key=lambda e: e["eid"]) == sorted(
        payloads, key=lambda e: e["eid"]
    )
    stats = emitter.stats()
    assert (stats.accepted, stats.sent, stats.queued, stats.in_flight) == (25, 25, 0, 0)


def test_flush_is_async_queues_the_buffer_and_returns_at_once(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    emitter = make_emitter(collector.endpoint, method="post")
    emitter.input(make_payload())
    assert emitter.flush(is_async=True) is False
    assert collector.wait_for_events(1, timeout=5)


def test_flush_with_a_timeout_returns_false_while_the_collector_hangs(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    collector.set_fault("hang")
    calls = Calls()
    emitter = make_emitter(
        collector.endpoint,
        method="post",
        request_timeout=0.5,
        retry_policy=FAST,
        on_success=calls.on_success,
    )
    payload = make_payload()
    emitter.input(payload)
    assert emitter.flush(timeout=0.1) is False
    assert collector.wait_for_requests(1, timeout=5)
    stats = emitter.stats()
    assert (stats.queued, stats.in_flight) == (0, 1)
    collector.set_fault(None)  # the retry after the read timeout succeeds
    assert emitter.flush(timeout=10) is True
    assert calls.sent_eids() == [payload["eid"]]
    assert emitter.stats().retried == 1


def test_flush_does_not_wait_for_events_tracked_after_it_started(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    first, second = make_payload(), make_payload()
    gates = Gates(first["eid"], second["eid"])
    emitter = make_emitter(collector.endpoint, method="get", on_success=gates.on_success)
    emitter.input(first)
    gates.wait_entered(first["eid"])  # the sending thread holds the first batch
    results: List[bool] = []
    flusher = threading.Thread(target=lambda: results.append(emitter.flush(timeout=10)))
    flusher.start()
    wait_until_flush_waits(emitter)
    emitter.input(second)  # tracked while the flush waits
    gates.release(first["eid"])
    flusher.join(timeout=10)
    assert results == [True]  # the second batch is still held by its callback
    gates.wait_entered(second["eid"])
    stats = emitter.stats()  # counted as sent, its bytes held until its callback returns
    assert (stats.sent, stats.in_flight) == (2, 0) and stats.queued_bytes > 0
    gates.release(second["eid"])
    assert emitter.flush(timeout=10) is True
    assert collector.eids() == [first["eid"], second["eid"]]


# -- concurrency --------------------------------------------------------------------------------


def test_many_sending_threads_deliver_every_event_exactly_once(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    emitter = make_emitter(collector.endpoint, method="post", thread_count=4)
    producers, per_producer = 4, 500
    start = threading.Barrier(producers)
    eids: List[List[str]] = [[] for _ in range(producers)]

    def track(n: int) -> None:
        start.wait(timeout=10)
        for i in range(per_producer):
            payload = make_payload(se_la=f"producer {n}", se_va=str(i))
            eids[n].append(payload["eid"])
            emitter.input(payload)

    workers = [threading.Thread(target=track, args=(n,)) for n in range(producers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert emitter.stats().senders_alive == 4
    assert emitter.flush(timeout=30) is True
    expected = sorted(e for chunk in eids for e in chunk)
    assert len(expected) == producers * per_producer
    assert sorted(collector.eids()) == expected
    assert collector.stats()["duplicates"] == 0
    stats = emitter.stats()
    assert (stats.accepted, stats.sent, stats.failed, stats.dropped) == (2000, 2000, 0, 0)


# -- retries ------------------------------------------------------------------------------------


def test_retries_503_then_succeeds(collector: Collector, make_emitter: MakeEmitter) -> None:
    collector.script([503, 503])
    calls = Calls()
    emitter = make_emitter(
        collector.endpoint,
        method="post",
        buffer_size=3,
        retry_policy=RetryPolicy(base_delay=0.01),
        on_success=calls.on_success,
        on_failure=calls.on_failure,
    )
    payloads = [make_payload() for _ in range(3)]
    for payload in payloads:
        emitter.input(payload)
    assert emitter.flush(timeout=10) is True
    assert calls.successes == [payloads]
    assert calls.failures == []
    assert [r.status for r in collector.requests] == [503, 503, 200]
    assert collector.eids() == [p["eid"] for p in payloads]
    stats = emitter.stats()
    assert (stats.sent, stats.failed, stats.retried) == (3, 0, 6)


def test_gives_up_after_max_attempts_and_calls_on_failure(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    collector.respond_with(503)
    calls = Calls()
    emitter = make_emitter(
        collector.endpoint,
        method="post",
        buffer_size=2,
        retry_policy=FAST,
        on_success=calls.on_success,
        on_failure=calls.on_failure,
    )
    payloads = [make_payload(), make_payload()]
    for payload in payloads:
        emitter.input(payload)
    assert emitter.flush(timeout=10) is True
    assert calls.failures == [(0, payloads)]
    assert calls.successes == []
    assert len(collector.requests) == 3
    stats = emitter.stats()
    assert (stats.sent, stats.failed, stats.retried) == (0, 2, 4)


def test_a_non_retryable_status_fails_at_once(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    collector.respond_with(422)
    calls = Calls()
    emitter = make_emitter(collector.endpoint, retry_policy=FAST, on_failure=calls.on_failure)
    payload = make_payload()
    emitter.input(payload)
    assert emitter.flush(timeout=10) is True
    assert calls.failures == [(0, [payload])]
    assert len(collector.requests) == 1


def test_retries_by_default(make_emitter: MakeEmitter) -> None:
    emitter = make_emitter("collector.example.com")
    assert emitter.retry_policy == RetryPolicy()
    assert emitter.thread_count == 1
    assert emitter.buffer_size == 1


def test_failed_events_passed_to_input_again_are_delivered(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    calls = Calls()
    emitter = make_emitter(
        collector.endpoint,
        method="post",
        retry_policy=RetryPolicy.never(),
        on_failure=calls.on_failure,
    )
    payloads = [make_payload() for _ in range(3)]
    collector.respond_with(500)
    for payload in payloads:
        emitter.input(payload)
    assert emitter.flush(timeout=10) is True
    [(sent, unsent)] = calls.failures
    assert (sent, unsent) == (0, payloads)
    collector.respond_with(200)
    for event in unsent:
        emitter.input(event)
    assert emitter.flush(timeout=10) is True
    assert collector.eids() == [p["eid"] for p in payloads]


def test_a_raising_callback_does_not_stop_the_sending_thread(
    collector: Collector, make_emitter: MakeEmitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "_callback_log", ThrottledLog())

    def boom(events: List[Dict[str, str]]) -> None:
        raise RuntimeError("callback bug")

    emitter = make_emitter(collector.endpoint, on_success=boom)
    for _ in range(3):
        emitter.input(make_payload())
        assert emitter.flush(timeout=10) is True
    assert len(collector.events) == 3
    assert emitter.stats().senders_alive == 1


# -- bounded queue ------------------------------------------------------------------------------


def test_a_full_queue_drops_the_batch_counts_it_and_reports_it_to_on_failure(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    calls = Calls()
    first, second, third = make_payload(), make_payload(), make_payload()
    gates = Gates(first["eid"])
    emitter = make_emitter(
        collector.endpoint,
        method="get",
        max_queued_batches=1,
        on_success=gates.on_success,
        on_failure=calls.on_failure,
    )
    emitter.input(first)
    gates.wait_entered(first["eid"])  # the only thread is busy with the first batch
    emitter.input(second)  # fills the queue
    emitter.input(third)  # dropped, reported at once in the caller
    assert calls.failures == [(0, [third])]
    stats = emitter.stats()
    assert (stats.accepted, stats.dropped, stats.failed) == (3, 1, 0)
    assert (stats.sent, stats.in_flight, stats.queued) == (1, 0, 1)  # first: in its callback
    gates.release(first["eid"])
    assert emitter.flush(timeout=10) is True
    assert collector.eids() == [first["eid"], second["eid"]]
    assert gates.sent == [first["eid"], second["eid"]]


# -- close --------------------------------------------------------------------------------------


def test_close_delivers_the_buffer_and_stops_every_thread(collector: Collector) -> None:
    before = library_threads()
    emitter = AsyncEmitter(collector.endpoint, method="post", thread_count=3)
    emitter.set_flush_timer(0.05)
    payloads = [make_payload() for _ in range(25)]
    for payload in payloads:
        emitter.input(payload)
    assert len(library_threads() - before) == 4  # three senders and the flush timer
    assert emitter.close() is True
    assert library_threads() - before == set()
    assert sorted(collector.eids()) == sorted(p["eid"] for p in payloads)
    assert emitter.stats().senders_alive == 0
    assert emitter.close() is True  # idempotent


def test_close_with_a_timeout_gives_up_on_a_hanging_collector(collector: Collector) -> None:
    before = library_threads()
    collector.set_fault("hang")
    calls = Calls()
    emitter = AsyncEmitter(
        collector.endpoint,
        method="post",
        request_timeout=0.3,
        retry_policy=RetryPolicy(base_delay=0.01),
        on_failure=calls.on_failure,
    )
    payload = make_payload()
    emitter.input(payload)
    emitter.flush(is_async=True)
    assert emitter.close(timeout=0.1) is False
    # The attempt in progress ends at its read timeout; no retry follows the close.
    assert library_threads() - before == set()
    assert calls.failures == [(0, [payload])]
    stats = emitter.stats()  # not sent by the deadline: dropped, as the docstring says
    assert (stats.failed, stats.dropped) == (0, 1)


def test_close_without_any_event_starts_no_thread() -> None:
    before = library_threads()
    emitter = AsyncEmitter("collector.example.com")
    assert emitter.close() is True
    assert library_threads() - before == set()


# -- arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        (name, bad)
        for name in ("thread_count", "max_queue_bytes", "max_queued_batches")
        for bad in (0, -1, "2", 1.5, True, None)
        if not (name == "max_queued_batches" and bad is None)  # None: no bound by count
    ],
)
def test_invalid_thread_arguments_raise_configuration_error(name: str, bad: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        AsyncEmitter("collector.example.com", **{name: bad})
    message = str(info.value)
    assert message.startswith(f"AsyncEmitter: argument '{name}'")
    assert "positive integer" in message
    assert repr(bad) in message


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"endpoint": ""}, "endpoint"),
        ({"method": "put"}, "method"),
        ({"buffer_size": 0}, "buffer_size"),
        ({"on_failure": "x"}, "on_failure"),
        ({"request_timeout": -1}, "request_timeout"),
    ],
)
def test_error_messages_name_the_async_emitter(kwargs: Dict[str, Any], argument: str) -> None:
    arguments: Dict[str, Any] = {"endpoint": "collector.example.com", **kwargs}
    with pytest.raises(ConfigurationError, match=rf"^AsyncEmitter: argument '{argument}'"):
        AsyncEmitter(**arguments)


# -- a user's requests.Session ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_request_goes_through_the_users_session(
    collector: Collector, make_emitter: MakeEmitter, method: str
) -> None:
    adapter = CountingAdapter()
    emitter = make_emitter(
        collector.endpoint, method=method, buffer_size=2, session=session_with(adapter)
    )
    for _ in range(4):
        emitter.input(make_payload())
    assert emitter.flush(timeout=10) is True
    assert len(collector.events) == 4
    requests = collector.requests
    assert len(requests) == adapter.started == (4 if method == "get" else 2)
    assert {r.headers.get(TAG_HEADER) for r in requests} == {"via-user-session"}


def test_a_session_that_is_not_a_requests_session_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"^AsyncEmitter: argument 'session' must be"):
        AsyncEmitter("collector.example.com", session="http://proxy:3128")  # type: ignore[arg-type]


# -- the documented positional order ------------------------------------------------------------


def test_the_documented_positional_order_is_accepted(collector: Collector) -> None:
    """0.10: endpoint, protocol, port, method, buffer_size, on_success, on_failure,
    thread_count, byte_limit."""
    calls = Calls()
    emitter = AsyncEmitter(
        collector.host, "http", collector.port, "post", 3, calls.on_success, calls.on_failure, 2,
        50_000,
    )  # fmt: skip
    try:
        assert (emitter.method, emitter.buffer_size, emitter.thread_count) == ("post", 3, 2)
        assert emitter.byte_limit == 50_000
        assert (emitter.on_success, emitter.on_failure) == (calls.on_success, calls.on_failure)
        payloads = [make_payload() for _ in range(3)]
        for payload in payloads:
            emitter.input(payload)
        assert emitter.flush(timeout=10) is True
        assert calls.successes == [payloads]
    finally:
        emitter.close()


def test_protocol_as_second_positional_argument() -> None:
    emitter = AsyncEmitter("collector.example.com", "https")
    assert emitter.transport.get_url == "https://collector.example.com/i"
    emitter.close()


# -- requests in flight at once ------------------------------------------------------------------


def test_thread_count_requests_are_in_flight_at_once_and_never_more(
    counting_collector: Collector, make_emitter: MakeEmitter
) -> None:
    """The first 4 requests pass a barrier of 4 only if all 4 are in flight together."""
    counting_collector.set_delay(0.05)  # the collector holds every request a little
    adapter = CountingAdapter(barrier=threading.Barrier(4))
    emitter = make_emitter(
        counting_collector.endpoint,
        method="post",
        buffer_size=5,
        thread_count=4,
        session=session_with(adapter),
    )
    for _ in range(100):
        emitter.input(make_payload())
    assert emitter.flush(timeout=30) is True
    assert adapter.barrier is not None and not adapter.barrier.broken
    assert adapter.max_in_flight == 4
    assert counting_collector.stats()["events"] == 100
    stats = emitter.stats()
    assert (stats.sent, stats.failed, stats.dropped, stats.queued_bytes) == (100, 0, 0, 0)


def test_a_failing_request_does_not_hold_up_the_events_tracked_after_it(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    """One thread: a 503 waits out a long backoff while later batches are delivered."""
    collector.script([503])
    calls = Calls()
    emitter = make_emitter(
        collector.endpoint,
        method="post",
        buffer_size=2,
        retry_policy=RetryPolicy(base_delay=60, jitter=0, max_attempts=2),
        on_failure=calls.on_failure,
    )
    first = [make_payload(), make_payload()]
    later = [make_payload() for _ in range(6)]
    for payload in first:
        emitter.input(payload)
    assert collector.wait_for_requests(1, timeout=10)
    for payload in later:
        emitter.input(payload)
    assert collector.wait_for_events(6, timeout=10)
    assert sorted(collector.eids()) == sorted(p["eid"] for p in later)
    deadline = time.monotonic() + 10
    while emitter.stats().sent < 6 and time.monotonic() < deadline:  # callbacks run after
        time.sleep(0.01)
    stats = emitter.stats()
    assert (stats.sent, stats.in_flight, stats.queued) == (6, 2, 0)
    assert emitter.flush(timeout=0.2) is False  # the first batch still waits to retry
    assert emitter.close(timeout=0.2) is False
    assert calls.failures == [(0, first)]  # given up at close: reported, not lost
    stats = emitter.stats()  # waiting to retry at the deadline: dropped
    assert (stats.failed, stats.dropped) == (0, 2)


def test_a_hanging_request_does_not_hold_up_the_other_thread(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    """Two threads: while one waits on a hanging request, the other sends everything else."""
    collector.script(["hang"])
    emitter = make_emitter(
        collector.endpoint,
        method="post",
        buffer_size=1,
        thread_count=2,
        request_timeout=1.0,
        retry_policy=RetryPolicy(base_delay=0.01, jitter=0),
    )
    first, *others = [make_payload() for _ in range(5)]
    emitter.input(first)
    assert collector.wait_for_requests(1, timeout=10)
    for payload in others:
        emitter.input(payload)
    assert collector.wait_for_events(4, timeout=10)
    assert collector.eids() == [p["eid"] for p in others]
    assert emitter.flush(timeout=20) is True  # the hung request timed out and was retried
    assert collector.eids() == [p["eid"] for p in others] + [first["eid"]]
    stats = emitter.stats()
    assert (stats.sent, stats.retried, stats.failed) == (5, 1, 0)


def test_a_mix_of_slow_failing_and_reset_requests_loses_and_doubles_nothing(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    collector.script([200, 503, "reset", 200, 500, 200, "garbage", 503] * 3)
    calls = Calls()
    emitter = make_emitter(
        collector.endpoint,
        method="post",
        buffer_size=4,
        thread_count=3,
        retry_policy=RetryPolicy(base_delay=0.01, max_delay=0.05, max_attempts=20),
        on_success=calls.on_success,
        on_failure=calls.on_failure,
    )
    collector.set_delay(0.01)
    payloads = [make_payload(se_va=str(i)) for i in range(80)]
    for payload in payloads:
        emitter.input(payload)
    assert emitter.flush(timeout=30) is True
    assert sorted(collector.eids()) == sorted(p["eid"] for p in payloads)
    assert collector.stats()["duplicates"] == 0
    assert sorted(calls.sent_eids()) == sorted(p["eid"] for p in payloads)
    assert calls.failures == []
    stats = emitter.stats()
    assert (stats.sent, stats.failed, stats.dropped, stats.in_flight) == (80, 0, 0, 0)


# -- memory: compact and bounded in bytes -------------------------------------------------------


def held_back(
    make_emitter: MakeEmitter, collector: Collector, gate: threading.Event, **kwargs: Any
) -> AsyncEmitter:
    """A POST emitter whose requests wait (bounded) until ``gate`` is set, then go out."""
    session = session_with(CountingAdapter(gate=gate))
    return make_emitter(collector.endpoint, method="post", session=session, **kwargs)


def test_a_burst_beyond_a_thousand_batches_is_held_without_drops(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    """1,200 one-event batches wait while requests are held back; all arrive after."""
    gate = threading.Event()
    emitter = held_back(make_emitter, collector, gate, buffer_size=1, thread_count=4)
    payloads = [make_payload() for _ in range(1_200)]
    for payload in payloads:
        emitter.input(payload)
    stats = emitter.stats()
    assert (stats.dropped, stats.queued + stats.in_flight) == (0, 1_200)
    assert stats.queued_bytes >= sum(len(encode_event(p, "post")) for p in payloads)
    gate.set()
    assert emitter.flush(timeout=60) is True
    assert len(collector.eids()) == 1_200
    assert emitter.stats().queued_bytes == 0


def test_queued_events_take_about_their_encoded_size(
    counting_collector: Collector, make_emitter: MakeEmitter
) -> None:
    """No per-event object survives in the queue (orjson's bytes take 4 KiB each)."""
    gate = threading.Event()
    emitter = held_back(make_emitter, counting_collector, gate, buffer_size=10)
    payloads = [make_payload(se_la="x" * 300) for _ in range(2_000)]
    encoded = sum(len(encode_event(p, "post")) for p in payloads)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for payload in payloads:
            emitter.input(payload)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        gate.set()
    assert emitter.stats().dropped == 0
    assert held < 1.5 * encoded, (held, encoded)


def test_max_queue_bytes_bounds_what_is_held_and_drops_are_reported(
    make_emitter: MakeEmitter,
    refused_endpoint: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Collector down: the bytes held stay under the bound; tracked = sent + failed + dropped."""
    # Each emitter's queue throttles its own drop records: the first drop is logged.
    calls = Calls()
    payload_size = len(encode_event(make_payload(), "post"))
    bound = 20 * payload_size * 5  # about 20 batches of 5
    emitter = make_emitter(
        refused_endpoint,
        method="post",
        buffer_size=5,
        max_queue_bytes=bound,
        retry_policy=RetryPolicy(base_delay=30, max_attempts=3),
        on_failure=calls.on_failure,
    )
    with caplog.at_level(logging.WARNING, logger="snowplow_tracker"):
        for _ in range(1_000):
            emitter.input(make_payload())
            assert emitter.stats().queued_bytes <= bound + 5 * (payload_size + 30)
        stats = emitter.stats()
        assert stats.dropped >= 1_000 - 25 * 5
        assert emitter.close(timeout=0.5) is False
    stats = emitter.stats()
    assert stats.sent + stats.failed + stats.dropped == stats.accepted == 1_000
    assert sum(len(unsent) for _, unsent in calls.failures) == 1_000
    drop_logs = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert len(drop_logs) == 1


def test_eight_threads_tracking_20000_events_each_drop_nothing(
    counting_collector: Collector, make_emitter: MakeEmitter
) -> None:
    """Issue 9's burst with a healthy collector: delivered + dropped = tracked, dropped = 0."""
    emitter = make_emitter(
        counting_collector.endpoint, method="post", buffer_size=100, thread_count=2
    )
    payload = make_payload(se_la="burst")

    def track() -> None:
        for _ in range(20_000):
            emitter.input(payload)

    workers = [threading.Thread(target=track) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert emitter.flush(timeout=120) is True
    stats = emitter.stats()
    assert (stats.accepted, stats.dropped, stats.failed) == (160_000, 0, 0)
    assert counting_collector.stats()["events"] == stats.sent == 160_000


@pytest.mark.parametrize("inline", [False, True])
def test_a_batch_waiting_to_retry_at_the_close_deadline_is_dropped_not_failed(
    collector: Collector, inline: bool
) -> None:
    """The collector answers 503 and the batch waits out a long backoff when close() gives up:
    its events are counted as dropped (as the docstring and ProcessEmitter say), and they go to
    on_failure."""
    got: List[str] = []
    emitter = AsyncEmitter(
        collector.endpoint,
        method="post",
        buffer_size=200,
        retry_policy=RetryPolicy(base_delay=30, max_delay=30, jitter=0, max_attempts=5),
        on_failure=lambda n, evs: got.extend(e["eid"] for e in evs),
    )
    collector.respond_with(503)
    if inline:  # no sending threads (interpreter exit): close() sends and retries itself
        emitter._run.inline = True
    tracked = [make_payload() for _ in range(200)]
    for payload in tracked:
        emitter.input(payload)
    if not inline:
        assert collector.wait_for_requests(1, timeout=10)
    assert not emitter.close(timeout=0.5)
    stats = emitter.stats()
    assert (stats.sent, stats.failed, stats.dropped) == (0, 0, 200)
    assert sorted(got) == sorted(e["eid"] for e in tracked)
