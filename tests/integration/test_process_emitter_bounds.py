"""ProcessEmitter's host-side bounds and accounting, with real senders and a real collector.

Pinned here: the byte bound (``max_queue_bytes``, ``stats().queued_bytes``), the drop accounting
(delivered + dropped = tracked, every drop reported once to ``on_failure``), exact
acknowledgements at a shutdown deadline, and the shutdown race between the feeder and the
listener threads.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Iterator, List, Set

import pytest

from snowplow_tracker.process_emitter import DROP_PILE_BYTES, ProcessEmitter
from snowplow_tracker.testing import Collector
from tests.integration.test_process_emitter import FAST_RETRY, no_orphans, wait_until
from tests.payloads import make_payload as event


@pytest.fixture
def make_emitter() -> Iterator[Any]:
    """Builds ProcessEmitters (fork start, one sender) and closes every one after the test."""
    made: List[ProcessEmitter] = []

    def make(endpoint: str, **kwargs: Any) -> ProcessEmitter:
        kwargs.setdefault("process_count", 1)
        kwargs.setdefault("start_method", "fork")
        kwargs.setdefault("retry_policy", FAST_RETRY)
        emitter = ProcessEmitter(endpoint, **kwargs)
        made.append(emitter)
        return emitter

    yield make
    for emitter in made:
        pids = emitter.sender_pids()
        emitter.close(timeout=10)
        assert no_orphans(pids), "sender processes left behind"


@pytest.fixture
def dead_endpoint() -> str:
    """An endpoint where nothing listens (connections are refused)."""
    with Collector() as stopped:
        endpoint = stopped.endpoint
    return endpoint


class Failures:
    """An on_failure callback that records the eids it was given, and on which thread."""

    def __init__(self) -> None:
        self.eids: List[str] = []
        self.threads: Set[str] = set()

    def __call__(self, n_sent: int, events: List[Dict[str, str]]) -> None:
        self.threads.add(threading.current_thread().name)
        self.eids.extend(e["eid"] for e in events)


def balance(emitter: ProcessEmitter) -> int:
    """accepted minus every outcome and everything still held: 0 when nothing is lost."""
    s = emitter.stats()
    return s.accepted - (s.sent + s.failed + s.dropped + s.queued + s.in_flight)


@pytest.mark.parametrize("with_callback", [True, False])
def test_queued_bytes_never_exceed_max_queue_bytes_and_drops_count_at_once(
    make_emitter: Any, dead_endpoint: str, with_callback: bool
) -> None:
    """Collector down: queued_bytes stays within the bound; each drop is counted as it happens."""
    failures = Failures()
    emitter = make_emitter(
        dead_endpoint,
        buffer_size=10,
        ipc_batch_size=20,
        max_queue_bytes=30_000,
        on_failure=failures if with_callback else None,
    )
    tracked = [event() for _ in range(2_000)]
    for e in tracked:
        emitter.input(e)
        stats = emitter.stats()
        assert stats.queued_bytes <= 30_000
        assert balance(emitter) == 0
    stats = emitter.stats()
    assert stats.accepted == 2_000
    assert stats.dropped >= 2_000 - 30_000 // 100  # each event is more than 100 bytes
    assert stats.queued_bytes > 30_000 - 200  # full: no event was dropped while there was room
    assert not emitter.close(timeout=0.5)  # what is held is dropped at the deadline
    stats = emitter.stats()
    assert (stats.accepted, stats.dropped, stats.sent, stats.failed) == (2_000, 2_000, 0, 0)
    if with_callback:
        assert sorted(failures.eids) == sorted(e["eid"] for e in tracked)


def test_delivered_plus_dropped_equals_tracked_with_a_slow_collector(
    collector: Collector, make_emitter: Any
) -> None:
    """A small byte bound and a slow collector: every event is either delivered or dropped."""
    failures = Failures()
    emitter = make_emitter(
        collector.endpoint,
        buffer_size=50,
        ipc_batch_size=50,
        max_queue_bytes=40_000,
        on_failure=failures,
    )
    collector.set_delay(0.05)
    tracked = [event() for _ in range(3_000)]
    for e in tracked:
        emitter.input(e)
    collector.set_delay(0)
    assert emitter.flush(timeout=60)
    delivered = collector.eids()
    stats = emitter.stats()
    assert stats.dropped > 0 and stats.sent > 0
    assert len(delivered) == len(set(delivered)) == stats.sent
    assert len(failures.eids) == stats.dropped
    assert set(delivered).isdisjoint(failures.eids)
    assert sorted(delivered + failures.eids) == sorted(e["eid"] for e in tracked)
    assert stats.queued_bytes == 0 and balance(emitter) == 0


def test_drops_piling_up_behind_a_busy_listener_are_reported_by_the_tracking_thread(
    make_emitter: Any, dead_endpoint: str
) -> None:
    """At most DROP_PILE_BYTES of drops wait for the listener; beyond, the caller reports them."""
    release = threading.Event()
    failures = Failures()

    def on_failure(n_sent: int, events: List[Dict[str, str]]) -> None:
        failures(n_sent, events)
        if threading.current_thread() is not threading.main_thread():
            release.wait(30)  # keep the listener busy

    emitter = make_emitter(
        dead_endpoint,
        buffer_size=10,
        ipc_batch_size=10,
        max_queue_bytes=10_000,
        on_failure=on_failure,
    )
    big = "x" * 2_000
    tracked = [event(co=big) for _ in range(2 * DROP_PILE_BYTES // 2_000)]
    for e in tracked:
        emitter.input(e)
    assert wait_until(lambda: "snowplow-listener" in failures.threads)
    assert threading.main_thread().name in failures.threads
    assert len(failures.eids) >= len(tracked) // 2  # reported without the listener's help
    release.set()
    emitter.close(timeout=1)
    assert sorted(failures.eids) == sorted(e["eid"] for e in tracked)
    assert emitter.stats().dropped == len(tracked)


def test_close_with_a_backlog_never_breaks_the_emitter_threads(
    collector: Collector, make_emitter: Any
) -> None:
    """A sender's pipe is closed only when no thread writes to it (was: TypeError in the feeder)."""
    errors: List[str] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: errors.append(f"{args.thread}: {args.exc_value!r}")
    try:
        for _ in range(4):
            emitter = make_emitter(collector.endpoint, buffer_size=50, request_timeout=5)
            collector.set_fault("hang")  # the sender stops reading: the feeder blocks mid-write
            for _ in range(5_000):
                emitter.input(event(co="x" * 2_000))
            assert not emitter.close(timeout=0.5)
            collector.set_fault(None)
            assert balance(emitter) == 0
    finally:
        threading.excepthook = previous
    assert errors == []


def test_events_the_collector_accepted_count_as_sent_even_at_the_close_deadline(
    collector: Collector, make_emitter: Any
) -> None:
    """One micro-batch, two requests, the second retried past close(): only it is dropped."""
    failures = Failures()
    emitter = make_emitter(
        collector.endpoint, buffer_size=5, ipc_batch_size=10, on_failure=failures
    )
    collector.script([200])
    collector.respond_with(503)
    tracked = [event() for _ in range(10)]
    for e in tracked:
        emitter.input(e)
    assert collector.wait_for_events(5)
    assert wait_until(lambda: emitter.stats().sent == 5)  # before the micro-batch is finished
    assert not emitter.close(timeout=0.5)
    stats = emitter.stats()
    assert (stats.sent, stats.dropped, stats.failed) == (5, 5, 0)
    accepted = collector.eids()
    assert sorted(accepted + failures.eids) == sorted(e["eid"] for e in tracked)
    assert set(accepted).isdisjoint(failures.eids)
