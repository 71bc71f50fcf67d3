"""Tracker 1.x's emitter arguments and methods on ``Emitter`` and ``AsyncEmitter``, against the
embedded collector (no mock of ``requests``)."""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Iterator, List, Tuple, Union

import pytest

from snowplow_tracker import AsyncEmitter, Emitter
from snowplow_tracker.delivery.event_store import EventStore, InMemoryEventStore
from snowplow_tracker.emitter_configuration import EmitterConfiguration
from snowplow_tracker.emitters import DEFAULT_MAX_LENGTH
from snowplow_tracker.errors import ConfigurationError
from snowplow_tracker.protocol.wire import encode_event, post_body
from snowplow_tracker.testing import Collector
from tests.payloads import make_payload, without_stm

AnyEmitter = Union[Emitter, AsyncEmitter]
Make = Callable[..., Any]


class Calls:
    """Records the calls of ``on_success`` and ``on_failure``."""

    def __init__(self) -> None:
        self.successes: List[List[Dict[str, str]]] = []
        self.failures: List[Tuple[int, List[Dict[str, str]]]] = []
        self.done = threading.Event()

    def on_success(self, events: List[Dict[str, str]]) -> None:
        self.successes.append(events)
        self.done.set()

    def on_failure(self, sent: int, unsent: List[Dict[str, str]]) -> None:
        self.failures.append((sent, unsent))
        self.done.set()


class RecordingStore(InMemoryEventStore):
    """An event store of a user's: the in-memory one, recording every cleanup call."""

    def __init__(self) -> None:
        super().__init__()
        self.cleanups: List[Tuple[int, bool]] = []

    def cleanup(self, batch: List[Dict[str, str]], need_retry: bool) -> None:
        self.cleanups.append((len(batch), need_retry))
        super().cleanup(batch, need_retry)


@pytest.fixture
def make() -> Iterator[Make]:
    """Builds ``Emitter`` (or ``cls=AsyncEmitter``) objects and closes them after the test."""
    made: List[AnyEmitter] = []

    def build(*args: Any, cls: Any = Emitter, **kwargs: Any) -> Any:
        emitter = cls(*args, **kwargs)
        made.append(emitter)
        return emitter

    yield build
    for emitter in made:
        emitter.close(timeout=2)


# ------------------------------------------------------------------ batch_size, buffer_capacity
def test_batch_size_is_an_alias_of_buffer_size(collector: Collector, make: Make) -> None:
    """``batch_size=3`` sends one POST request of 3 events, and reads back as both names."""
    e = make(collector.endpoint, method="post", batch_size=3)
    assert e.batch_size == e.buffer_size == 3
    for _ in range(3):
        e.input(make_payload())
    assert len(collector.requests) == 1
    assert len(collector.events) == 3


def test_batch_size_and_buffer_size_that_differ_are_refused() -> None:
    """Giving both names with different values is a clear error; the same value is accepted."""
    with pytest.raises(ConfigurationError, match=r"'buffer_size' and 'batch_size'.*=5.*=7"):
        Emitter("collector.example.com", buffer_size=5, batch_size=7)
    assert Emitter("collector.example.com", buffer_size=5, batch_size=5).buffer_size == 5


def test_buffer_capacity_lowers_the_batch_size_and_is_checked() -> None:
    """As 1.x: a batch never holds more than ``buffer_capacity`` events; 0 is refused."""
    e = Emitter("collector.example.com", method="post", batch_size=50, buffer_capacity=5)
    assert (e.batch_size, e.buffer_capacity) == (5, 5)
    with pytest.raises(ConfigurationError, match="'buffer_capacity' must be a positive integer"):
        Emitter("collector.example.com", buffer_capacity=0)


def test_async_buffer_capacity_drops_events_beyond_it(collector: Collector, make: Make) -> None:
    """AsyncEmitter: events held beyond ``buffer_capacity`` are dropped and reported, the
    others are delivered."""
    calls = Calls()
    collector.set_delay(1.0)
    e = make(
        collector.endpoint,
        cls=AsyncEmitter,
        method="post",
        batch_size=1,
        buffer_capacity=2,
        on_failure=calls.on_failure,
    )
    e.input(make_payload())
    assert collector.wait_for_in_flight(1)
    e.input(make_payload())  # queued: 2 held
    e.input(make_payload())  # a third: beyond the capacity
    assert [len(unsent) for _, unsent in calls.failures] == [1]
    assert e.stats().dropped == 1
    collector.set_delay(0)
    assert e.flush(timeout=10)
    assert len(collector.events) == 2


