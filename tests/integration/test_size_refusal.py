"""A request the collector refuses for its size (413, 414) is never retried as it is.

A POST batch answered 413 is split in halves and sent again; an event too large on its own fails
alone, at once; a GET answered 414 fails alone, at once. Events the collector accepted are sent,
never failed. Real HTTP against the embedded collector with size limits set.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Tuple

import orjson
import pytest

from snowplow_tracker.delivery.retry import RetryPolicy
from snowplow_tracker.delivery.transport import HttpTransport, deliver
from snowplow_tracker.emitters import AsyncEmitter, Emitter
from snowplow_tracker.emitters.process.emitter import ProcessEmitter
from snowplow_tracker.protocol.wire import decode_event, encode_event, get_query, post_body
from snowplow_tracker.testing import Collector
from tests.capture import Calls
from tests.payloads import make_payload

#: A policy that would retry 8 times: a size refusal must not use it.
RETRYING = RetryPolicy(max_attempts=8, base_delay=0.5, jitter=0)
BIG = "x" * 3000


def small(n: int, method: str = "post") -> List[bytes]:
    return [encode_event(make_payload(se_la=f"small {i:03d}"), method) for i in range(n)]


def big(method: str = "post") -> bytes:
    return encode_event(make_payload(se_la=BIG), method)


def eid(event: bytes, method: str = "post") -> str:
    return decode_event(event, method)["eid"]


def body_limit(events_that_fit: int) -> int:
    """The body limit that lets a POST of this many small events through, and no more."""
    return len(post_body(small(events_that_fit), 1_700_000_000_000))


def url_limit() -> int:
    """A request-target limit that a small GET event passes and a big one does not."""
    return len("/i?" + get_query(small(1, "get")[0], 1_700_000_000_000)) + 10


def no_wait(delays: List[float]) -> Any:
    def wait(seconds: float) -> bool:
        delays.append(seconds)
        return False

    return wait


@pytest.fixture(params=["requests", "urllib3"])
def transport(request: pytest.FixtureRequest, collector: Collector) -> Iterator[HttpTransport]:
    made = HttpTransport(collector.endpoint, "post", retry_policy=RETRYING, client=request.param)
    yield made
    made.close()


def statuses(collector: Collector) -> List[Tuple[int, int]]:
    """(events in the request, status answered) of every request received."""
    return [(len(r.events), r.status) for r in collector.requests]


# -- the transport ------------------------------------------------------------------------------


def test_a_post_batch_answered_413_is_split_until_the_halves_fit(
    collector: Collector, transport: HttpTransport
) -> None:
    collector.set_size_limits(body_bytes=body_limit(2))
    events = small(8)
    result = transport.send(events)
    assert result.sent == events
    assert result.retry == result.rejected == []
    assert (
        statuses(collector) == [(8, 413), (4, 413), (2, 200), (2, 200), (4, 413)] + [(2, 200)] * 2
    )
    assert sorted(collector.eids()) == sorted(eid(e) for e in events)  # each exactly once


def test_an_event_too_large_alone_is_rejected_and_the_rest_of_its_batch_sent(
    collector: Collector, transport: HttpTransport
) -> None:
    collector.set_size_limits(body_bytes=body_limit(2))
    events = small(5)
    events.insert(2, big())
    result = transport.send(events)
    assert result.rejected == [events[2]]
    assert result.retry == []
    assert sorted(result.sent) == sorted(events[:2] + events[3:])
    assert sorted(collector.eids()) == sorted(eid(e) for e in result.sent)
    assert result.error == "HTTP 413"


def test_deliver_fails_an_oversized_event_at_once_without_retrying(
    collector: Collector, transport: HttpTransport
) -> None:
    collector.set_size_limits(body_bytes=body_limit(4))
    events = [*small(3), big()]
    delays: List[float] = []
    outcome = deliver(transport, events, RETRYING, no_wait(delays))
    assert outcome.failed == [events[3]]
    assert outcome.sent == events[:3]
    assert outcome.attempts == 1
    assert outcome.retried == 0
    assert delays == []


def test_a_half_answered_503_is_retried_alone_and_acknowledgements_stay_exact(
    collector: Collector, transport: HttpTransport
) -> None:
    collector.set_size_limits(body_bytes=body_limit(2))
    collector.script([503])  # the first request within the limit
    events = small(4)
    delays: List[float] = []
    outcome = deliver(transport, events, RETRYING, no_wait(delays))
    assert outcome.sent == events[2:] + events[:2]
    assert outcome.failed == []
    assert outcome.attempts == 2
    assert outcome.retried == 2
    assert statuses(collector) == [(4, 413), (2, 503), (2, 200), (2, 200)]
    assert sorted(collector.eids()) == sorted(eid(e) for e in events)


def test_post_answered_414_fails_at_once_without_splitting(
    collector: Collector, transport: HttpTransport
) -> None:
    """The POST URL does not depend on the events: a smaller batch would get 414 again."""
    collector.set_size_limits(url_bytes=10)
    events = small(4)
    outcome = deliver(transport, events, RETRYING, no_wait([]))
    assert outcome.failed == events
    assert outcome.attempts == 1
    assert statuses(collector) == [(4, 414)]


@pytest.mark.parametrize("client", ["requests", "urllib3"])
def test_a_get_answered_414_fails_alone_at_once(collector: Collector, client: str) -> None:
    collector.set_size_limits(url_bytes=url_limit())
    transport = HttpTransport(collector.endpoint, "get", retry_policy=RETRYING, client=client)
    events = small(3, "get")
    events.insert(1, big("get"))
    delays: List[float] = []
    try:
        outcome = deliver(transport, events, RETRYING, no_wait(delays))
    finally:
        transport.close()
    assert outcome.failed == [events[1]]
    assert outcome.sent == [events[0], events[2], events[3]]
    assert outcome.attempts == 1
    assert delays == []
    assert [r.status for r in collector.requests] == [200, 414, 200, 200]


def test_the_issues_100_kb_get_event_fails_alone_at_once(collector: Collector) -> None:
    """No limit set: the collector's HTTP server itself answers 414 past 64 KiB of URL."""
    transport = HttpTransport(collector.endpoint, "get", retry_policy=RETRYING)
    events = [encode_event(make_payload(se_la="y" * 100_000), "get"), *small(1, "get")]
    try:
        outcome = deliver(transport, events, RETRYING, no_wait([]))
    finally:
        transport.close()
    assert outcome.failed == events[:1]
    assert outcome.sent == events[1:]
    assert outcome.attempts == 1


