"""CeleryEmitter -> Redis broker -> real Celery worker (subprocess) -> collector.

Also the default-app configuration, argument checks and the task's retry logic (eagerly, in
process), which need no worker.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import time
import types
from typing import Any, Dict, Iterator, List

import celery
import celery.signals
import pytest
import redis

from snowplow_tracker._logging import ThrottledLog
from snowplow_tracker.delivery.retry import RetryPolicy
from snowplow_tracker.emitters.celery import emitter as celery_emitter
from snowplow_tracker.emitters.celery import sending as celery_sending
from snowplow_tracker.emitters.celery.emitter import (
    TASK_NAME,
    CeleryEmitter,
    default_app,
    register_task,
)
from snowplow_tracker.emitters.celery.sending import (
    ALLOWED_ENDPOINTS_ENV,
    DEAD_LETTER_QUEUE,
    allowed_endpoints,
    endpoint_allowed,
    policy_from_message,
    replay_dead_letters,
)
from snowplow_tracker.errors import ConfigurationError
from snowplow_tracker.testing import Collector
from tests.fixtures.celery_worker import CeleryWorkerProcess
from tests.fixtures.redis_server import RedisServer
from tests.payloads import numbered_page_view
from tests.scripts import run_script

FAST_RETRIES = RetryPolicy(max_attempts=30, deadline=60, base_delay=0.1, max_delay=0.5)
QUEUE = celery_sending.QUEUE  # the emitter's queue: a Redis list of that name


def track(emitter: CeleryEmitter, n: int) -> List[str]:
    for i in range(n):
        emitter.input(numbered_page_view(i, "c"))
    assert emitter.flush() is True
    return [f"c-{i:06d}" for i in range(n)]


@pytest.fixture
def producer_app(redis_server: RedisServer) -> Iterator[celery.Celery]:
    """The host's own Celery app on the test broker (JSON only), closed after the test."""
    app = celery.Celery("snowplow-test-producer", broker=redis_server.url)
    app.conf.update(accept_content=["json"], task_serializer="json", result_serializer="json")
    try:
        yield app
    finally:
        app.close()


# -- the default app's worker (celery -A snowplow_tracker.emitters) ---------------------


def test_events_reach_the_default_apps_worker_as_json_messages(
    redis_client: redis.Redis,
    collector: Collector,
    producer_app: celery.Celery,
    celery_worker_process: CeleryWorkerProcess,
) -> None:
    n = 1000
    emitter = CeleryEmitter(
        collector.endpoint, buffer_size=100, celery_app=producer_app, retry_policy=FAST_RETRIES
    )
    started = time.perf_counter()
    expected = track(emitter, n)
    published = time.perf_counter()
    assert emitter.stats().sent == n

    # The worker is not running yet: the raw messages wait in the broker's list.
    raw = redis_client.lrange(QUEUE, 0, -1)
    assert len(raw) == n // 100
    for message in raw:
        envelope = json.loads(message)
        assert envelope["content-type"] == "application/json"
        assert envelope["headers"]["task"] == TASK_NAME
        assert envelope["headers"]["argsrepr"] == "<100 snowplow event(s)>"  # no contents
        assert b"pickle" not in message
        assert envelope["properties"]["body_encoding"] == "base64"
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        events, config = args
        assert len(events) == 100 and all(isinstance(e, str) for e in events)
        assert json.loads(events[0])["e"] == "pv"
        assert config["url"] == collector.url and config["method"] == "post"
        assert policy_from_message(config) == FAST_RETRIES  # every field, no defaults

    celery_worker_process.start()
    ready = time.perf_counter()
    assert collector.wait_for_events(n, timeout=30), celery_worker_process.log()
    delivered = time.perf_counter()
    assert sorted(collector.eids()) == expected
    assert collector.stats()["requests"] == n // 100
    assert celery_worker_process.stop() == 0
    assert redis_client.llen(QUEUE) == 0
    print(
        f"\nCeleryEmitter publish: {n / (published - started):,.0f} events/s; "
        f"worker -> collector: {n / (delivered - ready):,.0f} events/s"
    )


# -- the task, eagerly (no worker) -------------------------------------------------------------


