"""Property-based tests of every public entry point (see :mod:`tests.properties`).

Every ``track_*`` method, ``Tracker.track`` with each 1.x event class, the ``Subject`` setters,
``SelfDescribingJson`` and the ``Tracker`` constructor are called with hypothesis-generated
arguments; each call either sends valid events or raises the library's error naming the method
and the argument, having queued nothing. Bounded (``max_examples``) so that the whole module
runs in well under a minute; ``PROPERTY_EXAMPLES=20`` runs twenty times more examples.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snowplow_tracker import (
    AsyncEmitter,
    Emitter,
    ProcessEmitter,
    SelfDescribingJson,
    Subject,
    Tracker,
)
from snowplow_tracker.errors import SnowplowError
from snowplow_tracker.events import (
    Event,
    PagePing,
    PageView,
    ScreenView,
    SelfDescribing,
    StructuredEvent,
)
from snowplow_tracker.events.description import COMMON_ARGS
from snowplow_tracker.events.table import BY_NAME, KINDS
from snowplow_tracker.protocol import contracts
from tests.capture import Capture
from tests.properties import (
    anything,
    assert_library_error,
    check_call,
    contexts,
    examples,
    json_data,
    kind_arguments,
    mostly,
    not_early_timestamps,
    subjects,
    texts,
    timestamps,
)

EVENT_CLASSES = {
    PageView: BY_NAME["page_view"],
    PagePing: BY_NAME["page_ping"],
    StructuredEvent: BY_NAME["struct_event"],
    SelfDescribing: BY_NAME["self_describing_event"],
    ScreenView: BY_NAME["mobile_screen_view"],
}


def _tracker(encode_base64: bool) -> tuple[Tracker, Capture]:
    contracts.enable_contracts()
    capture = Capture()
    return Tracker(capture, namespace="ns", app_id="app", encode_base64=encode_base64), capture


@pytest.mark.parametrize("name", [k.name for k in KINDS])
@settings(max_examples=examples(60), deadline=None)
@given(data=st.data())
def test_every_track_method_sends_valid_events_or_raises_the_library_error(
    name: str, data: st.DataObject
) -> None:
    kind = BY_NAME[name]
    tracker, capture = _tracker(data.draw(st.booleans(), "encode_base64"))
    kwargs = data.draw(kind_arguments(kind), "arguments")
    method = getattr(tracker, f"track_{kind.name}")
    check_call(lambda: method(**kwargs), capture, kind.method, [*kind.args, *COMMON_ARGS])


@pytest.mark.parametrize("name", [c.__name__ for c in EVENT_CLASSES])
@settings(max_examples=examples(40), deadline=None)
@given(data=st.data())
def test_every_event_class_is_sent_valid_by_track_or_raises_the_library_error(
    name: str, data: st.DataObject
) -> None:
    cls = next(c for c in EVENT_CLASSES if c.__name__ == name)
    kind = EVENT_CLASSES[cls]
    tracker, capture = _tracker(data.draw(st.booleans(), "encode_base64"))
    kwargs = data.draw(kind_arguments(kind), "arguments")
    kwargs["true_timestamp"] = kwargs.pop("tstamp")
    arguments = [*kind.args, "context", "true_timestamp", "event_subject"]
    try:
        event = cls(**kwargs)
    except SnowplowError as error:
        assert_library_error(error, cls.__name__, arguments)
        return
    if data.draw(st.booleans(), "change an attribute after construction"):
        name = data.draw(st.sampled_from(arguments), "attribute")
        value = data.draw(not_early_timestamps if name == "true_timestamp" else anything, "value")
        try:
            setattr(event, name, value)
        except SnowplowError as error:
            assert_library_error(error, cls.__name__, arguments)
    check_call(lambda: tracker.track(event), capture, cls.__name__, arguments)


PROTOCOL_FIELDS = ("e", "url", "page", "refr", "se_ca", "se_ac", "se_va", "tr_id", "tr_tt")


@settings(max_examples=examples(60), deadline=None)
@given(
    dict_=mostly(
        st.dictionaries(
            st.one_of(st.sampled_from(PROTOCOL_FIELDS), texts(6), st.integers()), anything
        ),
        7,
    ),
    context=mostly(contexts, 9),
    true_timestamp=mostly(timestamps, 9),
)
def test_a_bare_event_is_sent_encodable_or_raises_the_library_error(
    dict_: Any, context: Any, true_timestamp: Any
) -> None:
    """The bare 1.x ``Event`` sends the fields its caller gives: which fields an event needs is
    the caller's protocol knowledge, so only what any event needs is checked here (string
    fields that encode for POST and GET), not the schemas."""
    tracker, capture = _tracker(True)
    arguments = ["dict_", "context", "true_timestamp", "event_subject"]
    try:
        event = Event(dict_=dict_, context=context, true_timestamp=true_timestamp)
        tracker.track(event)
    except SnowplowError as error:
        assert_library_error(error, "Event", arguments)
        assert capture.events == []
        return
    from snowplow_tracker.protocol.wire import encode_event

    (sent,) = capture.events
    assert all(k.__class__ is str and v.__class__ is str for k, v in sent.items())
    encode_event(sent, "post")
    encode_event(sent, "get")


SETTERS: Dict[str, List[str]] = {
    "set_platform": ["value"],
    "set_user_id": ["user_id"],
    "set_screen_resolution": ["width", "height"],
    "set_viewport": ["width", "height"],
    "set_color_depth": ["depth"],
    "set_timezone": ["timezone"],
    "set_lang": ["lang"],
    "set_ip_address": ["ip"],
    "set_useragent": ["ua"],
    "set_domain_user_id": ["duid"],
    "set_domain_session_id": ["sid"],
    "set_domain_session_index": ["vid"],
    "set_network_user_id": ["nuid"],
}
_SETTER_VALUES = st.one_of(
    texts(),
    st.integers(-5, 5000),
    st.integers(),
    st.uuids().map(str),
    st.sampled_from(["web", "mob", "srv", "pc"]),
)
#: Built once (a strategy made in the test body would be validated again in every example).
_SETTER_ARGUMENTS = mostly(_SETTER_VALUES, 8)


@settings(max_examples=examples(80), deadline=None)
@given(data=st.data())
def test_subject_setters_make_valid_events_or_raise_the_library_error(
    data: st.DataObject,
) -> None:
    tracker, capture = _tracker(data.draw(st.booleans(), "encode_base64"))
    subject = Subject()
    for _ in range(data.draw(st.integers(1, 4), "calls")):
        name = data.draw(st.sampled_from(sorted(SETTERS)), "setter")
        values = [data.draw(_SETTER_ARGUMENTS, a) for a in SETTERS[name]]
        try:
            getattr(subject, name)(*values)
        except SnowplowError as error:
            assert_library_error(error, f"Subject.{name}", SETTERS[name])
    for as_event_subject in (False, True):
        if as_event_subject:
            call = lambda: tracker.track_page_view("https://x/", event_subject=subject)  # noqa: E731
        else:
            tracker.set_subject(subject)
            call = lambda: tracker.track_page_view("https://x/")  # noqa: E731
        check_call(call, capture, "Tracker.track_page_view", ["event_subject"])


@settings(max_examples=examples(60), deadline=None)
@given(schema=mostly(st.one_of(texts(), st.just("iglu:com.acme/a/jsonschema/1-0-0")), 6))
def test_a_self_describing_json_is_sent_valid_or_refused_with_the_library_error(
    schema: Any,
) -> None:
    tracker, capture = _tracker(True)
    try:
        sdj = SelfDescribingJson(schema, {"a": 1})
    except SnowplowError as error:
        assert_library_error(error, "SelfDescribingJson", ["schema"])
        return
    check_call(
        lambda: tracker.track_self_describing_event(sdj, context=[sdj]),
        capture,
        "Tracker.track_self_describing_event",
        ["event_json", "context"],
    )


@settings(max_examples=examples(40), deadline=None)
@given(namespace=mostly(texts(), 7), app_id=mostly(texts(), 7), data=json_data)
def test_a_tracker_made_with_any_namespace_and_app_id_sends_valid_events_or_refuses(
    namespace: Any, app_id: Any, data: Any
) -> None:
    capture = Capture()
    try:
        tracker = Tracker(capture, namespace=namespace, app_id=app_id)
    except SnowplowError as error:
        assert_library_error(error, "Tracker", ["namespace", "app_id"])
        return
    check_call(
        lambda: tracker.track_struct_event("c", "a", context=[SelfDescribingJson(SCHEMA, data)]),
        capture,
        "Tracker.track_struct_event",
        ["context"],
    )


SCHEMA = "iglu:com.acme/a/jsonschema/1-0-0"


@settings(max_examples=examples(30), deadline=None)
@given(event=anything)
def test_tracker_track_refuses_what_is_no_event(event: Any) -> None:
    tracker, capture = _tracker(True)
    check_call(lambda: tracker.track(event), capture, "Tracker.track", ["event"])


_valid_items = st.lists(
    st.fixed_dictionaries(
        {
            "sku": st.text(min_size=1, max_size=8),
            "price": st.one_of(st.integers(-1000, 10**6), st.floats(-1e6, 1e6)),
            "quantity": st.integers(-(2**31), 2**31 - 1),
        },
        optional={
            "name": st.text(max_size=8),
            "category": st.text(max_size=8),
            "context": st.lists(
                st.builds(SelfDescribingJson, st.just(SCHEMA), json_data), min_size=1, max_size=2
            ),
        },
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=examples(40), deadline=None)
@given(subject=subjects(), items=_valid_items, data=st.data())
def test_a_transaction_sends_all_its_events_or_none(
    subject: Subject, items: List[Dict[str, Any]], data: st.DataObject
) -> None:
    """The property for the transaction, with valid items of which at most one field of one
    item is replaced by anything: the call sends every event (1 + one per item) or none."""
    tracker, capture = _tracker(data.draw(st.booleans(), "encode_base64"))
    tracker.set_subject(subject)
    if data.draw(st.booleans(), "spoil one field"):
        item = data.draw(st.sampled_from(items), "item")
        key = data.draw(st.sampled_from(["sku", "price", "quantity", "name", "category"]))
        item[key] = data.draw(anything, "value")
    kind = BY_NAME["ecommerce_transaction"]
    sent = check_call(
        lambda: tracker.track_ecommerce_transaction("order-1", 10.5, currency="EUR", items=items),
        capture,
        kind.method,
        [*kind.args, *COMMON_ARGS],
    )
    assert sent in (0, 1 + len(items))


#: Emitter constructors with every argument a caller may get wrong (the others: the endpoint, a
#: ``requests.Session``, an event store and the Celery app, which have example-based tests).
EMITTER_CLASSES = {
    "Emitter": Emitter,
    "AsyncEmitter": AsyncEmitter,
    "ProcessEmitter": ProcessEmitter,
}
NOT_DRAWN = {"self", "endpoint", "session", "event_store"}


@pytest.mark.parametrize("name", sorted(EMITTER_CLASSES))
@settings(max_examples=examples(60), deadline=None)
@given(data=st.data())
def test_every_emitter_constructor_builds_or_raises_the_library_error(
    name: str, data: st.DataObject
) -> None:
    """Any value for one argument: the emitter is built (and closes at once, nothing started),
    or the call raises the library's error naming that argument."""
    cls = EMITTER_CLASSES[name]
    params = [p for p in inspect.signature(cls).parameters if p not in NOT_DRAWN]
    arg = data.draw(st.sampled_from(params), "argument")
    value = data.draw(anything, "value")
    try:
        emitter = cls("collector.example.com", **{arg: value})
    except Exception as error:  # noqa: BLE001 - the property: only the library's error
        assert_library_error(error, name, [arg])
        return
    assert emitter.close(timeout=1)
