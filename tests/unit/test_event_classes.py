"""The 1.x event classes and ``Tracker.track``: one table, two front doors, identical payloads."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List, Tuple

import pytest

from snowplow_tracker.errors import ValidationError
from snowplow_tracker.events import (
    Event,
    PagePing,
    PageView,
    ScreenView,
    SelfDescribing,
    StructuredEvent,
)
from snowplow_tracker.protocol import contracts
from snowplow_tracker.protocol.self_describing_json import SelfDescribingJson
from snowplow_tracker.subject import Subject
from snowplow_tracker.tracker import Tracker
from tests.capture import Capture

UUID_A = "7f8a0c9e-1b2c-4d3e-8f90-a1b2c3d4e5f6"
CTX = [SelfDescribingJson("iglu:com.acme/ctx/jsonschema/1-0-0", {"a": 1})]
EV = SelfDescribingJson("iglu:com.acme/ev/jsonschema/1-0-0", {"b": 2})
TSTAMP = 1600000000123


pytestmark = pytest.mark.usefixtures("restore_contracts")


def _common() -> Dict[str, Any]:
    return {"event_subject": Subject().set_user_id("u2")}


# (event object, the matching track_* call)
PAIRS: List[Tuple[str, Callable[[], Event], Callable[[Tracker], Any]]] = [
    (
        "page_view",
        lambda: PageView("http://x/", "T", "http://r/", context=CTX, true_timestamp=TSTAMP),
        lambda t: t.track_page_view("http://x/", "T", "http://r/", context=CTX, tstamp=TSTAMP),
    ),
    (
        "page_ping",
        lambda: PagePing("http://x/", None, None, 0, 1, 2, 3, context=CTX),
        lambda t: t.track_page_ping("http://x/", None, None, 0, 1, 2, 3, context=CTX),
    ),
    (
        "struct_event",
        lambda: StructuredEvent("c", "a", "l", "p", 2.5, **_common()),
        lambda t: t.track_struct_event("c", "a", "l", "p", 2.5, **_common()),
    ),
    (
        "self_describing_event",
        lambda: SelfDescribing(EV, context=CTX, true_timestamp=TSTAMP),
        lambda t: t.track_self_describing_event(EV, context=CTX, tstamp=TSTAMP),
    ),
    (
        "mobile_screen_view",
        lambda: ScreenView(UUID_A, "home", "feed", previous_name="start"),
        lambda t: t.track_mobile_screen_view("home", UUID_A, "feed", previous_name="start"),
    ),
]


def _without_ids(p: Dict[str, str]) -> Dict[str, str]:
    return {k: v for k, v in p.items() if k not in ("eid", "dtm")}


@pytest.mark.parametrize("encode_base64", [True, False])
@pytest.mark.parametrize(("name", "make", "call"), PAIRS, ids=[p[0] for p in PAIRS])
def test_event_class_and_track_method_send_identical_payloads(
    name: str, make: Callable[[], Event], call: Callable[[Tracker], Any], encode_base64: bool
) -> None:
    """tracker.track(Event(...)) and tracker.track_<kind>(...) hand emitters the same dict."""
    capture = Capture()
    subject = Subject().set_user_id("u1").set_lang("en")
    t = Tracker(capture, subject=subject, namespace="ns", app_id="app", encode_base64=encode_base64)
    eid = t.track(make())
    call(t)
    by_class, by_method = capture.events
    assert by_class["eid"] == eid
    assert list(by_class) == list(by_method)
    assert _without_ids(by_class) == _without_ids(by_method)


def test_track_returns_the_event_id_and_the_payload_has_every_common_field() -> None:
    """track() returns the eid it sent; dtm, tv, tna and the subject are there."""
    capture = Capture()
    eid = Tracker("ns", capture).track(StructuredEvent("c", "a"))
    sent = capture.events[0]
    assert sent["eid"] == eid and len(eid) == 36
    assert sent["tna"] == "ns" and sent["p"] == "pc" and sent["dtm"].isdigit()


def test_bare_event_sends_its_dict_fields_and_contexts() -> None:
    """Event(dict_=...) sends its fields as strings, with ttm and contexts."""
    capture = Capture()
    Tracker(capture, encode_base64=False).track(
        Event(dict_={"e": "pv", "url": "http://x/", "n": 3}, context=CTX, true_timestamp=5)
    )
    sent = capture.events[0]
    assert (sent["e"], sent["url"], sent["n"], sent["ttm"]) == ("pv", "http://x/", "3", "5")
    assert '"schema":"iglu:com.acme/ctx/jsonschema/1-0-0"' in sent["co"]


def test_properties_read_back_and_setters_check_the_described_rule() -> None:
    """Setting page_url to '' raises the described contract's error naming the class."""
    pv = PageView("http://x/")
    pv.page_title = "T"
    assert (pv.page_url, pv.page_title, pv.referrer) == ("http://x/", "T", None)
    with pytest.raises(ValidationError) as info:
        pv.page_url = ""
    assert str(info.value) == "PageView: argument 'page_url' must be a non-empty string, got ''"


def test_an_event_changed_after_construction_is_checked_when_tracked() -> None:
    """With checks off at construction and on at track time, track() refuses; nothing sent."""
    contracts.disable_contracts()
    se = StructuredEvent("", "a")
    contracts.enable_contracts()
    capture = Capture()
    with pytest.raises(ValidationError, match="StructuredEvent: argument 'category'"):
        Tracker(capture).track(se)
    assert capture.events == []


