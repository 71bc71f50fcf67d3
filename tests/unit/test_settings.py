"""``settings.resolve``: what the user passed to an HTTP emitter, resolved once into frozen
settings (the 1.x spellings translated by ``compat``), and the emitters built from them."""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest

from snowplow_tracker import AsyncEmitter, Emitter, ProcessEmitter, RetryPolicy
from snowplow_tracker.delivery.batching import THROUGHPUT_BYTE_LIMIT, THROUGHPUT_POST_BUFFER_SIZE
from snowplow_tracker.emitter_configuration import EmitterConfiguration
from snowplow_tracker.emitters.celery.emitter import CeleryEmitter
from snowplow_tracker.errors import ConfigurationError
from snowplow_tracker.settings import POSITIONAL, Profile, resolve

ENDPOINT = "collector.example.com"


def test_resolve_translates_the_1x_spellings_into_the_core_settings() -> None:
    settings = resolve(
        "Emitter",
        endpoint=ENDPOINT,
        method="POST",
        batch_size=20,
        buffer_capacity=5,
        max_retry_delay_seconds=3,
        custom_retry_codes={500: False},
    )
    assert settings.limits.method == "post"
    assert settings.limits.buffer_size == 5  # lowered to buffer_capacity, as 1.x
    assert settings.retry_policy.max_delay == 3.0
    assert 500 in settings.retry_policy.no_retry_statuses
    assert settings.url == f"http://{ENDPOINT}/com.snowplowanalytics.snowplow/tp2"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.limits = settings.limits  # type: ignore[misc]


def test_a_profile_gives_the_defaults_of_its_kind_of_emitter() -> None:
    plain = resolve("Emitter", endpoint=ENDPOINT, method="post")
    assert (plain.limits.buffer_size, plain.limits.byte_limit) == (10, None)
    assert plain.retry_policy == RetryPolicy()
    never = Profile(retry_policy=RetryPolicy.never(), throughput=True)
    fast = resolve("ProcessEmitter", never, endpoint=ENDPOINT, method="post")
    assert fast.limits.buffer_size == THROUGHPUT_POST_BUFFER_SIZE
    assert fast.limits.byte_limit == THROUGHPUT_BYTE_LIMIT
    assert fast.retry_policy == RetryPolicy.never()


def test_queue_bounds_take_the_smaller_of_max_queue_size_and_buffer_capacity() -> None:
    queues = Profile(queue_arguments=frozenset({"max_queue_size", "max_queue_bytes"}))
    settings = resolve(
        "P", queues, endpoint=ENDPOINT, max_queue_size=50, max_queue_bytes=9, buffer_capacity=7
    )
    assert (settings.queue.max_events, settings.queue.max_bytes) == (7, 9)
    with pytest.raises(ConfigurationError, match="argument 'max_queue_bytes' must be a positive"):
        resolve("P", queues, endpoint=ENDPOINT)  # the emitter's signature gives the default
    with pytest.raises(TypeError, match=r"^Emitter\(\) got an unexpected keyword argument"):
        resolve("Emitter", endpoint=ENDPOINT, max_queue_size=50)


def test_the_emitters_hold_what_was_resolved_once() -> None:
    """``batch_size`` and ``buffer_capacity`` reach the ProcessEmitter through one resolution."""
    emitter = ProcessEmitter(ENDPOINT, batch_size=30, buffer_capacity=20, max_queue_size=100)
    try:
        assert emitter.buffer_size == emitter.settings.limits.buffer_size == 20
        assert emitter.max_queue_size == emitter.settings.queue.max_events == 20
        assert emitter.byte_limit == THROUGHPUT_BYTE_LIMIT
    finally:
        emitter.close(timeout=0.5)
    threads = AsyncEmitter(ENDPOINT, max_queue_bytes=1000)
    try:
        assert threads.max_queue_bytes == threads.settings.queue.max_bytes == 1000
        assert threads.retry_policy == RetryPolicy()
    finally:
        threads.close(timeout=0.5)
    assert Emitter(ENDPOINT).retry_policy == RetryPolicy.never()


