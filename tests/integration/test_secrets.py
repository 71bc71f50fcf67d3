"""No text the library produces ever holds a password, whatever characters it has.

Passwords are generated (printable characters, ``/ # ? @ % space`` included) between two markers;
a leak of any prefix or suffix of one would show a marker. Every emitter and worker is built with
them, in valid URLs (percent-encoded) and invalid ones (raw), with and without a scheme; their
error messages and tracebacks, reprs, logs at DEBUG and stats are searched. The credentials of a
valid URL reach the collector as HTTP basic auth from every sender, Celery tasks included.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import signal
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator, List
from urllib.parse import quote

import celery
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snowplow_tracker import (
    AsyncEmitter,
    CeleryEmitter,
    Emitter,
    ProcessEmitter,
    RedisEmitter,
    RedisWorker,
)
from snowplow_tracker.emitters.celery.sending import ALLOWED_ENDPOINTS_CONF
from snowplow_tracker.errors import ConfigurationError
from snowplow_tracker.protocol.credentials import mask_credentials, mask_url
from snowplow_tracker.testing import Collector
from tests.fixtures.redis_server import RedisServer
from tests.integration.test_redis import WorkerProcess
from tests.waiting import wait_until

HEAD, TAIL = "Qj7", "Xw4"
#: Printable characters, the URL delimiters and spaces first among them.
PRINTABLE = st.characters(
    codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs"), include_characters="/#?@% :\\"
)
PASSWORDS = st.text(PRINTABLE, max_size=16).map(lambda middle: f"{HEAD}{middle}{TAIL}")
#: What is searched for: any leaked prefix or suffix of a password shows a marker.
MARKERS = (HEAD, TAIL)


def assert_no_password(text: str) -> None:
    for marker in MARKERS:
        assert marker not in text, text


@contextlib.contextmanager
def captured_logs() -> Iterator[List[str]]:
    """Every record of the ``snowplow_tracker`` loggers at DEBUG, formatted with tracebacks."""
    lines: List[str] = []
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record))

    handler = Keep(logging.DEBUG)
    log = logging.getLogger("snowplow_tracker")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def shown(build: Callable[[], Any]) -> str:
    """Everything a user may see of building something: its error (message and traceback, with
    its chained causes) or its ``repr``, ``url`` and ``stats()``."""
    try:
        made = build()
    except ConfigurationError as exc:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        parts = [repr(made), repr(getattr(made, "task_config", ""))]
        if not isinstance(made, (RedisEmitter, RedisWorker)):  # theirs is the URL given, to use
            parts.append(str(getattr(made, "url", "")))
        stats = getattr(made, "stats", None)
        if callable(stats):
            parts.append(repr(stats()))
        return "\n".join(parts)
    finally:
        close = getattr(made, "close", None)
        if callable(close):
            close()


def endpoints(password: str, port: int) -> List[str]:
    """Valid (encoded) and invalid (raw, bad port, no host) endpoints holding ``password``."""
    encoded = quote(password, safe="")
    return [
        f"http://user:{password}@127.0.0.1:{port}",
        f"user:{password}@127.0.0.1:{port}",
        f"http://user:{encoded}@127.0.0.1:{port}",
        f"user:{encoded}@127.0.0.1:{port}/path",
        f"https://user:{encoded}@127.0.0.1:99999",
        f"http://user:{encoded}@:80",
        f"http://user:{encoded}@127.0.0.1:{port}?q=1",
        f"ftp://user:{password}@127.0.0.1",
    ]


@pytest.fixture(scope="module")
def memory_app() -> Iterator[celery.Celery]:
    app = celery.Celery("snowplow-test-secrets", broker="memory://")
    app.conf.update(accept_content=["json"], task_serializer="json")
    try:
        yield app
    finally:
        app.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(password=PASSWORDS)
def test_no_constructor_error_repr_log_or_stats_shows_a_password(
    password: str, memory_app: celery.Celery
) -> None:
    texts: List[str] = []
    with captured_logs() as logs:
        for endpoint in endpoints(password, 8080):
            texts.append(shown(lambda e=endpoint: Emitter(e)))
            texts.append(shown(lambda e=endpoint: AsyncEmitter(e, thread_count=1)))
            texts.append(shown(lambda e=endpoint: ProcessEmitter(e, process_count=1)))
            texts.append(shown(lambda e=endpoint: CeleryEmitter(e, celery_app=memory_app)))
            texts.append(shown(lambda e=endpoint: Emitter.as_collector_uri(e)))
        encoded = quote(password, safe="")
        for url in (
            f"redis://:{password}@127.0.0.1:6379/0",
            f"redis://user:{password}@127.0.0.1:6379/0",
            f"redis://:{encoded}@127.0.0.1:6379/0",
            f"rediss://:{encoded}@127.0.0.1:notaport/0",
            f"unix://:{encoded}@/tmp/redis.sock?db=0",
            f"http://:{password}@127.0.0.1:6379/0",
        ):
            texts.append(shown(lambda u=url: RedisEmitter(url=u)))
            texts.append(shown(lambda u=url: RedisWorker(Emitter("127.0.0.1"), url=u)))
    assert_no_password("\n".join(texts + logs))


@given(password=PASSWORDS)
def test_masking_hides_any_password_in_any_text(password: str) -> None:
    for url in (
        f"http://user:{password}@host:80/p",
        f"redis://:{password}@host:6379/0",
        f"x://u:{password}@h",
    ):
        assert_no_password(mask_url(url))
        assert_no_password(mask_credentials(f"got {url!r} (error) from w@h", [url]))
        assert_no_password(mask_credentials(f"error: {password}", [url]))  # no URL around it


# -- the credentials reach the collector from every sender -------------------------------------

PASSWORD = f"{HEAD}p/a#s?s@w o%rd:{TAIL}"


def basic_auth(collector: Collector) -> List[str]:
    found = []
    for request in collector.requests:
        headers = {name.lower(): value for name, value in request.headers.items()}
        header = headers.get("authorization", "")
        assert header.startswith("Basic "), request.headers
        found.append(base64.b64decode(header[len("Basic ") :]).decode("utf-8"))
    return found


def endpoint_with_password(collector: Collector) -> str:
    return f"http://user:{quote(PASSWORD, safe='')}@{collector.endpoint}"


@pytest.mark.parametrize("kind", ["Emitter", "AsyncEmitter", "ProcessEmitter"])
def test_every_sender_sends_the_credentials_and_never_logs_them(
    collector: Collector, kind: str
) -> None:
    endpoint = endpoint_with_password(collector)
    with captured_logs() as logs:
        emitter: Any = {
            "Emitter": lambda: Emitter(endpoint, method="post", buffer_size=2),
            "AsyncEmitter": lambda: AsyncEmitter(endpoint, buffer_size=2, thread_count=1),
            "ProcessEmitter": lambda: ProcessEmitter(endpoint, buffer_size=2, process_count=1),
        }[kind]()
        for i in range(4):
            emitter.input({"e": "pv", "eid": f"{kind}-{i}"})
        emitter.flush()
        assert collector.wait_for_events(4, timeout=30)
        stats = repr(emitter.stats())
        text = f"{emitter!r} {emitter.url} {stats}"
        emitter.close()
    assert set(basic_auth(collector)) == {f"user:{PASSWORD}"}
    assert_no_password("\n".join([text, *logs]))


def test_celery_tasks_carry_the_credentials_to_the_worker(collector: Collector) -> None:
    app = celery.Celery("snowplow-test-secrets-eager", broker="memory://")
    app.conf.update(task_always_eager=True, accept_content=["json"], task_serializer="json")
    app.conf[ALLOWED_ENDPOINTS_CONF] = [collector.endpoint]
    try:
        with captured_logs() as logs:
            emitter = CeleryEmitter(
                endpoint_with_password(collector), buffer_size=2, celery_app=app
            )
            collector.script([503])
            for i in range(4):
                emitter.input({"e": "pv", "eid": f"celery-{i}"})
            assert emitter.flush() is True
            assert collector.wait_for_events(4, timeout=30)
        assert emitter.task_config["v"] == 2  # workers that cannot send credentials refuse it
        assert "auth" not in emitter.task_config
        plain = CeleryEmitter(collector.endpoint, celery_app=app)
        assert plain.task_config["v"] == 1  # without credentials, any worker may run it
        assert emitter.task_config["url"] == collector.url
        assert set(basic_auth(collector)) == {f"user:{PASSWORD}"}
        assert_no_password("\n".join([repr(emitter), repr(emitter.stats()), *logs]))
    finally:
        app.close()


# -- the snowplow-redis-worker command ---------------------------------------------------------


def test_the_redis_worker_command_never_prints_a_password(
    redis_server: RedisServer,
    redis_client: redis.Redis,
    collector: Collector,
    tmp_path: Path,
) -> None:
    worker_processes: List[WorkerProcess] = []
    try:
        check_the_redis_worker_command(
            redis_server, redis_client, collector, tmp_path, worker_processes
        )
    finally:
        for process in worker_processes:
            process.cleanup()


def check_the_redis_worker_command(
    redis_server: RedisServer,
    redis_client: redis.Redis,
    collector: Collector,
    tmp_path: Path,
    worker_processes: List[WorkerProcess],
) -> None:
    encoded = quote(PASSWORD, safe="")
    good_redis = redis_server.url.replace("redis://", f"redis://:{encoded}@", 1)
    bad_redis = redis_server.url.replace("redis://", f"redis://:{PASSWORD}@", 1)
    common = ["--protocol", "http", "--process-count", "1", "--log-level", "DEBUG"]

    # Bad URLs: refused with exit status 2.
    for n, args in enumerate(
        (
            ["--redis-url", bad_redis, "--endpoint", collector.endpoint],
            ["--redis-url", good_redis, "--endpoint", f"user:{PASSWORD}@{collector.endpoint}"],
            ["--redis-url", good_redis, "--endpoint", f"user:{encoded}@127.0.0.1:99999"],
        )
    ):
        bad = WorkerProcess([*args, *common], tmp_path / f"bad-{n}.log")
        worker_processes.append(bad)
        assert bad.wait(timeout=30) == 2, bad.log()
        assert "must be" in bad.log()
        assert_no_password(bad.log())

    # A good URL, with a password on Redis and on the collector: events arrive, then SIGTERM.
    redis_client.config_set("requirepass", PASSWORD)
    try:
        redis.Redis.from_url(good_redis).rpush("snowplow", '{"e":"pv","eid":"cmd-1"}')
        good = WorkerProcess(
            ["--redis-url", good_redis, "--endpoint", endpoint_with_password(collector), *common],
            tmp_path / "good.log",
        )
        worker_processes.append(good)
        assert collector.wait_for_events(1, timeout=30), good.log()
        assert wait_until(lambda: "RedisWorker" in good.log(), timeout=10)
        good.signal(signal.SIGTERM)
        assert good.wait(timeout=30) == 0, good.log()
    finally:
        redis.Redis.from_url(good_redis).config_set("requirepass", "")
    assert basic_auth(collector) == [f"user:{PASSWORD}"]
    log = good.log()
    assert "snowplow-redis-worker" in log and ":***@" in log
    assert_no_password(log)
