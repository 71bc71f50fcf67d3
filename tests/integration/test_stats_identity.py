"""``stats()`` under load: ``accepted == queued + in_flight + sent + failed + dropped`` in every
snapshot, for every emitter, sampled from another thread while events flow (with retries,
refusals and drops among them)."""

from __future__ import annotations

import threading
from typing import Any, Iterator, List

import celery
import pytest

from snowplow_tracker import AsyncEmitter, Emitter, ProcessEmitter, RedisEmitter
from snowplow_tracker.delivery.retry import RetryPolicy
from snowplow_tracker.delivery.stats import EmitterStats
from snowplow_tracker.emitters.celery.emitter import CeleryEmitter
from snowplow_tracker.testing import Collector
from tests.fixtures.redis_server import RedisServer
from tests.payloads import make_payload

FAST = RetryPolicy(base_delay=0.01, max_delay=0.05, max_attempts=3, deadline=30)
#: Samples each test takes at least while events flow.
SAMPLES = 200
#: Events each tracking thread sends at least (and at most 40 times more, waiting for samples).
PER_THREAD = 1_500


def gap(stats: EmitterStats) -> int:
    return stats.accepted - (
        stats.queued + stats.in_flight + stats.sent + stats.failed + stats.dropped
    )


class Sampler:
    """Takes ``stats()`` in a loop on its own thread; keeps the snapshots that break the
    identity."""

    def __init__(self, emitter: Any) -> None:
        self.emitter = emitter
        self.samples = 0
        self.broken: List[EmitterStats] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            stats = self.emitter.stats()
            self.samples += 1
            if gap(stats):
                self.broken.append(stats)

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def load(emitter: Any, threads: int = 2) -> Sampler:
    """Track from ``threads`` threads while a sampler checks every snapshot; then flush."""
    with Sampler(emitter) as sampler:

        def track() -> None:
            for i in range(PER_THREAD * 40):
                if i >= PER_THREAD and sampler.samples >= SAMPLES:
                    return
                emitter.input(make_payload())

        workers = [threading.Thread(target=track) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        emitter.flush(timeout=60)
    return sampler


def check(sampler: Sampler, emitter: Any) -> EmitterStats:
    assert sampler.samples >= SAMPLES
    assert not sampler.broken, f"{len(sampler.broken)} of {sampler.samples}: {sampler.broken[:3]}"
    stats = emitter.stats()
    assert gap(stats) == 0
    return stats


@pytest.fixture
def flaky_collector(collector: Collector) -> Iterator[Collector]:
    """A collector that answers some requests 503 (retried) and some 400 (failed at once)."""
    collector.script([200, 503, 200, 400, 200, 200, 503, 503, 200, 400] * 30)
    yield collector


def test_emitter(flaky_collector: Collector) -> None:
    emitter = Emitter(flaky_collector.endpoint, method="post", buffer_size=20, retry_policy=FAST)
    sampler = load(emitter, threads=3)
    stats = check(sampler, emitter)
    assert stats.sent > 0 and stats.failed > 0
    emitter.close()


@pytest.mark.parametrize("bounded", [False, True])
def test_async_emitter(flaky_collector: Collector, bounded: bool) -> None:
    emitter = AsyncEmitter(
        flaky_collector.endpoint,
        method="post",
        buffer_size=20,
        thread_count=2,
        retry_policy=FAST,
        max_queue_bytes=20_000 if bounded else 96 * 1024 * 1024,
    )
    sampler = load(emitter)
    stats = check(sampler, emitter)
    assert stats.sent > 0 and stats.failed > 0
    emitter.close(timeout=5)
    assert gap(emitter.stats()) == 0


@pytest.mark.parametrize("bounded", [False, True])
def test_process_emitter(flaky_collector: Collector, bounded: bool) -> None:
    # Requests smaller than micro-batches: a micro-batch is spread over several requests and
    # reported by progress messages before its acknowledgement.
    emitter = ProcessEmitter(
        flaky_collector.endpoint,
        buffer_size=20,
        ipc_batch_size=100,
        process_count=2,
        start_method="fork",
        retry_policy=FAST,
        max_queue_bytes=30_000 if bounded else 64 * 1024 * 1024,
    )
    try:
        sampler = load(emitter)
        stats = check(sampler, emitter)
        assert stats.sent > 0 and stats.failed > 0
    finally:
        emitter.close(timeout=10)
    assert gap(emitter.stats()) == 0


def test_redis_emitter(redis_server: RedisServer, redis_client: Any) -> None:
    emitter = RedisEmitter(url=redis_server.url, buffer_size=20, max_batch_age=0.01)
    try:
        sampler = load(emitter)
        stats = check(sampler, emitter)
        assert stats.sent > 0
    finally:
        emitter.close()


def test_celery_emitter(redis_server: RedisServer, redis_client: Any) -> None:
    app = celery.Celery("snowplow-stats-producer", broker=redis_server.url)
    app.conf.update(accept_content=["json"], task_serializer="json", result_serializer="json")
    emitter = CeleryEmitter("collector.example.com", buffer_size=20, celery_app=app)
    try:
        sampler = load(emitter)
        stats = check(sampler, emitter)
        assert stats.sent > 0
    finally:
        emitter.close()
        app.close()


def test_events_handed_straight_to_send_events_are_accepted_too(collector: Collector) -> None:
    """1.x's send_events with events never buffered: they count as accepted, so the identity
    holds; buffered events sent by sync_flush are not counted twice."""
    emitter = Emitter(collector.endpoint, method="post", buffer_size=10)
    emitter.send_events([make_payload(), make_payload()])
    emitter.input(make_payload())
    emitter.sync_flush()
    stats = emitter.stats()
    assert (stats.accepted, stats.sent, stats.queued, stats.in_flight) == (3, 3, 0, 0)
    assert gap(stats) == 0