def test_build_payload_is_the_event_part_without_ids() -> None:
    """build_payload() gives e, the fields, contexts, ttm and subject; no eid/dtm/tv."""
    pairs = (
        StructuredEvent("c", "a", value=1, true_timestamp=7, event_subject=Subject())
        .build_payload(encode_base64=False, json_encoder=None)
        .nv_pairs
    )
    assert pairs == {"e": "se", "se_ca": "c", "se_ac": "a", "se_va": "1", "ttm": "7", "p": "pc"}


def test_event_properties_of_1x() -> None:
    """context defaults to [], true_timestamp and event_subject are read/write attributes."""
    s = Subject()
    e = Event()
    assert (e.context, e.true_timestamp, e.event_subject, e.payload.nv_pairs) == (
        [],
        None,
        None,
        {},
    )
    e.context, e.true_timestamp, e.event_subject = CTX, 1.0, s
    assert (e.context, e.true_timestamp, e.event_subject) == (CTX, 1.0, s)


class RecordingTracker(Tracker):
    """A 1.x-style subclass that overrides track() (e.g. to add a context to every event)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: List[Event] = []

    def track(self, event: Event) -> str:
        self.seen.append(event)
        return super().track(event)


class SdjTracker(Tracker):
    """A 1.x-style subclass that overrides track_self_describing_event()."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: List[Dict[str, Any]] = []

    def track_self_describing_event(self, *args: Any, **kwargs: Any) -> Tracker:  # type: ignore[override]
        self.calls.append(kwargs)
        return self


@pytest.mark.parametrize(("name", "make", "call"), PAIRS, ids=[p[0] for p in PAIRS])
def test_an_overridden_track_sees_every_event_with_the_same_payload(
    name: str, make: Callable[[], Event], call: Callable[[Tracker], Any]
) -> None:
    """As in 1.x, track_<kind> goes through an overridden track(event=...); payload unchanged."""
    capture = Capture()
    t = RecordingTracker(capture, namespace="ns")
    assert call(t) is t
    t.track(make())
    assert [type(e) for e in t.seen] == [type(make())] * 2
    by_method, by_class = capture.events
    assert _without_ids(by_method) == _without_ids(by_class)


def test_an_overridden_track_self_describing_event_receives_the_built_event_json() -> None:
    """track_link_click calls an overridden track_self_describing_event with the 1.x kwargs."""
    t = SdjTracker(Capture())
    t.track_link_click("http://x/", element_classes=["a"], context=CTX, tstamp=TSTAMP)
    (kwargs,) = t.calls
    assert kwargs["event_json"].to_json() == {
        "schema": "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1",
        "data": {"targetUrl": "http://x/", "elementClasses": ["a"]},
    }
    assert (kwargs["context"], kwargs["tstamp"], kwargs["event_subject"]) == (CTX, TSTAMP, None)


def test_a_routed_call_is_still_checked() -> None:
    """Through the route, a bad argument is refused before the override is called."""
    t = SdjTracker(Capture())
    with pytest.raises(ValidationError, match=r"Tracker\.track_link_click: argument 'target_url'"):
        t.track_link_click("")
    assert t.calls == []


def test_an_overridden_track_sees_the_transaction_and_each_item() -> None:
    """track_ecommerce_transaction goes through track() once per event, payloads unchanged."""
    items = [
        {"sku": "s1", "price": 1.5, "quantity": 2, "context": CTX},
        {"sku": "s2", "price": 3, "quantity": 1, "name": "n"},
    ]

    def send(t: Tracker) -> None:
        t.track_ecommerce_transaction("o1", 6, currency="EUR", items=items, context=CTX, tstamp=7)
        t.track_ecommerce_transaction_item("o2", "s3", 1, 1)

    plain, routed = Capture(), Capture()
    send(Tracker(plain, namespace="ns"))
    recording = RecordingTracker(routed, namespace="ns")
    send(recording)
    assert len(recording.seen) == 4
    assert [_without_ids(p) for p in routed.events] == [_without_ids(p) for p in plain.events]


def test_a_routed_transaction_checks_every_item_before_sending() -> None:
    """A bad item is refused before the transaction reaches the overridden track()."""
    capture = Capture()
    t = RecordingTracker(capture)
    with pytest.raises(ValidationError, match=r"argument 'items\[1\]\['sku'\]'"):
        t.track_ecommerce_transaction("o", 1, items=[{"sku": "a", "price": 1, "quantity": 1}, {}])
    assert (t.seen, capture.events) == ([], [])


_COMMON_1X = "event_subject=None, context=None, true_timestamp=None"


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (PageView, "page_url, page_title=None, referrer=None"),
        (
            PagePing,
            "page_url, page_title=None, referrer=None, min_x=None, max_x=None, min_y=None, "
            "max_y=None",
        ),
        (StructuredEvent, "category, action, label=None, property_=None, value=None"),
        (SelfDescribing, "event_json"),
        (
            ScreenView,
            "id_, name, type=None, previous_name=None, previous_id=None, previous_type=None, "
            "transition_type=None",
        ),
    ],
)
def test_the_generated_classes_take_the_1x_arguments_in_the_1x_order(
    cls: Any, expected: str
) -> None:
    params = inspect.signature(cls).parameters.values()
    shown = [p.name + ("" if p.default is p.empty else f"={p.default!r}") for p in params]
    assert ", ".join(shown) == f"{expected}, {_COMMON_1X}"
    assert inspect.getsource(cls).startswith(f"class {cls.__name__}(Event, ")
    assert "true_timestamp:" in (cls.__doc__ or "")
