"""RedisEmitter against a real redis-server: storing, buffering, hangs, outages, bounds, exit.

Faults are real: the test's own redis-server is frozen with SIGSTOP (a hung Redis: connections
are accepted by the kernel, nothing answers) or killed. Time bounds are generous upper bounds
checked with ``Thread.join(timeout)``, never wall-clock thresholds on speed.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import tracemalloc
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import orjson
import pytest
import redis

from snowplow_tracker import Tracker
from snowplow_tracker.emitters.redis.emitter import DEFAULT_MAX_QUEUE_BYTES, RedisEmitter
from snowplow_tracker.protocol.wire import encode_event
from snowplow_tracker.testing import RedisServer
from snowplow_tracker.testing.redis_server import free_port
from tests.integration.test_redis import ROOT, make_event
from tests.scripts import run_script
from tests.waiting import wait_until

SECRET = "s3cr3t-Pa55"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone, that it may freeze (SIGSTOP) or kill."""
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.send_signal(signal.SIGCONT)
        server.stop()


def freeze(server: RedisServer) -> None:
    assert server.process is not None
    server.process.send_signal(signal.SIGSTOP)


def thaw(server: RedisServer) -> None:
    assert server.process is not None
    server.process.send_signal(signal.SIGCONT)


def finishes_within(seconds: float, work: Callable[[], Any]) -> Tuple[bool, List[Any]]:
    """Run ``work`` in a thread; whether it returned within ``seconds``, and its result."""
    result: List[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), result


def stored_eids(client: redis.Redis, key: str = "snowplow") -> List[str]:
    return [orjson.loads(item)["eid"] for item in client.lrange(key, 0, -1)]


def first_seen(eids: List[str]) -> List[str]:
    """``eids`` without repeats, in order of first appearance (a push that timed out while
    Redis was frozen may be carried out when it resumes, and is pushed again: at-least-once)."""
    return list(dict.fromkeys(eids))


class Failures:
    """Records ``on_failure`` calls."""

    def __init__(self) -> None:
        self.calls: List[Tuple[int, List[Dict[str, Any]]]] = []

    def __call__(self, sent: int, events: List[Dict[str, Any]]) -> None:
        self.calls.append((sent, events))

    def eids(self) -> List[str]:
        return [event["eid"] for _, events in self.calls for event in events]


# -- storing -----------------------------------------------------------------------------------


