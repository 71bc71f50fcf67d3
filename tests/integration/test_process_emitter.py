"""ProcessEmitter with real sender processes, real signals, real forks and a real collector."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set

import psutil
import pytest

from snowplow_tracker.delivery.retry import RetryPolicy
from snowplow_tracker.emitters.process.emitter import DROP_PILE_BYTES, ProcessEmitter
from snowplow_tracker.errors import ConfigurationError, EncodingError
from snowplow_tracker.protocol.wire import encode_event
from snowplow_tracker.testing import Collector
from tests.payloads import make_payload as event
from tests.scripts import ROOT, run_script, run_to_end
from tests.waiting import wait_until

FAST_RETRY = RetryPolicy(base_delay=0.05, max_delay=0.2, max_attempts=200, deadline=60)


def no_orphans(pids: List[int], timeout: float = 20.0) -> bool:
    def gone() -> bool:
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    return False
            except psutil.NoSuchProcess:
                continue
        return True

    return wait_until(gone, timeout)


@pytest.fixture
def make_emitter() -> Iterator[Any]:
    """Builds ProcessEmitters and closes every one of them after the test."""
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


def test_many_threads_deliver_each_eid_exactly_once(
    counting_collector: Collector, make_emitter: Any
) -> None:
    """100,000 events tracked from 8 threads reach the collector exactly once each."""
    emitter = make_emitter(counting_collector.endpoint, buffer_size=200, process_count=2)
    per_thread = 12_500

    def track() -> None:
        for _ in range(per_thread):
            emitter.input(event())

    threads = [threading.Thread(target=track) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert emitter.flush(timeout=60)
    stats = counting_collector.stats()
    assert stats["events"] == 100_000
    assert stats["unique_eids"] == 100_000
    assert stats["duplicates"] == 0
    assert emitter.stats().sent == 100_000


def test_input_encoded_sends_the_bytes_as_they_are(
    counting_collector: Collector, make_emitter: Any
) -> None:
    """Pre-encoded POST events (a relay's stored bytes) are delivered; GET emitters refuse them."""
    emitter = make_emitter(counting_collector.endpoint, method="post")
    for _ in range(50):
        emitter.input_encoded(encode_event(event(), "post"))
    assert emitter.flush(timeout=30)
    assert counting_collector.stats()["unique_eids"] == 50
    getter = make_emitter(counting_collector.endpoint, method="get")
    with pytest.raises(ConfigurationError, match="input_encoded: needs method 'post'"):
        getter.input_encoded(encode_event(event(), "post"))


def test_collector_503_then_200_delivers_everything_with_spaced_retries(
    collector: Collector, make_emitter: Any
) -> None:
    """Retries follow the backoff policy and every event arrives once the collector recovers."""
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0, jitter=0.0, max_attempts=10, deadline=30)
    emitter = make_emitter(collector.endpoint, buffer_size=50, retry_policy=policy)
    collector.script([503, 503, 503])
    events = [event() for _ in range(50)]
    for e in events:
        emitter.input(e)  # never waits for the collector
    assert emitter.flush(timeout=30)
    assert sorted(collector.eids()) == sorted(e["eid"] for e in events)
    times = [r.received_at for r in collector.requests]
    assert [r.status for r in collector.requests] == [503, 503, 503, 200]
    gaps = [b - a for a, b in zip(times, times[1:])]
    for gap, expected in zip(gaps, (0.1, 0.2, 0.4)):
        assert gap >= expected * 0.9, (gaps, "retries not spaced by the backoff policy")
    assert emitter.stats().retried == 150


