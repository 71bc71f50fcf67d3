"""Unit tests of RedisEmitter, and of the argument checks of RedisWorker and its command line.

Redis is replaced by a small fake client here (to inject failures); the real server is used in
``tests/integration/test_redis.py``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Dict, List, Optional

import orjson
import pytest

from snowplow_tracker import AsyncEmitter
from snowplow_tracker.credentials import mask_credentials
from snowplow_tracker.errors import ConfigurationError, EncodingError
from snowplow_tracker.redis_emitter import RedisEmitter
from snowplow_tracker.redis_worker import RedisWorker, build_parser, main
from snowplow_tracker.wire import encode_event

SECRET = "s3cr3t-Pa55"


class FakePipeline:
    def __init__(self, client: FakeRedis) -> None:
        self.client = client
        self.commands: List[List[bytes]] = []

    def rpush(self, key: str, *values: bytes) -> None:
        self.commands.append(list(values))

    def execute(self, raise_on_error: bool = True) -> List[Any]:
        self.client.pipelines += 1
        return [self.client.rpush("", *values) for values in self.commands]


class FakeRedis:
    """Records RPUSHes; raises ``error`` instead while it is set."""

    def __init__(self) -> None:
        self.pushed: List[bytes] = []
        self.calls = 0
        self.pipelines = 0
        self.error: Optional[BaseException] = None

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        return FakePipeline(self)

    def rpush(self, key: str, *values: bytes) -> int:
        self.calls += 1
        if self.error is not None:
            raise self.error
        self.pushed.extend(values)
        return len(self.pushed)


def event(i: int) -> Dict[str, str]:
    return {"e": "pv", "eid": f"eid-{i}", "url": f"http://example.com/{i}", "p": "srv"}


# -- credential masking ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://user:pw@host/1", "redis://user:***@host/1"),
        ("rediss://user:p%40ss@h.example:6380", "rediss://user:***@h.example:6380"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("redis://user@host", "redis://user@host"),
        ("unix:///tmp/r.sock?db=0&password=pw", "unix:///tmp/r.sock?db=0&password=***"),
        (
            "Error connecting to redis://a:pw@h:1 and amqp://b:pw2@q//",
            "Error connecting to redis://a:***@h:1 and amqp://b:***@q//",
        ),
        ("no url here", "no url here"),
    ],
)
def test_mask_credentials(text: str, expected: str) -> None:
    assert mask_credentials(text) == expected


def test_repr_and_errors_never_show_the_password() -> None:
    emitter = RedisEmitter(url=f"redis://user:{SECRET}@redis.internal:6379/2")
    assert SECRET not in repr(emitter)
    assert "redis://user:***@redis.internal:6379/2" in repr(emitter)
    with pytest.raises(ConfigurationError) as info:
        RedisEmitter(url=f"http://user:{SECRET}@redis.internal")
    assert SECRET not in str(info.value)
    assert "'url' must be a Redis URL" in str(info.value)
    worker = RedisWorker(AsyncEmitter("c.example"), url=f"redis://:{SECRET}@h:1/0")
    assert SECRET not in repr(worker)


def test_failed_push_logs_are_masked_and_throttled(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeRedis()
    fake.error = ConnectionError(f"Error 111 connecting to redis://:{SECRET}@h:1. Refused.")
    emitter = RedisEmitter(fake, max_batch_age=None)
    with caplog.at_level(logging.DEBUG, logger="snowplow_tracker"):
        for i in range(20):
            emitter.input(event(i))
            emitter.flush()
    text = caplog.text
    assert SECRET not in text
    assert "redis://:***@h:1" in text
    assert "eid-" not in text  # never the events' contents
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert 1 <= len(warnings) <= 2  # throttled


# -- argument validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": ""}, "RedisEmitter: argument 'key' must be a non-empty string, got ''"),
        ({"key": 3}, "argument 'key' must be a non-empty string, got 3"),
        ({"buffer_size": 0}, "argument 'buffer_size' must be a positive integer, got 0"),
        ({"buffer_size": True}, "argument 'buffer_size' must be a positive integer, got True"),
        ({"max_buffered": -1}, "argument 'max_buffered' must be a positive integer, got -1"),
        (
            {"buffer_size": 10, "max_buffered": 5},
            "argument 'max_buffered' (5) must be at least 'buffer_size' (10)",
        ),
        ({"max_batch_age": 0}, "argument 'max_batch_age' must be a positive number"),
        ({"rdb": "localhost"}, "argument 'rdb' must be a redis.Redis client or None, got str"),
        ({"rdb": FakeRedis(), "url": "redis://h"}, "pass either 'rdb' or 'url', not both"),
        ({"url": "localhost:6379"}, "argument 'url' must be a Redis URL"),
        ({"on_failure": 1}, "argument 'on_failure' must be a callable or None, got 1"),
    ],
)
def test_redis_emitter_argument_errors(kwargs: Dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        RedisEmitter(**kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"emitter": object()}, "argument 'emitter' must have input() and flush() methods"),
        ({"key": ""}, "RedisWorker: argument 'key' must be a non-empty string"),
        ({"batch_size": 0}, "argument 'batch_size' must be a positive integer, got 0"),
        ({"batch_size": 2.5}, "argument 'batch_size' must be a positive integer, got 2.5"),
        ({"block_timeout": -1}, "argument 'block_timeout' must be a positive number of seconds"),
        ({"heartbeat_ttl": 0}, "argument 'heartbeat_ttl' must be a positive number of seconds"),
        ({"worker_id": "a b"}, "argument 'worker_id' must be a non-empty string without spaces"),
        ({"rdb": 5}, "argument 'rdb' must be a redis.Redis client or None, got int"),
        ({"url": "mysql://x"}, "argument 'url' must be a Redis URL"),
    ],
)
def test_redis_worker_argument_errors(kwargs: Dict[str, Any], message: str) -> None:
    args: Dict[str, Any] = {"emitter": AsyncEmitter("collector.example.com")}
    args.update(kwargs)
    with pytest.raises(ConfigurationError) as info:
        RedisWorker(**args)
    assert message in str(info.value)


def test_redis_worker_keys_and_default_id() -> None:
    worker = RedisWorker(AsyncEmitter("c.example"), key=None)  # type: ignore[arg-type]
    assert worker.key == "snowplow"  # the 0.7 documentation's default is key=None
    assert worker.worker_id.count("-") >= 2 and str(os.getpid()) in worker.worker_id
    assert worker.processing_key == f"snowplow:processing:{worker.worker_id}"
    assert worker.heartbeat_key == f"snowplow:worker:{worker.worker_id}"
    assert worker.failed_key == "snowplow:failed"
    other = RedisWorker(AsyncEmitter("c.example"))
    assert other.worker_id != worker.worker_id


def test_cli_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option, env in [
        ("--redis-url", "SNOWPLOW_REDIS_URL"),
        ("--key", "SNOWPLOW_REDIS_KEY"),
        ("--endpoint", "SNOWPLOW_COLLECTOR"),
        ("--protocol", "SNOWPLOW_PROTOCOL"),
        ("--port", "SNOWPLOW_PORT"),
        ("--method", "SNOWPLOW_METHOD"),
        ("--process-count", "SNOWPLOW_PROCESS_COUNT"),
        ("--buffer-size", "SNOWPLOW_BUFFER_SIZE"),
        ("--batch-size", "SNOWPLOW_BATCH_SIZE"),
        ("--log-level", "SNOWPLOW_LOG_LEVEL"),
    ]:
        assert option in out and env in out


def test_cli_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOWPLOW_REDIS_URL", f"redis://:{SECRET}@r.internal:6379/3")
    monkeypatch.setenv("SNOWPLOW_REDIS_KEY", "events")
    monkeypatch.setenv("SNOWPLOW_COLLECTOR", "collector.example.com")
    args = build_parser().parse_args([])
    assert args.redis_url.endswith("r.internal:6379/3")
    assert (args.key, args.endpoint, args.method) == ("events", "collector.example.com", "post")
    monkeypatch.delenv("SNOWPLOW_COLLECTOR")
    monkeypatch.delenv("SNOWPLOW_REDIS_URL")
    args = build_parser().parse_args(["--endpoint", "c.example"])
    assert args.redis_url == "redis://localhost:6379/0"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: --endpoint"),
        (["--endpoint", "c", "--batch-size", "0"], "--batch-size: must be positive, got 0"),
        (["--endpoint", "c", "--method", "put"], "invalid choice: 'put'"),
        (
            ["--endpoint", "c", "--redis-url", f"http://u:{SECRET}@h"],
            "argument 'url' must be a Redis URL such as 'redis://localhost:6379/0'",
        ),
        (["--endpoint", "not a host"], "argument 'endpoint' must be a host name"),
    ],
)
def test_cli_argument_errors(
    argv: List[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SNOWPLOW_COLLECTOR", raising=False)
    monkeypatch.delenv("SNOWPLOW_REDIS_URL", raising=False)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert SECRET not in err


# -- behaviour ---------------------------------------------------------------------------------


def test_each_event_is_stored_as_its_post_json() -> None:
    fake = FakeRedis()
    emitter = RedisEmitter(fake)
    payload = event(1)
    emitter.input(payload)
    assert fake.pushed == [encode_event(payload, "post")]
    assert orjson.loads(fake.pushed[0]) == payload
    assert emitter.stats().sent == 1


def test_buffered_events_are_pushed_in_one_command() -> None:
    fake = FakeRedis()
    emitter = RedisEmitter(fake, buffer_size=3, max_batch_age=None)
    emitter.input(event(1))
    emitter.input(event(2))
    assert fake.calls == 0 and emitter.stats().queued == 2
    emitter.input(event(3))
    assert fake.calls == 1
    assert [orjson.loads(v)["eid"] for v in fake.pushed] == ["eid-1", "eid-2", "eid-3"]
    emitter.input(event(4))
    assert emitter.flush() is True
    assert len(fake.pushed) == 4 and emitter.stats().queued == 0


def test_a_big_flush_is_split_in_pipelined_commands() -> None:
    fake = FakeRedis()
    emitter = RedisEmitter(fake, buffer_size=5000, max_batch_age=None)
    for i in range(2500):
        emitter.input(event(i))
    assert emitter.flush() is True
    assert fake.pipelines == 1 and fake.calls == 3  # RPUSHes of 1000, 1000, 500 values
    assert [orjson.loads(v)["eid"] for v in fake.pushed] == [f"eid-{i}" for i in range(2500)]


def test_redis_outage_keeps_events_and_pushes_them_later_in_order() -> None:
    fake = FakeRedis()
    fake.error = ConnectionError("down")
    emitter = RedisEmitter(fake, buffer_size=2, max_batch_age=None)
    for i in range(6):
        emitter.input(event(i))  # never raises
    assert fake.pushed == [] and emitter.stats().queued == 6
    calls = fake.calls
    assert calls <= 2  # back-off: no push attempt per event while Redis is down
    fake.error = None
    assert emitter.flush() is True
    assert [orjson.loads(v)["eid"] for v in fake.pushed] == [f"eid-{i}" for i in range(6)]
    stats = emitter.stats()
    assert (stats.sent, stats.queued, stats.dropped) == (6, 0, 0)


def test_the_bound_drops_the_oldest_events_and_reports_them() -> None:
    fake = FakeRedis()
    fake.error = OSError("unreachable")
    reported: List[Any] = []
    emitter = RedisEmitter(
        fake,
        buffer_size=1,
        max_buffered=5,
        max_batch_age=None,
        on_failure=lambda n, events: reported.append((n, events)),
    )
    for i in range(8):
        emitter.input(event(i))
    stats = emitter.stats()
    assert (stats.dropped, stats.queued, stats.accepted) == (3, 5, 8)
    assert [n for n, _ in reported] == [0] * len(reported)
    assert [e["eid"] for _, events in reported for e in events] == ["eid-0", "eid-1", "eid-2"]
    fake.error = None
    emitter.flush()
    assert [orjson.loads(v)["eid"] for v in fake.pushed] == [f"eid-{i}" for i in range(3, 8)]


def test_the_timer_pushes_a_partial_buffer_and_retries_after_an_outage() -> None:
    fake = FakeRedis()
    emitter = RedisEmitter(fake, buffer_size=100, max_batch_age=0.05)
    emitter.input(event(1))
    deadline = time.monotonic() + 5
    while not fake.pushed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(fake.pushed) == 1
    fake.error = ConnectionError("down")
    emitter.input(event(2))
    time.sleep(0.2)
    fake.error = None
    deadline = time.monotonic() + 5
    while len(fake.pushed) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [orjson.loads(v)["eid"] for v in fake.pushed] == ["eid-1", "eid-2"]
    assert emitter.close() is True


def test_unserialisable_events_raise_and_nothing_is_buffered() -> None:
    emitter = RedisEmitter(FakeRedis(), buffer_size=10)
    with pytest.raises(EncodingError, match=r"RedisEmitter.input: argument 'payload'"):
        emitter.input(["not", "a", "dict"])  # type: ignore[arg-type]
    assert emitter.stats().queued == 0 and emitter.stats().accepted == 0


def test_callbacks_that_raise_do_not_break_tracking() -> None:
    def boom(*args: Any) -> None:
        raise RuntimeError("user bug")

    fake = FakeRedis()
    emitter = RedisEmitter(fake, on_success=boom)
    emitter.input(event(1))
    assert len(fake.pushed) == 1


def test_concurrent_inputs_lose_nothing() -> None:
    fake = FakeRedis()
    emitter = RedisEmitter(fake, buffer_size=7, max_batch_age=None)

    def track(start: int) -> None:
        for i in range(start, start + 500):
            emitter.input(event(i))

    threads = [threading.Thread(target=track, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    emitter.flush()
    assert len({orjson.loads(v)["eid"] for v in fake.pushed}) == 2000


def test_a_forked_child_starts_with_an_empty_buffer() -> None:
    fake = FakeRedis()
    emitter = RedisEmitter(fake, buffer_size=10, max_batch_age=None)
    emitter.input(event(1))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(write, str(emitter.stats().queued).encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 16) == b"0"
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert emitter.stats().queued == 1


def test_default_client_is_created_on_first_use_with_timeouts() -> None:
    emitter = RedisEmitter(url="redis://127.0.0.1:1/4")
    assert emitter._rdb is None  # nothing built (and nothing connected) yet
    kwargs = emitter.client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", 1, 4)
    assert kwargs["socket_timeout"] == 5.0 and kwargs["socket_connect_timeout"] == 2.0
    emitter.input(event(1))  # port 1: connection refused, kept for later, no exception
    assert emitter.stats().queued == 1
