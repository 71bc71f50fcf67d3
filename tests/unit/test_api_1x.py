"""The snowplow-tracker 1.x API beside the documented one: Tracker order, Snowplow registry,
configurations, event store and the 1.x helper functions of ``contracts``."""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterator

import pytest

from snowplow_tracker import (
    ConfigurationError,
    Emitter,
    EmitterConfiguration,
    EventStore,
    InMemoryEventStore,
    PageView,
    ProcessEmitter,
    Snowplow,
    Subject,
    Tracker,
    TrackerConfiguration,
    ValidationError,
    contracts,
)
from snowplow_tracker._version import __version__, __version_info__
from snowplow_tracker.protocol.constants import VERSION as CONSTANTS_VERSION
from snowplow_tracker.testing import Collector
from snowplow_tracker.tracker import VERSION
from tests.capture import Capture, restore_contracts  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("restore_contracts")


@pytest.fixture(autouse=True)
def _no_registered_trackers() -> Iterator[None]:
    Snowplow.reset()
    yield
    Snowplow.reset()


# -- Tracker: two positional orders --------------------------------------------------------


def test_a_str_first_argument_selects_the_1x_order() -> None:
    """Tracker("ns", emitter, subject, "app") is namespace, emitters, subject, app_id."""
    e, s = Capture(), Subject().set_user_id("u")
    t = Tracker("ns", e, s, "app", False)
    assert (t.namespace, t.emitters, t.subject, t.app_id, t.encode_base64) == (
        "ns",
        [e],
        s,
        "app",
        False,
    )
    assert t.get_namespace() == "ns"


def test_an_emitter_first_argument_keeps_the_documented_order() -> None:
    """Tracker(emitter, subject, "ns") is emitters, subject, namespace."""
    e, s = Capture(), Subject()
    t = Tracker(e, s, "ns", "app")
    assert (t.namespace, t.emitters, t.subject, t.app_id) == ("ns", [e], s, "app")


def test_keywords_mean_the_same_in_both_orders() -> None:
    """1.x keyword calls and mixed calls (Tracker("ns", emitters=e)) work."""
    e = Capture()
    assert Tracker(namespace="ns", emitters=e).namespace == "ns"
    assert Tracker("ns", emitters=e).emitters == [e]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("ns",), {}, "missing required argument: 'emitters'"),
        ((Capture(),), {"emitters": Capture()}, "multiple values for argument 'emitters'"),
        ((Capture(),), {"colour": 1}, "unexpected keyword argument 'colour'"),
    ],
)
def test_wrong_calls_raise_type_error_like_python(
    args: Any, kwargs: Dict[str, Any], message: str
) -> None:
    """A missing, doubled or unknown argument is a TypeError naming it."""
    with pytest.raises(TypeError, match=message):
        Tracker(*args, **kwargs)


def test_1x_order_arguments_are_checked_with_the_usual_messages() -> None:
    """Tracker("ns", "not an emitter") names the emitters argument."""
    with pytest.raises(ConfigurationError, match="Tracker: argument 'emitters' must be an emitter"):
        Tracker("ns", "not an emitter")


def test_version_names_1x_code_reads() -> None:
    """tracker.VERSION and constants.VERSION are the tv value; _version has __version__."""
    assert VERSION == CONSTANTS_VERSION == "py-" + __version__
    assert __version_info__ == tuple(int(x) for x in __version__.split("."))
    assert Tracker("ns", Capture()).standard_nv_pairs["tv"] == VERSION


# -- Snowplow registry and configurations -------------------------------------------------


def test_create_tracker_registers_it_and_sends_to_the_endpoint(collector: Collector) -> None:
    """create_tracker builds an Emitter with batch_size as buffer_size; events arrive."""
    t = Snowplow.create_tracker(
        "ns",
        collector.url,
        app_id="app",
        subject=Subject().set_user_id("u"),
        tracker_config=TrackerConfiguration(encode_base64=False),
        emitter_config=EmitterConfiguration(batch_size=2),
    )
    assert Snowplow.get_tracker("ns") is t
    emitter = t.emitters[0]
    assert isinstance(emitter, Emitter) and emitter.method == "post"
    t.track(PageView("http://x/"))
    assert collector.events == []  # batch of 2 not full yet
    t.track(PageView("http://y/"))
    assert collector.wait_for_events(2)
    assert [e["url"] for e in collector.events] == ["http://x/", "http://y/"]
    assert {(e["tna"], e["aid"], e["uid"]) for e in collector.events} == {("ns", "app", "u")}