def test_each_event_is_stored_as_its_post_json(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    emitter = RedisEmitter(url=redis_server.url)
    payload = make_event(1)
    emitter.input(payload)
    assert emitter.flush(timeout=10) is True
    assert redis_client.lrange("snowplow", 0, -1) == [encode_event(payload, "post")]
    assert emitter.stats().sent == 1
    assert emitter.close() is True


def test_the_default_buffer_stores_each_event_before_track_returns(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    emitter = RedisEmitter(url=redis_server.url, max_batch_age=None)
    for i in range(1, 4):
        emitter.input(make_event(i))
        assert redis_client.llen("snowplow") == i
    emitter.close()


def test_a_cpu_bound_caller_with_a_healthy_redis_drops_nothing(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """Tracking in a tight loop: full buffers are pushed by the caller itself, so the queue
    never outgrows a bound of 20 buffers, a tenth of what is tracked (a background thread
    alone waits for the GIL after every socket write: it dropped 87% with 3 buffers)."""
    event_size = len(encode_event(make_event(0), "post"))
    emitter = RedisEmitter(url=redis_server.url, buffer_size=100, max_queue_bytes=2000 * event_size)
    for i in range(20_000):
        emitter.input(make_event(i))
    assert emitter.flush(timeout=10) is True
    stats = emitter.stats()
    assert (stats.dropped, stats.sent) == (0, 20_000)
    assert redis_client.llen("snowplow") == 20_000


def test_a_partial_buffer_waits_for_the_buffer_size(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    emitter = RedisEmitter(url=redis_server.url, buffer_size=3, max_batch_age=None)
    emitter.input(make_event(1))
    emitter.input(make_event(2))
    assert emitter.stats().queued == 2 and redis_client.llen("snowplow") == 0
    emitter.input(make_event(3))
    assert wait_until(lambda: redis_client.llen("snowplow") == 3, timeout=10)
    emitter.input(make_event(4))
    assert emitter.flush(timeout=10) is True
    assert stored_eids(redis_client) == [make_event(i)["eid"] for i in (1, 2, 3, 4)]
    assert emitter.stats().queued == 0 and emitter.stats().queued_bytes == 0


def test_many_events_are_stored_in_order_with_commands_of_1000_values(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    emitter = RedisEmitter(url=redis_server.url, buffer_size=5000, max_batch_age=None)
    for i in range(2500):
        emitter.input(make_event(i))
    before = int(redis_client.info("commandstats").get("cmdstat_rpush", {}).get("calls", 0))
    assert emitter.flush(timeout=10) is True
    after = int(redis_client.info("commandstats")["cmdstat_rpush"]["calls"])
    assert after - before == 3  # RPUSHes of 1000, 1000 and 500 values
    assert stored_eids(redis_client) == [make_event(i)["eid"] for i in range(2500)]


def test_the_timer_pushes_a_partial_buffer(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    emitter = RedisEmitter(url=redis_server.url, buffer_size=100, max_batch_age=0.05)
    emitter.input(make_event(1))
    assert wait_until(lambda: redis_client.llen("snowplow") == 1, timeout=10)
    emitter.close()


def test_on_success_gets_the_pushed_events_and_raising_callbacks_are_contained(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    seen: List[str] = []

    def on_success(events: List[Dict[str, Any]]) -> None:
        seen.extend(e["eid"] for e in events)
        raise RuntimeError("user bug")

    emitter = RedisEmitter(url=redis_server.url, buffer_size=2, on_success=on_success)
    for i in range(4):
        emitter.input(make_event(i))
    assert emitter.flush(timeout=10) is True
    assert seen == [make_event(i)["eid"] for i in range(4)]
    assert redis_client.llen("snowplow") == 4


def test_concurrent_inputs_lose_nothing(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    emitter = RedisEmitter(url=redis_server.url, buffer_size=7, max_batch_age=None)

    def track(start: int) -> None:
        for i in range(start, start + 500):
            emitter.input(make_event(i))

    threads = [threading.Thread(target=track, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert emitter.flush(timeout=10) is True
    assert len(set(stored_eids(redis_client))) == 2000


def test_a_forked_child_starts_empty_and_pushes_its_own_events(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    emitter = RedisEmitter(url=redis_server.url, buffer_size=10, max_batch_age=None)
    emitter.input(make_event(1, "parent"))
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            if emitter.stats().queued == 0:
                emitter.input(make_event(2, "child"))
                code = 0 if emitter.flush(timeout=10) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert emitter.stats().queued == 1
    assert emitter.flush(timeout=10) is True
    assert sorted(stored_eids(redis_client)) == ["child-000002", "parent-000001"]


def test_a_forked_child_runs_the_flush_timer_again_and_it_pushes_partial_batches(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """The shared fork hook rebuilds the emitter in the child with its flush timer running:
    a partial batch (no max_batch_age, no flush) is pushed by the timer alone."""
    emitter = RedisEmitter(url=redis_server.url, key="timed", buffer_size=10, max_batch_age=None)
    emitter.set_flush_timer(0.05)
    emitter.input(make_event(1, "parent"))
    assert wait_until(lambda: stored_eids(redis_client, "timed") == ["parent-000001"], timeout=10)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            if emitter.timer.is_active() and emitter.stats().queued == 0:
                emitter.input(make_event(2, "child"))
                client = redis.Redis.from_url(redis_server.url)
                stored = wait_until(lambda: "child-000002" in stored_eids(client, "timed"), 10)
                code = 0 if stored else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sorted(stored_eids(redis_client, "timed")) == ["child-000002", "parent-000001"]
    emitter.cancel_flush_timer()
    assert not emitter.timer.is_active()
    emitter.input(make_event(3, "parent"))
    assert emitter.stats().queued == 1  # no timer, no age rule: it waits for a flush
    assert emitter.close() is True
    assert stored_eids(redis_client, "timed")[-1] == "parent-000003"


def test_the_default_client_is_built_on_first_use_with_timeouts() -> None:
    port = free_port()
    emitter = RedisEmitter(url=f"redis://127.0.0.1:{port}/4")
    assert emitter._redis.client is None  # nothing built (and nothing connected) yet
    kwargs = emitter.client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", port, 4)
    assert kwargs["socket_timeout"] == 5.0 and kwargs["socket_connect_timeout"] == 2.0
    emitter.input(make_event(1))  # nothing listens: kept for later, no exception
    assert emitter.flush(timeout=5) is False
    assert emitter.stats().queued == 1
    assert emitter.close(timeout=0.2) is False


def test_failed_push_logs_are_masked_throttled_and_without_contents(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://user:{SECRET}@127.0.0.1:{free_port()}/0"  # nothing listens there
    emitter = RedisEmitter(url=url, max_batch_age=None, on_failure=Failures())
    with caplog.at_level(logging.DEBUG, logger="snowplow_tracker"):
        for i in range(20):
            emitter.input(make_event(i))
            emitter.flush(timeout=5)
        emitter.close(timeout=0.2)
    assert SECRET not in caplog.text
    assert "t-0000" not in caplog.text  # never the events' contents
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # throttled: one record for 20 failed pushes
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "20 event(s) not stored" in errors[0].getMessage()
    assert SECRET not in repr(emitter) and "user:***@127.0.0.1" in repr(emitter)


# -- a hung or dead Redis ----------------------------------------------------------------------


def test_track_never_waits_on_a_hung_redis(own_redis: RedisServer) -> None:
    """With Redis frozen (SIGSTOP), 20 track calls return at once, and are stored on SIGCONT."""
    emitter = RedisEmitter(url=own_redis.url)  # the default buffer_size=1
    tracker = Tracker(emitter)
    tracker.track_page_view("https://example.com/warm-up")
    assert emitter.flush(timeout=10) is True  # connected before the freeze
    freeze(own_redis)
    returned, _ = finishes_within(
        2.0, lambda: [tracker.track_page_view(f"https://example.com/{i}") for i in range(20)]
    )
    assert returned, "track_page_view waited on the frozen Redis"
    flushed, result = finishes_within(2.0, lambda: emitter.flush(timeout=0.5))
    assert flushed and result == [False]  # flush is bounded by its timeout too
    thaw(own_redis)
    assert emitter.flush(timeout=15) is True
    client = redis.Redis.from_url(own_redis.url)
    stored = stored_eids(client)
    assert len(first_seen(stored)) == 21 and len(stored) <= 22
    stats = emitter.stats()
    assert (stats.sent, stats.dropped, stats.queued) == (21, 0, 0)
    client.close()


def test_track_waits_once_while_the_background_push_hangs(own_redis: RedisServer) -> None:
    """The background thread's push (5 s socket timeout) hangs on a frozen Redis before any
    push failed: the first caller with a backlog waits push_timeout for it, then callers only
    queue (before, each full buffer waited push_timeout again: 9 x 0.5 s here)."""
    emitter = RedisEmitter(url=own_redis.url, buffer_size=10, max_batch_age=None)
    emitter.input(make_event(0))
    assert emitter.flush(timeout=10) is True  # connected before the freeze
    for i in range(1, 4):
        emitter.input(make_event(i))
    freeze(own_redis)
    emitter.flush(is_async=True)  # the background thread pushes the partial buffer: it hangs
    assert wait_until(lambda: emitter.stats().in_flight == 3, timeout=10)
    returned, _ = finishes_within(
        2.0, lambda: [emitter.input(make_event(i)) for i in range(4, 104)]
    )
    assert returned, "track waited on the hung background push more than once"
    thaw(own_redis)
    assert emitter.flush(timeout=15) is True
    client = redis.Redis.from_url(own_redis.url)
    assert first_seen(stored_eids(client)) == [make_event(i)["eid"] for i in range(104)]
    client.close()


def test_events_tracked_while_redis_is_dead_are_stored_once_it_is_back(
    own_redis: RedisServer,
) -> None:
    emitter = RedisEmitter(url=own_redis.url, buffer_size=2)
    freeze(own_redis)
    for i in range(6):
        emitter.input(make_event(i))  # never raises, never waits
    assert emitter.stats().queued + emitter.stats().in_flight == 6
    thaw(own_redis)
    assert emitter.flush(timeout=15) is True
    client = redis.Redis.from_url(own_redis.url)
    assert first_seen(stored_eids(client)) == [make_event(i)["eid"] for i in range(6)]
    client.close()


def test_close_with_a_hung_redis_reports_what_it_held(own_redis: RedisServer) -> None:
    failures = Failures()
    emitter = RedisEmitter(url=own_redis.url, buffer_size=5, on_failure=failures)
    emitter.input(make_event(0))
    assert emitter.flush(timeout=10) is True
    freeze(own_redis)
    for i in range(1, 8):
        emitter.input(make_event(i))
    returned, result = finishes_within(3.0, lambda: emitter.close(timeout=0.5))
    assert returned and result == [False]
    assert sorted(failures.eids()) == [make_event(i)["eid"] for i in range(1, 8)]
    assert [sent for sent, _ in failures.calls] == [0]
    stats = emitter.stats()
    assert (stats.accepted, stats.sent, stats.dropped, stats.queued) == (8, 1, 7, 0)
    emitter.input(make_event(99))  # after close: dropped and reported, never silently kept
    assert failures.eids()[-1] == make_event(99)["eid"] and emitter.stats().dropped == 8


EXIT_SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s")
from snowplow_tracker import Tracker
from snowplow_tracker.emitters.redis.emitter import RedisEmitter

def on_failure(sent, events):
    print("on_failure", sent, len(events), flush=True)

emitter = RedisEmitter(url=sys.argv[1], buffer_size=10, shutdown_timeout=0.5,
                       on_failure=on_failure)
tracker = Tracker(emitter)
for i in range(5):
    tracker.track_page_view(f"https://example.com/{i}")
print("tracked", flush=True)
"""


@pytest.mark.parametrize("fault", ["killed", "frozen"])
def test_events_held_at_exit_with_redis_down_are_reported_and_logged_once(
    own_redis: RedisServer, fault: str, tmp_path: Path
) -> None:
    if fault == "killed":
        own_redis.stop()
    else:
        freeze(own_redis)
    script = tmp_path / "exit.py"
    script.write_text(textwrap.dedent(EXIT_SCRIPT))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(script), own_redis.url],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["tracked", "on_failure 0 5"]
    reports = [line for line in done.stderr.splitlines() if "not stored" in line]
    assert len(reports) == 1 and "5 event(s)" in reports[0], done.stderr


LIFECYCLE_SCRIPT = """
import sys
import redis
from snowplow_tracker.emitters import lifecycle
from snowplow_tracker.emitters.redis.emitter import RedisEmitter

def event(i):
    return {"e": "pv", "eid": f"lifecycle-{i:06d}", "url": "https://example.com/"}

url = sys.argv[1]
held = RedisEmitter(url=url, key="handler", buffer_size=10, max_batch_age=None)
for i in range(3):
    held.input(event(i))
client = redis.Redis.from_url(url)
print("before", client.llen("handler"), held.stats().queued, flush=True)
lifecycle.close_all_at_exit()  # the shared handler, called as atexit will
print("after", client.llen("handler"), held.stats().queued, flush=True)
held.input(event(3))  # closed by the handler: dropped and reported
print("dropped", held.stats().dropped, flush=True)
at_exit = RedisEmitter(url=url, key="exit", buffer_size=10, max_batch_age=None)
for i in range(2):
    at_exit.input(event(i))
print("tracked", client.llen("exit"), flush=True)
"""


def test_the_shared_exit_handler_pushes_what_the_emitter_holds(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """:func:`lifecycle.close_all_at_exit` (the one atexit handler of the in-host emitters)
    pushes a RedisEmitter's partial batch and closes it; at the real interpreter exit it does
    the same for an emitter still holding events."""
    proc = run_script(LIFECYCLE_SCRIPT, redis_server.url)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["before 0 3", "after 3 0", "dropped 1", "tracked 0"]
    assert stored_eids(redis_client, "handler") == [f"lifecycle-{i:06d}" for i in range(3)]
    assert stored_eids(redis_client, "exit") == [f"lifecycle-{i:06d}" for i in range(2)]
    assert "not stored" not in err


# -- memory: compact and bounded in bytes ------------------------------------------------------


def test_queued_events_cost_about_their_encoded_size() -> None:
    """10,000 queued events hold less than twice their encoded bytes (orjson's own output
    would cost about 4 KB each)."""
    emitter = RedisEmitter(
        url=f"redis://127.0.0.1:{free_port()}/0", buffer_size=100_000, max_batch_age=None
    )
    events = [make_event(i) for i in range(10_000)]
    encoded = sum(len(encode_event(e, "post")) for e in events)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for event in events:
            emitter.input(event)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert emitter.stats().queued_bytes == encoded
    assert held < 2 * encoded, f"{held / len(events):.0f} bytes per queued event"
    emitter.close(timeout=0.1)


def test_the_byte_bound_drops_new_events_and_stored_plus_dropped_equals_tracked(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    failures = Failures()
    event_size = len(encode_event(make_event(0), "post"))
    bound = 50 * event_size
    emitter = RedisEmitter(
        url=own_redis.url, buffer_size=20, max_queue_bytes=bound, on_failure=failures
    )
    assert RedisEmitter(url=own_redis.url).max_queue_bytes == DEFAULT_MAX_QUEUE_BYTES
    emitter.input(make_event(0))
    assert emitter.flush(timeout=10) is True
    freeze(own_redis)
    tracked = 200
    with caplog.at_level(logging.WARNING, logger="snowplow_tracker"):
        for i in range(1, tracked):
            emitter.input(make_event(i))
    stats = emitter.stats()
    assert stats.queued_bytes <= bound
    assert stats.dropped == len(failures.eids()) > 0
    drop_logs = [r for r in caplog.records if "dropped new event" in r.getMessage()]
    assert len(drop_logs) == 1  # throttled
    thaw(own_redis)
    assert emitter.flush(timeout=15) is True
    client = redis.Redis.from_url(own_redis.url)
    stored = stored_eids(client)
    client.close()
    assert set(stored).isdisjoint(failures.eids())
    everything = sorted(first_seen(stored) + failures.eids())
    assert everything == sorted(make_event(i)["eid"] for i in range(tracked))
    stats = emitter.stats()
    assert stats.sent + stats.dropped == stats.accepted == tracked
    assert stats.queued_bytes == 0


FIRST_PUSH_AT_EXIT_SCRIPT = """
import sys
from snowplow_tracker import RedisEmitter

emitter = RedisEmitter(url=sys.argv[1], key="first-at-exit", buffer_size=10, max_batch_age=None)
for i in range(3):
    emitter.input({"e": "pv", "eid": f"at-exit-{i:06d}", "url": "https://example.com/"})
"""


def test_a_first_push_at_interpreter_exit_stores_the_events(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """An emitter that never pushed before exit still stores its events then (the ``redis``
    library cannot be imported once the interpreter shuts down: the client is made earlier)."""
    proc = run_script(FIRST_PUSH_AT_EXIT_SCRIPT, redis_server.url)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    expected = [f"at-exit-{i:06d}" for i in range(3)]
    assert stored_eids(redis_client, "first-at-exit") == expected
