"""Every emitter constructor checks its arguments with :mod:`snowplow_tracker.arguments`: each
ConfigurationError names the class, the argument, the expectation and the value, in the one
message form of the ``track_*`` checks."""

from __future__ import annotations

import math
import re
from typing import Any, Dict, List, Tuple, Type

import pytest

from snowplow_tracker import AsyncEmitter, Emitter, ProcessEmitter
from snowplow_tracker.emitters.base import BaseEmitter
from snowplow_tracker.emitters.celery.emitter import CeleryEmitter
from snowplow_tracker.errors import ConfigurationError
from snowplow_tracker.protocol.contracts import describe

ENDPOINT = "collector.example.com"

#: Bad arguments every emitter built on BaseEmitter refuses.
COMMON: List[Tuple[str, Any, str]] = [
    ("endpoint", "", "a non-empty host name such as 'collector.example.com'"),
    ("protocol", "udp", "'http' or 'https'"),
    ("port", 0, "an integer from 1 to 65535 or None"),
    ("method", "put", "'get' or 'post'"),
    ("buffer_size", 0, "a positive integer or None"),
    ("byte_limit", -5, "a positive integer or None"),
    ("request_timeout", 0, "a positive number of seconds or a (connect, read) tuple of them"),
    ("retry_policy", 3, "a RetryPolicy or None"),
    ("max_batch_age", 0, "a positive number of seconds or None"),
]
#: Those of the emitters that take callbacks and the 1.x options (all but CeleryEmitter).
WITH_CALLBACKS: List[Tuple[str, Any, str]] = [
    ("on_success", "print", "a callable or None"),
    ("on_failure", 1, "a callable or None"),
    ("buffer_capacity", 0, "a positive integer or None"),
    ("buffer_capacity", True, "a positive integer or None"),
]
#: Those of the emitters that send from the host (Emitter, AsyncEmitter).
IN_HOST: List[Tuple[str, Any, str]] = [
    ("session", "http://proxy:3128", "a requests.Session or None"),
    ("shutdown_timeout", math.inf, "a positive number of seconds"),
    ("shutdown_timeout", 0, "a positive number of seconds"),
    ("shutdown_timeout", True, "a positive number of seconds"),
    ("event_store", [], "an EventStore (add_event, get_events_batch, cleanup, size) or None"),
]

CASES: Dict[Type[BaseEmitter], List[Tuple[str, Any, str]]] = {
    Emitter: [*COMMON, *WITH_CALLBACKS, *IN_HOST],
    AsyncEmitter: [
        *COMMON,
        *WITH_CALLBACKS,
        *IN_HOST,
        ("thread_count", 0, "a positive integer"),
        ("thread_count", "2", "a positive integer"),
        ("max_queue_bytes", True, "a positive integer"),
        ("max_queued_batches", 0, "a positive integer or None"),
    ],
    ProcessEmitter: [
        *COMMON,
        *WITH_CALLBACKS,
        ("process_count", 0, "a positive integer"),
        ("max_queue_size", -1, "a positive integer"),
        ("ipc_batch_size", 1.5, "a positive integer"),
        ("ipc_max_delay", -1, "a positive number of seconds"),
        ("shutdown_timeout", 0, "a positive number of seconds"),
        ("shared_pool", "yes", "True or False"),
        ("shared_pool", 1, "True or False"),
    ],
    CeleryEmitter: [
        *COMMON,
        ("max_pending", 0, "a positive integer"),
        ("queue", "", "a non-empty string or None"),
    ],
}


def _params() -> List[Any]:
    return [
        pytest.param(cls, arg, value, expected, id=f"{cls.__name__}-{arg}={value!r}")
        for cls, cases in CASES.items()
        for arg, value, expected in cases
    ]


@pytest.mark.parametrize(("cls", "arg", "value", "expected"), _params())
def test_every_constructor_error_has_the_vocabulary_form(
    cls: Type[BaseEmitter], arg: str, value: Any, expected: str
) -> None:
    kwargs: Dict[str, Any] = {"endpoint": ENDPOINT, arg: value}
    with pytest.raises(ConfigurationError) as info:
        cls(**kwargs)
    message = str(info.value)
    match = re.fullmatch(rf"{cls._where}: argument '(\w+)' must be (.+), got (.+)", message)
    assert match is not None, message
    assert match.groups() == (arg, expected, describe(value))


@pytest.mark.parametrize("cls", [Emitter, AsyncEmitter, ProcessEmitter])
def test_buffer_size_and_batch_size_that_disagree_are_refused_together(
    cls: Type[BaseEmitter],
) -> None:
    """Two arguments that conflict: the refusal names both, with their values."""
    with pytest.raises(ConfigurationError) as info:
        cls(ENDPOINT, buffer_size=5, batch_size=6)
    message = str(info.value)
    assert message.startswith(f"{cls._where}: arguments 'buffer_size' and 'batch_size' are one ")
    assert message.endswith("got buffer_size=5 and batch_size=6")


@pytest.mark.parametrize("bad", [0, -1, "5", None, True, math.nan, math.inf])
@pytest.mark.parametrize("cls", [Emitter, AsyncEmitter, CeleryEmitter])
def test_set_flush_timer_checks_its_interval_with_the_vocabulary(
    cls: Type[BaseEmitter], bad: Any
) -> None:
    emitter = cls(ENDPOINT)
    try:
        with pytest.raises(ConfigurationError) as info:
            emitter.set_flush_timer(bad)
        assert str(info.value) == (
            f"{cls._where}.set_flush_timer: argument 'timeout' must be a positive number of "
            f"seconds, got {describe(bad)}"
        )
    finally:
        close = getattr(emitter, "close", None)
        if close is not None:
            close(timeout=0.5)


def test_process_emitter_input_encoded_refuses_get_in_the_refusal_form() -> None:
    emitter = ProcessEmitter(ENDPOINT, method="get")
    with pytest.raises(ConfigurationError) as info:
        emitter.input_encoded(b'{"e":"pv"}')
    assert str(info.value) == (
        "ProcessEmitter.input_encoded: needs method 'post', this emitter sends by 'get'; pass "
        "the event dict to input() instead"
    )
    emitter.close(timeout=0.5)