def test_the_emitter_field_chooses_a_process_emitter() -> None:
    """EmitterConfiguration(emitter="process", options=...) builds a ProcessEmitter."""
    config = EmitterConfiguration(emitter="process", batch_size=3, options={"process_count": 1})
    t = Snowplow.create_tracker("p", "127.0.0.1:9", emitter_config=config)
    emitter = t.emitters[0]
    try:
        assert isinstance(emitter, ProcessEmitter)
        assert config.emitter_arguments() == {"buffer_size": 3, "process_count": 1}
    finally:
        emitter.close(timeout=5)


def test_a_namespace_is_registered_once() -> None:
    """A second tracker with the same namespace is refused; nothing replaces the first."""
    first = Snowplow.create_tracker("ns", "127.0.0.1:9")
    with pytest.raises(ConfigurationError, match="namespace"):
        Snowplow.create_tracker("ns", "127.0.0.1:9")
    assert Snowplow.get_tracker("ns") is first


def test_remove_and_reset_forget_trackers() -> None:
    """remove_tracker, remove_tracker_by_namespace and reset forget; unknown names are ignored."""
    a = Snowplow.create_tracker("a", "127.0.0.1:9")
    Snowplow.create_tracker("b", "127.0.0.1:9")
    Snowplow.create_tracker("c", "127.0.0.1:9")
    Snowplow.remove_tracker(a)
    Snowplow.remove_tracker_by_namespace("b")
    Snowplow.remove_tracker_by_namespace("unknown")
    assert (Snowplow.get_tracker("a"), Snowplow.get_tracker("b")) == (None, None)
    assert Snowplow.get_tracker("c") is not None
    Snowplow.reset()
    assert Snowplow.get_tracker("c") is None