def test_unreachable_collector_bounds_memory_and_reports_drops(
    make_emitter: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Past max_queue_size events are dropped, counted, passed to on_failure and logged rarely."""
    with Collector() as stopped:
        endpoint = stopped.endpoint  # nothing listens there once it is stopped
    failures: List[int] = []
    emitter = make_emitter(
        endpoint,
        buffer_size=10,
        max_queue_size=1_000,
        ipc_batch_size=50,
        on_failure=lambda n_ok, events: failures.append(len(events)),
        retry_policy=RetryPolicy(base_delay=5, max_attempts=100, deadline=600),
    )
    with caplog.at_level(logging.WARNING, logger="snowplow_tracker"):
        for _ in range(5_000):
            emitter.input(event())
            stats = emitter.stats()
            assert stats.queued + stats.in_flight <= 1_000 + 50

        def settled() -> bool:
            stats = emitter.stats()
            return stats.dropped + stats.queued + stats.in_flight == 5_000

        assert wait_until(settled, timeout=10)
    stats = emitter.stats()
    assert stats.dropped >= 3_900
    assert wait_until(lambda: sum(failures) == emitter.stats().dropped, timeout=10)
    assert not emitter.close(timeout=1)  # the rest is dropped at the deadline, and reported
    assert sum(failures) == 5_000
    drop_logs = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert 1 <= len(drop_logs) <= 3


def test_killed_sender_is_replaced_and_its_events_redelivered(
    collector: Collector, make_emitter: Any
) -> None:
    """SIGKILL of a sender mid-stream: a replacement starts and no event is lost."""
    emitter = make_emitter(collector.endpoint, buffer_size=20, process_count=2)
    collector.set_delay(0.05)
    events = [event() for _ in range(2_000)]
    for e in events[:1_000]:
        emitter.input(e)
    assert wait_until(lambda: len(emitter.sender_pids()) == 2)
    assert wait_until(lambda: emitter.stats().in_flight > 0)
    victim = emitter.sender_pids()[0]
    os.kill(victim, signal.SIGKILL)
    for e in events[1_000:]:
        emitter.input(e)
    assert wait_until(lambda: emitter.stats().restarts == 1)
    collector.set_delay(0)
    assert emitter.flush(timeout=60)
    received = collector.eids()
    assert set(received) == {e["eid"] for e in events}
    stats = emitter.stats()
    assert len(received) - len(events) <= stats.redelivered  # duplicates only from redelivery
    assert victim not in emitter.sender_pids()
    assert stats.senders_alive == 2


HOST_EXIT = """
import sys, uuid
from snowplow_tracker.emitters.process.emitter import DROP_PILE_BYTES, ProcessEmitter
if __name__ == "__main__":
    e = ProcessEmitter(sys.argv[1], buffer_size=25, process_count=2, max_batch_age=30,
                       start_method=sys.argv[2])
    for i in range(int(sys.argv[3])):
        e.input({"e": "se", "se_ca": "c", "se_ac": "a", "eid": str(uuid.uuid4()), "tv": "t",
                 "p": "srv"})
    print("tracked", flush=True)
"""


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_host_exit_without_flush_delivers_everything(
    counting_collector: Collector, start_method: str
) -> None:
    """The exit handler flushes: a host that never calls flush() loses nothing."""
    proc = run_script(HOST_EXIT, counting_collector.endpoint, start_method, "1010")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "tracked" in out
    stats = counting_collector.stats()
    assert stats["events"] == 1010 and stats["unique_eids"] == 1010


HOST_KILLED = """
import sys, time, uuid
from snowplow_tracker.emitters.process.emitter import DROP_PILE_BYTES, ProcessEmitter
if __name__ == "__main__":
    e = ProcessEmitter(sys.argv[1], buffer_size=1000, process_count=2, max_batch_age=60,
                       start_method="fork", ipc_max_delay=0.01)
    for i in range(500):
        e.input({"e": "se", "se_ca": "c", "se_ac": "a", "eid": str(uuid.uuid4()), "tv": "t",
                 "p": "srv"})
    while e.stats().queued:  # everything handed to the senders, which hold it (max_batch_age)
        time.sleep(0.01)
    print(" ".join(map(str, e.sender_pids())), flush=True)
    time.sleep(60)
"""


def test_host_killed_senders_deliver_what_they_hold_and_exit(
    counting_collector: Collector,
) -> None:
    """SIGKILL of the host: senders notice, send their buffers and exit (no orphans)."""
    proc = run_script(HOST_KILLED, counting_collector.endpoint)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        pids = [int(p) for p in line.split()]
        # Senders start on demand: one or both may hold the events.
        assert 1 <= len(pids) <= 2, proc.stderr.read() if proc.stderr else line
        assert counting_collector.stats()["events"] == 0  # the senders still hold them
        proc.kill()
        proc.wait(10)
        assert counting_collector.wait_for_events(500, timeout=20)
        assert no_orphans(pids)
    finally:
        proc.kill()
        proc.communicate()
    assert counting_collector.stats()["unique_eids"] == 500


HOST_FORKS = """
import os, sys, uuid
from snowplow_tracker.emitters.process.emitter import DROP_PILE_BYTES, ProcessEmitter

def ev(tag):
    return {"e": "se", "se_ca": tag, "se_ac": "a", "eid": str(uuid.uuid4()), "tv": "t",
            "p": "srv"}

if __name__ == "__main__":
    # A generous shutdown_timeout: on a loaded machine a new sender can take seconds to start,
    # and the child's exit waits for its own.
    e = ProcessEmitter(sys.argv[1], buffer_size=10, process_count=1, max_batch_age=5,
                       start_method=sys.argv[2], shutdown_timeout=60)
    for i in range(300):
        e.input(ev("parent-before"))
    pid = os.fork()  # with events still unsent in the parent
    if pid == 0:
        for i in range(200):
            e.input(ev("child"))
        sys.exit(0)  # no flush: the child's own exit handler delivers with its own senders
    for i in range(100):
        e.input(ev("parent-after"))
    _, status = os.waitpid(pid, 0)
    print("child-exit", os.waitstatus_to_exitcode(status), flush=True)
"""


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_fork_after_tracking_child_uses_own_senders_and_nothing_twice(
    collector: Collector, start_method: str
) -> None:
    """A real os.fork(): child events arrive via the child's senders; parent events once."""
    proc = run_script(HOST_FORKS, collector.endpoint, start_method)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "child-exit 0" in out
    by_tag: Dict[str, int] = {}
    for ev in collector.events:
        by_tag[ev["se_ca"]] = by_tag.get(ev["se_ca"], 0) + 1
    assert by_tag == {"parent-before": 300, "child": 200, "parent-after": 100}
    eids = collector.eids()
    assert len(eids) == len(set(eids)) == 600


FORK_WHILE_A_SENDER_STARTS = """
import os, subprocess, sys, threading, time, uuid
from snowplow_tracker.emitters.process.emitter import ProcessEmitter

starting = threading.Event()
real_popen = subprocess.Popen

def slow_popen(*args, **kwargs):
    # As a slow start does: the sender's socket pair and exit pipe are open a while.
    starting.set()
    time.sleep(0.5)
    return real_popen(*args, **kwargs)

subprocess.Popen = slow_popen

def ev(tag):
    return {"e": "se", "se_ca": tag, "se_ac": "a", "eid": str(uuid.uuid4()), "tv": "t",
            "p": "srv"}

e = ProcessEmitter(sys.argv[1], buffer_size=10, process_count=1, shutdown_timeout=20)
e.input(ev("parent"))  # the listener thread starts the sender
assert starting.wait(20)
pid = os.fork()  # while the sender starts
if pid == 0:
    for i in range(20):
        e.input(ev("child"))
    sys.exit(0)
_, status = os.waitpid(pid, 0)
print("child-exit", os.waitstatus_to_exitcode(status), flush=True)
"""


def test_fork_while_the_first_sender_starts_leaves_the_child_able_to_start_its_own(
    collector: Collector,
) -> None:
    """A fork while the host's first sender is starting waits for the start to end (the fork
    guard): the child holds none of that sender's channel or exit pipe, starts its own sender,
    and both deliver their events."""
    proc = run_script(FORK_WHILE_A_SENDER_STARTS, collector.endpoint)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "child-exit 0" in out, err
    by_tag: Dict[str, int] = {}
    for ev in collector.events:
        by_tag[ev["se_ca"]] = by_tag.get(ev["se_ca"], 0) + 1
    assert by_tag == {"parent": 1, "child": 20}, err


CTRL_C = """
import logging, sys, time, uuid
from snowplow_tracker.emitters.process.emitter import DROP_PILE_BYTES, ProcessEmitter
if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    e = ProcessEmitter(sys.argv[1], buffer_size=1000, process_count=2, max_batch_age=60,
                       start_method="spawn", ipc_max_delay=0.01)
    for i in range(400):
        e.input({"e": "se", "se_ca": "c", "se_ac": "a", "eid": str(uuid.uuid4()), "tv": "t",
                 "p": "srv"})
    while e.stats().queued or e.stats().senders_alive < 2:
        time.sleep(0.01)
    print("ready", flush=True)
    time.sleep(60)
"""


def test_ctrl_c_to_process_group_lets_senders_drain(counting_collector: Collector) -> None:
    """SIGINT to the whole group (a terminal's Ctrl-C) kills the host, not the senders: none
    exits (a sender still starting must not take the KeyboardInterrupt either), and they drain
    what they hold."""
    proc = run_script(CTRL_C, counting_collector.endpoint, start_new_session=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
        assert counting_collector.wait_for_events(400, timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    assert counting_collector.stats()["unique_eids"] == 400
    assert "exited with code" not in err, err


def test_unserialisable_event_raises_in_caller_and_queues_nothing(
    collector: Collector, make_emitter: Any
) -> None:
    """Bad input never reaches a sender: the caller gets a clear EncodingError."""
    emitter = make_emitter(collector.endpoint)
    with pytest.raises(EncodingError, match=r"ProcessEmitter\.input: argument 'payload'"):
        emitter.input({"e": "se", "se_ca": "\ud800"})  # a lone surrogate is not UTF-8
    with pytest.raises(EncodingError, match="must be a dict"):
        emitter.input(["not", "a", "dict"])
    assert emitter.stats().accepted == 0
    emitter.input(event())
    assert emitter.flush(timeout=20)
    assert len(collector.events) == 1


@pytest.mark.parametrize("fault", ["garbage", "reset", "hang"])
def test_misbehaving_collector_never_crashes_sender_or_host(
    collector: Collector, make_emitter: Any, fault: str
) -> None:
    """Garbage, resets and silence are retried within the timeout; the sender survives."""
    emitter = make_emitter(collector.endpoint, buffer_size=5, request_timeout=0.3)
    collector.set_fault(fault)
    events = [event() for _ in range(5)]
    for e in events:
        emitter.input(e)
    assert wait_until(lambda: len(collector.requests) >= 2, timeout=20)
    collector.set_fault(None)
    assert emitter.flush(timeout=30)
    assert {e["eid"] for e in events} <= set(collector.eids())
    stats = emitter.stats()
    assert stats.restarts == 0 and stats.retried >= 5 and stats.senders_alive == 1


def test_non_retryable_status_reports_failure_with_event_dicts(
    collector: Collector, make_emitter: Any
) -> None:
    """A 400 is not retried: on_failure gets the event dicts on the emitter's thread."""
    got: List[Any] = []
    emitter = make_emitter(
        collector.endpoint, buffer_size=3, on_failure=lambda n, evs: got.append((n, evs))
    )
    collector.respond_with(400)
    events = [event() for _ in range(3)]
    for e in events:
        emitter.input(e)
    assert emitter.flush(timeout=20)
    assert got == [(0, events)]
    assert emitter.stats().failed == 3 and emitter.stats().retried == 0


def test_on_success_receives_sent_event_dicts(collector: Collector, make_emitter: Any) -> None:
    """on_success is called in the host with the dicts that were sent."""
    sent: List[Dict[str, str]] = []
    emitter = make_emitter(collector.endpoint, buffer_size=4, on_success=sent.extend)
    events = [event() for _ in range(8)]
    for e in events:
        emitter.input(e)
    assert emitter.flush(timeout=20)
    assert sorted(sent, key=lambda d: d["eid"]) == sorted(events, key=lambda d: d["eid"])


def test_get_method_sends_one_request_per_event(collector: Collector, make_emitter: Any) -> None:
    """GET works through the pool too: one /i request per event, stm appended."""
    emitter = make_emitter(collector.endpoint, method="get")
    events = [event(url="http://example.com/a b?c=é") for _ in range(5)]
    for e in events:
        emitter.input(e)
    assert emitter.flush(timeout=20)
    assert {r.path for r in collector.requests} == {"/i"}
    assert len(collector.requests) == 5
    assert all(ev["url"] == "http://example.com/a b?c=é" and "stm" in ev for ev in collector.events)


def test_lone_event_leaves_without_flush(collector: Collector, make_emitter: Any) -> None:
    """A partial batch is sent once max_batch_age passes, with no flush call."""
    emitter = make_emitter(collector.endpoint, buffer_size=100, max_batch_age=0.2)
    emitter.input(event())
    assert collector.wait_for_events(1, timeout=10)


def test_flush_async_returns_at_once_and_timeout_says_false(
    collector: Collector, make_emitter: Any
) -> None:
    """flush(is_async=True) does not wait; flush(timeout) returns False when not done."""
    emitter = make_emitter(collector.endpoint, buffer_size=100, request_timeout=1)
    collector.set_fault("hang")
    emitter.input(event())
    assert emitter.flush(is_async=True) is False
    assert emitter.flush(timeout=0.3) is False
    collector.set_fault(None)


def test_close_is_idempotent_and_emitter_restarts_on_use(
    collector: Collector, make_emitter: Any
) -> None:
    """close() stops every sender; a later input starts the pool again."""
    emitter = make_emitter(collector.endpoint, buffer_size=1)
    emitter.input(event())
    assert emitter.flush(timeout=20)
    pids = emitter.sender_pids()
    assert emitter.close(timeout=10)
    assert emitter.close(timeout=10)
    assert no_orphans(pids)
    emitter.input(event())
    assert emitter.flush(timeout=20)
    assert len(collector.events) == 2


def test_sigterm_to_sender_drains_then_replaced(collector: Collector, make_emitter: Any) -> None:
    """SIGTERM makes a sender send what it holds and exit; the pool replaces it."""
    emitter = make_emitter(
        collector.endpoint, buffer_size=1000, max_batch_age=60, ipc_max_delay=0.01
    )
    for _ in range(30):
        emitter.input(event())
    assert wait_until(lambda: emitter.stats().queued == 0 and emitter.stats().in_flight == 30)
    assert wait_until(lambda: len(emitter.sender_pids()) == 1)
    os.kill(emitter.sender_pids()[0], signal.SIGTERM)
    assert collector.wait_for_events(30, timeout=10)
    assert wait_until(lambda: emitter.stats().restarts == 1 and emitter.stats().senders_alive == 1)
    assert len(collector.events) == 30


@pytest.mark.parametrize("method", ["post", "get"])
def test_tracker_with_process_emitter_sends_schema_valid_events(
    collector: Collector, make_emitter: Any, method: str
) -> None:
    """Tracker works with a ProcessEmitter exactly as with an Emitter (the Tracker fast path)."""
    from snowplow_tracker import Subject, Tracker
    from snowplow_tracker.demo import track_everything
    from tests.schema_validation import validate_event

    emitter = make_emitter(collector.endpoint, method=method, buffer_size=50)
    tracker = Tracker(emitter, subject=Subject().set_user_id("u-1"), namespace="ns", app_id="a")
    track_everything(tracker)
    assert tracker.flush() is tracker
    assert len(collector.events) == 15 and collector.bad_requests == 0
    for received in collector.events:
        validate_event(received)
        assert received["uid"] == "u-1" and received["tna"] == "ns"


# -- host-side bounds and accounting --------------------------------------------------------
# Pinned here: the byte bound (max_queue_bytes, stats().queued_bytes), the drop accounting
# (delivered + dropped = tracked, every drop reported once to on_failure), exact
# acknowledgements at a shutdown deadline, and the shutdown race between feeder and listener.


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


SENDER_LOGS_SCRIPT = """
import logging, sys
from snowplow_tracker import ProcessEmitter
from snowplow_tracker.delivery.retry import RetryPolicy

endpoint, start_method = sys.argv[1], sys.argv[2]
emitter = ProcessEmitter(
    endpoint, start_method=start_method, process_count=1,
    retry_policy=RetryPolicy(base_delay=0.05, max_delay=0.1, max_attempts=3, deadline=30),
)

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="LOG %(levelname)s %(name)s %(message)s")
    emitter.input({"e": "pv", "eid": "e-1", "p": "srv", "tv": "py-test"})
    assert emitter.flush(timeout=30)
    print("failed", emitter.stats().failed, flush=True)
    emitter.close(5)
"""


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_sender_failures_reach_the_applications_logging(
    collector: Collector, start_method: str
) -> None:
    """Logging configured under the main guard only: the senders' WARNING about the failed
    requests is logged once, by the host, through the application's handlers."""
    collector.respond_with(503)
    proc = run_script(SENDER_LOGS_SCRIPT, collector.endpoint, start_method)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "failed 1" in out
    records = [line for line in err.splitlines() if line.startswith("LOG ")]
    failures = [r for r in records if "request to" in r and "HTTP 503" in r]
    assert failures, err
    assert failures[0].startswith("LOG WARNING snowplow_tracker")
    assert len(failures) == 1, err  # throttled as in the host, and not printed twice (fork)


def test_senders_are_named_and_no_other_process_is_started(
    collector: Collector, make_emitter: Any
) -> None:
    """``ps`` shows each sender as ``snowplow-sender[host pid P #i] host:port`` (``top``:
    ``snowplow-sender``); the emitter starts its senders and nothing else (no resource tracker).
    Processes that other tests' session fixtures started (a redis-server) are not counted."""
    before = {c.pid for c in psutil.Process().children(recursive=True)}
    emitter = make_emitter(collector.endpoint, process_count=2, start_method="spawn")
    emitter.input(event())
    assert emitter.flush(timeout=30)
    target = collector.endpoint.split("://")[-1]
    expected = [f"snowplow-sender[host pid {os.getpid()} #{i}] {target}" for i in (0, 1)]

    def titles() -> List[str]:  # a sender shows its title once it started
        return sorted(" ".join(psutil.Process(pid).cmdline()) for pid in emitter.sender_pids())

    assert wait_until(lambda: titles() == expected, 30), titles()
    names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in emitter.sender_pids()}
    assert names == {"snowplow-sender"}
    children = psutil.Process().children(recursive=True)
    assert sorted(c.pid for c in children if c.pid not in before) == sorted(emitter.sender_pids())


def test_a_sender_title_never_shows_the_collectors_credentials(
    collector: Collector, make_emitter: Any
) -> None:
    target = collector.endpoint.split("://")[-1]
    emitter = make_emitter(f"http://user:pa55word@{target}")
    emitter.input(event())
    assert emitter.flush(timeout=30)
    [pid] = emitter.sender_pids()
    title = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode()
    assert title == f"snowplow-sender[host pid {os.getpid()} #0] {target}"


def test_a_sender_imports_only_what_sending_needs() -> None:
    """The sender program imports neither ``requests``, ``psutil`` nor the tracker's other
    parts (its modules are imported as the ``python -m`` run does)."""
    code = (
        "import sys, snowplow_tracker.emitters.process.sender_process\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    modules = set(run_to_end(code).split())
    assert "snowplow_tracker.emitters.process.sender" in modules
    assert "urllib3" in modules
    unwanted = {
        "requests",
        "psutil",
        "multiprocessing.resource_tracker",
        "snowplow_tracker.tracker",
        "snowplow_tracker.emitters.process.emitter",
        "snowplow_tracker.settings",
    }
    assert modules & unwanted == set()


SYS_PATH_HOST = """
import sys
sys.path.insert(0, sys.argv[2])  # the package is found through a path added at run time
from snowplow_tracker import ProcessEmitter
e = ProcessEmitter(sys.argv[1], process_count=1)
e.input({"e": "se", "se_ca": "runtime-path", "se_ac": "a", "eid": "e-1", "p": "srv"})
print("flushed", e.flush(timeout=30), flush=True)
"""


def test_a_host_that_found_the_package_on_a_path_added_at_run_time_starts_senders(
    collector: Collector, tmp_path: Path
) -> None:
    """Without ``PYTHONPATH``, from another directory, a script that puts the package's folder
    on ``sys.path`` itself: its senders find the package too."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", SYS_PATH_HOST, collector.endpoint, str(ROOT)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "flushed True" in done.stdout, done.stderr
    assert [ev["se_ca"] for ev in collector.events] == ["runtime-path"]


SET_EXECUTABLE_HOST = """
import multiprocessing, sys
from snowplow_tracker import ProcessEmitter
multiprocessing.set_executable(sys.argv[2])
e = ProcessEmitter(sys.argv[1], process_count=1)
e.input({"e": "se", "se_ca": "wrapped", "se_ac": "a", "eid": "e-1", "p": "srv"})
print("flushed", e.flush(timeout=30), flush=True)
"""


def test_senders_run_the_interpreter_multiprocessing_would_start(
    collector: Collector, tmp_path: Path
) -> None:
    """``multiprocessing.set_executable()`` (for servers that embed Python) chooses the
    senders' interpreter."""
    marker = tmp_path / "started"
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {marker}\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    proc = run_script(SET_EXECUTABLE_HOST, collector.endpoint, str(wrapper))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "flushed True" in out, err
    assert "snowplow_tracker.emitters.process.sender_process" in marker.read_text()
    assert [ev["se_ca"] for ev in collector.events] == ["wrapped"]


NO_SENDER_CAN_START = """
import multiprocessing, sys
from snowplow_tracker import ProcessEmitter, SenderStartError
multiprocessing.set_executable(sys.argv[2])
failed = []
e = ProcessEmitter(sys.argv[1], process_count=2, shutdown_timeout=2,
                   on_failure=lambda n, events: failed.extend(events))
e.input({"e": "se", "se_ca": "c", "se_ac": "a", "eid": "e-1", "p": "srv"})
try:
    e.flush(timeout=60)
except SenderStartError as exc:
    print("raised", exc, flush=True)
print("closed", e.close(), len(failed), flush=True)
"""


@pytest.mark.parametrize("how", ["missing", "exits"])
def test_senders_that_cannot_start_raise_sender_start_error(
    collector: Collector, tmp_path: Path, how: str
) -> None:
    """An interpreter that cannot be run, or a sender that exits before it runs: ``flush()``
    raises ``SenderStartError`` saying what happened (it does not retry for ever), and
    ``close()`` reports the event as failed."""
    executable = tmp_path / "no-such-python"
    if how == "exits":
        executable.write_text("#!/bin/sh\nexit 3\n")
        executable.chmod(0o755)
    proc = run_script(NO_SENDER_CAN_START, collector.endpoint, str(executable))
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    [raised] = [line for line in out.splitlines() if line.startswith("raised")]
    expected = "could not be started" if how == "missing" else "exited with code 3 before"
    assert expected in raised
    assert "and no sender could start" in raised
    assert "closed False 1" in out
    assert collector.events == []