# ------------------------------------------------------------------ retry options
def test_max_retry_delay_seconds_caps_the_policy_and_retries_deliver(
    collector: Collector, make: Make
) -> None:
    """``max_retry_delay_seconds`` becomes the retry policy's ``max_delay``; retried events
    arrive."""
    collector.script([503, 503])
    e = make(collector.endpoint, cls=AsyncEmitter, method="post", max_retry_delay_seconds=0.05)
    assert e.retry_policy.max_delay == e.max_retry_delay_seconds == 0.05
    e.input(make_payload())
    assert e.flush(timeout=10)
    assert len(collector.events) == 1
    assert len(collector.requests) == 3


def test_custom_retry_codes_retry_400_and_not_503(collector: Collector, make: Make) -> None:
    """``{400: True}`` retries a 400 until it is accepted; ``{503: False}`` fails at once."""
    calls = Calls()
    e = make(
        collector.endpoint,
        cls=AsyncEmitter,
        method="post",
        max_retry_delay_seconds=0.05,
        custom_retry_codes={400: True, 503: False},
        on_success=calls.on_success,
        on_failure=calls.on_failure,
    )
    assert 400 not in e.retry_policy.no_retry_statuses
    assert 503 in e.retry_policy.no_retry_statuses
    collector.script([400, 200])
    e.input(make_payload())
    assert e.flush(timeout=10)
    assert (len(calls.successes), calls.failures) == (1, [])
    collector.clear()
    collector.script([503])
    e.input(make_payload())
    assert e.flush(timeout=10)
    assert len(calls.failures) == 1
    assert len(collector.requests) == 1


@pytest.mark.parametrize(
    ("codes", "message"),
    [({200: True}, "not a success"), ({302: False}, "not a success"), ({500: "yes"}, "True or")],
)
def test_bad_custom_retry_codes_are_refused(codes: Dict[Any, Any], message: str) -> None:
    """Successes (2xx, 3xx) cannot be retry codes, and each value is a bool."""
    with pytest.raises(ConfigurationError, match=message):
        Emitter("collector.example.com", custom_retry_codes=codes)


# ------------------------------------------------------------------ event_store
def test_event_store_takes_each_event_and_sends_from_it(collector: Collector, make: Make) -> None:
    """Events are added to the user's store, taken from it when the batch is full, sent, and
    cleaned up as sent."""
    store = RecordingStore()
    e = make(collector.endpoint, method="post", batch_size=2, event_store=store)
    assert e.event_store is store
    first = make_payload()
    e.input(first)
    assert store.event_buffer == [first]
    e.input(make_payload())
    assert store.size() == 0
    assert len(collector.events) == 2
    assert store.cleanups == [(2, False)]


def test_event_store_gets_failed_events_back_and_they_are_sent_later(
    collector: Collector, make: Make
) -> None:
    """A retryable failure gives the events back to the store (``need_retry=True``), not to
    ``on_failure``; they are sent again after a backoff."""
    calls = Calls()
    store = RecordingStore()
    collector.script([503])
    e = make(
        collector.endpoint,
        method="post",
        batch_size=2,
        event_store=store,
        max_retry_delay_seconds=0.05,
        on_success=calls.on_success,
        on_failure=calls.on_failure,
    )
    payloads = [make_payload(), make_payload()]
    for payload in payloads:
        e.input(payload)
    assert store.cleanups[0] == (2, True)
    assert collector.wait_for_events(2)
    assert calls.done.wait(10)
    assert without_stm(collector.events) == payloads
    assert calls.failures == []
    assert store.size() == 0


def test_event_store_rejected_events_go_to_on_failure(collector: Collector, make: Make) -> None:
    """A status that is not retried (400) reports the events and does not give them back."""
    calls = Calls()
    store = RecordingStore()
    collector.respond_with(400)
    e = make(collector.endpoint, event_store=store, on_failure=calls.on_failure, method="post")
    e.input(make_payload())
    e.flush()
    assert [n for n, _ in calls.failures] == [0]
    assert store.cleanups == [(1, False)]
    assert store.size() == 0


def test_async_event_store_gets_unsent_events_back_at_close(collector: Collector) -> None:
    """AsyncEmitter: what is still retrying when ``close()`` gives up goes back to the store."""
    store = RecordingStore()
    collector.respond_with(503)
    e = AsyncEmitter(collector.endpoint, method="post", event_store=store)
    e.input(make_payload())
    e.close(timeout=0.3)
    assert store.size() == 1
    assert e.stats().dropped == 0