@pytest.fixture
def eager_app(collector: Collector) -> Iterator[celery.Celery]:
    app = celery.Celery("snowplow-test-eager", broker="memory://")
    app.conf.update(task_always_eager=True, accept_content=["json"], task_serializer="json")
    app.conf.snowplow_allowed_endpoints = [collector.endpoint]
    try:
        yield app
    finally:
        app.close()


def test_the_task_retries_failed_events_only_and_gives_up_after_the_policy(
    collector: Collector, eager_app: celery.Celery, caplog: pytest.LogCaptureFixture
) -> None:
    collector.script([503, "reset", 200])
    emitter = CeleryEmitter(
        collector.endpoint,
        buffer_size=10,
        celery_app=eager_app,
        retry_policy=RetryPolicy(max_attempts=5, base_delay=0.01),
    )
    expected = track(emitter, 10)
    assert sorted(collector.eids()) == expected
    assert collector.stats()["requests"] == 3

    collector.clear()
    collector.respond_with(500)
    emitter = CeleryEmitter(
        collector.endpoint,
        buffer_size=5,
        celery_app=eager_app,
        retry_policy=RetryPolicy(max_attempts=3, base_delay=0.01),
    )
    track(emitter, 5)
    assert collector.stats()["requests"] == 3  # bounded by max_attempts
    assert "gave up on 5 event(s) after 3 attempt(s)" in caplog.text
    assert "c-0000" not in caplog.text  # never the events themselves


def test_get_batches_are_sent_as_one_request_per_event(
    collector: Collector, eager_app: celery.Celery
) -> None:
    emitter = CeleryEmitter(collector.endpoint, method="get", buffer_size=3, celery_app=eager_app)
    expected = track(emitter, 6)
    assert sorted(collector.eids()) == expected
    assert all(r.method == "GET" and r.path == "/i" for r in collector.requests)
    assert all("stm" in e for e in collector.events)


@pytest.fixture(autouse=True)
def fresh_dead_letter_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the first dead-letter record (the log is throttled)."""
    monkeypatch.setattr(celery_sending, "_dead_letter_log", ThrottledLog(level=logging.ERROR))


@pytest.fixture
def memory_app() -> Iterator[celery.Celery]:
    """An app on kombu's in-memory broker (not eager: dead letters are published for real)."""
    app = celery.Celery("snowplow-test-memory", broker="memory://")
    app.conf.update(accept_content=["json"], task_serializer="json")
    app.conf.snowplow_allowed_endpoints = ["http://h"]
    try:
        yield app
    finally:
        app.close()


def dead_letters(app: celery.Celery) -> List[Any]:
    """The messages in the dead-letter queue of ``app``'s in-memory broker."""
    found = []
    with app.connection_for_write() as conn:
        queue = conn.SimpleQueue(DEAD_LETTER_QUEUE)
        try:
            while True:
                try:
                    message = queue.get(timeout=0.2)
                except queue.Empty:
                    return found
                message.ack()
                found.append(message)
        finally:
            queue.close()


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"v": 1, "url": "http://h?q", "method": "post"}, "malformed message (ConfigurationError"),
        ({"v": 1, "url": "http://h", "method": "post", "retry": {"jitter": 7}}, "'jitter'"),
        ({"v": 3, "url": "http://h", "method": "post"}, "message format version 3 is not 1 or 2"),
        ("config", "malformed message (events or config of the wrong type)"),
    ],
)
def test_a_message_the_worker_cannot_run_is_dead_lettered_unchanged(
    config: Any, reason: str, caplog: pytest.LogCaptureFixture, memory_app: celery.Celery
) -> None:
    task = register_task(memory_app)
    task.apply(args=[['{"e":"pv"}'], config])
    assert (
        reason in caplog.text and "moved to the dead-letter queue 'snowplow.failed'" in caplog.text
    )
    [message] = dead_letters(memory_app)
    assert message.headers["task"] == TASK_NAME
    assert reason in message.headers["snowplow_dead_letter_reason"]
    assert message.content_type == "application/json"
    assert message.decode()[0] == [['{"e":"pv"}'], config]


