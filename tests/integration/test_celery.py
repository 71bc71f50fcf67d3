"""CeleryEmitter -> Redis broker -> real Celery worker (subprocess) -> collector.

Also the default-app configuration, argument checks and the task's retry logic (eagerly, in
process), which need no worker.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import types
from typing import Any, Dict, Iterator, List

import celery
import pytest
import redis

from snowplow_tracker import celery_emitter
from snowplow_tracker.celery_emitter import TASK_NAME, CeleryEmitter, default_app, register_task
from snowplow_tracker.errors import ConfigurationError
from snowplow_tracker.retry import RetryPolicy
from snowplow_tracker.testing import Collector
from tests.fixtures.celery_worker import CeleryWorkerProcess
from tests.fixtures.redis_server import RedisServer

FAST_RETRIES = RetryPolicy(max_attempts=30, deadline=60, base_delay=0.1, max_delay=0.5)
QUEUE = "celery"  # Celery's default queue: a Redis list of that name


def make_event(i: int) -> Dict[str, str]:
    return {"e": "pv", "eid": f"c-{i:06d}", "url": f"https://example.com/{i}", "p": "srv"}


def track(emitter: CeleryEmitter, n: int) -> List[str]:
    for i in range(n):
        emitter.input(make_event(i))
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


# -- scenario 4 --------------------------------------------------------------------------------


def test_5000_events_through_a_real_worker_as_json_messages(
    redis_client: redis.Redis,
    collector: Collector,
    producer_app: celery.Celery,
    celery_worker_process: CeleryWorkerProcess,
) -> None:
    n = 5000
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
        assert b"pickle" not in message
        assert envelope["properties"]["body_encoding"] == "base64"
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        events, config = args
        assert len(events) == 100 and all(isinstance(e, str) for e in events)
        assert json.loads(events[0])["e"] == "pv"
        assert config["url"] == collector.url and config["method"] == "post"
        assert config["retry"]["max_attempts"] == 30

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


# -- scenario 5 --------------------------------------------------------------------------------


def test_the_task_retries_while_the_collector_answers_503(
    redis_client: redis.Redis,
    collector: Collector,
    producer_app: celery.Celery,
    celery_worker_process: CeleryWorkerProcess,
) -> None:
    n = 1000
    celery_worker_process.start()
    collector.respond_with(503)
    emitter = CeleryEmitter(
        collector.endpoint, buffer_size=100, celery_app=producer_app, retry_policy=FAST_RETRIES
    )
    expected = track(emitter, n)
    # Every task failed at least twice before the collector recovers.
    assert collector.wait_for_requests(2 * n // 100, timeout=20), celery_worker_process.log()
    assert collector.stats()["events"] == 0
    collector.respond_with(200)
    assert collector.wait_for_events(n, timeout=30), celery_worker_process.log()
    assert sorted(collector.eids()) == expected
    assert collector.stats()["rejected_events"] >= 2 * n
    assert celery_worker_process.stop() == 0
    assert "failed (HTTP 503); retry" in celery_worker_process.log()


# -- scenario 6 --------------------------------------------------------------------------------


def test_a_worker_stopped_with_tasks_queued_and_started_again_loses_nothing(
    redis_client: redis.Redis,
    collector: Collector,
    producer_app: celery.Celery,
    celery_worker_process: CeleryWorkerProcess,
) -> None:
    n = 3000
    celery_worker_process.start()
    collector.set_delay(0.2)  # 60 tasks at 4 at a time: about 3 s of work
    emitter = CeleryEmitter(
        collector.endpoint, buffer_size=50, celery_app=producer_app, retry_policy=FAST_RETRIES
    )
    expected = track(emitter, n)
    assert collector.wait_for_requests(4, timeout=20), celery_worker_process.log()
    assert celery_worker_process.stop() == 0  # warm shutdown: running tasks finish
    arrived = len(collector.eids())
    assert arrived < n
    assert redis_client.llen(QUEUE) > 0  # the rest is still queued (reserved ones restored)

    collector.set_delay(0)
    celery_worker_process.start()
    assert collector.wait_for_events(n, timeout=30), (
        f"{len(set(collector.eids()))} of {n}\n{celery_worker_process.log()}"
    )
    assert set(collector.eids()) == set(expected)
    assert celery_worker_process.stop() == 0
    assert redis_client.llen(QUEUE) == 0
    assert redis_client.hlen("unacked") == 0
    print(f"\n{arrived} events arrived before the stop; duplicates: {len(collector.eids()) - n}")


# -- the task, eagerly (no worker) -------------------------------------------------------------


@pytest.fixture
def eager_app() -> Iterator[celery.Celery]:
    app = celery.Celery("snowplow-test-eager", broker="memory://")
    app.conf.update(task_always_eager=True, accept_content=["json"], task_serializer="json")
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


def test_a_malformed_message_is_dropped_with_an_error_log(
    caplog: pytest.LogCaptureFixture, eager_app: celery.Celery
) -> None:
    task = register_task(eager_app)
    task.apply(args=[["{}"], {"v": 1, "url": "", "method": "post"}])
    assert "malformed message with 1 event(s) dropped" in caplog.text


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


def test_a_user_app_gets_the_task_and_nothing_else(producer_app: celery.Celery) -> None:
    producer_app.conf.task_default_queue = "mine"
    before = {k: producer_app.conf[k] for k in ("accept_content", "task_default_queue")}
    emitter = CeleryEmitter("collector.example.com", celery_app=producer_app)
    assert emitter.task.name == TASK_NAME
    assert register_task(producer_app) is emitter.task  # registered once
    assert TASK_NAME in producer_app.tasks
    assert {k: producer_app.conf[k] for k in before} == before


def test_an_unreachable_broker_never_raises_and_is_bounded(collector: Collector) -> None:
    app = celery.Celery("snowplow-test-down", broker="redis://127.0.0.1:1/0")
    try:
        emitter = CeleryEmitter(collector.endpoint, buffer_size=10, celery_app=app, max_pending=25)
        started = time.monotonic()
        for i in range(40):
            emitter.input(make_event(i))  # publishing fails: kept, then the oldest dropped
        elapsed = time.monotonic() - started
        assert emitter.flush() is False
        stats = emitter.stats()
        assert stats.sent == 0
        assert stats.dropped == 15 and stats.queued == 25
        assert elapsed < 20
    finally:
        app.close()
