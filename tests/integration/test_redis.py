"""RedisEmitter -> Redis -> RedisWorker -> collector, against a real redis-server and collector.

The worker runs in a thread (with an ``AsyncEmitter``) or as the real program in a subprocess
(the ``snowplow-redis-worker`` console entry point, with a ``ProcessEmitter``), which is killed
or stopped with signals.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import orjson
import pytest
import redis

from snowplow_tracker import AsyncEmitter
from snowplow_tracker.delivery.retry import RetryPolicy
from snowplow_tracker.emitters.redis.emitter import RedisEmitter
from snowplow_tracker.emitters.redis.worker import RedisWorker
from snowplow_tracker.testing import Collector
from tests.fixtures.redis_server import RedisServer
from tests.payloads import numbered_page_view as make_event
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Wk-s3cr3t-pw"


def push_events(url: str, n: int, tag: str = "t", key: str = "snowplow") -> List[str]:
    emitter = RedisEmitter(url=url, key=key, buffer_size=500, max_batch_age=None)
    for i in range(n):
        emitter.input(make_event(i, tag))
    assert emitter.close() is True
    assert emitter.stats().sent == n
    return [f"{tag}-{i:06d}" for i in range(n)]


def leftovers(client: redis.Redis, key: str = "snowplow") -> Dict[str, int]:
    """Lengths of the main, failed and every processing list."""
    out = {key: int(client.llen(key)), f"{key}:failed": int(client.llen(f"{key}:failed"))}
    for name in client.scan_iter(match=f"{key}:processing:*"):
        out[name.decode()] = int(client.llen(name))
    return out


class WorkerThread:
    """A RedisWorker running in a thread of the test process."""

    def __init__(self, worker: RedisWorker) -> None:
        self.worker = worker
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    def start(self) -> WorkerThread:
        self.thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self.worker.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the worker did not stop"
        assert self.error is None, self.error


@contextlib.contextmanager
def draining(emitter: Any, url: str, **options: Any) -> Iterator[RedisWorker]:
    """A RedisWorker over ``emitter`` running in a thread; stopped, and the emitter closed, on
    exit."""
    running = WorkerThread(RedisWorker(emitter, url=url, **options)).start()
    try:
        yield running.worker
    finally:
        running.stop()
        emitter.close()


#: What the ``snowplow-redis-worker`` console script runs (setup.py's entry point).
CONSOLE_ENTRY = "import sys; from snowplow_tracker.emitters.redis.cli import main; sys.exit(main())"


class WorkerProcess:
    """The ``snowplow-redis-worker`` program in its own process group."""

    def __init__(self, args: List[str], log_path: Path, env: Optional[Dict[str, str]] = None):
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), full_env.get("PYTHONPATH")) if p
        )
        full_env.update(env or {})
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", CONSOLE_ENTRY, *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                cwd=ROOT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def cleanup(self) -> None:
        """Kill the whole process group (the worker and its sender processes)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def worker_processes() -> Iterator[List[WorkerProcess]]:
    """Worker subprocesses started by a test; all killed (with their groups) at teardown."""
    started: List[WorkerProcess] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.cleanup()


def cli_args(server: RedisServer, collector: Collector, *extra: str) -> List[str]:
    return [
        "--redis-url", server.url,
        "--endpoint", collector.endpoint,
        "--protocol", "http",
        "--process-count", "2",
        "--buffer-size", "100",
        *extra,
    ]  # fmt: skip


# -- scenario 1 --------------------------------------------------------------------------------


