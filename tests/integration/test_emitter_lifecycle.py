"""``Emitter`` and ``AsyncEmitter`` across ``os.fork()`` and interpreter exit, in real processes."""

from __future__ import annotations

from collections import Counter

import pytest

from snowplow_tracker.testing import Collector
from tests.scripts import run_to_end

PRELUDE = """
import logging, os, sys, threading, time, uuid
from snowplow_tracker import AsyncEmitter, Emitter

def ev(tag):
    return {"e": "se", "se_ca": tag, "se_ac": "a", "eid": str(uuid.uuid4()), "tv": "t",
            "p": "srv"}
"""

ASYNC_FORK = (
    PRELUDE
    + """
e = AsyncEmitter(sys.argv[1], method="post", buffer_size=10, thread_count=2)
for i in range(20):
    e.input(ev("parent-before"))   # two full batches: the sending threads are running
assert e.flush(timeout=10)
for i in range(3):
    e.input(ev("parent-buffered"))  # still buffered in the parent at the fork
pid = os.fork()
if pid == 0:
    for i in range(25):
        e.input(ev("child"))
    ok = e.flush(timeout=3)
    print("child-flush", ok, e.stats().sent, flush=True)
    os._exit(0)
for i in range(5):
    e.input(ev("parent-after"))
_, status = os.waitpid(pid, 0)
print("parent-flush", e.flush(timeout=10), flush=True)
"""
)


def tags(collector: Collector) -> Counter[str]:
    return Counter(ev["se_ca"] for ev in collector.events)


def test_async_emitter_rebuilds_itself_in_a_forked_child(collector: Collector) -> None:
    """The child's flush(timeout=3) is True and its events arrive; nothing is sent twice."""
    out = run_to_end(ASYNC_FORK, collector.endpoint)
    assert "child-flush True 25" in out
    assert "parent-flush True" in out
    assert tags(collector) == {
        "parent-before": 20,
        "parent-buffered": 3,
        "child": 25,
        "parent-after": 5,
    }
    eids = collector.eids()
    assert len(eids) == len(set(eids))


ASYNC_FORK_SESSION = (
    PRELUDE
    + """
import requests
session = requests.Session()
session.headers["X-Snowplow-Test"] = "forked"
adapter = session.get_adapter("http://x")
e = AsyncEmitter(sys.argv[1], method="post", buffer_size=5, session=session)
for i in range(5):
    e.input(ev("parent-before"))
assert e.flush(timeout=10)
print("parent-pools", len(adapter.poolmanager.pools), flush=True)
pid = os.fork()
if pid == 0:
    print("child-pools", len(adapter.poolmanager.pools), flush=True)
    for i in range(5):
        e.input(ev("child"))
    print("child-flush", e.flush(timeout=3), flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
for i in range(5):
    e.input(ev("parent-after"))
print("parent-flush", e.flush(timeout=10), flush=True)
"""
)


def test_a_users_session_crossing_a_fork_gets_fresh_connection_pools_in_the_child(
    collector: Collector,
) -> None:
    """The child never writes into the parent's pooled keep-alive connection."""
    out = run_to_end(ASYNC_FORK_SESSION, collector.endpoint)
    assert "parent-pools 1" in out
    assert "child-pools 0" in out
    assert "child-flush True" in out and "parent-flush True" in out
    assert tags(collector) == {"parent-before": 5, "child": 5, "parent-after": 5}
    assert {r.headers.get("X-Snowplow-Test") for r in collector.requests} == {"forked"}


SYNC_FORK_TIMER = (
    PRELUDE
    + """
e = Emitter(sys.argv[1], method="post", buffer_size=100)
e.set_flush_timer(0.05)
pid = os.fork()
if pid == 0:
    for i in range(3):
        e.input(ev("child"))
    deadline = time.monotonic() + 10
    while e.stats().sent < 3 and time.monotonic() < deadline:  # only the timer can send them
        time.sleep(0.01)
    timers = [t for t in threading.enumerate() if t.name == "snowplow-flush-timer"]
    print("child-sent", e.stats().sent, "timers", len(timers), flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
e.cancel_flush_timer()
"""
)


def test_emitter_flush_timer_runs_again_in_a_forked_child(collector: Collector) -> None:
    """The child gets its own flush timer thread, which sends its partial buffer."""
    out = run_to_end(SYNC_FORK_TIMER, collector.endpoint)
    assert "child-sent 3 timers 1" in out
    assert tags(collector) == {"child": 3}


SYNC_EXIT = (
    PRELUDE
    + """
e = Emitter(sys.argv[1], method="post", buffer_size=10)
for i in range(5):
    e.input(ev("exit"))
print("tracked", e.stats().sent, flush=True)
"""
)

ASYNC_EXIT = (
    PRELUDE
    + """
e = AsyncEmitter(sys.argv[1], method=sys.argv[2], buffer_size=int(sys.argv[3]))
for i in range(25):
    e.input(ev("exit"))
print("tracked", flush=True)
"""
)


def test_emitter_sends_its_buffer_at_interpreter_exit(collector: Collector) -> None:
    """5 events buffered (buffer_size=10) when the script ends normally: all 5 arrive."""
    out = run_to_end(SYNC_EXIT, collector.endpoint)
    assert "tracked 0" in out
    assert tags(collector) == {"exit": 5}


@pytest.mark.parametrize(("method", "buffer_size"), [("get", "1"), ("post", "10"), ("post", "7")])
def test_async_emitter_delivers_queued_and_buffered_events_at_exit(
    collector: Collector, method: str, buffer_size: str
) -> None:
    """25 events tracked just before a normal exit: every one arrives (threads are daemons)."""
    collector.set_delay(0.02)  # the threads are still busy when the main thread ends
    out = run_to_end(ASYNC_EXIT, collector.endpoint, method, buffer_size)
    assert "tracked" in out
    assert tags(collector) == {"exit": 25}


EXIT_COLLECTOR_HANGS = (
    PRELUDE
    + """
import atexit
logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="LOG %(message)s")
failed = []
# Registered before the emitter exists, so it runs after the emitter's own exit handler.
atexit.register(lambda: print("on_failure-total", len(failed), flush=True))
cls = AsyncEmitter if sys.argv[2] == "AsyncEmitter" else Emitter
e = cls(sys.argv[1], method="get", buffer_size=int(sys.argv[3]), request_timeout=0.5,
        shutdown_timeout=1.0, on_failure=lambda n, events: failed.extend(events))
for i in range(25):
    e.input(ev("exit"))
print("tracked", flush=True)
"""
)


@pytest.mark.parametrize(("cls", "buffer_size"), [("AsyncEmitter", "1"), ("Emitter", "30")])
def test_exit_reports_what_could_not_be_sent_within_the_deadline(
    collector: Collector, cls: str, buffer_size: str
) -> None:
    """A hanging collector: exit ends after the deadline; every event reaches on_failure."""
    collector.set_fault("hang")
    out = run_to_end(EXIT_COLLECTOR_HANGS, collector.endpoint, cls, buffer_size)
    assert "on_failure-total 25" in out
    exit_logs = [line for line in out.splitlines() if line.startswith("LOG") and "exit" in line]
    assert len(exit_logs) == 1, out