# -- through the emitters -----------------------------------------------------------------------


def payloads() -> List[Any]:
    """10 small events with one 3 KB event among them (the 6th)."""
    events = [make_payload(se_la=f"small {i:03d}") for i in range(10)]
    events.insert(5, make_payload(se_la=BIG))
    return events


def test_sync_emitter_reports_only_the_oversized_event_as_failed(collector: Collector) -> None:
    collector.set_size_limits(body_bytes=body_limit(4))
    calls = Calls()
    emitter = Emitter(
        collector.endpoint, method="post", buffer_size=11, on_failure=calls.on_failure
    )
    events = payloads()
    for event in events:
        emitter.input(event)
    emitter.close()
    assert calls.failed_eids() == [(10, [events[5]["eid"]])]
    assert sorted(collector.eids()) == sorted(e["eid"] for i, e in enumerate(events) if i != 5)
    stats = emitter.stats()
    assert (stats.sent, stats.failed, stats.retried) == (10, 1, 0)


def test_async_emitter_does_not_retry_a_refused_size_and_sends_what_follows(
    collector: Collector,
) -> None:
    """0.10's AsyncEmitter retried a 413 eight times while the events behind it waited."""
    collector.set_size_limits(body_bytes=body_limit(5))
    calls = Calls()
    emitter = AsyncEmitter(
        collector.endpoint,
        method="post",
        buffer_size=6,
        on_success=calls.on_success,
        on_failure=calls.on_failure,
        retry_policy=RETRYING,
    )
    events = payloads()  # batches: events 0-5 (holding the big one), then 6-10 on flush
    try:
        for event in events:
            emitter.input(event)
        assert emitter.flush(timeout=30)
    finally:
        emitter.close(timeout=5)
    assert calls.failed_eids() == [(5, [events[5]["eid"]])]
    assert len(calls.successes) == 1
    assert calls.sent_eids() == [e["eid"] for e in events[6:]]
    stats = emitter.stats()
    assert (stats.sent, stats.failed, stats.retried) == (10, 1, 0)
    assert all(r.status in (200, 413) for r in collector.requests)


def test_process_emitter_acknowledges_exactly_what_the_collector_accepted(
    collector: Collector,
) -> None:
    """The issue's probe: flush returned False, then close reported all 11 events dropped."""
    collector.set_size_limits(body_bytes=body_limit(5))
    calls = Calls()
    emitter = ProcessEmitter(
        collector.endpoint,
        method="post",
        buffer_size=11,
        process_count=1,
        start_method="fork",
        on_failure=calls.on_failure,
        retry_policy=RETRYING,
    )
    events = payloads()
    try:
        for event in events:
            emitter.input(event)
        assert emitter.flush(timeout=30)
        stats = emitter.stats()
    finally:
        assert emitter.close(timeout=10)
    assert [eids for _, eids in calls.failed_eids()] == [[events[5]["eid"]]]
    assert (stats.sent, stats.failed, stats.dropped, stats.retried) == (10, 1, 0, 0)
    assert sorted(collector.eids()) == sorted(e["eid"] for i, e in enumerate(events) if i != 5)
    assert len(set(collector.eids())) == 10


def test_collector_size_limits_are_checked(collector: Collector) -> None:
    with pytest.raises(ValueError, match="'body_bytes' must be an int >= 0 or None, got -1"):
        collector.set_size_limits(body_bytes=-1)
    collector.set_size_limits(body_bytes=10, url_bytes=None)
    collector.set_size_limits()
    transport = HttpTransport(collector.endpoint, "post")
    try:
        assert len(transport.send(small(3)).sent) == 3  # no limit any more
    finally:
        transport.close()
    assert orjson.loads(collector.requests[0].body)["data"]