# -- the worker's allowlist --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "entries", "allowed"),
    [
        ("https://c.example.com", ["https://c.example.com"], True),
        ("https://c.example.com:443", ["https://C.Example.com"], True),
        ("https://u:pw@c.example.com", ["c.example.com"], True),
        ("http://c.example.com", ["c.example.com"], True),
        ("http://c.example.com:8080", ["c.example.com"], False),
        ("http://c.example.com:8080", ["c.example.com:8080"], True),
        ("http://c.example.com", ["https://c.example.com"], False),
        ("https://c.example.com.evil.net", ["https://c.example.com"], False),
        ("https://evil.net/c.example.com", ["https://c.example.com"], False),
        ("https://c.example.com/a/b", ["https://c.example.com/a"], True),
        ("https://c.example.com/ab", ["https://c.example.com/a"], False),
        ("https://c.example.com:99999", ["c.example.com"], False),
        ("https://other.example.com", ["a.example.com", " https://other.example.com "], True),
        ("https://c.example.com", [], False),
        ("https://c.example.com", ["c.example.com:abc", "https://", "c.example.com"], True),
        ("https://c.example.com", ["c.example.com:abc", "http://c.example.com:0x1"], False),
        ("not a url", ["c.example.com"], False),
    ],
)
def test_the_allowlist_matches_scheme_host_port_and_path(
    url: str, entries: List[str], allowed: bool
) -> None:
    assert endpoint_allowed(url, entries) is allowed


def test_the_allowlist_comes_from_the_app_then_the_environment(
    monkeypatch: pytest.MonkeyPatch, memory_app: celery.Celery
) -> None:
    monkeypatch.delenv(ALLOWED_ENDPOINTS_ENV, raising=False)
    memory_app.conf.snowplow_allowed_endpoints = None
    assert allowed_endpoints(memory_app) is None  # nothing is allowed
    monkeypatch.setenv(ALLOWED_ENDPOINTS_ENV, "a.example.com, https://b.example.com:8443")
    assert allowed_endpoints(memory_app) == ["a.example.com", "https://b.example.com:8443"]
    memory_app.conf.snowplow_allowed_endpoints = ["https://c.example.com"]
    assert allowed_endpoints(memory_app) == ["https://c.example.com"]


def test_a_refused_destination_is_never_sent_and_is_dead_lettered(
    collector: Collector,
    memory_app: celery.Celery,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memory_app.conf.snowplow_allowed_endpoints = None  # the environment's applies
    monkeypatch.setenv(ALLOWED_ENDPOINTS_ENV, "collector.example.com")
    emitter = CeleryEmitter(collector.endpoint, buffer_size=2, celery_app=memory_app)
    task = emitter.task
    task.apply(args=[['{"e":"pv","eid":"x"}'], emitter.task_config])
    assert collector.stats()["requests"] == 0
    assert "is not in this worker's allowed endpoints" in caplog.text
    assert len(dead_letters(memory_app)) == 1

    monkeypatch.setenv(ALLOWED_ENDPOINTS_ENV, f"collector.example.com,{collector.endpoint}")
    task.apply(args=[['{"e":"pv","eid":"x"}'], emitter.task_config])
    assert collector.eids() == ["x"]


def test_dead_letters_are_replayed_to_the_snowplow_queue_unchanged(
    memory_app: celery.Celery,
) -> None:
    task = register_task(memory_app)
    config = {"v": 3, "url": "http://h", "method": "post"}
    for i in range(3):
        task.apply(args=[[f'{{"e":"pv","eid":"{i}"}}'], config])
    assert replay_dead_letters(memory_app, limit=2) == 2
    assert replay_dead_letters(memory_app) == 1
    assert replay_dead_letters(memory_app) == 0
    with memory_app.connection_for_write() as conn:
        queue = conn.SimpleQueue(QUEUE, accept=["json"])
        try:
            replayed = [queue.get(timeout=1) for _ in range(3)]
        finally:
            queue.close()
    assert [m.decode()[0] for m in replayed] == [
        [[f'{{"e":"pv","eid":"{i}"}}'], config] for i in range(3)
    ]
    assert all(m.headers["task"] == TASK_NAME for m in replayed)


# -- the retry policy travels whole ------------------------------------------------------------


def test_the_worker_rebuilds_the_producers_retry_policy_exactly() -> None:
    policy = RetryPolicy(
        max_attempts=None,
        deadline=12.5,
        base_delay=0.01,
        max_delay=2,
        jitter=0,
        no_retry_statuses=frozenset({418}),
    )
    emitter = CeleryEmitter("collector.example.com", retry_policy=policy)
    config = json.loads(json.dumps(emitter.task_config))  # as it travels
    assert policy_from_message(config) == policy
    assert policy_from_message({"retry": {}}) == RetryPolicy()
    assert policy_from_message({}) == RetryPolicy()


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"on_success": print}, "CeleryEmitter: on_success and on_failure callbacks are not"),
        ({"on_failure": print}, "on_success and on_failure callbacks are not supported"),
        ({"celery_app": "app"}, "argument 'celery_app' must be a celery.Celery app or None"),
        ({"buffer_size": 0}, "CeleryEmitter: argument 'buffer_size' must be a positive integer"),
        ({"method": "put"}, "CeleryEmitter: argument 'method' must be 'get' or 'post'"),
        ({"endpoint": ""}, "CeleryEmitter: argument 'endpoint' must be a non-empty host name"),
        ({"max_pending": 0}, "argument 'max_pending' must be a positive integer, got 0"),
        ({"retry_policy": 3}, "argument 'retry_policy' must be a RetryPolicy or None"),
        ({"queue": ""}, "CeleryEmitter: argument 'queue' must be a non-empty string or None"),
    ],
)
def test_argument_errors(kwargs: Dict[str, Any], message: str) -> None:
    args: Dict[str, Any] = {"endpoint": "collector.example.com"}
    args.update(kwargs)
    with pytest.raises(ConfigurationError) as info:
        CeleryEmitter(**args)
    assert message in str(info.value)


