"""Integration tests of :mod:`snowplow_tracker.delivery.transport` against the embedded
collector."""

from __future__ import annotations

import base64
import logging
import os
import socket
import threading
import warnings
from typing import Any, Callable, Dict, Iterator, List, Tuple
from urllib.parse import parse_qsl

import orjson
import pytest
import urllib3.exceptions

from snowplow_tracker.delivery import http_client
from snowplow_tracker.delivery.http_client import CLIENTS
from snowplow_tracker.delivery.retry import RetryPolicy
from snowplow_tracker.delivery.transport import (
    DEFAULT_TIMEOUT,
    HttpTransport,
    check_timeout,
    deliver,
)
from snowplow_tracker.errors import ConfigurationError
from snowplow_tracker.protocol.wire import PAYLOAD_DATA_SCHEMA, encode_event
from snowplow_tracker.testing import Collector
from tests.payloads import make_payload

POST_PATH = "/com.snowplowanalytics.snowplow/tp2"
FAST = RetryPolicy(base_delay=0.001, max_delay=0.01, jitter=0, max_attempts=3)

MakeTransport = Callable[..., HttpTransport]


def encoded(n: int, method: str) -> List[bytes]:
    return [encode_event(make_payload(se_la=f"label é {i}"), method) for i in range(n)]


def no_wait(delays: List[float]) -> Callable[[float], bool]:
    """A ``wait`` for :func:`deliver` that records the delays instead of sleeping."""

    def wait(seconds: float) -> bool:
        delays.append(seconds)
        return False

    return wait


@pytest.fixture(params=CLIENTS)
def make_transport(request: pytest.FixtureRequest) -> Iterator[MakeTransport]:
    """Builds transports on each client (requests, urllib3) and closes them after the test."""
    made: List[HttpTransport] = []

    def make(endpoint: str, method: str = "post", **kwargs: Any) -> HttpTransport:
        kwargs.setdefault("client", request.param)
        transport = HttpTransport(endpoint, method, **kwargs)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()


def connection_threads(collector: Collector) -> List[str]:
    prefix = f"snowplow-collector-{collector.port}-conn-"
    return sorted(t.name for t in threading.enumerate() if t.name.startswith(prefix))


# -- requests on the wire -----------------------------------------------------------------------


def test_post_sends_the_batch_as_one_payload_data_request(
    collector: Collector, make_transport: MakeTransport
) -> None:
    transport = make_transport(collector.endpoint, "post")
    payloads = [make_payload(se_la="é ✓ 😀 & = +", se_pr=str(i)) for i in range(3)]
    events = [encode_event(p, "post") for p in payloads]
    result = transport.send(events)
    assert result.sent == events
    assert result.retry == result.rejected == []
    assert result.status == 200
    assert result.error is None
    [request] = collector.requests
    assert request.method == "POST"
    assert request.path == POST_PATH
    assert request.query == ""
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    doc = orjson.loads(request.body)
    assert doc["schema"] == PAYLOAD_DATA_SCHEMA
    stms = {e.pop("stm") for e in doc["data"]}
    assert len(stms) == 1  # one send time for the whole request
    assert doc["data"] == payloads
    assert collector.bad_requests == 0


def test_get_sends_one_request_per_event_to_i(
    collector: Collector, make_transport: MakeTransport
) -> None:
    transport = make_transport(collector.endpoint, "get")
    payloads = [make_payload(se_la="é ✓ 😀 & = +", se_pr=str(i)) for i in range(3)]
    events = [encode_event(p, "get") for p in payloads]
    result = transport.send(events)
    assert result.sent == events
    requests = collector.requests
    assert [(r.method, r.path) for r in requests] == [("GET", "/i")] * 3
    for request, payload in zip(requests, payloads):
        pairs = parse_qsl(request.query)
        assert pairs[-1][0] == "stm"
        assert dict(pairs[:-1]) == payload
        assert request.body == b""
    assert collector.events == [
        {**p, "stm": r.events[0]["stm"]} for p, r in zip(payloads, requests)
    ]


def test_url_is_the_post_or_get_collector_url(collector: Collector) -> None:
    post = HttpTransport(collector.endpoint, "post")
    get = HttpTransport(collector.endpoint, "get")
    assert post.url == f"http://{collector.endpoint}{POST_PATH}"
    assert get.url == f"http://{collector.endpoint}/i"


