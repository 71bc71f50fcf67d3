"""RedisWorker against a real redis-server and the embedded collector: what counts as an event,
the bytes it hands over, and requests kept in flight across takes.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Set

import orjson
import pytest
import redis

from snowplow_tracker import AsyncEmitter, ProcessEmitter
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


def pretty(eid: str) -> bytes:
    """A valid event stored as pretty-printed JSON (newlines inside)."""
    return orjson.dumps({"e": "pv", "eid": eid, "p": "srv", "tv": "t"}, option=orjson.OPT_INDENT_2)


def compact(eid: str) -> bytes:
    return orjson.dumps({"e": "pv", "eid": eid, "p": "srv", "tv": "t"})


def test_pretty_printed_events_reach_the_collector_through_the_process_emitter(
    redis_server: RedisServer, redis_client: redis.Redis, collector: Collector
) -> None:
    """Items whose bytes hold newlines are delivered as the events they encode, not split."""
    items = [
        compact("a"),
        pretty("b"),
        compact("c"),
        b'{\n"e":"pv",\n"eid":"d"\n}\n',  # a trailing newline too
        b'{"e":"pv","eid":"e","url":"x\\ny"}',
    ]
    redis_client.rpush("snowplow", *items)
    emitter = ProcessEmitter(collector.endpoint, process_count=1, start_method="fork")
    with draining(emitter, redis_server.url, block_timeout=0.1) as worker:
        assert collector.wait_for_events(5, timeout=20)
        assert wait_until(lambda: worker.stats().delivered == 5, timeout=10)
    assert sorted(collector.eids()) == ["a", "b", "c", "d", "e"]
    assert collector.bad_requests == 0
    assert leftovers(redis_client) == {"snowplow": 0, "snowplow:failed": 0}
    stats = worker.stats()
    assert (stats.delivered, stats.dead_lettered, stats.invalid) == (5, 0, 0)
    estats = emitter.stats()
    assert (estats.accepted, estats.sent, estats.failed, estats.dropped) == (5, 5, 0, 0)


def test_any_item_bytes_are_delivered_or_dead_lettered(
    redis_server: RedisServer, redis_client: redis.Redis, collector: Collector
) -> None:
    """Arbitrary bytes among valid events (pretty or compact): every valid event reaches the
    collector once, everything else is in the dead-letter list; nothing is lost."""
    items = [
        compact("v0"),
        b"\n",
        b"\x00\xff\n\x00",
        pretty("v1"),
        b"\n\n{}\n",
        b'{"e":"pv","eid":"v2"}\n\n',
        b"\xff{\n",
        compact("v3"),
        b"",
    ]
    redis_client.rpush("snowplow", *items)
    emitter = ProcessEmitter(collector.endpoint, process_count=1, start_method="fork")
    with draining(emitter, redis_server.url, block_timeout=0.1) as worker:
        assert collector.wait_for_events(4, timeout=20)
        assert wait_until(lambda: worker.stats().taken == len(items), timeout=10)
    assert sorted(collector.eids()) == ["v0", "v1", "v2", "v3"]
    assert collector.bad_requests == 0
    dead = redis_client.lrange("snowplow:failed", 0, -1)
    assert sorted(dead) == sorted(items[i] for i in (1, 2, 4, 6, 8))
    stats = worker.stats()
    assert (stats.delivered, stats.dead_lettered) == (4, 5)


class RaisingCallback:
    """An on_failure/on_success of the application that raises after recording its call."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: Any) -> None:
        self.calls += 1
        raise RuntimeError("the application's callback failed")


@pytest.mark.parametrize("kind", ["process", "async"])
def test_a_raising_callback_never_stops_dead_lettering(
    redis_server: RedisServer, redis_client: redis.Redis, collector: Collector, kind: str
) -> None:
    """The collector refuses (400) and the application's on_failure raises: the events are
    still counted as failed and dead-lettered."""
    collector.respond_with(400)
    callback = RaisingCallback()
    items = [compact("a"), pretty("b"), compact("c")]
    redis_client.rpush("snowplow", *items)
    if kind == "process":
        emitter: Any = ProcessEmitter(
            collector.endpoint,
            process_count=1,
            start_method="fork",
            on_failure=callback,
            on_success=callback,
        )
    else:
        emitter = AsyncEmitter(
            collector.endpoint, method="post", on_failure=callback, on_success=callback
        )
    with draining(emitter, redis_server.url, block_timeout=0.1) as worker:
        assert wait_until(lambda: redis_client.llen("snowplow:failed") == 3, timeout=20)
    dead = sorted(
        orjson.loads(item)["eid"] for item in redis_client.lrange("snowplow:failed", 0, -1)
    )
    assert dead == ["a", "b", "c"]
    assert callback.calls >= 1
    stats = worker.stats()
    assert (stats.delivered, stats.dead_lettered) == (0, 3)
    estats = emitter.stats()
    assert (estats.accepted, estats.sent, estats.failed) == (3, 0, 3)
