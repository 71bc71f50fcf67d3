"""Bad input found by the property tests (``test_properties.py``), one regression test each.

Every public entry point either sends valid events or raises the library's own error, naming
the method and the argument, having queued nothing.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Dict, List

import pytest

from snowplow_tracker import SelfDescribingJson, Subject, Tracker
from snowplow_tracker.errors import EncodingError, SnowplowError, ValidationError
from snowplow_tracker.events import Event, PagePing, PageView, ScreenView, StructuredEvent
from snowplow_tracker.protocol import contracts
from snowplow_tracker.protocol.payload import Payload
from tests.capture import Capture
from tests.schema_validation import validate_event

pytestmark = pytest.mark.usefixtures("restore_contracts")

U = "iglu:com.acme/x/jsonschema/1-0-0"
UUID = "9c65e7f3-8e8e-4d2b-a7d6-6d1c3b2b8f1e"
HUGE = 10**5000  # more digits than int -> str conversion allows (4300)
BEYOND_DOUBLE = 2**1024  # math.isfinite() raised OverflowError


@pytest.fixture
def capture() -> Capture:
    return Capture()


@pytest.fixture
def tracker(capture: Capture) -> Tracker:
    return Tracker(capture, namespace="ns", app_id="app")


def refused(
    call: Callable[[], Any], error: type, starts: str, capture: Capture | None = None
) -> str:
    """Run ``call``; assert it raised ``error`` (a library error) whose message starts with
    ``starts``, and that nothing was queued. Return the message."""
    with pytest.raises(SnowplowError) as info:
        call()
    assert type(info.value) is error, repr(info.value)
    message = str(info.value)
    assert message.startswith(starts), message
    if capture is not None:
        assert capture.events == []
    return message


# --------------------------------------------------------------------- lone surrogates


@pytest.mark.parametrize(
    ("call", "error", "starts"),
    [
        (
            lambda t: t.track_self_describing_event(SelfDescribingJson(U, {"x": "\ud800"})),
            EncodingError,
            "Tracker.track_self_describing_event: argument 'event_json' cannot be serialised",
        ),
        (
            lambda t: t.track_page_view("u", context=[SelfDescribingJson(U, {"x": "\udfff"})]),
            EncodingError,
            "Tracker.track_page_view: argument 'context' cannot be serialised",
        ),
        (
            lambda t: t.track_link_click("\ud800"),
            ValidationError,
            "Tracker.track_link_click: argument 'target_url' must be a string of Unicode text",
        ),
        (
            lambda t: t.track_link_click("u", element_classes=["a", "\ud800"]),
            ValidationError,
            "Tracker.track_link_click: argument 'element_classes[1]' must be a string of Unicode",
        ),
        (
            lambda t: t.track_screen_view("\ud800"),
            ValidationError,
            "Tracker.track_screen_view: argument 'name' must be a string of Unicode text",
        ),
        (
            lambda t: t.track_page_view("u", page_title="caf\u00e9 \ud800"),
            ValidationError,
            "Tracker.track_page_view: argument 'page_title' must be a string of Unicode text",
        ),
        (
            lambda t: t.track_struct_event("c\ud800", "a"),
            ValidationError,
            "Tracker.track_struct_event: argument 'category' must be a string of Unicode text",
        ),
        (
            lambda t: t.track_site_search(["t"], filters={"k": "\ud800"}),
            ValidationError,
            "Tracker.track_site_search: argument 'filters['k']' must be a string of Unicode",
        ),
        (
            lambda t: t.track_site_search(["t"], filters={"\ud800": True}),
            ValidationError,
            "Tracker.track_site_search: argument 'filters key' must be a string of Unicode",
        ),
        (
            lambda t: t.track_form_submit(
                "f", elements=[{"name": "\ud800", "value": None, "nodeName": "INPUT"}]
            ),
            ValidationError,
            "Tracker.track_form_submit: argument 'elements[0]['name']' must be a string of",
        ),
    ],
)
def test_a_lone_surrogate_raises_the_library_error_naming_the_argument(
    tracker: Tracker, capture: Capture, call: Callable[[Tracker], Any], error: type, starts: str
) -> None:
    refused(lambda: call(tracker), error, starts, capture)


def test_a_lone_surrogate_in_a_subject_field_is_refused_by_its_setter() -> None:
    refused(
        lambda: Subject().set_user_id("\ud800"),
        ValidationError,
        "Subject.set_user_id: argument 'user_id' must be a string of Unicode text",
    )


def test_non_ascii_text_is_still_accepted_and_valid(tracker: Tracker, capture: Capture) -> None:
    tracker.track_page_view("https://example.com/caf\u00e9", page_title="\u2713 \U0001f600")
    tracker.track_link_click("https://x/\u00e9", element_classes=["\u00e9"])
    tracker.track_ecommerce_transaction(
        "o", 1, items=[{"sku": "\u00e9", "price": 1, "quantity": 1, "name": "\U0001f600"}]
    )
    assert len(capture.events) == 4
    for event in capture.events:
        validate_event(event)


# --------------------------------------------------------------------- a transaction is one unit


ITEMS_WITH_A_SURROGATE: List[Dict[str, Any]] = [
    {"sku": "s1", "price": 1, "quantity": 1},
    {"sku": "s2", "price": 2, "quantity": 1, "name": "\ud800"},
]


def test_a_transaction_with_a_bad_second_item_sends_nothing(
    tracker: Tracker, capture: Capture
) -> None:
    refused(
        lambda: tracker.track_ecommerce_transaction("o-1", 10, items=ITEMS_WITH_A_SURROGATE),
        ValidationError,
        "Tracker.track_ecommerce_transaction: argument 'items[1]['name']' must be a string of",
        capture,
    )


def test_with_contracts_off_a_transaction_that_cannot_encode_still_sends_nothing(
    tracker: Tracker, capture: Capture
) -> None:
    contracts.disable_contracts()
    refused(
        lambda: tracker.track_ecommerce_transaction("o-1", 10, items=ITEMS_WITH_A_SURROGATE),
        EncodingError,
        "Tracker.track_ecommerce_transaction: argument 'items[1]' cannot be encoded",
        capture,
    )


# --------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("call", "starts"),
    [
        (
            lambda t: t.track_struct_event("c", "a", value=HUGE),
            "Tracker.track_struct_event: argument 'value' must be a finite number",
        ),
        (
            lambda t: t.track_struct_event("c", "a", value=BEYOND_DOUBLE),
            "Tracker.track_struct_event: argument 'value' must be a finite number",
        ),
        (
            lambda t: t.track_ecommerce_transaction("o", HUGE),
            "Tracker.track_ecommerce_transaction: argument 'total_value' must be a finite",
        ),
        (
            lambda t: t.track_ecommerce_transaction(
                "o", 1, items=[{"sku": "s", "price": HUGE, "quantity": 1}]
            ),
            "Tracker.track_ecommerce_transaction: argument 'items[0]['price']' must be a finite",
        ),
        (
            lambda t: t.track_add_to_cart("s", HUGE),
            "Tracker.track_add_to_cart: argument 'quantity' must be a finite number",
        ),
        (
            lambda t: t.track_remove_from_cart("s", 1, unit_price=-BEYOND_DOUBLE),
            "Tracker.track_remove_from_cart: argument 'unit_price' must be a finite number",
        ),
        (
            lambda t: t.track_page_view("u", tstamp=BEYOND_DOUBLE),
            "Tracker.track_page_view: argument 'tstamp' must be a positive number",
        ),
        (
            lambda t: t.track_ecommerce_transaction("o", 1, tstamp=BEYOND_DOUBLE),
            "Tracker.track_ecommerce_transaction: argument 'tstamp' must be a positive number",
        ),
    ],
)
def test_an_int_beyond_a_double_raises_the_library_error_naming_the_argument(
    tracker: Tracker, capture: Capture, call: Callable[[Tracker], Any], starts: str
) -> None:
    message = refused(lambda: call(tracker), ValidationError, starts, capture)
    assert "at most 1.8e308" in message or "milliseconds" in message


def test_the_largest_double_is_still_a_number(tracker: Tracker, capture: Capture) -> None:
    tracker.track_struct_event("c", "a", value=int(1.7976931348623157e308))
    tracker.track_add_to_cart("s", 2**64)  # beyond orjson's integers: written exactly
    assert len(capture.events) == 2
    for event in capture.events:
        validate_event(event)


def test_a_huge_int_in_an_error_message_is_described_by_its_size() -> None:
    message = refused(
        lambda: StructuredEvent("c", "a", value=HUGE),
        ValidationError,
        "StructuredEvent: argument 'value' must be a finite number",
    )
    assert message.endswith("got <int of 16610 bits>")


def test_an_event_class_refuses_an_int_beyond_a_double() -> None:
    refused(
        lambda: StructuredEvent("c", "a", value=BEYOND_DOUBLE),
        ValidationError,
        "StructuredEvent: argument 'value' must be a finite number",
    )


# --------------------------------------------------------------------- 1.x event classes


def test_an_event_context_that_is_one_entity_not_a_list_is_refused() -> None:
    refused(
        lambda: PageView("u", context=SelfDescribingJson(U, {})),  # type: ignore[arg-type]
        ValidationError,
        "PageView: argument 'context' must be a list of SelfDescribingJson",
    )


def test_an_event_context_entity_that_is_no_self_describing_json_is_refused() -> None:
    refused(
        lambda: PagePing("u", context=[{"schema": U, "data": {}}]),  # type: ignore[list-item]
        ValidationError,
        "PagePing: argument 'context[0]' must be a SelfDescribingJson",
    )


@pytest.mark.parametrize(
    ("dict_", "starts"),
    [
        ([("e", "pv")], "Event: argument 'dict_' must be a dict"),
        ({1: "pv"}, "Event: argument 'dict_' must be a dict keyed by non-empty strings"),
        ({"e": "\ud800"}, "Event: argument 'dict_['e']' must be a string of Unicode text"),
        ({"e": HUGE}, "Event: argument 'dict_['e']' must be a value that str() turns into"),
    ],
)
def test_a_bare_event_refuses_fields_it_cannot_send(dict_: Any, starts: str) -> None:
    refused(lambda: Event(dict_=dict_), ValidationError, starts)


def test_payload_add_dict_refuses_what_is_no_mapping() -> None:
    refused(
        lambda: Payload(dict_=[("e", "pv")]),  # type: ignore[arg-type]
        ValidationError,
        "Payload.add_dict: argument 'dict_' must be a dict",
    )


def test_tracking_what_is_no_event_names_the_argument(tracker: Tracker, capture: Capture) -> None:
    refused(
        lambda: tracker.track("page_view"),  # type: ignore[arg-type]
        ValidationError,
        "Tracker.track: argument 'event' must be an event object",
        capture,
    )


def test_an_event_class_names_true_timestamp_not_tstamp(tracker: Tracker, capture: Capture) -> None:
    refused(
        lambda: PageView("u", true_timestamp="x"),  # type: ignore[arg-type]
        ValidationError,
        "PageView: argument 'true_timestamp' must be a positive number",
    )
    event = PageView("u")
    event.true_timestamp = "x"  # type: ignore[assignment]
    refused(
        lambda: tracker.track(event),
        ValidationError,
        "PageView: argument 'true_timestamp' must be a positive number",
        capture,
    )


# --------------------------------------------------------------------- what the schemas impose


@pytest.mark.parametrize(
    "call",
    [
        lambda t, sid: t.track_mobile_screen_view("n", id_=sid),
        lambda t, sid: t.track_mobile_screen_view("n", previous_id=sid),
        lambda t, sid: t.track(ScreenView(sid, "n")),
    ],
)
def test_a_uuid_with_a_trailing_newline_is_refused(
    tracker: Tracker, capture: Capture, call: Callable[[Tracker, str], Any]
) -> None:
    with pytest.raises(ValidationError, match="must be a UUID string"):
        call(tracker, str(uuid.uuid4()) + "\n")
    assert capture.events == []


def test_a_domain_session_id_with_a_trailing_newline_is_refused() -> None:
    refused(
        lambda: Subject().set_domain_session_id(UUID + "\n"),
        ValidationError,
        "Subject.set_domain_session_id: argument 'sid' must be a UUID string",
    )


LONG_ID = "f" * 4097
LONG_VALUE = "v" * 65536


@pytest.mark.parametrize(
    ("call", "starts"),
    [
        (
            lambda t: t.track_form_submit("f" * 5000),
            "Tracker.track_form_submit: argument 'form_id' must be a string of at most 4096",
        ),
        (
            lambda t: t.track_form_submit("f", form_classes=["c", LONG_ID]),
            "Tracker.track_form_submit: argument 'form_classes[1]' must be a string of at most",
        ),
        (
            lambda t: t.track_form_submit(
                "f", elements=[{"name": LONG_VALUE, "value": None, "nodeName": "INPUT"}]
            ),
            "Tracker.track_form_submit: argument 'elements[0]['name']' must be a string of at",
        ),
        (
            lambda t: t.track_form_submit(
                "f", elements=[{"name": "n", "value": LONG_VALUE, "nodeName": "INPUT"}]
            ),
            "Tracker.track_form_submit: argument 'elements[0]['value']' must be a string of at",
        ),
        (
            lambda t: t.track_form_change(LONG_ID, "e", "INPUT", "v"),
            "Tracker.track_form_change: argument 'form_id' must be a string of at most 4096",
        ),
        (
            lambda t: t.track_form_change("f", LONG_ID, "INPUT", "v"),
            "Tracker.track_form_change: argument 'element_id' must be a string of at most 4096",
        ),
        (
            lambda t: t.track_form_change("f", "e", "INPUT", LONG_VALUE),
            "Tracker.track_form_change: argument 'value' must be a string of at most 65535",
        ),
        (
            lambda t: t.track_form_change("f", "e", "INPUT", "v", element_classes=[LONG_ID]),
            "Tracker.track_form_change: argument 'element_classes[0]' must be a string of at",
        ),
        (
            lambda t: t.track_form_submit(
                "f", elements=[{"name": "n", "value": "v", "nodeName": "INPUT", "type": None}]
            ),
            "Tracker.track_form_submit: argument 'elements[0]['type']' must be an HTML input",
        ),
    ],
)
def test_the_form_schemas_limits_are_checked(
    tracker: Tracker, capture: Capture, call: Callable[[Tracker], Any], starts: str
) -> None:
    refused(lambda: call(tracker), ValidationError, starts, capture)


def test_form_values_at_the_schemas_limits_are_sent_and_valid(
    tracker: Tracker, capture: Capture
) -> None:
    at_id, at_value = "f" * 4096, "v" * 65535
    tracker.track_form_submit(
        at_id,
        form_classes=[at_id],
        elements=[
            {"name": at_value, "value": at_value, "nodeName": "TEXTAREA"},
            {"name": "n", "value": None, "nodeName": "INPUT", "type": "text"},
        ],
    )
    tracker.track_form_change(at_id, at_id, "INPUT", at_value, element_classes=[at_id])
    assert len(capture.events) == 2
    for event in capture.events:
        validate_event(event)


@pytest.mark.parametrize("arg", ["namespace", "app_id"])
def test_a_tracker_refuses_a_namespace_or_app_id_no_event_could_carry(arg: str) -> None:
    from snowplow_tracker.errors import ConfigurationError

    refused(
        lambda: Tracker(Capture(), **{arg: "\ud800"}),
        ConfigurationError,
        f"Tracker: argument '{arg}' must be a string of Unicode text",
    )


class _Overriding(Tracker):
    """A 1.x-style subclass: the self-describing kinds then go through its override."""

    def track_self_describing_event(self, *args: Any, **kwargs: Any) -> Tracker:
        return super().track_self_describing_event(*args, **kwargs)


@pytest.mark.parametrize(
    ("call", "starts"),
    [
        (
            lambda t: t.track_link_click("u", element_classes=["\ud800"]),
            "Tracker.track_link_click: argument 'element_classes[0]' must be a string of Unicode",
        ),
        (
            lambda t: t.track_site_search(["\ud800"]),
            "Tracker.track_site_search: argument 'terms[0]' must be a string of Unicode",
        ),
        (
            lambda t: t.track_add_to_cart("s", 1, unit_price=HUGE),
            "Tracker.track_add_to_cart: argument 'unit_price' must be a finite number",
        ),
    ],
)
def test_data_that_cannot_encode_is_named_on_every_path(
    call: Callable[[Tracker], Any], starts: str
) -> None:
    """The fast path leaves what orjson refuses (lone surrogates, huge ints in event data) to
    orjson, then names the argument; so do a subclass's route and the 1.x event classes."""
    for cls in (Tracker, _Overriding):
        capture = Capture()
        refused(lambda: call(cls(capture)), ValidationError, starts, capture)  # noqa: B023
    refused(
        lambda: Tracker(Capture()).track(ScreenView(None, "n\ud800")),
        ValidationError,
        "ScreenView: argument 'name' must be a string of Unicode text",
    )


def test_combine_subject_refuses_what_is_no_subject() -> None:
    refused(
        lambda: Subject().combine_subject("web"),  # type: ignore[arg-type]
        ValidationError,
        "Subject.combine_subject: argument 'subject' must be a Subject or None",
    )
