"""Unit tests of RedisEmitter, and of the argument checks of RedisWorker and its command line.

The emitter's behaviour is tested against a real redis-server in
``tests/integration/test_redis_emitter.py`` and ``tests/integration/test_redis.py``.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List

import pytest
import redis

from snowplow_tracker import AsyncEmitter, ProcessEmitter
from snowplow_tracker.delivery.batching import Batcher, BatchLimits
from snowplow_tracker.emitters.base import FlushTimer
from snowplow_tracker.emitters.redis.cli import (
    OPTIONS,
    Option,
    build_emitter,
    build_parser,
    main,
    parse_args,
)
from snowplow_tracker.emitters.redis.emitter import RedisEmitter
from snowplow_tracker.emitters.redis.handover import encoded_input
from snowplow_tracker.emitters.redis.worker import RedisWorker
from snowplow_tracker.errors import ConfigurationError, EncodingError
from snowplow_tracker.protocol.credentials import mask_credentials

SECRET = "s3cr3t-Pa55"


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
        # Passwords holding what ends an authority for a URL parser, or another scheme.
        ("redis://:pa#ss 1?2/3@h:1/0", "redis://:***@h:1/0"),
        ("got 'http://u:p@ss/w://x@h:80' from w@h", "got 'http://u:***@h"),
        (
            "such as 'redis://localhost:6379/0' (redis://), got 'http://:pw@h'",
            "such as 'redis://localhost:6379/0' (redis://), got 'http://:***@h'",
        ),
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
            "RedisEmitter: argument 'max_buffered' must be an integer of at least "
            "'buffer_size' (10), got 5",
        ),
        ({"max_batch_age": 0}, "argument 'max_batch_age' must be a positive number"),
        ({"rdb": "localhost"}, "argument 'rdb' must be a redis.Redis client or None, got str"),
        ({"rdb": redis.Redis(), "url": "redis://h"}, "pass either 'rdb' or 'url', not both"),
        ({"max_queue_bytes": 0}, "argument 'max_queue_bytes' must be a positive integer, got 0"),
        ({"push_timeout": 0}, "argument 'push_timeout' must be a positive number of seconds"),
        (
            {"shutdown_timeout": -1},
            "argument 'shutdown_timeout' must be a positive number of seconds, got -1",
        ),
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
        (
            {"emitter": object()},
            "RedisWorker: argument 'emitter' must be an object with input() and flush() methods "
            "(an Emitter, AsyncEmitter or ProcessEmitter), got object",
        ),
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
        ("--max-in-flight", "SNOWPLOW_MAX_IN_FLIGHT"),
        ("--thread-count", "SNOWPLOW_THREAD_COUNT"),
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
        (
            ["--endpoint", "c", "--thread-count", "4", "--process-count", "2"],
            "--thread-count sends from threads: it excludes --process-count",
        ),
        (["--endpoint", "c", "--thread-count", "0"], "--thread-count: must be positive, got 0"),
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


def test_unserialisable_events_raise_and_nothing_is_queued() -> None:
    emitter = RedisEmitter(url="redis://127.0.0.1:1/0", buffer_size=10)
    with pytest.raises(EncodingError, match=r"RedisEmitter.input: argument 'payload'"):
        emitter.input(["not", "a", "dict"])  # type: ignore[arg-type]
    stats = emitter.stats()
    assert (stats.queued, stats.accepted, stats.queued_bytes) == (0, 0, 0)
    assert emitter.close(timeout=0.1) is True


def test_cli_thread_count_sends_from_an_async_emitter() -> None:
    args = parse_args(build_parser(), ["--endpoint", "c.example", "--thread-count", "6"])
    emitter = build_emitter(args)
    try:
        assert isinstance(emitter, AsyncEmitter)
        assert (emitter.thread_count, emitter.buffer_size, emitter.method) == (6, 100, "post")
    finally:
        emitter.close(timeout=1)


def test_redis_worker_max_unacked_defaults_to_four_takes() -> None:
    assert RedisWorker(AsyncEmitter("c.example"), batch_size=50).max_unacked == 200
    with pytest.raises(ConfigurationError, match="argument 'max_unacked' must be a positive"):
        RedisWorker(AsyncEmitter("c.example"), max_unacked=0)


# -- the shared parts: lifecycle registry, batcher, flush timer ---------------------------------


def test_redis_emitter_is_watched_by_the_shared_lifecycle_registry() -> None:
    from snowplow_tracker.emitters import lifecycle
    from snowplow_tracker.emitters.redis import emitter as module

    emitter = RedisEmitter(url="redis://127.0.0.1:1/0")
    try:
        assert emitter in lifecycle._live and emitter._pid == os.getpid()
        for own_registry in ("_live", "_close_all_at_exit", "_after_fork_in_child"):
            assert not hasattr(module, own_registry)
    finally:
        assert emitter.close(timeout=0.1) is True


def test_the_batch_rules_are_the_shared_batch_limits() -> None:
    emitter = RedisEmitter(url="redis://127.0.0.1:1/0", buffer_size=3, max_batch_age=2)
    assert emitter.limits == BatchLimits(method="post", buffer_size=3, max_age=2.0)
    assert (emitter.buffer_size, emitter.max_batch_age) == (3, 2.0)
    batcher = emitter._pusher.batcher  # the buffer events arrive in
    assert isinstance(batcher, Batcher) and batcher.limits is emitter.limits
    emitter.close(timeout=0.1)


def test_set_flush_timer_runs_the_shared_flush_timer() -> None:
    emitter = RedisEmitter(url="redis://127.0.0.1:1/0")
    assert isinstance(emitter.timer, FlushTimer) and not emitter.timer.is_active()
    emitter.set_flush_timer(30)
    assert emitter.timer.is_active() and emitter.timer.interval == 30
    assert emitter.max_batch_age is None  # the timer replaces the age rule
    emitter.cancel_flush_timer()
    assert not emitter.timer.is_active()
    emitter.set_flush_timer(30)
    assert emitter.close(timeout=0.1) is True
    assert not emitter.timer.is_active()  # close stops it


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), "1", True])
def test_set_flush_timer_refuses_what_is_not_seconds(timeout: Any) -> None:
    emitter = RedisEmitter(url="redis://127.0.0.1:1/0")
    with pytest.raises(ConfigurationError) as info:
        emitter.set_flush_timer(timeout)
    assert str(info.value) == (
        "RedisEmitter.set_flush_timer: argument 'timeout' must be a positive number of seconds, "
        f"got {timeout!r}"
    )
    assert not emitter.timer.is_active()
    emitter.close(timeout=0.1)


def test_masked_urls_in_the_vocabulary_form() -> None:
    with pytest.raises(ConfigurationError) as info:
        RedisWorker(AsyncEmitter("c.example"), url=f"http://u:{SECRET}@h")
    assert str(info.value) == (
        "RedisWorker: argument 'url' must be a Redis URL such as 'redis://localhost:6379/0' "
        "(schemes redis://, rediss://, unix://), got 'http://u:***@h'"
    )
    with pytest.raises(ConfigurationError, match=r"argument 'url' must be a Redis URL.*got 5$"):
        RedisEmitter(url=5)  # type: ignore[arg-type]


def test_the_worker_hands_stored_bytes_to_emitters_that_take_them() -> None:
    """``input_encoded`` (ProcessEmitter's, POST) gets the stored bytes; an emitter without
    it, or sending by GET, gets the checked event dict through ``input``."""
    post = ProcessEmitter("c.example", method="post")
    get = ProcessEmitter("c.example", method="get")
    try:
        assert encoded_input(post) == post.input_encoded
        assert encoded_input(get) is None
        assert encoded_input(AsyncEmitter("c.example")) is None
    finally:
        post.close(timeout=1)
        get.close(timeout=1)


def test_worker_start_up_line_names_the_emitters_url_without_credentials() -> None:
    """The worker logs where it sends: the emitter's URL (a ProcessEmitter has no transport)."""
    from snowplow_tracker.emitters.redis.cli import _collector_url

    emitter = ProcessEmitter("https://user:pw@collector.example.com", process_count=1)
    try:
        assert (
            _collector_url(emitter, "fallback")
            == "https://collector.example.com/com.snowplowanalytics.snowplow/tp2"
        )
    finally:
        emitter.close(timeout=1)
    assert _collector_url(object(), "collector.example.com") == "collector.example.com"


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.flag)
def test_every_worker_option_reads_its_environment_variable_and_says_so(
    option: Option, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The options table drives the parser: each variable gives its option's default."""
    value = {"--redis-url": "redis://env-host:6380/1", "--protocol": "https", "--method": "get"}
    given = value.get(option.flag, "7" if option.kind is not str else "from-env")
    monkeypatch.setenv(option.env, given)
    parser = build_parser()
    args = parse_args(parser, ["--endpoint", "collector.example.com"])
    expected = option.kind(given) if option.kind is not str else given
    assert getattr(args, option.dest) == expected
    assert f"env {option.env}" in option.help_text
    assert option.flag in parser.format_help()


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.kind is not str], ids=lambda o: o.flag)
def test_numeric_worker_options_from_the_environment_are_checked(
    option: Option, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for bad, said in (("0", "must be positive"), ("many", f"invalid {option.kind.__name__}")):
        monkeypatch.setenv(option.env, bad)
        with pytest.raises(SystemExit):
            parse_args(build_parser(), ["--endpoint", "collector.example.com"])
        assert f"{option.flag}: {said}" in capsys.readouterr().err
