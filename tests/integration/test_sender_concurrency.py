"""Requests in flight per sender, pinned with a collector that holds requests (no timings)."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List

import psutil
import pytest
import requests

from snowplow_tracker.delivery.batching import THROUGHPUT_BYTE_LIMIT, THROUGHPUT_POST_BUFFER_SIZE
from snowplow_tracker.emitters.process.emitter import ProcessEmitter
from snowplow_tracker.emitters.process.sender import DEFAULT_MAX_IN_FLIGHT
from snowplow_tracker.errors import ConfigurationError
from snowplow_tracker.testing import Collector
from tests.integration import test_process_emitter as process_tests
from tests.payloads import make_payload as event
from tests.scripts import run_script
from tests.waiting import wait_until

#: How long a test looks for an extra request that must never come (a bound, not a timing).
LOOK = 0.5


# The ProcessEmitter tests' emitter fixture: fork, one sender, fast retries, closed and checked
# for orphans after the test.
make_emitter = process_tests.make_emitter


class Outcomes:
    """What on_success and on_failure received: eids, and the sent counts of on_failure."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: List[str] = []
        self.sent_with_failures = 0
        self.failed: List[str] = []

    def on_success(self, events: List[Dict[str, str]]) -> None:
        with self.lock:
            self.sent.extend(e["eid"] for e in events)

    def on_failure(self, count: int, events: List[Dict[str, str]]) -> None:
        with self.lock:
            self.sent_with_failures += count
            self.failed.extend(e["eid"] for e in events)


# -- the collector's instrumentation ---------------------------------------------------------


def test_collector_counts_held_requests_and_answers_them_on_release(collector: Collector) -> None:
    collector.hold()
    url = collector.url + "/i"
    threads = [
        threading.Thread(
            target=requests.get, args=(f"{url}?e=pv&eid=h{i}",), kwargs={"timeout": 10}
        )
        for i in range(3)
    ]
    for thread in threads:
        thread.start()
    assert collector.wait_for_in_flight(3)
    assert collector.stats()["in_flight"] == 3
    assert collector.stats()["events"] == 0  # nothing answered yet
    collector.release()
    for thread in threads:
        thread.join(10)
    assert collector.wait_for_events(3)
    stats = collector.stats()
    assert (stats["in_flight"], stats["max_in_flight"]) == (0, 3)
    collector.clear()
    assert collector.stats()["max_in_flight"] == 0


def test_collector_reset_releases_held_requests(collector: Collector) -> None:
    collector.hold()
    thread = threading.Thread(
        target=requests.get, args=(collector.url + "/i?e=pv&eid=r1",), kwargs={"timeout": 10}
    )
    thread.start()
    assert collector.wait_for_in_flight(1)
    collector.reset()
    assert collector.wait_for_events(1)
    thread.join(10)


