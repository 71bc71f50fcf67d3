"""The emitters' constructors are generated source: committed, current, with the signatures of
the hand-written constructors they replace (``tests/typecheck_emitters.py`` shows that mypy sees
them; ``.ci/run`` checks it)."""

from __future__ import annotations

import inspect
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

import pytest

from snowplow_tracker import AsyncEmitter, Emitter, ProcessEmitter
from snowplow_tracker.emitters import constructors
from snowplow_tracker.emitters.base import BaseEmitter
from snowplow_tracker.emitters.celery.emitter import CeleryEmitter
from snowplow_tracker.errors import ConfigurationError
from snowplow_tracker.settings import DOCS
from tools import generate_emitters, generate_tracker

if TYPE_CHECKING:
    import requests

    from snowplow_tracker.delivery.event_store import EventStore
    from snowplow_tracker.delivery.http_client import Verify
    from snowplow_tracker.delivery.retry import RetryPolicy
    from snowplow_tracker.delivery.transport import Timeout
    from snowplow_tracker.settings import FailureCallback, SuccessCallback

GENERATED = Path(constructors.__file__).resolve()
ENDPOINT = "collector.example.com"


# The signatures the hand-written constructors had (keyword-only arguments in any order; the
# annotations as written there). Emitter and AsyncEmitter passed **kwargs on to BaseEmitter,
# whose arguments after the ninth were keywords: they are listed here.


def emitter(
    endpoint: str,
    protocol: str = "http",
    port: Optional[int] = None,
    method: str = "get",
    buffer_size: Optional[int] = None,
    on_success: Optional[SuccessCallback] = None,
    on_failure: Optional[FailureCallback] = None,
    byte_limit: Optional[int] = None,
    request_timeout: Optional[Timeout] = None,
    *,
    retry_policy: Optional[RetryPolicy] = None,
    max_batch_age: Optional[float] = None,
    session: Optional[requests.Session] = None,
    shutdown_timeout: float = 5.0,
    batch_size: Optional[int] = None,
    buffer_capacity: Optional[int] = None,
    max_retry_delay_seconds: Optional[float] = None,
    custom_retry_codes: Optional[Mapping[int, bool]] = None,
    verify: Verify = True,
    event_store: Optional[EventStore] = None,
) -> None: ...


def async_emitter(
    endpoint: str,
    protocol: str = "http",
    port: Optional[int] = None,
    method: str = "get",
    buffer_size: Optional[int] = None,
    on_success: Optional[SuccessCallback] = None,
    on_failure: Optional[FailureCallback] = None,
    thread_count: int = 1,
    byte_limit: Optional[int] = None,
    *,
    max_queue_bytes: int = 96 * 1024 * 1024,
    max_queued_batches: Optional[int] = None,
    request_timeout: Optional[Timeout] = None,
    retry_policy: Optional[RetryPolicy] = None,
    max_batch_age: Optional[float] = None,
    session: Optional[requests.Session] = None,
    shutdown_timeout: float = 5.0,
    batch_size: Optional[int] = None,
    buffer_capacity: Optional[int] = None,
    max_retry_delay_seconds: Optional[float] = None,
    custom_retry_codes: Optional[Mapping[int, bool]] = None,
    verify: Verify = True,
    event_store: Optional[EventStore] = None,
) -> None: ...


def process_emitter(
    endpoint: str,
    protocol: str = "http",
    port: Optional[int] = None,
    method: str = "post",
    buffer_size: Optional[int] = None,
    on_success: Optional[SuccessCallback] = None,
    on_failure: Optional[FailureCallback] = None,
    byte_limit: Optional[int] = None,
    request_timeout: Optional[Timeout] = None,
    process_count: Optional[int] = None,
    *,
    max_queue_size: Optional[int] = None,
    max_queue_bytes: int = 64 * 1024 * 1024,
    max_batch_age: float = 0.25,
    retry_policy: Optional[RetryPolicy] = None,
    start_method: str = "spawn",
    ipc_batch_size: int = 256,
    ipc_max_delay: float = 0.05,
    shutdown_timeout: float = 10.0,
    max_in_flight: int = 64,
    batch_size: Optional[int] = None,
    buffer_capacity: Optional[int] = None,
    max_retry_delay_seconds: Optional[float] = None,
    custom_retry_codes: Optional[Mapping[int, bool]] = None,
    verify: Verify = True,
    shared_pool: Optional[bool] = None,
) -> None: ...


