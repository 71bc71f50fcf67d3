"""Real Celery workers that must not lose, or misuse, a Snowplow task.

* A worker whose app lacks the task never receives one (the tasks have their own queue); a
  worker whose app lists ``snowplow_tracker.emitters.celery.task`` in ``include`` delivers them.
* A worker restricted to some collectors refuses messages for others: they are dead-lettered,
  never sent. Messages of an unknown format version are dead-lettered too.
* A pickle message is never unpickled.
* A worker without an allowlist sends nothing: it says so at ERROR when it starts, and every
  message goes to the dead-letter queue.
"""

from __future__ import annotations

import base64
import json
import pickle
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Tuple
from urllib.parse import quote

import celery
import pytest
import redis

from snowplow_tracker.emitters.celery.emitter import (
    DEAD_LETTER_QUEUE,
    QUEUE,
    TASK_NAME,
    CeleryEmitter,
)
from snowplow_tracker.emitters.celery.sending import ALLOWED_ENDPOINTS_ENV
from snowplow_tracker.testing import Collector
from tests.fixtures.celery_worker import CeleryWorkerProcess
from tests.fixtures.redis_server import RedisServer
from tests.integration.celery_user_app import (
    import_user_module,
    labels_seen,
    track_labelled,
    wait_for_labels,
    write_user_module,
)
from tests.waiting import wait_until

#: A user's app that knows nothing of Snowplow (another service on the same broker).
PLAIN_MODULE = """\
import os
from celery import Celery

app = Celery("plain", broker=os.environ["SHOP_BROKER_URL"])
app.conf.broker_connection_retry_on_startup = True


@app.task
def add(x, y):
    return x + y
"""

#: A user's app that builds no emitter but makes its workers know the task in one line.
INCLUDE_MODULE = """\
import os
from celery import Celery

app = Celery(
    "reporting",
    broker=os.environ["SHOP_BROKER_URL"],
    include=["snowplow_tracker.emitters.celery.task"],
)
app.conf.broker_connection_retry_on_startup = True
app.conf.snowplow_allowed_endpoints = [os.environ["SHOP_COLLECTOR"]]
"""

Producer = Tuple[ModuleType, Path]


@pytest.fixture
def producer(
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    collector: Collector,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Producer]:
    """The user's module (``shop``) imported here; other modules can be written next to it."""
    monkeypatch.setenv("SHOP_BROKER_URL", redis_server.url)
    monkeypatch.setenv("SHOP_COLLECTOR", collector.endpoint)
    name = write_user_module(tmp_path)
    for module in import_user_module(tmp_path, name):
        yield module, tmp_path


@pytest.fixture
def workers(redis_server: RedisServer, tmp_path: Path) -> Iterator[Any]:
    """Make workers for user modules in ``tmp_path``; all are killed at teardown."""
    made = []

    def make(app_module: str, **env: str) -> CeleryWorkerProcess:
        worker = CeleryWorkerProcess(
            redis_server.url,
            tmp_path / f"{app_module}-{len(made)}.log",
            app_module=app_module,
            env={"SHOP_BROKER_URL": redis_server.url, **env},
            pythonpath=[tmp_path],
        )
        made.append(worker)
        return worker

    try:
        yield make
    finally:
        for worker in made:
            if worker.running:
                worker.stop(timeout=10)
            worker.kill()


def test_a_worker_without_the_task_never_takes_it_and_an_include_worker_delivers_it(
    producer: Producer, workers: Any, collector: Collector, redis_client: redis.Redis
) -> None:
    module, folder = producer
    write_user_module(folder, "plain", PLAIN_MODULE)
    write_user_module(folder, "reporting", INCLUDE_MODULE)
    labels = [f"queued-{i}" for i in range(500)]
    track_labelled(module.tracker, labels)
    assert module.emitter.flush() is True
    assert redis_client.llen(QUEUE) == 10

    plain = workers("plain")
    plain.start()
    time.sleep(1.5)  # let it take whatever it would take
    assert plain.stop() == 0  # it ran (consuming its own queue) and stopped cleanly
    assert redis_client.llen(QUEUE) == 10 and redis_client.hlen("unacked") == 0
    assert "unregistered task" not in plain.log()
    assert collector.stats()["requests"] == 0

    reporting = workers("reporting")
    reporting.queues = "celery"  # an explicit -Q without snowplow: it is added anyway
    reporting.start()
    assert wait_for_labels(collector, set(labels), timeout=30), reporting.log()
    assert reporting.stop() == 0
    assert sum(labels_seen(collector).values()) == len(labels)
    assert redis_client.llen(QUEUE) == 0