def test_event_store_must_follow_the_protocol() -> None:
    """An object without the EventStore methods is refused with a clear error."""
    with pytest.raises(ConfigurationError, match="'event_store' must be an EventStore"):
        Emitter("collector.example.com", event_store=[])  # type: ignore[arg-type]


def test_default_store_is_a_view_of_the_byte_buffer(collector: Collector, make: Make) -> None:
    """Without a store, ``event_store.event_buffer`` shows the buffered events as dicts."""
    e = make(collector.endpoint, method="post", batch_size=3)
    payloads = [make_payload(), make_payload()]
    for payload in payloads:
        e.input(payload)
    assert e.event_store.event_buffer == payloads
    assert e.event_store.size() == 2
    assert not e.reached_limit()
    assert not isinstance(e.event_store, InMemoryEventStore)
    assert isinstance(InMemoryEventStore(), EventStore)


# ------------------------------------------------------------------ methods
def test_sync_flush_sends_before_returning(collector: Collector, make: Make) -> None:
    """``sync_flush`` on an AsyncEmitter returns once the buffered events were sent."""
    e = make(collector.endpoint, cls=AsyncEmitter, method="post", batch_size=10)
    for _ in range(3):
        e.input(make_payload())
    e.sync_flush()
    assert len(collector.events) == 3
    assert e.queue.empty()


def test_async_flush_returns_at_once_and_sends(collector: Collector, make: Make) -> None:
    """``async_flush`` hands the buffer to the sending threads without waiting."""
    collector.set_delay(0.5)
    e = make(collector.endpoint, cls=AsyncEmitter, method="post", batch_size=10)
    e.input(make_payload())
    e.async_flush()
    assert collector.events == []
    assert collector.wait_for_events(1)


def test_send_events_sends_dicts_and_reports_them(collector: Collector, make: Make) -> None:
    """``send_events`` sends the given dicts now (GET: one request each) and reports once."""
    calls = Calls()
    e = make(collector.endpoint, on_success=calls.on_success)
    payloads = [make_payload(), make_payload(), make_payload()]
    e.send_events(payloads)
    assert without_stm(collector.events) == payloads
    assert calls.successes == [payloads]


def test_http_methods_can_be_overridden_and_see_every_request(
    collector: Collector, make: Make
) -> None:
    """A subclass's ``http_post``/``http_get`` get every request; its status decides."""
    seen: List[str] = []

    class Logged(Emitter):
        def http_post(self, data: Union[str, bytes]) -> int:
            seen.append("post")
            return super().http_post(data)

        def http_get(self, payload: Union[Dict[str, Any], str]) -> int:
            seen.append("get")
            return super().http_get(payload)

    for method in ("post", "get"):
        e = make(collector.endpoint, method=method, cls=Logged)
        e.input(make_payload())
        e.flush()
    assert seen == ["post", "get"]
    assert len(collector.events) == 2


def test_http_post_and_get_answer_the_status_or_minus_one(make: Make) -> None:
    """``http_post``/``http_get`` return the collector's status, or -1 when it is down."""
    with Collector() as up:
        e = make(up.endpoint, method="post")
        body = post_body([encode_event(make_payload(), "post")]).decode()
        assert e.http_post(body) == 200
        assert e.http_get(make_payload()) == 200
        assert len(up.events) == 2
        endpoint = up.endpoint
    down = make(endpoint, method="get")
    assert down.http_get({"e": "pv"}) == -1
    assert not Emitter.is_good_status_code(-1)


def test_is_good_status_code_counts_2xx_and_3xx() -> None:
    """2xx and 3xx are successes (1.x: 2xx only); 4xx and 5xx are not."""
    assert [Emitter.is_good_status_code(s) for s in (200, 204, 302, 400, 503)] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_as_collector_uri_has_1x_defaults() -> None:
    """https and POST by default; a scheme in the endpoint wins; an empty one is refused."""
    assert Emitter.as_collector_uri("c.example") == (
        "https://c.example/com.snowplowanalytics.snowplow/tp2"
    )
    assert Emitter.as_collector_uri("http://c.example", port=9090, method="get") == (
        "http://c.example:9090/i"
    )
    with pytest.raises(ValueError, match="endpoint"):
        Emitter.as_collector_uri("")