def test_sending_nothing_makes_no_request(
    collector: Collector, make_transport: MakeTransport
) -> None:
    result = make_transport(collector.endpoint, "post").send([])
    assert result.sent == result.retry == result.rejected == []
    assert collector.requests == []


# -- statuses -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 204, 301, 302, 307, 399])
@pytest.mark.parametrize("method", ["get", "post"])
def test_2xx_and_3xx_count_as_sent_without_following_redirects(
    collector: Collector, make_transport: MakeTransport, status: int, method: str
) -> None:
    collector.respond_with(status)
    events = encoded(2, method)
    result = make_transport(collector.endpoint, method).send(events)
    assert result.sent == events
    assert result.status == status
    assert len(collector.requests) == (1 if method == "post" else 2)


@pytest.mark.parametrize("status", [400, 401, 403, 410, 422])
def test_non_retryable_4xx_rejects_the_events(
    collector: Collector, make_transport: MakeTransport, status: int
) -> None:
    collector.respond_with(status)
    events = encoded(2, "post")
    result = make_transport(collector.endpoint, "post").send(events)
    assert result.rejected == events
    assert result.sent == result.retry == []
    assert result.status == status
    assert result.error == f"HTTP {status}"


@pytest.mark.parametrize("status", [404, 429, 500, 502, 503, 504])
def test_5xx_and_other_statuses_are_retryable(
    collector: Collector, make_transport: MakeTransport, status: int
) -> None:
    collector.respond_with(status)
    events = encoded(2, "post")
    result = make_transport(collector.endpoint, "post").send(events)
    assert result.retry == events
    assert result.sent == result.rejected == []
    assert result.status == status


def test_custom_no_retry_statuses_decide_what_is_rejected(
    collector: Collector, make_transport: MakeTransport
) -> None:
    policy = RetryPolicy(no_retry_statuses=frozenset({503}))
    transport = make_transport(collector.endpoint, "post", retry_policy=policy)
    events = encoded(1, "post")
    collector.script([503, 400])
    assert transport.send(events).rejected == events
    assert transport.send(events).retry == events


def test_get_sorts_each_event_by_its_own_answer(
    collector: Collector, make_transport: MakeTransport
) -> None:
    collector.script([200, 503, 400, 302])
    events = encoded(4, "get")
    result = make_transport(collector.endpoint, "get").send(events)
    assert result.sent == [events[0], events[3]]
    assert result.retry == [events[1]]
    assert result.rejected == [events[2]]


# -- network failures ---------------------------------------------------------------------------


def test_connection_refused_is_a_retryable_failure(
    refused_endpoint: str, make_transport: MakeTransport
) -> None:
    events = encoded(2, "post")
    result = make_transport(refused_endpoint, "post", request_timeout=2).send(events)
    assert result.retry == events
    assert result.sent == result.rejected == []
    assert result.status is None
    assert result.error == "ConnectionError"