def test_20000_events_reach_the_collector(
    redis_server: RedisServer, redis_client: redis.Redis, collector: Collector
) -> None:
    n = 20_000
    started = time.perf_counter()
    expected = push_events(redis_server.url, n)
    pushed = time.perf_counter()
    assert redis_client.llen("snowplow") == n
    emitter = AsyncEmitter(collector.endpoint, method="post", buffer_size=100, thread_count=2)
    with draining(emitter, redis_server.url, block_timeout=0.2) as worker:
        assert collector.wait_for_events(n, timeout=30), collector.stats()
        delivered = time.perf_counter()
    assert sorted(collector.eids()) == expected
    assert collector.stats()["duplicates"] == 0
    assert leftovers(redis_client) == {"snowplow": 0, "snowplow:failed": 0}
    assert redis_client.exists(worker.heartbeat_key) == 0
    stats = worker.stats()
    assert (stats.taken, stats.delivered, stats.dead_lettered) == (n, n, 0)
    print(
        f"\nRedisEmitter push: {n / (pushed - started):,.0f} events/s; "
        f"RedisWorker(AsyncEmitter) -> collector: {n / (delivered - pushed):,.0f} events/s"
    )


# -- scenario 2 --------------------------------------------------------------------------------


def test_a_worker_killed_with_sigkill_loses_nothing(
    redis_server: RedisServer,
    redis_client: redis.Redis,
    collector: Collector,
    worker_processes: List[WorkerProcess],
    tmp_path: Path,
) -> None:
    n = 20_000
    expected = set(push_events(redis_server.url, n))
    collector.set_delay(0.02)  # slow enough to kill the worker halfway
    args = cli_args(redis_server, collector, "--heartbeat-ttl", "1", "--batch-size", "300")
    first = WorkerProcess([*args, "--worker-id", "first"], tmp_path / "first.log")
    worker_processes.append(first)
    assert collector.wait_for_events(n // 3, timeout=30), first.log()
    # SIGKILL the worker and its sender processes at once, as if its machine died: what they
    # held can only arrive through recovery.
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    time.sleep(0.2)  # let the collector answer requests already received
    at_kill = len(set(collector.eids()))
    assert at_kill < n, "the worker finished before it could be killed"
    in_processing = int(redis_client.llen("snowplow:processing:first"))
    collector.set_delay(0)

    second = WorkerProcess([*args, "--worker-id", "second"], tmp_path / "second.log")
    worker_processes.append(second)
    assert wait_until(lambda: len(set(collector.eids())) >= n, timeout=40), (
        f"{len(set(collector.eids()))} of {n} arrived\n{second.log()}"
    )
    eids = collector.eids()
    assert set(eids) == expected  # every event arrived (some may have arrived twice)
    assert wait_until(
        lambda: leftovers(redis_client) == {"snowplow": 0, "snowplow:failed": 0}, timeout=10
    ), leftovers(redis_client)
    second.signal(signal.SIGTERM)
    assert second.wait(timeout=20) == 0, second.log()
    assert leftovers(redis_client) == {"snowplow": 0, "snowplow:failed": 0}
    assert "recovered" in second.log() or in_processing == 0
    print(
        f"\nSIGKILL after {at_kill} events with {in_processing} in processing; "
        f"duplicates: {len(eids) - len(set(eids))}"
    )


# -- scenario 3 --------------------------------------------------------------------------------


def test_sigterm_delivers_the_batch_in_hand_before_exit(
    redis_server: RedisServer,
    redis_client: redis.Redis,
    collector: Collector,
    worker_processes: List[WorkerProcess],
    tmp_path: Path,
) -> None:
    # A Redis user with a password, to check that the worker never logs it.
    redis_client.acl_setuser(
        "snowplow",
        enabled=True,
        passwords=[f"+{SECRET}"],
        keys=["*"],
        channels=["*"],
        commands=["+@all"],
    )
    url = f"redis://snowplow:{SECRET}@127.0.0.1:{redis_server.port}/0"
    expected = set(push_events(url, 50))
    collector.set_delay(1.0)  # the collector holds the request while SIGTERM arrives
    worker = WorkerProcess(
        [
            "--endpoint", collector.endpoint,
            "--protocol", "http",
            "--process-count", "1",
            "--buffer-size", "100",
            "--batch-size", "500",
            "--log-level", "DEBUG",
        ],
        tmp_path / "worker.log",
        env={"SNOWPLOW_REDIS_URL": url},
    )  # fmt: skip
    worker_processes.append(worker)
    # SIGTERM as soon as the worker holds the batch (taken from the list, not yet delivered).
    assert wait_until(
        lambda: any(redis_client.scan_iter(match="snowplow:processing:*")), timeout=20, step=0.01
    ), worker.log()
    worker.signal(signal.SIGTERM)
    assert collector.stats()["events"] == 0
    assert worker.wait(timeout=20) == 0, worker.log()
    assert set(collector.eids()) == expected
    assert leftovers(redis_client) == {"snowplow": 0, "snowplow:failed": 0}
    assert list(redis_client.scan_iter(match="snowplow:worker:*")) == []
    log = worker.log()
    assert SECRET not in log
    assert "snowplow:***@127.0.0.1" in log
    info_and_above = [line for line in log.splitlines() if " DEBUG " not in line]
    assert not any("t-0000" in line for line in info_and_above)  # no event contents


# -- dead letters, recovery, several workers ---------------------------------------------------


def test_rejected_and_invalid_items_go_to_the_dead_letter_list(
    redis_server: RedisServer, redis_client: redis.Redis, collector: Collector
) -> None:
    expected = push_events(redis_server.url, 30)
    redis_client.rpush("snowplow", b"not json", b"[1, 2]", b'"a string"', b"{}")
    collector.respond_with(400)  # never retried: the emitter gives up and calls on_failure
    seen: List[int] = []
    emitter = AsyncEmitter(
        collector.endpoint,
        method="post",
        buffer_size=10,
        on_failure=lambda sent, failed: seen.append(len(failed)),
    )
    with draining(emitter, redis_server.url, block_timeout=0.1) as worker:
        assert wait_until(lambda: redis_client.llen("snowplow:failed") == 34, timeout=15)
    assert sum(seen) == 30  # the user's own on_failure still runs
    assert emitter.on_failure is not None and emitter.on_failure.__name__ == "<lambda>"
    dead = redis_client.lrange("snowplow:failed", 0, -1)
    assert dead[:4] == [b"not json", b"[1, 2]", b'"a string"', b"{}"]
    assert sorted(orjson.loads(item)["eid"] for item in dead[4:]) == expected
    assert leftovers(redis_client) == {"snowplow": 0, "snowplow:failed": 34}
    stats = worker.stats()
    assert (stats.invalid, stats.dead_lettered, stats.delivered) == (4, 34, 0)


def test_items_of_dead_workers_are_recovered_in_order(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    redis_client.rpush("snowplow", b'{"eid":"new"}')
    redis_client.rpush("snowplow:processing:dead", b'{"eid":"d1"}', b'{"eid":"d2"}')
    redis_client.rpush("snowplow:processing:alive", b'{"eid":"a1"}')
    redis_client.set("snowplow:worker:alive", b"1", px=60_000)
    worker = RedisWorker(AsyncEmitter("c.example"), url=redis_server.url)
    assert worker.recover() == 2
    assert redis_client.lrange("snowplow", 0, -1) == [
        b'{"eid":"d1"}',
        b'{"eid":"d2"}',
        b'{"eid":"new"}',
    ]
    assert redis_client.lrange("snowplow:processing:alive", 0, -1) == [b'{"eid":"a1"}']
    assert redis_client.exists("snowplow:processing:dead") == 0


def test_two_workers_drain_one_list_without_duplicates(
    redis_server: RedisServer, redis_client: redis.Redis, collector: Collector
) -> None:
    n = 6000
    expected = push_events(redis_server.url, n, key="shared")
    emitters = [AsyncEmitter(collector.endpoint, method="post", buffer_size=50) for _ in range(2)]
    workers = [
        WorkerThread(
            RedisWorker(e, "shared", url=redis_server.url, batch_size=200, block_timeout=0.1)
        ).start()
        for e in emitters
    ]
    try:
        assert collector.wait_for_events(n, timeout=30)
    finally:
        for worker in workers:
            worker.stop()
        for emitter in emitters:
            emitter.close()
    assert sorted(collector.eids()) == expected
    assert all(w.worker.stats().taken > 0 for w in workers)
    assert leftovers(redis_client, "shared") == {"shared": 0, "shared:failed": 0}


def test_retryable_failures_are_retried_not_dead_lettered(
    redis_server: RedisServer, redis_client: redis.Redis, collector: Collector
) -> None:
    expected = push_events(redis_server.url, 100)
    collector.script([503, "reset", 503])
    emitter = AsyncEmitter(
        collector.endpoint,
        method="post",
        buffer_size=100,
        retry_policy=RetryPolicy(base_delay=0.05, max_delay=0.2),
    )
    with draining(emitter, redis_server.url, block_timeout=0.1):
        assert collector.wait_for_events(100, timeout=15)
    assert sorted(collector.eids()) == expected
    assert leftovers(redis_client) == {"snowplow": 0, "snowplow:failed": 0}


def test_the_documented_example_works(redis_server: RedisServer, redis_client: Any) -> None:
    """Docs 5.4: with the default buffer, the event is in Redis when ``track_*`` returns."""
    rdb = redis.StrictRedis.from_url(redis_server.url_for(2))
    try:
        emitter = RedisEmitter(rdb, "my_snowplow_key")
        emitter.input({"e": "pv", "url": "http://www.example.com", "p": "pc"})
        stored = rdb.lrange("my_snowplow_key", 0, -1)
        assert [orjson.loads(item) for item in stored] == [
            {"e": "pv", "url": "http://www.example.com", "p": "pc"}
        ]
    finally:
        rdb.close()


def test_a_stop_during_an_outage_gives_the_batch_back_within_the_deadline(
    redis_server: RedisServer, redis_client: redis.Redis, collector: Collector
) -> None:
    expected = push_events(redis_server.url, 20)
    collector.respond_with(503)
    emitter = AsyncEmitter(
        collector.endpoint,
        method="post",
        buffer_size=100,
        retry_policy=RetryPolicy(max_attempts=None, deadline=120, base_delay=0.05, max_delay=0.2),
    )
    worker = WorkerThread(
        RedisWorker(emitter, url=redis_server.url, block_timeout=0.1, shutdown_timeout=1.0)
    ).start()
    try:
        assert collector.wait_for_requests(3, timeout=10)
        started = time.monotonic()
        worker.stop()
        assert time.monotonic() - started < 5
    finally:
        emitter.close(timeout=0.5)
    # Not delivered, not lost: back in the list, in order, for the next worker.
    stored = redis_client.lrange("snowplow", 0, -1)
    assert [orjson.loads(item)["eid"] for item in stored] == expected
    assert leftovers(redis_client) == {"snowplow": 20, "snowplow:failed": 0}
    assert worker.worker.stats().requeued == 20


@pytest.mark.parametrize("to_group", [False, True], ids=["worker", "process-group"])
def test_a_clean_sigterm_stop_logs_no_warning(
    to_group: bool,
    redis_server: RedisServer,
    collector: Collector,
    worker_processes: List[WorkerProcess],
    tmp_path: Path,
) -> None:
    """SIGTERM to the worker (or to its whole process group): exit status 0 and nothing at
    WARNING or above (its senders ending at the stop are not sender deaths)."""
    worker = WorkerProcess(
        [*cli_args(redis_server, collector), "--block-timeout", "0.2", "--log-level", "INFO"],
        tmp_path / "worker.log",
    )
    worker_processes.append(worker)
    assert wait_until(lambda: "snowplow-redis-worker" in worker.log(), timeout=20), worker.log()
    push_events(redis_server.url, 20)
    assert collector.wait_for_events(20, timeout=20), worker.log()  # the senders are running
    if to_group:  # as systemd (KillMode=control-group) or `kill -TERM -PGID` stop a service
        os.killpg(worker.pid, signal.SIGTERM)
    else:
        worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0, worker.log()
    noisy = [line for line in worker.log().splitlines() if " WARNING " in line or " ERROR " in line]
    assert noisy == [], worker.log()