def test_the_default_app_is_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(celery_emitter, "_default_app", None)
    monkeypatch.delitem(sys.modules, "snowplow_celery_config", raising=False)
    monkeypatch.setenv("SNOWPLOW_CELERY_BROKER_URL", "redis://:pw@127.0.0.1:1/7")
    emitter = CeleryEmitter("collector.example.com")
    assert celery_emitter._default_app is None  # nothing created before first use
    app = emitter.celery_app
    try:
        assert app is default_app()
        assert app.conf.broker_url == "redis://:pw@127.0.0.1:1/7"
        assert list(app.conf.accept_content) == ["json"]
        assert app.conf.task_serializer == app.conf.result_serializer == "json"
        task = app.tasks[TASK_NAME]
        assert task.acks_late and task.reject_on_worker_lost and task.serializer == "json"
        assert task.ignore_result
    finally:
        app.close()


def test_a_config_module_wins_but_cannot_enable_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    config = types.ModuleType("snowplow_celery_config")
    config.broker_url = "redis://127.0.0.1:1/9"  # type: ignore[attr-defined]
    config.accept_content = ["json", "pickle"]  # type: ignore[attr-defined]
    config.task_serializer = "pickle"  # type: ignore[attr-defined]
    config.task_default_queue = "snowplow"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snowplow_celery_config", config)
    monkeypatch.setattr(celery_emitter, "_default_app", None)
    monkeypatch.setenv("SNOWPLOW_CELERY_BROKER_URL", "redis://ignored:1/0")
    app = default_app()
    try:
        assert app.conf.broker_url == "redis://127.0.0.1:1/9"
        assert app.conf.task_default_queue == "snowplow"
        assert list(app.conf.accept_content) == ["json"]
        assert app.conf.task_serializer == "json"
    finally:
        app.close()


def test_a_user_app_gets_the_task_when_the_emitter_is_built_and_nothing_else(
    producer_app: celery.Celery,
) -> None:
    producer_app.conf.task_default_queue = "mine"
    before = {k: producer_app.conf[k] for k in ("accept_content", "task_default_queue")}
    emitter = CeleryEmitter("collector.example.com", celery_app=producer_app)
    assert TASK_NAME in producer_app.tasks  # at build time, before any publish
    assert emitter.task.name == TASK_NAME
    assert register_task(producer_app) is emitter.task  # registered once
    assert TASK_NAME in producer_app.tasks
    assert {k: producer_app.conf[k] for k in before} == before