# -- concurrency is pinned ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "max_in_flight", "process_count"),
    [("get", 4, 1), ("post", 3, 1), ("get", 1, 1), ("post", 2, 2)],
)
def test_collector_sees_exactly_max_in_flight_requests_per_sender(
    collector: Collector, make_emitter: Any, method: str, max_in_flight: int, process_count: int
) -> None:
    """With N in flight allowed per sender, the collector sees N at once and never more."""
    emitter = make_emitter(
        collector.endpoint,
        method=method,
        buffer_size=1,
        max_in_flight=max_in_flight,
        process_count=process_count,
    )
    expected = max_in_flight * process_count
    total = expected * 3 + 2
    emitter.input(event())  # start the senders, and wait until every one runs
    assert emitter.flush(timeout=20)
    assert wait_until(lambda: len(emitter.sender_pids()) == process_count)
    collector.clear()
    collector.hold()
    # Spread the events over every sender: one pipe message each.
    for _ in range(process_count):
        for _ in range(total // process_count):
            emitter.input(event())
        emitter.flush(is_async=True)
    total = (total // process_count) * process_count
    assert collector.wait_for_in_flight(expected, timeout=20)
    assert not collector.wait_for_in_flight(expected + 1, timeout=LOOK)
    assert emitter.stats().sent == 1  # the first event only
    collector.release()
    assert emitter.flush(timeout=20)
    stats = collector.stats()
    assert stats["events"] == total
    assert stats["max_in_flight"] == expected
    assert (emitter.stats().sent - 1, emitter.stats().failed) == (total, 0)


def test_max_in_flight_is_checked(collector: Collector) -> None:
    with pytest.raises(ConfigurationError, match="ProcessEmitter: argument 'max_in_flight'"):
        ProcessEmitter(collector.endpoint, max_in_flight=0)


def test_defaults_batch_by_bytes_and_keep_many_requests_in_flight() -> None:
    post = ProcessEmitter("collector.example.com", method="post")
    assert (post.buffer_size, post.byte_limit) == (
        THROUGHPUT_POST_BUFFER_SIZE,
        THROUGHPUT_BYTE_LIMIT,
    )
    assert post.limits.max_age is not None
    assert post.max_in_flight == DEFAULT_MAX_IN_FLIGHT
    get = ProcessEmitter("collector.example.com", method="get")
    assert (get.buffer_size, get.byte_limit) == (1, None)
    assert ProcessEmitter("collector.example.com", buffer_size=100).byte_limit == (
        THROUGHPUT_BYTE_LIMIT
    )


def test_default_post_requests_carry_many_events_within_the_byte_limit(
    collector: Collector, make_emitter: Any
) -> None:
    emitter = make_emitter(collector.endpoint)
    for _ in range(600):
        emitter.input(event(se_la="x" * 300))
    assert emitter.flush(timeout=20)
    sizes = [len(r.body) for r in collector.requests]
    assert sum(len(r.events) for r in collector.requests) == 600
    assert max(sizes) <= THROUGHPUT_BYTE_LIMIT
    assert len(sizes) < 600 // 50  # not 10 events per request


# -- a slow request holds nothing up ---------------------------------------------------------


def test_hanging_request_does_not_hold_up_the_others_and_is_reported_at_close(
    collector: Collector, make_emitter: Any
) -> None:
    outcomes = Outcomes()
    emitter = make_emitter(
        collector.endpoint,
        method="get",
        max_in_flight=2,
        request_timeout=(5.0, 60.0),
        on_success=outcomes.on_success,
        on_failure=outcomes.on_failure,
    )
    collector.script(["hang"])
    slow = event()
    emitter.input(slow)
    emitter.flush(is_async=True)
    assert collector.wait_for_in_flight(1)
    fast = [event() for _ in range(10)]
    for payload in fast:
        emitter.input(payload)
    emitter.flush(is_async=True)
    assert collector.wait_for_events(10, timeout=20)
    assert collector.stats()["in_flight"] == 1  # the slow one is still open
    assert not emitter.flush(timeout=LOOK)
    started = time.monotonic()
    assert not emitter.close(timeout=1.0)
    assert time.monotonic() - started < 1.0 + 5.0  # close keeps its bound (plus kill margin)
    assert sorted(outcomes.sent) == sorted(p["eid"] for p in fast)
    assert outcomes.failed == [slow["eid"]]
    stats = emitter.stats()
    assert (stats.sent, stats.failed, stats.dropped) == (10, 0, 1)


# -- a mix of fast, slow and failing requests -----------------------------------------------


@pytest.mark.parametrize("method", ["post", "get"])
def test_mix_of_fast_slow_and_failing_requests_loses_and_doubles_nothing(
    collector: Collector, make_emitter: Any, method: str
) -> None:
    outcomes = Outcomes()
    emitter = make_emitter(
        collector.endpoint,
        method=method,
        buffer_size=4,
        max_in_flight=5,
        max_batch_age=0.05,
        request_timeout=(2.0, 0.3),
        on_success=outcomes.on_success,
        on_failure=outcomes.on_failure,
    )
    # 400 fails at once; 503, 500, reset, garbage and hang (a read timeout) are retried.
    collector.script(
        [200, 503, 400, "reset", 200, 200, "hang", 500, 400, "garbage", 200, 503, 200, 400] * 3
    )
    tracked = [event() for _ in range(240)]
    for i, payload in enumerate(tracked):
        emitter.input(payload)
        if i % 30 == 29:
            emitter.flush(is_async=True)  # micro-batches of various sizes
    assert emitter.flush(timeout=60)
    accepted = [r for r in collector.requests if r.accepted]
    refused = [r for r in collector.requests if r.status == 400]
    accepted_eids = sorted(e["eid"] for r in accepted for e in r.events)
    refused_eids = sorted(e["eid"] for r in refused for e in r.events)
    stats = emitter.stats()
    assert len(refused) == 9
    assert collector.stats()["duplicates"] == 0
    # A micro-batch with a failure goes to on_failure with the number of its events sent.
    assert set(outcomes.sent) <= set(accepted_eids)
    assert len(outcomes.sent) + outcomes.sent_with_failures == len(accepted_eids)
    assert sorted(outcomes.failed) == refused_eids
    assert sorted(accepted_eids + refused_eids) == sorted(p["eid"] for p in tracked)
    assert (stats.sent, stats.failed, stats.dropped) == (len(accepted_eids), len(refused_eids), 0)
    assert stats.sent + stats.failed == len(tracked)
    assert stats.retried > 0


# -- the host dies while requests are on the wire --------------------------------------------

HOST_DIES = """
import sys, time, uuid
from snowplow_tracker.emitters.process.emitter import ProcessEmitter

if __name__ == "__main__":
    e = ProcessEmitter(sys.argv[1], method="get", process_count=1, max_in_flight=3,
                       start_method="fork", shutdown_timeout=1.0, request_timeout=(5, 120))
    for i in range(20):
        e.input({"e": "pv", "eid": str(uuid.uuid4()), "tv": "t", "p": "srv"})
    e.flush(is_async=True)
    while not e.sender_pids():
        time.sleep(0.01)
    print(" ".join(map(str, e.sender_pids())), flush=True)
    time.sleep(120)
"""


def test_sender_exits_when_the_host_dies_with_requests_held(collector: Collector) -> None:
    """Requests stuck on the wire never keep a sender alive once its host is gone."""
    collector.hold()
    proc = run_script(HOST_DIES, collector.endpoint)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 1, proc.stderr.read() if proc.stderr else line
        assert collector.wait_for_in_flight(3, timeout=20)
        proc.kill()
        proc.wait(10)

        def gone() -> bool:
            try:
                return psutil.Process(pids[0]).status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return True

        # orphan_timeout (shutdown_timeout, 1 s) plus the grace for requests on the wire.
        assert wait_until(gone, timeout=20)
        assert collector.stats()["max_in_flight"] == 3
    finally:
        collector.release()
        proc.kill()
        proc.communicate()