def test_positional_arguments_follow_the_010_order_and_misfits_are_type_errors() -> None:
    emitter = Emitter(ENDPOINT, "https", 8080, "post")
    collector = emitter.settings.collector
    assert (collector.protocol, collector.port, emitter.method) == ("https", 8080, "post")
    with pytest.raises(TypeError, match=r"^Emitter\.__init__\(\) got multiple values for argument"):
        Emitter(ENDPOINT, endpoint=ENDPOINT)  # type: ignore[misc]
    with pytest.raises(TypeError, match="takes from 2 to 10 positional arguments but 11"):
        Emitter(ENDPOINT, *([None] * len(POSITIONAL)))  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword argument 'thread_count'"):
        Emitter(ENDPOINT, thread_count=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'endpoint'"):
        Emitter()  # type: ignore[call-arg]


def test_the_introspected_signature_lists_every_argument_in_the_010_order() -> None:
    params = list(inspect.signature(Emitter.__mro__[1].__init__).parameters)
    assert params[: len(POSITIONAL) + 1] == ["self", *POSITIONAL]
    assert {"batch_size", "buffer_capacity", "verify", "session"} <= set(params)
    assert EmitterConfiguration(batch_size=3).emitter_arguments() == {"buffer_size": 3}


def test_bad_values_still_raise_the_emitters_own_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"^Emitter: argument 'buffer_capacity' must be"):
        resolve("Emitter", endpoint=ENDPOINT, buffer_capacity=0)


EMITTERS = (Emitter, AsyncEmitter, ProcessEmitter, CeleryEmitter)


@pytest.mark.parametrize("cls", EMITTERS, ids=lambda c: c.__name__)
def test_each_emitter_documents_every_argument_of_its_signature_in_order(cls: type) -> None:
    names = list(inspect.signature(cls).parameters)
    args = (cls.__init__.__doc__ or "").split("\n        Args:\n", 1)[1]  # type: ignore[misc]
    documented = re.findall(r"^ {12}(\w+): ", args.split("\n\n", 1)[0], re.MULTILINE)
    assert documented == names


def test_the_profile_gives_each_kind_its_positional_order_and_defaults() -> None:
    params = inspect.signature(ProcessEmitter).parameters
    assert list(params)[: len(POSITIONAL) + 1] == [*POSITIONAL, "process_count"]
    assert params["method"].default == "post" and params["shutdown_timeout"].default == 10.0
    assert list(inspect.signature(AsyncEmitter).parameters)[7:9] == ["thread_count", "byte_limit"]
    emitter = AsyncEmitter(ENDPOINT, "http", None, "post", 5, None, None, 3, 900)
    try:
        assert (emitter.thread_count, emitter.byte_limit, emitter.buffer_size) == (3, 900, 5)
    finally:
        emitter.close(timeout=0.5)


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (ProcessEmitter, {"session": None}, r"^ProcessEmitter\.__init__\(\) got an unexpected"),
        (CeleryEmitter, {"shutdown_timeout": 1}, r"^CeleryEmitter\.__init__\(\) got an unexp"),
        (AsyncEmitter, {"max_queue_size": 1}, r"^AsyncEmitter\.__init__\(\) got an unexpected"),
    ],
)
def test_an_argument_the_kind_does_not_take_is_a_type_error(
    cls: type, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        cls(ENDPOINT, **kwargs)


def test_a_kind_without_callbacks_refuses_them_by_its_profile() -> None:
    with pytest.raises(ConfigurationError, match=r"^CeleryEmitter: on_success and on_failure"):
        CeleryEmitter(ENDPOINT, on_failure=print)


def test_a_users_subclass_keeps_its_docstring_and_takes_its_parents_arguments() -> None:
    class Mine(AsyncEmitter):
        """Mine."""

    assert Mine.__doc__ == "Mine."
    assert inspect.signature(Mine) == inspect.signature(AsyncEmitter)
    emitter = Mine(ENDPOINT, thread_count=2)
    try:
        assert emitter.thread_count == 2
    finally:
        emitter.close(timeout=0.5)