def test_an_unreachable_broker_never_raises_is_bounded_and_hides_its_password(
    collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    app = celery.Celery("snowplow-test-down", broker="redis://:s3cret@127.0.0.1:1/0")
    try:
        emitter = CeleryEmitter(collector.endpoint, buffer_size=10, celery_app=app, max_pending=25)
        started = time.monotonic()
        for i in range(40):  # publishing fails: kept, then the oldest dropped
            emitter.input(numbered_page_view(i, "c"))
        elapsed = time.monotonic() - started
        assert emitter.flush() is False
        stats = emitter.stats()
        assert stats.sent == 0
        assert stats.dropped == 15 and stats.queued == 25
        assert elapsed < 20
        assert "publishing a task failed" in caplog.text
        assert "s3cret" not in caplog.text
    finally:
        app.close()


def test_a_worker_that_knows_the_task_consumes_its_queue_and_warns_about_risks(
    memory_app: celery.Celery, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOWED_ENDPOINTS_ENV, raising=False)
    memory_app.conf.snowplow_allowed_endpoints = None
    worker = types.SimpleNamespace(app=memory_app)  # what celeryd_after_setup hands over
    celery.signals.celeryd_after_setup.send(sender="w@h", instance=worker, conf=memory_app.conf)
    assert QUEUE not in memory_app.amqp.queues.consume_from  # it does not know the task

    register_task(memory_app)
    memory_app.conf.accept_content = ["json", "pickle"]
    memory_app.amqp.queues.select(["celery"])  # as `-Q celery` does
    celery.signals.celeryd_after_setup.send(sender="w@h", instance=worker, conf=memory_app.conf)
    assert QUEUE in memory_app.amqp.queues.consume_from
    assert "worker w@h accepts pickle messages" in caplog.text
    [error] = [r for r in caplog.records if "has no allowed endpoints" in r.getMessage()]
    assert error.levelno == logging.ERROR
    assert f"set {ALLOWED_ENDPOINTS_ENV} (comma-separated) or the app setting " in error.message

    for nothing_valid in ([], ["h:port"]):  # set, but to nothing a task could match
        caplog.clear()
        memory_app.conf.snowplow_allowed_endpoints = nothing_valid
        celery.signals.celeryd_after_setup.send(sender="w@h", instance=worker, conf=memory_app.conf)
        assert [r.levelno for r in caplog.records if "has no allowed endpoints" in r.message] == [
            logging.ERROR
        ]

    caplog.clear()
    caplog.set_level(logging.INFO, logger="snowplow_tracker")
    memory_app.conf.snowplow_allowed_endpoints = ["https://u:pw@c.example.com", "h:port"]
    celery.signals.celeryd_after_setup.send(sender="w@h", instance=worker, conf=memory_app.conf)
    assert "worker w@h sends only to https://u:***@c.example.com, h:port" in caplog.text
    assert "worker w@h ignores invalid allowed endpoint(s) h:port" in caplog.text


EXIT_SCRIPT = """
import sys
import celery
from snowplow_tracker.emitters.celery.emitter import CeleryEmitter

app = celery.Celery("exit-test", broker=sys.argv[1])
app.conf.update(accept_content=["json"], task_serializer="json")
emitter = CeleryEmitter("collector.example.com", buffer_size=10, celery_app=app, queue=sys.argv[2])
for i in range(3):
    emitter.input({"e": "pv", "eid": f"exit-{i:06d}", "url": "https://example.com/"})
print("queued", emitter.stats().queued, flush=True)
"""


def test_events_buffered_at_interpreter_exit_are_published(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """A partial batch still in the host when the interpreter exits is published by the shared
    exit handler (``emitters.lifecycle``), not lost."""
    queue = "snowplow-exit-test"
    proc = run_script(EXIT_SCRIPT, redis_server.url, queue)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["queued 3"]
    [message] = redis_client.lrange(queue, 0, -1)
    args, _kwargs, _embed = json.loads(base64.b64decode(json.loads(message)["body"]))
    assert [json.loads(e)["eid"] for e in args[0]] == [f"exit-{i:06d}" for i in range(3)]


def test_a_forked_child_starts_with_an_empty_buffer(producer_app: celery.Celery) -> None:
    """After ``os.fork()`` the child neither holds nor publishes the parent's buffered events."""
    emitter = CeleryEmitter("collector.example.com", buffer_size=10, celery_app=producer_app)
    for i in range(2):
        emitter.input(numbered_page_view(i, "fork"))
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status, never run pytest's code
        stats = emitter.stats()
        os._exit(0 if (stats.queued, stats.sent) == (0, 0) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert emitter.stats().queued == 2
    assert emitter.flush() is True