def test_fields_the_emitter_does_not_accept_are_listed_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A set 1.x field the chosen emitter lacks is reported by unsupported() and logged."""
    config = EmitterConfiguration(buffer_capacity=5, custom_retry_codes={500: False})
    missing = config.unsupported()
    with caplog.at_level(logging.WARNING, logger="snowplow_tracker"):
        Snowplow.create_tracker("ns", "127.0.0.1:9", emitter_config=config)
    for name in missing:
        assert name in caplog.text
    assert set(missing) <= {"buffer_capacity", "custom_retry_codes"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "argument 'batch_size' must be an integer of at least 1"),
        ({"byte_limit": "x"}, "argument 'byte_limit' must be an integer of at least 1 or None"),
        ({"on_success": 1}, "argument 'on_success' must be a callable or None"),
        ({"custom_retry_codes": {200: True}}, "argument 'custom_retry_codes' must be keyed"),
        ({"custom_retry_codes": {500: "yes"}}, "argument 'custom_retry_codes[500]' must be True"),
        ({"emitter": "threads"}, "argument 'emitter' must be one of 'sync', 'async', 'process'"),
        ({"event_store": []}, "argument 'event_store' must be an EventStore or None"),
    ],
)
def test_emitter_configuration_checks_its_arguments(kwargs: Dict[str, Any], message: str) -> None:
    """Each invalid field raises ConfigurationError naming it (the shared message form)."""
    with pytest.raises(ConfigurationError) as info:
        EmitterConfiguration(**kwargs)
    assert str(info.value).startswith("EmitterConfiguration: " + message)


def test_set_retry_code_adds_a_rule_and_refuses_2xx() -> None:
    """set_retry_code(503, False) is stored; a 2xx code is a ConfigurationError."""
    config = EmitterConfiguration()
    assert config.set_retry_code(503, False) is True
    assert config.custom_retry_codes == {503: False}
    with pytest.raises(ConfigurationError):
        config.set_retry_code(204)


def test_tracker_configuration_checks_its_arguments() -> None:
    """encode_base64 must be a bool and json_encoder callable."""
    assert TrackerConfiguration().encode_base64 is True
    with pytest.raises(ConfigurationError, match="'encode_base64' must be True or False"):
        TrackerConfiguration(encode_base64="no")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="'json_encoder' must be a callable or None"):
        TrackerConfiguration(json_encoder=3)  # type: ignore[arg-type]


def test_create_tracker_checks_its_arguments() -> None:
    """An empty namespace or a bad method is refused before any emitter exists."""
    with pytest.raises(ConfigurationError, match="argument 'namespace'"):
        Snowplow.create_tracker("", "127.0.0.1:9")
    with pytest.raises(ConfigurationError, match="argument 'method'"):
        Snowplow.create_tracker("ns", "127.0.0.1:9", method="put")


# -- event store ----------------------------------------------------------------------------


def test_in_memory_event_store_is_an_event_store_and_batches_in_order() -> None:
    """add_event, size, get_events_batch empties the store, in insertion order."""
    store = InMemoryEventStore()
    assert isinstance(store, EventStore)
    for i in range(3):
        assert store.add_event({"i": str(i)})
    assert store.size() == 3
    assert [e["i"] for e in store.get_events_batch()] == ["0", "1", "2"]
    assert store.size() == 0


def test_failed_batches_go_back_and_sent_ones_are_forgotten() -> None:
    """cleanup(batch, True) re-adds (once); cleanup(batch, False) does not."""
    store = InMemoryEventStore()
    store.add_event({"a": "1"})
    batch = store.get_events_batch()
    store.cleanup(batch, True)
    store.cleanup(batch, True)
    assert store.event_buffer == batch
    store.cleanup(store.get_events_batch(), False)
    assert store.size() == 0


def test_a_full_store_drops_new_events_counts_and_logs_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past buffer_capacity add_event returns False, counts the drop, logs at ERROR."""
    store = InMemoryEventStore(buffer_capacity=1)
    assert store.add_event({"a": "1"})
    with caplog.at_level(logging.ERROR, logger="snowplow_tracker"):
        assert not store.add_event({"b": "2"})
        assert not store.add_event({"c": "3"})
    assert store.dropped == 2 and store.size() == 1
    assert caplog.text.count("Event buffer is full") == 1  # throttled
    assert '"c"' not in caplog.text and "'c'" not in caplog.text  # payloads only at DEBUG


def test_in_memory_event_store_checks_buffer_capacity() -> None:
    """buffer_capacity must be a positive integer."""
    with pytest.raises(
        ConfigurationError, match="'buffer_capacity' must be an integer of at least"
    ):
        InMemoryEventStore(buffer_capacity=0)


# -- contracts: the 1.x helpers -------------------------------------------------------------


def test_1x_contract_helpers_raise_value_errors_while_enabled() -> None:
    """non_empty_string(v), one_of(v, s), greater_than, non_empty, satisfies, form_element(e)."""
    checks = [
        lambda: contracts.non_empty_string(""),
        lambda: contracts.one_of("x", ["y"]),
        lambda: contracts.greater_than(0, 10),
        lambda: contracts.non_empty([]),
        lambda: contracts.satisfies(0, lambda v: v == 10),
        lambda: contracts.form_element({"name": "n", "value": "v", "nodeName": "BAD"}),
    ]
    for check in checks:
        with pytest.raises(ValidationError):
            check()
    contracts.disable_contracts()
    for check in checks:
        check()


def test_1x_contract_helpers_accept_valid_values() -> None:
    """Valid values pass silently."""
    contracts.non_empty_string("x")
    contracts.one_of("x", ["x"])
    contracts.greater_than(10, 0)
    contracts.non_empty([1])
    contracts.satisfies(10, lambda v: v == 10)
    contracts.form_element({"name": "n", "value": None, "nodeName": "INPUT", "type": "text"})
