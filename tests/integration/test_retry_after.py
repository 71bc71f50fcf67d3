"""A collector's ``Retry-After`` (429, 503; delta-seconds and HTTP-date) holds every request of
the sender that got it, measured with the times the collector received the requests."""

from __future__ import annotations

import math
import time
from typing import Any, Iterator, List

import pytest

from snowplow_tracker import AsyncEmitter, Emitter, RetryPolicy
from snowplow_tracker.emitters.process.emitter import ProcessEmitter
from snowplow_tracker.testing import Collector, RecordedRequest
from tests.payloads import make_payload
from tests.waiting import wait_until

#: Backoff well under the Retry-After of the tests (at most 0.05 s), so only the header can
#: explain a gap as long as it.
FAST = RetryPolicy(base_delay=0.05, max_delay=0.05, max_attempts=5, deadline=30)
#: Seconds of tolerance between the collector's clock and the emitter's (the same machine).
SLACK = 0.02
KINDS = ["Emitter", "AsyncEmitter", "ProcessEmitter"]


def build(kind: str, collector: Collector, **kwargs: Any) -> Any:
    """An emitter of ``kind`` that sends batches of 2 events to ``collector``."""
    kwargs.setdefault("retry_policy", FAST)
    if kind == "Emitter":
        # GET: one request per event, three in one attempt; the first refused holds the others.
        return Emitter(collector.endpoint, method="get", buffer_size=3, **kwargs)
    if kind == "AsyncEmitter":
        return AsyncEmitter(
            collector.endpoint, method="post", buffer_size=2, thread_count=2, **kwargs
        )
    return ProcessEmitter(
        collector.endpoint,
        method="post",
        buffer_size=2,
        process_count=1,
        start_method="fork",
        max_batch_age=0.05,
        **kwargs,
    )


@pytest.fixture
def emitters() -> Iterator[List[Any]]:
    made: List[Any] = []
    yield made
    for emitter in made:
        emitter.close(timeout=5)


def earliest_allowed(refused: RecordedRequest, seconds: int, as_date: bool) -> float:
    """When the collector's answer to ``refused`` allows the next request at the earliest.

    An HTTP-date has whole seconds: the date sent is ``seconds`` after the answer, rounded down.
    """
    if as_date:
        return math.floor(refused.received_at + seconds)
    return refused.received_at + seconds


def send_two_batches(kind: str, emitter: Any) -> int:
    """Send a first batch (its first request is refused), then, once the refusal was obeyed, a
    second one; return the number of events."""
    if kind == "Emitter":
        for _ in range(3):  # the third event sends the batch in this thread, retries included
            emitter.input(make_payload())
        return 3
    for _ in range(2):
        emitter.input(make_payload())
    emitter.flush(is_async=True)
    # The second batch leaves only once the emitter has obeyed the first answer.
    assert wait_until(lambda: emitter.stats().throttled == 1, timeout=10)
    for _ in range(2):
        emitter.input(make_payload())
    assert emitter.flush(timeout=15)
    return 4


@pytest.mark.parametrize("as_date", [False, True], ids=["delta-seconds", "http-date"])
@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("kind", KINDS)
def test_retry_after_holds_every_request_of_the_sender(
    collector: Collector, emitters: List[Any], kind: str, status: int, as_date: bool
) -> None:
    """No request (the refused one again, or another batch) before the time the header gave."""
    seconds = 2 if as_date else 1
    collector.set_retry_after(seconds, as_date=as_date)
    collector.script([status])
    emitter = build(kind, collector)
    emitters.append(emitter)
    events = send_two_batches(kind, emitter)
    assert collector.wait_for_events(events, timeout=15)
    refused, *later = collector.requests
    assert refused.status == status and len(later) >= 2
    not_before = earliest_allowed(refused, seconds, as_date)
    early = [round(r.received_at - refused.received_at, 3) for r in later]
    assert all(r.received_at >= not_before - SLACK for r in later), early
    stats = emitter.stats()
    assert stats.throttled == 1 and stats.sent == events and stats.failed == 0


@pytest.mark.parametrize("kind", KINDS)
def test_retry_after_is_capped_by_max_retry_after(
    collector: Collector, emitters: List[Any], kind: str
) -> None:
    """A Retry-After longer than the policy's max_retry_after holds only that long."""
    collector.set_retry_after(3600)
    collector.script([429])
    policy = RetryPolicy(base_delay=0.05, max_delay=0.05, deadline=30, max_retry_after=1)
    emitter = build(kind, collector, retry_policy=policy)
    emitters.append(emitter)
    events = send_two_batches(kind, emitter)
    assert collector.wait_for_events(events, timeout=15)
    refused, *later = collector.requests
    assert all(r.received_at >= refused.received_at + 1 - SLACK for r in later)
    assert emitter.stats().throttled == 1


@pytest.mark.parametrize("kind", KINDS)
def test_an_unparsable_retry_after_falls_back_to_the_backoff(
    collector: Collector, emitters: List[Any], kind: str
) -> None:
    """A value that is neither delta-seconds nor an HTTP-date is ignored: backoff only."""
    collector.set_retry_after("soon")
    collector.script([503])
    emitter = build(kind, collector)
    emitters.append(emitter)
    for _ in range(3 if kind == "Emitter" else 2):
        emitter.input(make_payload())
    assert emitter.flush(timeout=15)
    assert collector.wait_for_events(3 if kind == "Emitter" else 2, timeout=15)
    assert emitter.stats().throttled == 0 and emitter.stats().failed == 0


def test_a_celery_worker_holds_its_tasks_for_the_collector_after_a_retry_after(
    collector: Collector, redis_server: Any, celery_worker_process: Any
) -> None:
    """The refused task and the worker's other tasks for that collector wait for the header."""
    import celery

    from snowplow_tracker.emitters.celery.emitter import CeleryEmitter

    collector.set_retry_after(1)
    collector.script([429])
    app = celery.Celery("snowplow-test-retry-after", broker=redis_server.url)
    app.conf.update(accept_content=["json"], task_serializer="json")
    try:
        emitter = CeleryEmitter(
            collector.endpoint, buffer_size=2, celery_app=app, retry_policy=FAST
        )
        celery_worker_process.start()
        for _ in range(2):
            emitter.input(make_payload())
        assert emitter.flush() is True
        assert collector.wait_for_requests(1, timeout=30), celery_worker_process.log()
        # The refusal reaches the worker within moments; the second task comes after it.
        time.sleep(0.2)
        for _ in range(2):
            emitter.input(make_payload())
        assert emitter.flush() is True
        assert collector.wait_for_events(4, timeout=30), celery_worker_process.log()
    finally:
        app.close()
    refused, *later = collector.requests
    assert refused.status == 429 and len(later) == 2
    early = [round(r.received_at - refused.received_at, 3) for r in later]
    assert all(r.received_at >= refused.received_at + 1 - SLACK for r in later), early
    assert celery_worker_process.stop() == 0