def celery_emitter(
    endpoint: str,
    protocol: str = "http",
    port: Optional[int] = None,
    method: str = "post",
    buffer_size: Optional[int] = None,
    byte_limit: Optional[int] = None,
    request_timeout: Optional[Timeout] = None,
    celery_app: Any = None,
    *,
    retry_policy: Optional[RetryPolicy] = None,
    on_success: Any = None,
    on_failure: Any = None,
    max_batch_age: Optional[float] = None,
    max_pending: int = 100_000,
    queue: Optional[str] = "snowplow",
    verify: Verify = True,
) -> None: ...


SIGNATURES = [
    (Emitter, emitter),
    (AsyncEmitter, async_emitter),
    (ProcessEmitter, process_emitter),
    (CeleryEmitter, celery_emitter),
]
EMITTERS = [cls for cls, _ in SIGNATURES]


def test_the_committed_module_is_what_the_generator_writes() -> None:
    expected = generate_tracker.generate_all()[generate_emitters.TARGET]
    assert GENERATED == generate_emitters.TARGET
    assert GENERATED.read_text() == expected, f"run {generate_tracker.COMMAND}"


@pytest.mark.parametrize(("cls", "written"), SIGNATURES, ids=lambda c: getattr(c, "__name__", ""))
def test_each_signature_is_the_one_its_constructor_had(
    cls: type, written: Callable[..., None]
) -> None:
    assert inspect.signature(cls) == inspect.signature(written)


@pytest.mark.parametrize("cls", [BaseEmitter, *EMITTERS], ids=lambda c: c.__name__)
def test_each_constructor_is_source_in_the_generated_module(cls: Any) -> None:
    init = cls.__init__
    assert Path(inspect.getsourcefile(init) or "").resolve() == GENERATED
    text = inspect.getsource(init)
    assert text.lstrip().startswith("def __init__(\n        self,\n        endpoint: str,")
    assert "self._build(" in text
    assert init.__qualname__ == f"{cls.__name__}.__init__"
    assert not hasattr(init, "__signature__")  # the signature is the function's own
    assert cls.__mro__[1].__name__ == f"{cls.__name__}Constructor"


def test_the_docstring_is_the_classes_own_entry_else_the_shared_text() -> None:
    doc = " ".join((inspect.getdoc(AsyncEmitter.__init__) or "").split())
    assert "thread_count: Requests in flight at once, one sending thread each (default 1)." in doc
    assert f"endpoint: {DOCS['endpoint']}" in doc
    assert "ConfigurationError: An argument is invalid." in doc
    process = inspect.getdoc(ProcessEmitter.__init__) or ""
    assert "shared_pool: Connect to the ``process_count`` senders" in process


def test_a_call_that_does_not_fit_names_the_emitter_and_a_bad_value_is_checked() -> None:
    with pytest.raises(TypeError, match=r"^AsyncEmitter\.__init__\(\) got an unexpected keyword"):
        AsyncEmitter(ENDPOINT, max_queue_size=1)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match=r"^AsyncEmitter: argument 'thread_count'") as info:
        AsyncEmitter(ENDPOINT, thread_count=0)
    names = [frame.name for frame in traceback.extract_tb(info.tb)]
    assert names[1:3] == ["__init__", "_build"]  # the generated constructor, then the builder


def test_a_users_subclass_inherits_the_constructor_and_keeps_its_docstring() -> None:
    class Mine(Emitter):
        """Mine."""

    assert Mine.__doc__ == "Mine."
    assert inspect.signature(Mine) == inspect.signature(Emitter)
    mine = Mine(ENDPOINT, "https", buffer_size=3)
    assert (mine._where, mine.buffer_size, mine.settings.collector.protocol) == (
        "Emitter",
        3,
        "https",
    )


def test_the_generator_refuses_an_argument_without_text_and_a_stale_entry() -> None:
    class Undocumented(BaseEmitter):
        """No Args."""

        def _setup(self, *, colour: int = 1) -> None:
            """Takes a colour."""

    with pytest.raises(SystemExit, match="argument 'colour' has no Args entry"):
        generate_emitters._constructor(Undocumented)

    class Stale(BaseEmitter):
        """Stale.

        Args:
            colour: Not an argument any more.
        """

    with pytest.raises(SystemExit, match=r"describes no argument of it: \['colour'\]"):
        generate_emitters._constructor(Stale)


def test_the_profile_makes_the_signature() -> None:
    params, shared = generate_emitters.parameters(CeleryEmitter)
    positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == [*CeleryEmitter._profile.positional]
    assert "shutdown_timeout" not in shared and "celery_app" not in shared
    assert {p.name: p.annotation for p in params}["on_success"] == "Any"  # refused callbacks
    process = {p.name: p for p in generate_emitters.parameters(ProcessEmitter)[0]}
    assert process["max_batch_age"].annotation == "float"  # the profile's default is not None
    assert process["process_count"].annotation == "Optional[int]"