def test_bytes_queued_counts_wire_bytes(collector: Collector, make: Make) -> None:
    """``bytes_queued`` is None without ``byte_limit``, else the bytes the buffered batch will
    take on the wire; 0 after a flush."""
    assert make(collector.endpoint).bytes_queued is None
    e = make(collector.endpoint, method="post", batch_size=10, byte_limit=100_000)
    payloads = [make_payload(), make_payload()]
    for payload in payloads:
        e.input(payload)
    wire = post_body([encode_event(p, "post") for p in payloads], stm=1_700_000_000_000)
    assert e.bytes_queued == len(wire)
    e.flush()
    assert e.bytes_queued == 0


def test_attach_sent_timestamp_sets_stm_in_place() -> None:
    """Each dict gets the same ``stm``, a string of milliseconds."""
    events: List[Dict[str, Any]] = [{"e": "pv"}, {"e": "se"}]
    Emitter.attach_sent_timestamp(events)
    assert events[0]["stm"] == events[1]["stm"]
    assert len(events[0]["stm"]) == 13


def test_timer_is_active_while_a_flush_timer_runs() -> None:
    """``timer.is_active()`` follows ``set_flush_timer`` and ``cancel_flush_timer``."""
    e = Emitter("collector.example.com")
    assert not e.timer.is_active()
    e.set_flush_timer(60)
    assert e.timer.is_active()
    e.cancel_flush_timer()
    assert not e.timer.is_active()


def test_default_max_length_is_the_post_batch_size() -> None:
    """1.x's ``DEFAULT_MAX_LENGTH`` is the POST default batch size."""
    assert Emitter("c.example", method="post").batch_size == DEFAULT_MAX_LENGTH == 10


def test_the_1x_constructor_call_of_the_redis_example_delivers(
    collector: Collector, make: Make
) -> None:
    """``Emitter(url, batch_size=1)`` (1.1.0's Redis worker) sends each event at once."""
    e = make(f"http://{collector.endpoint}", batch_size=1)
    e.input(make_payload())
    assert len(collector.events) == 1


# ------------------------------------------------------------------ EmitterConfiguration
def test_emitter_configuration_passes_the_1x_fields(collector: Collector, make: Make) -> None:
    """The configuration's 1.x fields reach the sync and async emitters."""
    store = InMemoryEventStore()
    for kind, cls in (("sync", Emitter), ("async", AsyncEmitter)):
        config = EmitterConfiguration(
            batch_size=4,
            buffer_capacity=3,
            max_retry_delay_seconds=2,
            custom_retry_codes={400: True},
            event_store=store,
            emitter=kind,
        )
        assert config.unsupported() == ()
        e = make(collector.endpoint, cls=cls, **config.emitter_arguments())
        assert (e.batch_size, e.buffer_capacity, e.max_retry_delay_seconds) == (3, 3, 2.0)
        assert 400 not in e.retry_policy.no_retry_statuses
        assert e.event_store is store


def test_emitter_configuration_lists_what_the_process_emitter_does_not_take() -> None:
    """``event_store`` and ``session`` are not ProcessEmitter arguments: listed, not passed."""
    config = EmitterConfiguration(event_store=InMemoryEventStore(), emitter="process")
    assert "event_store" in config.unsupported()
    assert "event_store" not in config.emitter_arguments()


def test_process_emitter_takes_the_1x_arguments() -> None:
    """ProcessEmitter: ``batch_size``, ``buffer_capacity`` (a bound on events held and on the
    batch), ``max_retry_delay_seconds`` and ``custom_retry_codes``; senders start lazily."""
    from snowplow_tracker import ProcessEmitter

    e = ProcessEmitter(
        "collector.example.com",
        batch_size=7,
        buffer_capacity=5,
        max_retry_delay_seconds=1,
        custom_retry_codes={400: True},
    )
    try:
        assert (e.buffer_size, e.max_queue_size) == (5, 5)
        assert e.retry_policy.max_delay == 1.0
        assert 400 not in e.retry_policy.no_retry_statuses
        config = EmitterConfiguration(batch_size=3, buffer_capacity=9, emitter="process")
        assert config.unsupported() == ()
        assert config.emitter_arguments() == {"buffer_size": 3, "buffer_capacity": 9}
    finally:
        e.close(timeout=1)


def test_stats_count_the_events_in_the_store(collector: Collector, make: Make) -> None:
    """With an event store, ``stats().queued`` is the store's size."""
    for cls in (Emitter, AsyncEmitter):
        e = make(collector.endpoint, cls=cls, method="post", event_store=InMemoryEventStore())
        e.input(make_payload())
        e.input(make_payload())
        assert e.stats().queued == 2