def test_a_restricted_worker_sends_only_to_allowed_collectors_and_never_unpickles(
    producer: Producer,
    workers: Any,
    collector: Collector,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    module, _ = producer
    with Collector(mode="record") as elsewhere:
        worker = workers("shop", SNOWPLOW_CELERY_ALLOWED_ENDPOINTS=collector.endpoint)
        worker.start()
        # 1. A message for a collector the worker may not send to (as anyone on the broker
        #    could publish): refused and dead-lettered, never sent.
        rogue = CeleryEmitter(elsewhere.endpoint, buffer_size=5, celery_app=module.app)
        for i in range(5):
            rogue.input({"e": "pv", "eid": f"rogue-{i}", "p": "srv"})
        assert rogue.flush() is True
        # 2. A message from a newer producer (format version 3): dead-lettered.
        newer = dict(module.emitter.task_config, v=3)
        module.app.send_task(TASK_NAME, args=[['{"e":"pv","eid":"v2"}'], newer], queue=QUEUE)
        # 3. A pickle message that would create a file when unpickled: refused.
        marker = tmp_path / "unpickled"
        module.app.send_task(TASK_NAME, args=[_Evil(str(marker))], queue=QUEUE, serializer="pickle")
        # 4. Events for the allowed collector arrive.
        labels = [f"allowed-{i}" for i in range(100)]
        track_labelled(module.tracker, labels)
        assert module.emitter.flush() is True
        assert wait_for_labels(collector, set(labels), timeout=30), worker.log()
        deadline = time.monotonic() + 20
        while (
            redis_client.llen(QUEUE) + redis_client.hlen("unacked") and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert worker.stop() == 0

        assert elsewhere.stats()["requests"] == 0
    assert not marker.exists()
    log = worker.log()
    assert "is not in this worker's allowed endpoints" in log  # (then throttled)
    assert "ContentDisallowed" in log or "Refusing to deserialize" in log
    dead = [json.loads(m) for m in redis_client.lrange(DEAD_LETTER_QUEUE, 0, -1)]
    reasons = sorted(d["headers"]["snowplow_dead_letter_reason"][:20] for d in dead)
    assert reasons == ["destination http://1", "message format versi"]
    for message in dead:
        assert message["content-type"] == "application/json"
        args = json.loads(base64.b64decode(message["body"]))[0]
        assert args[0] and isinstance(args[1], dict)  # the events and config, unchanged


class _Evil:
    """Unpickling it creates a file (what an attacker's pickle message could do)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (open, (self.path, "w"))


def test_the_evil_payload_really_creates_its_file_when_unpickled(tmp_path: Path) -> None:
    """Guard for the test above: the payload is harmful if unpickled."""
    marker = tmp_path / "unpickled"
    pickle.loads(pickle.dumps(_Evil(str(marker)))).close()
    assert marker.exists()


def test_neither_the_broker_password_nor_events_appear_in_the_workers_output(
    redis_server: RedisServer, redis_client: redis.Redis, collector: Collector, tmp_path: Path
) -> None:
    password = "s3cret-broker-pw"
    collector_password = "c0llector p/w#?@"
    url = redis_server.url.replace("redis://", f"redis://:{password}@", 1)
    redis_client.config_set("requirepass", password)
    worker = CeleryWorkerProcess(
        url,
        tmp_path / "worker.log",
        loglevel="info",
        env={ALLOWED_ENDPOINTS_ENV: collector.endpoint},
    )
    app = celery.Celery("snowplow-test-password", broker=url)
    try:
        worker.start()
        # The collector's credentials travel in the task message and are sent as basic auth.
        endpoint = f"http://user:{quote(collector_password, safe='')}@{collector.endpoint}"
        emitter = CeleryEmitter(endpoint, buffer_size=10, celery_app=app)
        for i in range(20):
            emitter.input({"e": "pv", "eid": f"pw-{i}", "p": "srv"})
        assert emitter.flush() is True
        assert collector.wait_for_events(20, timeout=30), worker.log()
        assert worker.stop() == 0
    finally:
        app.close()
        worker.kill()
        redis.Redis.from_url(url).config_set("requirepass", "")
    output = (tmp_path / "worker.log").read_text()
    assert "redis://:**@" in output  # Celery's banner, masked
    assert password not in output
    assert collector_password not in output and "c0llector" not in output
    expected = "Basic " + base64.b64encode(f"user:{collector_password}".encode()).decode()
    assert {r.headers.get("authorization") for r in collector.requests} == {expected}
    assert "pw-1" not in output  # nor event contents (INFO log)


def test_a_worker_without_an_allowlist_sends_nothing_and_says_which_setting_to_set(
    redis_server: RedisServer,
    redis_client: redis.Redis,
    collector: Collector,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ALLOWED_ENDPOINTS_ENV, raising=False)
    worker = CeleryWorkerProcess(redis_server.url, tmp_path / "worker.log", loglevel="info")
    app = celery.Celery("snowplow-test-no-allowlist", broker=redis_server.url)
    try:
        worker.start()
        emitter = CeleryEmitter(collector.endpoint, buffer_size=5, celery_app=app)
        for i in range(10):
            emitter.input({"e": "pv", "eid": f"deny-{i}", "p": "srv"})
        assert emitter.flush() is True
        assert wait_until(lambda: redis_client.llen(DEAD_LETTER_QUEUE) == 2), worker.log()
        assert worker.stop() == 0
    finally:
        app.close()
        worker.kill()
    assert collector.stats()["requests"] == 0
    log = worker.log()
    start_error = [line for line in log.splitlines() if "has no allowed endpoints" in line]
    assert start_error and "ERROR" in start_error[0], log
    assert (
        ALLOWED_ENDPOINTS_ENV in start_error[0] and "snowplow_allowed_endpoints" in start_error[0]
    )
    dead = [json.loads(m) for m in redis_client.lrange(DEAD_LETTER_QUEUE, 0, -1)]
    for message in dead:
        reason = message["headers"]["snowplow_dead_letter_reason"]
        assert reason == (
            f"destination {collector.url} refused: this worker has no allowed endpoints "
            f"(set {ALLOWED_ENDPOINTS_ENV} or the app setting snowplow_allowed_endpoints)"
        )