@pytest.mark.parametrize("fault", ["reset", "garbage", "hang"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_connection_faults_are_retryable_failures_without_raising(
    collector: Collector, make_transport: MakeTransport, fault: str, method: str
) -> None:
    collector.set_fault(fault)
    transport = make_transport(collector.endpoint, method, request_timeout=0.3)
    events = encoded(1, method)
    result = transport.send(events)
    assert result.retry == events
    assert result.sent == result.rejected == []
    assert result.status is None
    assert result.error
    assert collector.wait_for_requests(1, timeout=5)


def test_a_hanging_collector_times_out_on_read(
    collector: Collector, make_transport: MakeTransport
) -> None:
    collector.set_fault("hang")
    transport = make_transport(collector.endpoint, "post", request_timeout=(2.0, 0.2))
    result = transport.send(encoded(1, "post"))
    assert result.error == "ReadTimeout"


def test_a_full_listen_queue_times_out_on_connect(make_transport: MakeTransport) -> None:
    """A listening socket that accepts nothing, its backlog filled: the SYN is never answered."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                try:
                    filler.connect(("127.0.0.1", port))
                except BlockingIOError:
                    pass
            transport = make_transport(f"127.0.0.1:{port}", "post", request_timeout=(0.2, 1))
            result = transport.send(encoded(1, "post"))
        finally:
            for filler in fillers:
                filler.close()
    assert result.error == "ConnectTimeout"
    assert len(result.retry) == 1


def test_a_new_connection_is_used_after_a_failure(
    collector: Collector, make_transport: MakeTransport
) -> None:
    transport = make_transport(collector.endpoint, "post")
    collector.script(["reset", "garbage"])
    events = encoded(1, "post")
    assert transport.send(events).retry == events
    assert transport.send(events).retry == events
    assert transport.send(events).sent == events
    assert collector.eids() == [orjson.loads(events[0])["eid"]]


# -- keep-alive ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_requests_reuse_one_keep_alive_connection(
    collector: Collector, make_transport: MakeTransport, method: str
) -> None:
    transport = make_transport(collector.endpoint, method)
    for _ in range(5):
        assert len(transport.send(encoded(2, method)).sent) == 2
    assert len(collector.requests) == (5 if method == "post" else 10)
    # The collector serves each connection on its own numbered thread: only the first exists.
    assert connection_threads(collector) == [f"snowplow-collector-{collector.port}-conn-1"]


def test_threads_sending_at_once_share_the_transport(
    collector: Collector, make_transport: MakeTransport
) -> None:
    transport = make_transport(collector.endpoint, "post")
    start = threading.Barrier(4)
    results: List[int] = []

    def send() -> None:
        start.wait(timeout=5)
        for _ in range(10):
            results.append(len(transport.send(encoded(3, "post")).sent))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert results == [3] * 40
    assert len(collector.eids()) == len(set(collector.eids())) == 120
    assert len(connection_threads(collector)) <= 4


@pytest.mark.parametrize("pool_size", [1, 3])
def test_pool_size_requests_are_in_flight_at_once_on_as_many_connections(
    make_transport: MakeTransport, pool_size: int
) -> None:
    """Twice pool_size threads send at once: the collector holds each request until pool_size
    are open together (a barrier), and never sees more connections than pool_size."""
    barrier = threading.Barrier(pool_size, timeout=10)
    broken: List[BaseException] = []

    def hold(event: Dict[str, str]) -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError as exc:
            broken.append(exc)

    with Collector(on_event=hold) as collector:
        transport = make_transport(collector.endpoint, "post", pool_size=pool_size)
        results: List[int] = []
        threads = [
            threading.Thread(
                target=lambda: results.append(len(transport.send(encoded(1, "post")).sent))
            )
            for _ in range(2 * pool_size)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert results == [1] * 2 * pool_size
        assert broken == []
        assert len(connection_threads(collector)) == pool_size


def test_credentials_in_the_endpoint_are_sent_as_basic_auth_and_never_shown(
    collector: Collector, make_transport: MakeTransport, caplog: pytest.LogCaptureFixture
) -> None:
    """0.10 style ``user:password@host``: the password is percent-decoded, sent in the
    Authorization header, and appears in no URL or log line."""
    caplog.set_level(logging.DEBUG, logger="snowplow_tracker")
    transport = make_transport(f"http://an%40lyst:s3cr%3At@{collector.endpoint}", "post")
    assert transport.url == f"http://{collector.endpoint}{POST_PATH}"
    collector.script([503, 200])
    events = encoded(2, "post")
    assert transport.send(events).retry == events
    assert transport.send(events).sent == events
    expected = "Basic " + base64.b64encode(b"an@lyst:s3cr:t").decode()
    for request in collector.requests:
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert headers["authorization"] == expected
    assert "s3cr" not in caplog.text
    assert f"sent 2 event(s) to {transport.url}" in caplog.text  # the URL is logged, bare


def test_a_forked_child_sends_on_its_own_connection_and_the_parents_stays_usable(
    collector: Collector, make_transport: MakeTransport
) -> None:
    transport = make_transport(collector.endpoint, "post")
    assert transport.send(encoded(1, "post")).sent
    sent_r, sent_w = os.pipe()
    go_r, go_w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        ok = len(transport.send(encoded(2, "post")).sent) == 2
        os.write(sent_w, b"1" if ok else b"0")
        os.read(go_r, 1)  # keep the child's connection open until the parent has looked
        os._exit(0)
    try:
        assert os.read(sent_r, 1) == b"1"
        # The parent's connection (1) is still open; the child made its own (2).
        assert connection_threads(collector) == [
            f"snowplow-collector-{collector.port}-conn-{i}" for i in (1, 2)
        ]
    finally:
        os.write(go_w, b"1")
        os.waitpid(pid, 0)
        for fd in (sent_r, sent_w, go_r, go_w):
            os.close(fd)
    assert transport.send(encoded(1, "post")).sent
    assert collector.wait_for_events(4, timeout=5)
    assert len(collector.requests) == 3


def test_close_releases_the_connection_and_the_transport_can_send_again(
    collector: Collector, make_transport: MakeTransport
) -> None:
    transport = make_transport(collector.endpoint, "post")
    assert transport.send(encoded(1, "post")).sent
    transport.close()
    transport.close()  # idempotent
    assert transport.send(encoded(1, "post")).sent
    assert collector.wait_for_events(2, timeout=5)


# -- deliver ------------------------------------------------------------------------------------


def test_deliver_retries_503_twice_then_succeeds(
    collector: Collector, make_transport: MakeTransport
) -> None:
    collector.script([503, 503, 200])
    events = encoded(3, "post")
    delays: List[float] = []
    policy = RetryPolicy(base_delay=0.001, jitter=0, max_attempts=5)
    outcome = deliver(make_transport(collector.endpoint, "post"), events, policy, no_wait(delays))
    assert outcome.sent == events
    assert outcome.failed == []
    assert outcome.attempts == 3
    assert outcome.retried == 6  # 3 events sent again, twice
    assert delays == [0.001, 0.002]
    assert [r.status for r in collector.requests] == [503, 503, 200]
    assert len(collector.events) == 3


def test_deliver_really_waits_between_attempts_by_default(
    collector: Collector, make_transport: MakeTransport
) -> None:
    collector.script([503])
    events = encoded(1, "post")
    outcome = deliver(make_transport(collector.endpoint, "post"), events, FAST)
    assert outcome.sent == events
    assert outcome.retried == 1


def test_deliver_uses_the_transport_policy_by_default(
    collector: Collector, make_transport: MakeTransport
) -> None:
    collector.respond_with(503)
    transport = make_transport(collector.endpoint, "post", retry_policy=FAST)
    outcome = deliver(transport, encoded(1, "post"), wait=no_wait([]))
    assert outcome.attempts == 3


def test_deliver_gives_up_after_max_attempts_and_reports_failed(
    collector: Collector, make_transport: MakeTransport
) -> None:
    collector.respond_with(503)
    events = encoded(2, "post")
    outcome = deliver(make_transport(collector.endpoint, "post"), events, FAST, no_wait([]))
    assert outcome.sent == []
    assert outcome.failed == events
    assert outcome.attempts == 3
    assert outcome.retried == 4
    assert len(collector.requests) == 3


def test_deliver_gives_up_at_the_deadline(
    collector: Collector, make_transport: MakeTransport
) -> None:
    collector.respond_with(500)
    policy = RetryPolicy(max_attempts=None, deadline=0.5, base_delay=0.3, jitter=0)
    events = encoded(1, "post")
    delays: List[float] = []
    outcome = deliver(make_transport(collector.endpoint, "post"), events, policy, no_wait(delays))
    # The second delay (0.6 s) would pass the deadline: no third attempt.
    assert outcome.attempts == 2
    assert delays == [0.3]
    assert outcome.failed == events


def test_deliver_does_not_retry_a_rejected_batch(
    collector: Collector, make_transport: MakeTransport
) -> None:
    collector.respond_with(400)
    events = encoded(2, "post")
    delays: List[float] = []
    outcome = deliver(make_transport(collector.endpoint, "post"), events, FAST, no_wait(delays))
    assert outcome.failed == events
    assert outcome.attempts == 1
    assert outcome.retried == 0
    assert delays == []


def test_deliver_stops_when_wait_returns_true(
    collector: Collector, make_transport: MakeTransport
) -> None:
    collector.respond_with(503)
    events = encoded(2, "post")
    calls: List[float] = []

    def stop(seconds: float) -> bool:
        calls.append(seconds)
        return True

    outcome = deliver(make_transport(collector.endpoint, "post"), events, FAST, stop)
    assert outcome.failed == events
    assert outcome.attempts == 1
    assert outcome.retried == 0
    assert len(calls) == 1
    assert len(collector.requests) == 1


def test_deliver_retries_only_the_get_events_that_failed(
    collector: Collector, make_transport: MakeTransport
) -> None:
    collector.script([503, 200, 400, 200])
    events = encoded(3, "get")
    outcome = deliver(make_transport(collector.endpoint, "get"), events, FAST, no_wait([]))
    assert outcome.sent == [events[1], events[0]]
    assert outcome.failed == [events[2]]
    assert outcome.attempts == 2
    assert outcome.retried == 1


def test_deliver_recovers_from_network_faults(
    collector: Collector, make_transport: MakeTransport
) -> None:
    collector.script(["reset", "garbage"])
    events = encoded(2, "post")
    transport = make_transport(collector.endpoint, "post", request_timeout=2)
    outcome = deliver(transport, events, FAST, no_wait([]))
    assert outcome.sent == events
    assert outcome.attempts == 3
    assert sorted(collector.eids()) == sorted(orjson.loads(e)["eid"] for e in events)


def test_deliver_reports_refused_connections_as_failed(
    refused_endpoint: str, make_transport: MakeTransport
) -> None:
    events = encoded(1, "post")
    outcome = deliver(make_transport(refused_endpoint, "post"), events, FAST, no_wait([]))
    assert outcome.failed == events
    assert outcome.attempts == 3


def test_deliver_of_nothing_makes_no_attempt(make_transport: MakeTransport) -> None:
    outcome = deliver(make_transport("127.0.0.1:9", "post"), [], FAST)
    assert outcome.attempts == 0
    assert outcome.sent == outcome.failed == []


# -- request_timeout ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, DEFAULT_TIMEOUT),
        (2, (2.0, 2.0)),
        (0.5, (0.5, 0.5)),
        ((1, 2.5), (1.0, 2.5)),
    ],
)
def test_check_timeout_accepts_a_number_or_a_connect_read_pair(
    value: Any, expected: Tuple[float, float]
) -> None:
    assert check_timeout(value, "Emitter") == expected


def test_default_timeout_is_5_seconds_to_connect_and_10_to_read() -> None:
    assert DEFAULT_TIMEOUT == (5.0, 10.0)
    assert HttpTransport("c.example.com").timeout == (5.0, 10.0)


@pytest.mark.parametrize(
    "bad",
    [0, -1, "5", True, (1, 2, 3), (1,), (0, 1), (1, None), [1, 2], float("nan"), float("inf")],
)
def test_check_timeout_rejects_anything_else_with_a_clear_message(bad: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        check_timeout(bad, "Emitter")
    message = str(info.value)
    assert message.startswith("Emitter: argument 'request_timeout'")
    assert "positive number of seconds or a (connect, read) tuple" in message
    assert repr(bad) in message


def test_transport_validates_its_endpoint() -> None:
    with pytest.raises(ConfigurationError, match=r"^Emitter: argument 'endpoint'"):
        HttpTransport("")


@pytest.mark.parametrize("client_name", CLIENTS)
def test_a_wait_for_a_pooled_connection_that_never_comes_back_is_bounded(
    collector: Collector, client_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's only connection is taken away (as urllib3's exit-time finalizer empties a
    pool): the next request fails after the bounded pool wait instead of waiting for ever."""
    monkeypatch.setattr(http_client, "POOL_WAIT_MIN", 0.2, raising=False)
    make = http_client.RequestsClient if client_name == "requests" else http_client.Urllib3Client
    client = make(collector.url, (0.05, 0.05), pool_size=1)
    assert client.request("GET", f"{collector.url}/i?e=pv", None, {}) == (200, None)
    if isinstance(client, http_client.RequestsClient):
        pools = client.session.get_adapter(collector.url).poolmanager.pools
        [pool] = [pools[key] for key in pools.keys()]  # noqa: SIM118 - it cannot be iterated
    else:
        pool = client.pool
    assert pool is not None and pool.pool is not None
    taken = pool.pool.get(block=False)  # the one connection slot, never given back
    raised: List[BaseException] = []

    def request() -> None:
        try:
            client.request("GET", f"{collector.url}/i?e=pv", None, {})
        except Exception as exc:  # noqa: BLE001 - asserted below
            raised.append(exc)

    thread = threading.Thread(target=request, daemon=True)
    thread.start()
    thread.join(10)
    if taken is not None:
        taken.close()
    assert not thread.is_alive(), "the request still waits for a pooled connection"
    assert [type(e) for e in raised] == [urllib3.exceptions.EmptyPoolError]
    assert http_client.error_name(raised[0]) == "ConnectionError"
