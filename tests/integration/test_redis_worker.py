"""RedisWorker against a real redis-server and the embedded collector: what counts as an event,
the bytes it hands over, and requests kept in flight across takes.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Set

import orjson
import pytest
import redis

from snowplow_tracker import AsyncEmitter
from snowplow_tracker.emitters.redis.worker import RedisWorker, parse_event
from snowplow_tracker.testing import Collector
from tests.fixtures.redis_server import RedisServer
from tests.integration.test_redis import (
    WorkerThread,
    draining,
    leftovers,
    push_events,
)
from tests.waiting import wait_until

NOT_EVENTS = [
    b'{"foo":"bar"}',
    b'{"e":{"nested":[1,2]}}',
    b'{"e":"pv"}',  # no eid
    b'{"e":"pv","eid":7}',  # a value that is not a string
    b'{"e":"","eid":"x"}',  # an empty event type
    b'["e","pv"]',
    b"not json",
]


@pytest.mark.parametrize("item", NOT_EVENTS)
def test_parse_event_refuses_what_is_not_an_event(item: bytes) -> None:
    assert parse_event(item) is None


def test_parse_event_accepts_an_object_of_strings_with_e_and_eid() -> None:
    assert parse_event(b'{"e":"pv","eid":"a","url":"u"}') == {"e": "pv", "eid": "a", "url": "u"}


def test_json_objects_that_are_not_events_are_dead_lettered_not_sent(
    redis_server: RedisServer, redis_client: redis.Redis, collector: Collector
) -> None:
    expected = push_events(redis_server.url, 20)
    redis_client.rpush("snowplow", *NOT_EVENTS)
    emitter = AsyncEmitter(collector.endpoint, method="post", buffer_size=10)
    with draining(emitter, redis_server.url, block_timeout=0.1) as worker:
        assert collector.wait_for_events(20, timeout=15)
        assert wait_until(lambda: redis_client.llen("snowplow:failed") == len(NOT_EVENTS), 10)
    assert sorted(collector.eids()) == expected
    assert collector.stats()["events"] == 20  # nothing else reached the collector
    assert redis_client.lrange("snowplow:failed", 0, -1) == NOT_EVENTS
    assert leftovers(redis_client) == {"snowplow": 0, "snowplow:failed": len(NOT_EVENTS)}
    stats = worker.stats()
    assert (stats.invalid, stats.dead_lettered, stats.delivered) == (7, 7, 20)


class RawRecordingEmitter(AsyncEmitter):
    """A real AsyncEmitter that also takes POST event bytes (``input_encoded``), recording what
    it was handed before sending it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handed: List[bytes] = []

    def input_encoded(self, event: bytes) -> None:
        self.handed.append(bytes(event))
        self.input(orjson.loads(event))


def test_the_stored_bytes_are_handed_over_as_they_are(
    redis_server: RedisServer, redis_client: redis.Redis, collector: Collector
) -> None:
    stored = [
        b'{"e": "pv", "eid": "spaced", "url": "https://e.x/\\u00e9"}',  # not orjson's spelling
        b'{"e":"pv","eid":"plain","url":"u"}',
        b'{"e":"pv","eid":"padded"}\n',  # would break splicing stm: re-encoded
        b'{"e":"pv","eid":"with-stm","stm":"1"}',  # the send time is set when sent: re-encoded
    ]
    redis_client.rpush("snowplow", *stored)
    emitter = RawRecordingEmitter(collector.endpoint, method="post", buffer_size=10)
    with draining(emitter, redis_server.url, block_timeout=0.1):
        assert collector.wait_for_events(4, timeout=15)
    assert emitter.handed == [
        stored[0],
        stored[1],
        b'{"e":"pv","eid":"padded"}',
        b'{"e":"pv","eid":"with-stm"}',
    ]
    assert sorted(collector.eids()) == ["padded", "plain", "spaced", "with-stm"]
    assert collector.bad_requests == 0
    assert leftovers(redis_client) == {"snowplow": 0, "snowplow:failed": 0}


class Gate:
    """An ``on_event`` hook that holds each collector request until opened, and counts how many
    requests it held at once (one server thread per request)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.held: Set[int] = set()
        self.most = 0
        self.opened = threading.Event()

    def __call__(self, event: Dict[str, Any]) -> None:
        me = threading.get_ident()
        with self.lock:
            self.held.add(me)
            self.most = max(self.most, len(self.held))
        self.opened.wait(30)
        with self.lock:
            self.held.discard(me)


def test_small_takes_keep_several_requests_in_flight() -> None:
    """Takes of 10 items, one request each: the worker keeps taking while the collector holds
    requests, so the emitter's 4 threads all have a request open (not one take at a time)."""
    gate = Gate()
    with RedisServer() as server, Collector(on_event=gate) as collector:
        expected = push_events(server.url, 100)
        emitter = AsyncEmitter(collector.endpoint, method="post", buffer_size=10, thread_count=4)
        worker = RedisWorker(emitter, url=server.url, batch_size=10, block_timeout=0.1)
        running = WorkerThread(worker).start()
        try:
            assert wait_until(lambda: gate.most >= 4, timeout=15), f"at most {gate.most} open"
        finally:
            gate.opened.set()
        try:
            assert collector.wait_for_events(100, timeout=20)
        finally:
            running.stop()
            emitter.close()
        assert sorted(collector.eids()) == expected
        assert gate.most == 4  # never more than the emitter's threads
        client = redis.Redis.from_url(server.url)
        assert leftovers(client) == {"snowplow": 0, "snowplow:failed": 0}
        client.close()
        stats = worker.stats()
        assert (stats.taken, stats.delivered, stats.dead_lettered) == (100, 100, 0)


def test_acknowledgements_stay_exact_with_failures_among_overlapping_takes(
    redis_server: RedisServer, redis_client: redis.Redis, collector: Collector
) -> None:
    expected = push_events(redis_server.url, 200)
    collector.script([200, 400, 200, 200, 400, 200, 400])  # 400 is never retried
    emitter = AsyncEmitter(collector.endpoint, method="post", buffer_size=10, thread_count=3)
    with draining(emitter, redis_server.url, batch_size=10, block_timeout=0.1) as worker:
        assert wait_until(
            lambda: collector.stats()["events"] + redis_client.llen("snowplow:failed") >= 200,
            timeout=20,
        )
        assert wait_until(lambda: worker.stats().taken == 200, timeout=10)
    delivered = collector.eids()
    dead = [orjson.loads(item)["eid"] for item in redis_client.lrange("snowplow:failed", 0, -1)]
    refused = [e["eid"] for r in collector.requests if r.status == 400 for e in r.events]
    assert len(refused) > 0 and sorted(dead) == sorted(refused)
    assert sorted(delivered + dead) == expected  # each event once: delivered or dead-lettered
    assert leftovers(redis_client) == {"snowplow": 0, "snowplow:failed": len(dead)}
    stats = worker.stats()
    assert (stats.delivered, stats.dead_lettered, stats.invalid) == (200 - len(dead), len(dead), 0)
