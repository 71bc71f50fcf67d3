"""Integration tests of the synchronous :class:`Emitter` against the embedded collector."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Tuple

import orjson
import pytest

from snowplow_tracker import Emitter
from snowplow_tracker._logging import ThrottledLog
from snowplow_tracker.delivery.retry import RetryPolicy
from snowplow_tracker.emitters import base
from snowplow_tracker.errors import ConfigurationError, EncodingError
from snowplow_tracker.protocol.wire import encode_event, post_body
from snowplow_tracker.testing import Collector
from tests.http_sessions import TAG_HEADER, CountingAdapter, session_with
from tests.payloads import make_payload, without_stm

POST_PATH = "/com.snowplowanalytics.snowplow/tp2"

MakeEmitter = Callable[..., Emitter]


class Calls:
    """Records the calls of ``on_success`` and ``on_failure``."""

    def __init__(self) -> None:
        self.successes: List[List[Dict[str, str]]] = []
        self.failures: List[Tuple[int, List[Dict[str, str]]]] = []

    def on_success(self, events: List[Dict[str, str]]) -> None:
        self.successes.append(events)

    def on_failure(self, sent: int, unsent: List[Dict[str, str]]) -> None:
        self.failures.append((sent, unsent))


@pytest.fixture
def make_emitter() -> Iterator[MakeEmitter]:
    """Builds emitters and closes them all after the test."""
    made: List[Emitter] = []

    def make(*args: Any, **kwargs: Any) -> Emitter:
        emitter = Emitter(*args, **kwargs)
        made.append(emitter)
        return emitter

    yield make
    for emitter in made:
        emitter.cancel_flush_timer()
        emitter.transport.close()


def flush_timer_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "snowplow-flush-timer"]


# -- defaults -----------------------------------------------------------------------------------


def test_defaults_are_get_with_one_event_per_request(make_emitter: MakeEmitter) -> None:
    emitter = make_emitter("collector.example.com")
    assert emitter.method == "get"
    assert emitter.buffer_size == 1
    assert emitter.byte_limit is None
    assert emitter.transport.timeout == (5.0, 10.0)
    assert emitter.retry_policy == RetryPolicy.never()


def test_post_buffers_ten_events_by_default(make_emitter: MakeEmitter) -> None:
    assert make_emitter("collector.example.com", method="POST").buffer_size == 10


# -- GET and POST -------------------------------------------------------------------------------


def test_get_sends_each_event_before_input_returns(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    emitter = make_emitter(collector.endpoint)
    payloads = [make_payload(se_la="é ✓ 😀 a&b=c", se_va=str(i)) for i in range(3)]
    for i, payload in enumerate(payloads):
        emitter.input(payload)
        assert len(collector.requests) == i + 1
    assert [(r.method, r.path) for r in collector.requests] == [("GET", "/i")] * 3
    assert without_stm(collector.events) == payloads
    assert all(e["stm"].isdigit() for e in collector.events)


def test_post_sends_a_full_buffer_as_one_request(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    emitter = make_emitter(collector.endpoint, method="post")
    payloads = [make_payload(se_la="é ✓ 😀 a&b=c", se_va=str(i)) for i in range(10)]
    for payload in payloads[:9]:
        emitter.input(payload)
    assert collector.requests == []
    emitter.input(payloads[9])
    [request] = collector.requests
    assert (request.method, request.path) == ("POST", POST_PATH)
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert without_stm(collector.events) == payloads


@pytest.mark.parametrize("method", ["get", "post"])
def test_buffer_size_decides_when_requests_are_sent(
    collector: Collector, make_emitter: MakeEmitter, method: str
) -> None:
    emitter = make_emitter(collector.endpoint, method=method, buffer_size=3)
    payloads = [make_payload() for _ in range(7)]
    counts = []
    for payload in payloads:
        emitter.input(payload)
        counts.append(len(collector.events))
    assert counts == [0, 0, 3, 3, 3, 6, 6]
    per_event = method == "get"
    assert len(collector.requests) == (6 if per_event else 2)
    assert emitter.flush() is True
    assert len(collector.requests) == (7 if per_event else 3)
    assert collector.eids() == [p["eid"] for p in payloads]


def test_byte_limit_sends_before_a_request_would_exceed_it(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    payloads = [make_payload(se_la="x" * 40) for _ in range(10)]  # all the same size
    three = post_body([encode_event(p, "post") for p in payloads[:3]])
    limit = len(three) + 10  # three events fit, four do not
    emitter = make_emitter(collector.endpoint, method="post", buffer_size=100, byte_limit=limit)
    assert emitter.byte_limit == limit
    for payload in payloads:
        emitter.input(payload)
    assert [len(r.events) for r in collector.requests] == [3, 3, 3]
    emitter.flush()
    assert [len(r.events) for r in collector.requests] == [3, 3, 3, 1]
    assert all(len(r.body) <= limit for r in collector.requests)
    assert collector.eids() == [p["eid"] for p in payloads]


def test_an_event_larger_than_byte_limit_is_sent_alone(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    emitter = make_emitter(collector.endpoint, method="post", byte_limit=300)
    small, big = make_payload(), make_payload(se_la="x" * 1000)
    emitter.input(small)
    emitter.input(big)
    assert [len(r.events) for r in collector.requests] == [1, 1]
    assert collector.eids() == [small["eid"], big["eid"]]


def test_flush_sends_a_partial_buffer_and_returns_true(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    emitter = make_emitter(collector.endpoint, method="post")
    payloads = [make_payload() for _ in range(4)]
    for payload in payloads:
        emitter.input(payload)
    assert emitter.stats().queued == 4
    assert emitter.flush() is True
    assert [len(r.events) for r in collector.requests] == [4]
    assert emitter.stats().queued == 0
    assert emitter.flush(is_async=True, timeout=1) is True  # nothing left: no request
    assert len(collector.requests) == 1


def test_max_batch_age_sends_a_stale_partial_batch_with_the_next_event(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    emitter = make_emitter(collector.endpoint, method="post", max_batch_age=0.05)
    emitter.input(make_payload())
    time.sleep(0.06)
    emitter.input(make_payload())
    assert [len(r.events) for r in collector.requests] == [2]


def test_close_sends_the_buffer(collector: Collector, make_emitter: MakeEmitter) -> None:
    emitter = make_emitter(collector.endpoint, method="post")
    emitter.input(make_payload())
    assert emitter.close() is True
    assert len(collector.events) == 1


# -- callbacks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_on_success_receives_the_list_of_sent_event_dicts(
    collector: Collector, make_emitter: MakeEmitter, method: str
) -> None:
    calls = Calls()
    emitter = make_emitter(
        collector.endpoint,
        method=method,
        buffer_size=3,
        on_success=calls.on_success,
        on_failure=calls.on_failure,
    )
    payloads = [make_payload(se_la="é ✓ 😀 & =", se_va=str(i)) for i in range(3)]
    for payload in payloads:
        emitter.input(payload)
    assert calls.successes == [payloads]
    assert calls.failures == []


@pytest.mark.parametrize("status", [500, 503, 404, 400])
@pytest.mark.parametrize("method", ["get", "post"])
def test_on_failure_receives_the_unsent_event_dicts_without_raising(
    collector: Collector, make_emitter: MakeEmitter, status: int, method: str
) -> None:
    collector.respond_with(status)
    calls = Calls()
    emitter = make_emitter(
        collector.endpoint,
        method=method,
        buffer_size=2,
        on_success=calls.on_success,
        on_failure=calls.on_failure,
    )
    payloads = [make_payload(se_va="2.5"), make_payload()]
    for payload in payloads:
        emitter.input(payload)
    assert calls.failures == [(0, payloads)]
    assert calls.successes == []
    stats = emitter.stats()
    assert (stats.accepted, stats.sent, stats.failed, stats.retried) == (2, 0, 2, 0)


def test_on_failure_counts_the_get_events_that_were_sent(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    collector.script([200, 500, 200])
    calls = Calls()
    emitter = make_emitter(
        collector.endpoint,
        method="get",
        buffer_size=3,
        on_success=calls.on_success,
        on_failure=calls.on_failure,
    )
    payloads = [make_payload() for _ in range(3)]
    for payload in payloads:
        emitter.input(payload)
    assert calls.failures == [(2, [payloads[1]])]
    assert calls.successes == []


@pytest.mark.parametrize("method", ["get", "post"])
def test_on_failure_is_called_when_the_connection_is_refused(
    refused_endpoint: str, make_emitter: MakeEmitter, method: str
) -> None:
    calls = Calls()
    emitter = make_emitter(
        refused_endpoint,
        method=method,
        buffer_size=1,
        on_success=calls.on_success,
        on_failure=calls.on_failure,
        request_timeout=2,
    )
    payload = make_payload()
    emitter.input(payload)  # no exception reaches the caller
    assert emitter.flush() is True
    assert calls.failures == [(0, [payload])]
    assert calls.successes == []


def test_failed_events_passed_to_input_again_are_delivered_once_the_collector_is_back(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    unsent: List[Dict[str, str]] = []
    emitter = make_emitter(
        collector.endpoint,
        method="post",
        buffer_size=5,
        on_failure=lambda sent, events: unsent.extend(events),
    )
    payloads = [make_payload(se_va=str(i)) for i in range(5)]
    collector.respond_with(503)
    for payload in payloads:
        emitter.input(payload)
    assert unsent == payloads
    collector.respond_with(200)
    for event in unsent:
        emitter.input(event)
    emitter.flush()
    assert collector.eids() == [p["eid"] for p in payloads]  # each exactly once
    assert without_stm(collector.events) == payloads


def test_events_re_sent_from_the_on_failure_callback_are_delivered(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    """The documented ``on_failure_retry`` recipe: re-input the failed events at once."""
    emitter: Emitter

    def on_failure_retry(sent: int, failed: List[Dict[str, str]]) -> None:
        for event in failed:
            emitter.input(event)

    emitter = make_emitter(collector.endpoint, method="get", on_failure=on_failure_retry)
    collector.script([500])  # the first request fails, the retry succeeds
    payload = make_payload()
    emitter.input(payload)
    assert collector.eids() == [payload["eid"]]
    assert [r.status for r in collector.requests] == [500, 200]


@pytest.mark.parametrize("status", [301, 302, 304])
def test_3xx_counts_as_success(
    collector: Collector, make_emitter: MakeEmitter, status: int
) -> None:
    collector.respond_with(status)
    calls = Calls()
    emitter = make_emitter(
        collector.endpoint, on_success=calls.on_success, on_failure=calls.on_failure
    )
    payload = make_payload()
    emitter.input(payload)
    assert calls.successes == [[payload]]
    assert calls.failures == []
    assert emitter.stats().sent == 1
    assert len(collector.requests) == 1  # the redirect is not followed


@pytest.mark.parametrize("callback", ["on_success", "on_failure"])
def test_a_raising_callback_is_logged_and_never_reaches_the_caller(
    collector: Collector,
    make_emitter: MakeEmitter,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    callback: str,
) -> None:
    def boom(*args: Any) -> None:
        raise RuntimeError("callback bug")

    # A fresh throttle, so that an earlier test's record does not hide this one.
    monkeypatch.setattr(base, "_callback_log", ThrottledLog())

    if callback == "on_failure":
        collector.respond_with(500)
    emitter = make_emitter(collector.endpoint, **{callback: boom})
    with caplog.at_level(logging.WARNING, logger="snowplow_tracker"):
        emitter.input(make_payload())
        emitter.input(make_payload())
    assert len(collector.requests) == 2
    records = [r for r in caplog.records if "callback raised" in r.getMessage()]
    assert len(records) == 1  # throttled: one record per interval
    assert all(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in records)


# -- flush timer --------------------------------------------------------------------------------


def test_flush_timer_sends_a_partial_buffer_and_cancel_stops_it(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    emitter = make_emitter(collector.endpoint, method="post")
    emitter.input(make_payload())
    emitter.input(make_payload())
    emitter.set_flush_timer(0.2)
    assert collector.wait_for_events(2, timeout=5)
    assert [len(r.events) for r in collector.requests] == [2]
    emitter.cancel_flush_timer()
    assert flush_timer_threads() == []
    emitter.input(make_payload())
    assert not collector.wait_for_events(3, timeout=0.6)  # three timer periods: no flush
    assert emitter.stats().queued == 1


def test_flush_timer_flush_now_sends_at_once(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    emitter = make_emitter(collector.endpoint, method="post")
    emitter.input(make_payload())
    emitter.set_flush_timer(60, flush_now=True)
    assert len(collector.events) == 1
    emitter.cancel_flush_timer()
    assert flush_timer_threads() == []


def test_setting_the_flush_timer_again_replaces_the_previous_one(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    emitter = make_emitter(collector.endpoint, method="post")
    emitter.set_flush_timer(60)
    emitter.set_flush_timer(0.1)
    assert len(flush_timer_threads()) == 1
    emitter.input(make_payload())
    assert collector.wait_for_events(1, timeout=5)
    emitter.cancel_flush_timer()
    emitter.cancel_flush_timer()  # idempotent
    assert flush_timer_threads() == []


@pytest.mark.parametrize("bad", [0, -1, "5", None, True, float("nan"), float("inf")])
def test_set_flush_timer_rejects_a_bad_interval(make_emitter: MakeEmitter, bad: Any) -> None:
    emitter = make_emitter("collector.example.com")
    with pytest.raises(ConfigurationError) as info:
        emitter.set_flush_timer(bad)
    message = str(info.value)
    assert message.startswith("Emitter.set_flush_timer: argument 'timeout'")
    assert "positive number of seconds" in message
    assert repr(bad) in message
    assert flush_timer_threads() == []


# -- request_timeout ----------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0.3, (2.0, 0.3)])
def test_request_timeout_bounds_a_request_to_a_hanging_collector(
    collector: Collector, make_emitter: MakeEmitter, timeout: Any
) -> None:
    collector.set_fault("hang")
    calls = Calls()
    emitter = make_emitter(collector.endpoint, request_timeout=timeout, on_failure=calls.on_failure)
    payload = make_payload()
    caller = threading.Thread(target=emitter.input, args=(payload,))
    caller.start()
    caller.join(timeout=10)  # far above the timeout; the collector never answers
    assert not caller.is_alive()
    assert calls.failures == [(0, [payload])]


# -- many threads -------------------------------------------------------------------------------


def test_many_threads_tracking_at_once_deliver_every_event_exactly_once(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    emitter = make_emitter(collector.endpoint, method="post")
    threads, per_thread = 8, 500
    start = threading.Barrier(threads)
    errors: List[Exception] = []
    eids: List[List[str]] = [[] for _ in range(threads)]

    def track(n: int) -> None:
        try:
            start.wait(timeout=10)
            for i in range(per_thread):
                payload = make_payload(se_la=f"thread {n}", se_va=str(i))
                eids[n].append(payload["eid"])
                emitter.input(payload)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=track, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    emitter.flush()
    assert errors == []
    expected = sorted(e for chunk in eids for e in chunk)
    assert len(expected) == threads * per_thread
    assert sorted(collector.eids()) == expected  # every event, exactly once
    assert collector.bad_requests == 0
    stats = emitter.stats()
    assert (stats.accepted, stats.sent, stats.failed, stats.queued) == (4000, 4000, 0, 0)


# -- arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "argument", "expectation"),
    [
        ({"endpoint": ""}, "endpoint", "non-empty host name"),
        ({"endpoint": None}, "endpoint", "non-empty host name"),
        ({"endpoint": "ftp://collector"}, "endpoint", "http(s) scheme"),
        ({"protocol": "udp"}, "protocol", "'http' or 'https'"),
        ({"port": 0}, "port", "integer from 1 to 65535"),
        ({"method": "put"}, "method", "'get' or 'post'"),
        ({"method": None}, "method", "'get' or 'post'"),
        ({"buffer_size": 0}, "buffer_size", "positive integer or None"),
        ({"buffer_size": "10"}, "buffer_size", "positive integer or None"),
        ({"byte_limit": -5}, "byte_limit", "positive integer or None"),
        ({"on_success": "print"}, "on_success", "callable or None"),
        ({"on_failure": 1}, "on_failure", "callable or None"),
        ({"request_timeout": 0}, "request_timeout", "positive number of seconds"),
        ({"request_timeout": (1, 2, 3)}, "request_timeout", "(connect, read) tuple"),
        ({"request_timeout": "5"}, "request_timeout", "positive number of seconds"),
        ({"retry_policy": 3}, "retry_policy", "RetryPolicy or None"),
        ({"max_batch_age": 0}, "max_batch_age", "positive number of seconds"),
    ],
)
def test_invalid_arguments_raise_configuration_error_naming_the_argument(
    kwargs: Dict[str, Any], argument: str, expectation: str
) -> None:
    arguments: Dict[str, Any] = {"endpoint": "collector.example.com", **kwargs}
    with pytest.raises(ConfigurationError) as info:
        Emitter(**arguments)
    message = str(info.value)
    assert message.startswith(f"Emitter: argument '{argument}'")
    assert expectation in message
    assert repr(next(iter(kwargs.values()))) in message


# -- input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, "e=pv", ["e", "pv"], 42, b'{"e": "pv"}'])
def test_input_of_a_non_dict_raises_encoding_error_and_buffers_nothing(
    make_emitter: MakeEmitter, bad: Any
) -> None:
    emitter = make_emitter("collector.example.com", method="post")
    with pytest.raises(EncodingError) as info:
        emitter.input(bad)
    assert str(info.value).startswith("Emitter.input: argument 'payload' must be a dict")
    stats = emitter.stats()
    assert (stats.accepted, stats.queued) == (0, 0)


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("value", ["lone surrogate \ud800", Unprintable()])
def test_input_of_an_unserialisable_value_raises_encoding_error_and_buffers_nothing(
    collector: Collector, make_emitter: MakeEmitter, method: str, value: Any
) -> None:
    emitter = make_emitter(collector.endpoint, method=method, buffer_size=2)
    emitter.input(make_payload())
    with pytest.raises(EncodingError) as info:
        emitter.input(make_payload(se_la=value))
    assert str(info.value).startswith("Emitter.input: argument 'payload' cannot be serialised")
    assert isinstance(info.value, TypeError)
    stats = emitter.stats()
    assert (stats.accepted, stats.queued) == (1, 1)
    emitter.flush()
    assert len(collector.events) == 1


def test_input_does_not_modify_the_payload(collector: Collector, make_emitter: MakeEmitter) -> None:
    calls = Calls()
    emitter = make_emitter(collector.endpoint, method="post", on_success=calls.on_success)
    payload: Dict[str, Any] = {
        **make_payload(),
        "se_va": 2.5,
        "se_la": None,
        "se_pr": "",
        "stm": "1",
    }
    snapshot = dict(payload)
    emitter.input(payload)
    emitter.flush()
    assert payload == snapshot
    [[sent]] = calls.successes
    assert sent == {k: str(v) for k, v in payload.items() if k not in ("se_la", "se_pr", "stm")}
    assert collector.events[0]["stm"] != "1"


def test_the_same_payload_can_go_to_two_emitters(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    get, post = make_emitter(collector.endpoint), make_emitter(collector.endpoint, method="post")
    payload = make_payload(se_va="1")
    get.input(payload)
    post.input(payload)
    post.flush()
    assert collector.eids() == [payload["eid"], payload["eid"]]


# -- stats --------------------------------------------------------------------------------------


def test_stats_count_accepted_sent_failed_and_queued(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    emitter = make_emitter(collector.endpoint, method="post", buffer_size=3)
    assert emitter.stats().as_dict() == {
        "accepted": 0,
        "sent": 0,
        "failed": 0,
        "retried": 0,
        "dropped": 0,
        "queued": 0,
        "queued_bytes": 0,
        "in_flight": 0,
        "senders_alive": 0,
        "restarts": 0,
        "redelivered": 0,
        "throttled": 0,
    }
    for _ in range(3):
        emitter.input(make_payload())
    collector.respond_with(500)
    for _ in range(4):
        emitter.input(make_payload())
    stats = emitter.stats()
    assert (stats.accepted, stats.sent, stats.failed, stats.queued) == (7, 3, 3, 1)
    assert (stats.retried, stats.dropped) == (0, 0)


def test_a_retry_policy_makes_the_emitter_retry_in_the_caller(
    collector: Collector, make_emitter: MakeEmitter
) -> None:
    policy = RetryPolicy(base_delay=0.001, jitter=0, max_attempts=3)
    emitter = make_emitter(collector.endpoint, method="post", buffer_size=2, retry_policy=policy)
    collector.script([503, 503])
    emitter.input(make_payload())
    emitter.input(make_payload())
    stats = emitter.stats()
    assert (stats.sent, stats.failed, stats.retried) == (2, 0, 4)
    assert [r.status for r in collector.requests] == [503, 503, 200]
    assert len(orjson.loads(collector.requests[-1].body)["data"]) == 2


# -- a user's requests.Session and the documented positional order ------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_request_goes_through_the_users_session(
    collector: Collector, make_emitter: MakeEmitter, method: str
) -> None:
    adapter = CountingAdapter()
    session = session_with(adapter)
    emitter = make_emitter(collector.endpoint, method=method, buffer_size=2, session=session)
    for _ in range(4):
        emitter.input(make_payload())
    assert len(collector.events) == 4
    assert len(collector.requests) == adapter.started == (4 if method == "get" else 2)
    assert {r.headers.get(TAG_HEADER) for r in collector.requests} == {"via-user-session"}
    emitter.close()
    assert emitter.session is session  # the user's session is left to the user


def test_the_documented_positional_order_is_accepted(collector: Collector) -> None:
    """0.10: endpoint, protocol, port, method, buffer_size, on_success, on_failure,
    byte_limit, request_timeout."""
    calls = Calls()
    emitter = Emitter(
        collector.host, "http", collector.port, "post", 2, calls.on_success, calls.on_failure,
        50_000, (2.0, 3.0),
    )  # fmt: skip
    assert (emitter.method, emitter.buffer_size, emitter.byte_limit) == ("post", 2, 50_000)
    assert emitter.request_timeout == (2.0, 3.0)
    payloads = [make_payload(), make_payload()]
    for payload in payloads:
        emitter.input(payload)
    assert calls.successes == [payloads]
    assert Emitter("collector.example.com", "https").transport.get_url == (
        "https://collector.example.com/i"
    )


def test_close_drops_and_reports_what_it_cannot_send_by_its_deadline(
    collector: Collector, make_emitter: MakeEmitter, caplog: pytest.LogCaptureFixture
) -> None:
    """GET events buffered at close with a hanging collector: one request, then the deadline."""
    collector.set_fault("hang")
    calls = Calls()
    emitter = make_emitter(
        collector.endpoint, buffer_size=5, request_timeout=0.3, on_failure=calls.on_failure
    )
    payloads = [make_payload() for _ in range(4)]
    for payload in payloads:
        emitter.input(payload)
    with caplog.at_level(logging.WARNING, logger="snowplow_tracker"):
        assert emitter.close(timeout=0.1) is False
    assert calls.failures == [(0, payloads[:1]), (0, payloads[1:])]
    stats = emitter.stats()
    assert (stats.failed, stats.dropped, stats.queued) == (1, 3, 0)
    assert len([r for r in caplog.records if "close deadline" in r.getMessage()]) == 1


def test_an_event_that_cannot_be_decoded_does_not_hide_the_others_from_on_failure(
    collector: Collector,
) -> None:
    """Encoded events handed to send_events, one of them not JSON: the collector refuses the
    batch, and on_failure still receives every event that decodes; the counts are exact."""
    got: List[Dict[str, str]] = []
    emitter = Emitter(collector.endpoint, method="post", on_failure=lambda n, evs: got.extend(evs))
    collector.respond_with(400)
    good = [make_payload(), make_payload()]
    emitter.send_events(
        [encode_event(good[0], "post"), b"{not json", encode_event(good[1], "post")]
    )
    assert [e["eid"] for e in got] == [e["eid"] for e in good]
    stats = emitter.stats()
    assert (stats.sent, stats.failed) == (0, 3)
