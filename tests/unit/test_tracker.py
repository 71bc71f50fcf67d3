"""Tests of snowplow_tracker.tracker.Tracker with in-memory custom emitters.

The emitters here are the documented "custom emitter": any object with an ``input(dict)`` method.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import time
import uuid
import warnings
from typing import Any, Callable, Dict, List, Optional

import pytest

from snowplow_tracker._version import TRACKER_VERSION
from snowplow_tracker.errors import ConfigurationError, EncodingError, ValidationError
from snowplow_tracker.protocol import contracts
from snowplow_tracker.protocol.self_describing_json import SelfDescribingJson
from snowplow_tracker.subject import Subject
from snowplow_tracker.tracker import Tracker, new_event_id
from tests.capture import Capture

pytestmark = pytest.mark.usefixtures("restore_contracts")

CONTEXTS = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
WEB_PAGE = "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"
CUSTOM = "iglu:com.acme/save_game/jsonschema/1-0-2"
UUID_A = "7f8a0c9e-1b2c-4d3e-8f90-a1b2c3d4e5f6"
UUID_B = "0f8a0c9e-1b2c-4d3e-8f90-a1b2c3d4e5f6"
TSTAMP = 1600000000123
NON_ASCII = "é ✓ 😀"


@pytest.fixture
def emitter() -> Capture:
    return Capture()


@pytest.fixture
def tracker(emitter: Capture) -> Tracker:
    return Tracker(emitter, namespace="ns", app_id="app")


def ctx(data: Optional[Dict[str, Any]] = None) -> SelfDescribingJson:
    return SelfDescribingJson(WEB_PAGE, data if data is not None else {"id": UUID_A})


def decode(event: Dict[str, str], encoded: str, plain: str) -> Any:
    """Return the JSON of ue_px/ue_pr or cx/co, checking the base64 flavour on the way."""
    if encoded in event:
        assert plain not in event
        text = event[encoded]
        assert "+" not in text and "/" not in text and len(text) % 4 == 0
        return json.loads(base64.urlsafe_b64decode(text).decode("utf-8"))
    return json.loads(event[plain])


def unstruct(event: Dict[str, str]) -> Any:
    envelope = decode(event, "ue_px", "ue_pr")
    assert envelope["schema"] == UNSTRUCT
    return envelope["data"]


def only(emitter: Capture) -> Dict[str, str]:
    assert len(emitter.events) == 1
    return emitter.events[0]


# ============================================================================ construction


def test_a_custom_emitter_with_only_input_receives_events(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.track_page_view("http://example.com/")
    assert only(emitter)["url"] == "http://example.com/"


def test_a_list_of_emitters_each_receive_the_same_event_dict() -> None:
    e1, e2 = Capture(), Capture()
    Tracker([e1, e2]).track_struct_event("c", "a")
    assert len(e1.events) == len(e2.events) == 1
    assert e1.events[0] is e2.events[0]


def test_the_emitter_list_given_is_copied() -> None:
    emitters: List[Any] = [Capture()]
    t = Tracker(emitters)
    emitters.append(Capture())
    assert len(t.emitters) == 1


def test_add_emitter_adds_an_emitter_for_later_events(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_struct_event("c", "first")
    second = Capture()
    assert tracker.add_emitter(second) is tracker
    tracker.track_struct_event("c", "second")
    assert [e["se_ac"] for e in emitter.events] == ["first", "second"]
    assert [e["se_ac"] for e in second.events] == ["second"]


def test_add_emitter_rejects_an_object_without_input(tracker: Tracker) -> None:
    with pytest.raises(ConfigurationError) as info:
        tracker.add_emitter(object())  # type: ignore[arg-type]
    assert str(info.value).startswith(
        "Tracker.add_emitter: argument 'emitter' must be an emitter (an object with an "
        "'input(payload)' method), got <object object at"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"emitters": []},
            "Tracker: argument 'emitters' must be an emitter or a non-empty list of emitters, got "
            "[]",
        ),
        (
            {"emitters": "collector.example.com"},
            "Tracker: argument 'emitters' must be an emitter (an object with an 'input(payload)' "
            "method), got 'collector.example.com'",
        ),
        (
            {"emitters": [Capture(), None]},
            "Tracker: argument 'emitters[1]' must be an emitter (an object with an "
            "'input(payload)' method), got None",
        ),
        (
            {"subject": "user"},
            "Tracker: argument 'subject' must be a Subject or None, got 'user'",
        ),
        ({"namespace": 1}, "Tracker: argument 'namespace' must be a string or None, got 1"),
        ({"app_id": 1}, "Tracker: argument 'app_id' must be a string or None, got 1"),
        (
            {"encode_base64": "yes"},
            "Tracker: argument 'encode_base64' must be True or False, got 'yes'",
        ),
        (
            {"json_encoder": 3},
            "Tracker: argument 'json_encoder' must be a callable or None, got 3",
        ),
    ],
)
def test_constructor_rejects_invalid_arguments(kwargs: Dict[str, Any], message: str) -> None:
    kwargs.setdefault("emitters", Capture())
    with pytest.raises(ConfigurationError) as info:
        Tracker(**kwargs)
    assert str(info.value) == message


def test_constructor_checks_run_even_with_contracts_disabled() -> None:
    contracts.disable_contracts()
    with pytest.raises(ConfigurationError):
        Tracker([])


def test_the_default_subject_is_a_fresh_subject_with_platform_pc(
    tracker: Tracker, emitter: Capture
) -> None:
    assert isinstance(tracker.subject, Subject)
    assert tracker.subject.standard_nv_pairs == {"p": "pc"}
    tracker.track_struct_event("c", "a")
    assert only(emitter)["p"] == "pc"


def test_namespace_app_id_and_standard_pairs_are_exposed(tracker: Tracker) -> None:
    assert tracker.namespace == "ns"
    assert tracker.app_id == "app"
    assert tracker.standard_nv_pairs == {"tv": TRACKER_VERSION, "tna": "ns", "aid": "app"}


def test_tna_and_aid_are_omitted_when_not_configured(emitter: Capture) -> None:
    Tracker(emitter).track_struct_event("c", "a")
    event = only(emitter)
    assert "tna" not in event and "aid" not in event
    assert event["tv"] == "py-0.11.0"


# ============================================================================ subject handling


def test_subject_fields_go_with_every_event(emitter: Capture) -> None:
    s = Subject().set_platform("mob").set_user_id("user-42").set_network_user_id("n")
    Tracker(emitter, subject=s).track_page_view("http://x/").track_struct_event("c", "a")
    for event in emitter.events:
        assert event["p"] == "mob"
        assert event["uid"] == "user-42"
        assert event["tnuid"] == "n"


def test_changes_to_the_subject_after_creating_the_tracker_apply(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.subject.set_platform("srv").set_user_id("later")
    tracker.track_struct_event("c", "a")
    assert only(emitter)["uid"] == "later"
    assert emitter.events[0]["p"] == "srv"


def test_set_subject_replaces_the_subject_and_returns_the_tracker(
    tracker: Tracker, emitter: Capture
) -> None:
    s1 = Subject().set_user_id("one")
    s2 = Subject().set_platform("mob").set_user_id("two")
    tracker.set_subject(s1).track_page_view("http://x/")
    tracker.set_subject(s2).track_page_view("http://x/")
    assert [(e["p"], e["uid"]) for e in emitter.events] == [("pc", "one"), ("mob", "two")]


def test_set_subject_none_installs_a_fresh_subject_so_p_is_still_sent(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.set_subject(Subject().set_user_id("u")).set_subject(None)
    tracker.track_struct_event("c", "a")
    event = only(emitter)
    assert event["p"] == "pc"
    assert "uid" not in event


def test_assigning_the_subject_attribute_uses_set_subject(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.subject = Subject().set_user_id("attr")
    tracker.subject = None  # type: ignore[assignment]
    assert tracker.subject.standard_nv_pairs == {"p": "pc"}


def test_set_subject_rejects_a_non_subject(tracker: Tracker) -> None:
    with pytest.raises(ValidationError) as info:
        tracker.set_subject({"uid": "u"})  # type: ignore[arg-type]
    assert str(info.value) == (
        "Tracker.set_subject: argument 'subject' must be a Subject or None, got {'uid': 'u'}"
    )


def test_event_subject_fields_win_over_the_tracker_subject_for_that_event_only(
    emitter: Capture,
) -> None:
    s = Subject().set_platform("mob").set_user_id("user-42").set_lang("fr").set_timezone("UTC")
    t = Tracker(emitter, subject=s)
    ev_subject = Subject().set_user_id("override-user").set_lang("de")
    t.track_struct_event("c", "with-event-subject", event_subject=ev_subject)
    t.track_struct_event("c", "without")
    first, second = emitter.events
    assert first["uid"] == "override-user"
    assert first["lang"] == "de"
    assert first["tz"] == "UTC"
    # unlike tracker 1.1.0, a fresh event Subject's default p=pc does not replace "mob"
    assert first["p"] == "mob"
    assert (second["uid"], second["lang"], second["p"]) == ("user-42", "fr", "mob")
    assert s.standard_nv_pairs["uid"] == "user-42"


def test_event_subject_platform_wins_when_set_explicitly(emitter: Capture) -> None:
    t = Tracker(emitter, subject=Subject().set_platform("mob"))
    t.track_page_view("http://x/", event_subject=Subject().set_platform("web"))
    assert only(emitter)["p"] == "web"


# ============================================================================ common fields


def test_every_event_carries_e_eid_dtm_tv_tna_aid_and_p(tracker: Tracker, emitter: Capture) -> None:
    before = int(time.time() * 1000)
    tracker.track_struct_event("c", "a")
    after = int(time.time() * 1000)
    event = only(emitter)
    assert event["e"] == "se"
    assert event["tv"] == TRACKER_VERSION
    assert event["tna"] == "ns"
    assert event["aid"] == "app"
    assert event["p"] == "pc"
    assert before <= int(event["dtm"]) <= after
    assert "ttm" not in event
    assert "stm" not in event
    uuid.UUID(event["eid"])


def test_every_value_handed_to_emitters_is_a_non_empty_str(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.subject.set_screen_resolution(1, 2).set_color_depth(24).set_domain_session_index(3)
    tracker.track_page_ping("http://x/", min_x=0, max_x=1, min_y=2, max_y=3)
    tracker.track_struct_event("c", "a", value=0)
    tracker.track_ecommerce_transaction(
        "o", 1, tax_value=0.5, items=[{"sku": "s", "price": 1, "quantity": 2}]
    )
    for event in emitter.events:
        for key, value in event.items():
            assert type(key) is str
            assert type(value) is str and value != "", (key, value)


def test_tstamp_is_sent_as_ttm_in_integer_milliseconds_and_dtm_is_still_now(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.track_struct_event("c", "a", tstamp=TSTAMP)
    tracker.track_struct_event("c", "a", tstamp=1600000000123.9)
    first, second = emitter.events
    assert first["ttm"] == "1600000000123"
    assert second["ttm"] == "1600000000123"
    assert int(first["dtm"]) > TSTAMP


def test_eid_is_a_version_4_rfc_4122_uuid(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_struct_event("c", "a")
    eid = only(emitter)["eid"]
    parsed = uuid.UUID(eid)
    assert parsed.version == 4
    assert parsed.variant == uuid.RFC_4122
    assert str(parsed) == eid


def test_eid_is_unique_over_10000_events(tracker: Tracker, emitter: Capture) -> None:
    for _ in range(10_000):
        tracker.track_struct_event("c", "a")
    eids = [e["eid"] for e in emitter.events]
    assert len(set(eids)) == 10_000


def test_new_event_id_sets_version_and_variant_bits_on_every_call() -> None:
    for _ in range(2000):
        value = new_event_id()
        assert value[14] == "4"
        assert value[19] in "89ab"
        assert uuid.UUID(value).version == 4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_event_ids_differ_between_a_parent_and_its_forked_children() -> None:
    def child_id() -> str:
        read_fd, write_fd = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.write(write_fd, new_event_id().encode())
            os._exit(0)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as pipe:
            value = pipe.read().decode()
        os.waitpid(pid, 0)
        return value

    first, second = child_id(), child_id()
    assert len({first, second, new_event_id()}) == 3


def test_get_uuid_and_get_timestamp_static_helpers() -> None:
    assert uuid.UUID(Tracker.get_uuid()).version == 4
    assert Tracker.get_timestamp(1600000000123.9) == 1600000000123
    assert abs(Tracker.get_timestamp() - time.time() * 1000) < 5000


# ============================================================================ return values


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.track_page_view("http://x/"),
        lambda t: t.track_page_ping("http://x/"),
        lambda t: t.track_link_click("http://x/"),
        lambda t: t.track_add_to_cart("sku", 1),
        lambda t: t.track_remove_from_cart("sku", 1),
        lambda t: t.track_form_change("f", "e", "INPUT", "v"),
        lambda t: t.track_form_submit("f"),
        lambda t: t.track_site_search(["q"]),
        lambda t: t.track_ecommerce_transaction("o", 1),
        lambda t: t.track_ecommerce_transaction_item("o", "s", 1, 1),
        lambda t: t.track_screen_view("home"),
        lambda t: t.track_mobile_screen_view("home"),
        lambda t: t.track_struct_event("c", "a"),
        lambda t: t.track_unstruct_event(SelfDescribingJson(CUSTOM, {})),
        lambda t: t.track_self_describing_event(SelfDescribingJson(CUSTOM, {})),
        lambda t: t.set_subject(Subject()),
        lambda t: t.flush(),
    ],
)
def test_methods_return_the_tracker_for_chaining(
    tracker: Tracker, call: Callable[[Tracker], Any]
) -> None:
    assert call(tracker) is tracker


def test_documented_chain_works(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_page_view("http://www.example.com").track_screen_view("title screen")
    assert [e["e"] for e in emitter.events] == ["pv", "ue"]


# ============================================================================ event kinds


def test_track_page_view_fields(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_page_view("http://x/?a=1&b=c d", "Title é✓", "http://r/")
    event = only(emitter)
    assert (event["e"], event["url"], event["page"], event["refr"]) == (
        "pv",
        "http://x/?a=1&b=c d",
        "Title é✓",
        "http://r/",
    )


def test_track_page_view_omits_missing_optional_fields(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_page_view("http://x/", None, "")
    event = only(emitter)
    assert "page" not in event and "refr" not in event


def test_track_page_ping_fields_keep_zero_offsets(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_page_ping("http://x/", "t", "http://r/", 0, 100, 5, 500)
    event = only(emitter)
    assert event["e"] == "pp"
    assert (event["pp_mix"], event["pp_max"], event["pp_miy"], event["pp_may"]) == (
        "0",
        "100",
        "5",
        "500",
    )
    assert (event["url"], event["page"], event["refr"]) == ("http://x/", "t", "http://r/")


def test_track_page_ping_omits_missing_offsets(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_page_ping("http://x/")
    assert not any(k.startswith("pp_") for k in only(emitter))


def test_track_struct_event_fields(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_struct_event("shop", "add-to-basket", "dog-video", "hd", 13.99)
    event = only(emitter)
    assert (event["e"], event["se_ca"], event["se_ac"], event["se_la"], event["se_pr"]) == (
        "se",
        "shop",
        "add-to-basket",
        "dog-video",
        "hd",
    )
    assert event["se_va"] == "13.99"


@pytest.mark.parametrize(
    ("value", "text"), [(2.5, "2.5"), (2, "2"), (0, "0"), (-1, "-1"), (0.0, "0.0")]
)
def test_track_struct_event_value_is_sent_as_a_string(
    tracker: Tracker, emitter: Capture, value: float, text: str
) -> None:
    tracker.track_struct_event("c", "a", value=value)
    assert only(emitter)["se_va"] == text


def test_track_struct_event_omits_missing_optional_fields(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.track_struct_event("c", "a", None, "")
    event = only(emitter)
    assert not {"se_la", "se_pr", "se_va"} & set(event)


def test_track_struct_event_documented_positional_tstamp(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.track_struct_event("some cat", "save action", None, None, None, None, 1368725287000)
    assert only(emitter)["ttm"] == "1368725287000"


def test_track_self_describing_event_wraps_the_event_in_unstruct_event(
    tracker: Tracker, emitter: Capture
) -> None:
    data = {"save_id": "4321", "level": 23, "difficultyLevel": "HARD", "dl_content": True}
    tracker.track_self_describing_event(SelfDescribingJson(CUSTOM, data))
    event = only(emitter)
    assert event["e"] == "ue"
    assert unstruct(event) == {"schema": CUSTOM, "data": data}


def test_track_unstruct_event_is_the_same_event(tracker: Tracker, emitter: Capture) -> None:
    sdj = SelfDescribingJson(CUSTOM, {"a": 1})
    tracker.track_unstruct_event(sdj).track_self_describing_event(sdj)
    first, second = emitter.events
    assert first["ue_px"] == second["ue_px"]


def test_track_link_click_fields(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_link_click("http://x/t", "lnk", ["a", "b"], "_blank", "go")
    assert unstruct(only(emitter)) == {
        "schema": "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1",
        "data": {
            "targetUrl": "http://x/t",
            "elementId": "lnk",
            "elementClasses": ["a", "b"],
            "elementTarget": "_blank",
            "elementContent": "go",
        },
    }


def test_track_link_click_omits_missing_optional_fields(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_link_click("http://x/t")
    assert unstruct(only(emitter))["data"] == {"targetUrl": "http://x/t"}


@pytest.mark.parametrize(
    ("method", "name"),
    [("track_add_to_cart", "add_to_cart"), ("track_remove_from_cart", "remove_from_cart")],
)
def test_track_cart_events_fields(
    tracker: Tracker, emitter: Capture, method: str, name: str
) -> None:
    getattr(tracker, method)("sku-1", 2, "Widget", "tools", 4.75, "EUR")
    assert unstruct(only(emitter)) == {
        "schema": f"iglu:com.snowplowanalytics.snowplow/{name}/jsonschema/1-0-0",
        "data": {
            "sku": "sku-1",
            "quantity": 2,
            "name": "Widget",
            "category": "tools",
            "unitPrice": 4.75,
            "currency": "EUR",
        },
    }


def test_track_add_to_cart_omits_missing_optional_fields(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.track_add_to_cart("sku-1", 1)
    assert unstruct(only(emitter))["data"] == {"sku": "sku-1", "quantity": 1}


def test_track_form_change_fields(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_form_change("f1", "e1", "INPUT", "val", "text", ["k"])
    assert unstruct(only(emitter)) == {
        "schema": "iglu:com.snowplowanalytics.snowplow/change_form/jsonschema/1-0-0",
        "data": {
            "formId": "f1",
            "elementId": "e1",
            "nodeName": "INPUT",
            "value": "val",
            "type": "text",
            "elementClasses": ["k"],
        },
    }


def test_track_form_change_sends_none_value_as_null_and_lower_cases_type(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.track_form_change("f1", "e1", "TEXTAREA", None, type_="TEXT")
    data = unstruct(only(emitter))["data"]
    assert data["value"] is None
    assert data["type"] == "text"
    assert "elementClasses" not in data


def test_track_form_submit_fields(tracker: Tracker, emitter: Capture) -> None:
    elements = [{"name": "n", "value": "v", "nodeName": "INPUT", "type": "text"}]
    tracker.track_form_submit("f1", ["fc"], elements)
    assert unstruct(only(emitter)) == {
        "schema": "iglu:com.snowplowanalytics.snowplow/submit_form/jsonschema/1-0-0",
        "data": {"formId": "f1", "formClasses": ["fc"], "elements": elements},
    }


def test_track_form_submit_omits_an_empty_elements_list(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_form_submit("f1", elements=[])
    assert unstruct(only(emitter))["data"] == {"formId": "f1"}


def test_track_site_search_fields(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_site_search(["a", "b"], {"cat": "x", "inStock": True}, 10, 5)
    assert unstruct(only(emitter)) == {
        "schema": "iglu:com.snowplowanalytics.snowplow/site_search/jsonschema/1-0-0",
        "data": {
            "terms": ["a", "b"],
            "filters": {"cat": "x", "inStock": True},
            "totalResults": 10,
            "pageResults": 5,
        },
    }


def test_track_site_search_keeps_zero_results(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_site_search(("a",), total_results=0)
    assert unstruct(only(emitter))["data"] == {"terms": ["a"], "totalResults": 0}


def test_track_screen_view_uses_the_snowplow_screen_view_schema(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.track_screen_view("HUD > Save Game", "screen23")
    tracker.track_screen_view(id_="only-id")
    first, second = emitter.events
    assert unstruct(first) == {
        "schema": "iglu:com.snowplowanalytics.snowplow/screen_view/jsonschema/1-0-0",
        "data": {"name": "HUD > Save Game", "id": "screen23"},
    }
    assert unstruct(second)["data"] == {"id": "only-id"}


def test_track_mobile_screen_view_fields(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_mobile_screen_view("home", UUID_A, "feed", "splash", UUID_B, "full", "push")
    assert unstruct(only(emitter)) == {
        "schema": "iglu:com.snowplowanalytics.mobile/screen_view/jsonschema/1-0-0",
        "data": {
            "id": UUID_A,
            "name": "home",
            "type": "feed",
            "previousName": "splash",
            "previousId": UUID_B,
            "previousType": "full",
            "transitionType": "push",
        },
    }


def test_track_mobile_screen_view_generates_a_uuid4_id_when_absent(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.track_mobile_screen_view("home").track_mobile_screen_view("home")
    ids = [unstruct(e)["data"]["id"] for e in emitter.events]
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert ids[0] != ids[1]
    assert unstruct(emitter.events[0])["data"] == {"id": ids[0], "name": "home"}


# ============================================================================ ecommerce


def test_track_ecommerce_transaction_item_fields(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_ecommerce_transaction_item(
        "order-789", "2001", 49.99, 1, "Green shoes", "clothing", "GBP"
    )
    event = only(emitter)
    assert {k: event[k] for k in event if k.startswith("ti_") or k == "e"} == {
        "e": "ti",
        "ti_id": "order-789",
        "ti_sk": "2001",
        "ti_pr": "49.99",
        "ti_qu": "1",
        "ti_nm": "Green shoes",
        "ti_ca": "clothing",
        "ti_cu": "GBP",
    }
    assert "ttm" not in event


def test_track_ecommerce_transaction_sends_one_tr_then_one_ti_per_item(
    tracker: Tracker, emitter: Capture
) -> None:
    items = [
        {"sku": "pbz0026", "price": 20, "quantity": 1},
        {"sku": "pbz0038", "price": 15.5, "quantity": 2, "name": "Pizza", "category": "food"},
    ]
    tracker.track_ecommerce_transaction(
        "6a8078be", 35.5, "aff", 3.5, 4, "London", "England", "UK", "GBP", items
    )
    tr, ti1, ti2 = emitter.events
    assert {k: tr[k] for k in tr if k.startswith("tr_") or k == "e"} == {
        "e": "tr",
        "tr_id": "6a8078be",
        "tr_tt": "35.5",
        "tr_af": "aff",
        "tr_tx": "3.5",
        "tr_sh": "4",
        "tr_ci": "London",
        "tr_st": "England",
        "tr_co": "UK",
        "tr_cu": "GBP",
    }
    assert (ti1["e"], ti1["ti_sk"], ti1["ti_pr"], ti1["ti_qu"]) == ("ti", "pbz0026", "20", "1")
    assert "ti_nm" not in ti1
    assert (ti2["ti_sk"], ti2["ti_pr"], ti2["ti_qu"], ti2["ti_nm"], ti2["ti_ca"]) == (
        "pbz0038",
        "15.5",
        "2",
        "Pizza",
        "food",
    )
    for ti in (ti1, ti2):
        assert ti["ti_id"] == "6a8078be"
        assert ti["ti_cu"] == "GBP"
        assert ti["dtm"] == tr["dtm"]
        assert "ttm" not in ti  # unlike tracker 1.1.0, no ttm unless tstamp was given
    assert len({tr["eid"], ti1["eid"], ti2["eid"]}) == 3


def test_track_ecommerce_transaction_shares_tstamp_and_context_with_items(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.track_ecommerce_transaction(
        "o", 10, items=[{"sku": "s", "price": 10, "quantity": 1}], context=[ctx()], tstamp=TSTAMP
    )
    tr, ti = emitter.events
    assert tr["ttm"] == ti["ttm"] == str(TSTAMP)
    assert tr["cx"] == ti["cx"]


def test_transaction_item_context_is_appended_to_the_transaction_context(
    tracker: Tracker, emitter: Capture
) -> None:
    item_ctx = SelfDescribingJson(CUSTOM, {"item": True})
    tracker.track_ecommerce_transaction(
        "o",
        10,
        items=[{"sku": "s", "price": 10, "quantity": 1, "context": [item_ctx]}],
        context=[ctx()],
    )
    tr, ti = emitter.events
    assert [c["schema"] for c in decode(tr, "cx", "co")["data"]] == [WEB_PAGE]
    assert [c["schema"] for c in decode(ti, "cx", "co")["data"]] == [WEB_PAGE, CUSTOM]


def test_track_ecommerce_transaction_never_mutates_the_item_dicts(
    tracker: Tracker, emitter: Capture
) -> None:
    items = [{"sku": "s", "price": 10, "quantity": 1}, {"sku": "t", "price": 2, "quantity": 3}]
    before = copy.deepcopy(items)
    tracker.track_ecommerce_transaction("o", 16, currency="EUR", items=items, tstamp=TSTAMP)
    tracker.track_ecommerce_transaction("o2", 16, currency="USD", items=items)
    assert items == before
    assert [e["ti_id"] for e in emitter.events if e["e"] == "ti"] == ["o", "o", "o2", "o2"]


def test_items_mutated_by_tracker_1_1_0_are_accepted_and_the_transaction_values_win(
    tracker: Tracker, emitter: Capture
) -> None:
    item = {
        "sku": "s",
        "price": 1,
        "quantity": 1,
        "order_id": "old",
        "currency": "XXX",
        "tstamp": 5,
        "event_subject": None,
    }
    tracker.track_ecommerce_transaction("new", 1, currency="EUR", items=[item])
    ti = emitter.events[1]
    assert (ti["ti_id"], ti["ti_cu"]) == ("new", "EUR")
    assert "ttm" not in ti


def test_track_ecommerce_transaction_without_items_sends_only_tr(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.track_ecommerce_transaction("o", 1)
    assert only(emitter)["e"] == "tr"


def test_an_invalid_item_stops_the_whole_transaction_before_anything_is_emitted(
    tracker: Tracker, emitter: Capture
) -> None:
    items = [{"sku": "s", "price": 10, "quantity": 1}, {"sku": "t", "price": "ten", "quantity": 1}]
    with pytest.raises(ValidationError) as info:
        tracker.track_ecommerce_transaction("o", 20, items=items)
    assert str(info.value) == (
        "Tracker.track_ecommerce_transaction: argument 'items[1]['price']' must be a finite "
        "number (int or float, at most 1.8e308 in magnitude), got 'ten'"
    )
    assert emitter.events == []


def test_an_unserialisable_item_context_stops_the_whole_transaction(
    tracker: Tracker, emitter: Capture
) -> None:
    bad = SelfDescribingJson(CUSTOM, {"x": object()})
    items = [
        {"sku": "s", "price": 1, "quantity": 1},
        {"sku": "t", "price": 1, "quantity": 1, "context": [bad]},
    ]
    with pytest.raises(EncodingError):
        tracker.track_ecommerce_transaction("o", 2, items=items)
    assert emitter.events == []


# ============================================================================ contexts


def test_contexts_are_sent_as_cx_in_the_contexts_1_0_1_envelope(
    tracker: Tracker, emitter: Capture
) -> None:
    second = SelfDescribingJson(CUSTOM, {"level": 23})
    tracker.track_page_view("http://x/", context=[ctx(), second])
    event = only(emitter)
    assert "co" not in event
    assert decode(event, "cx", "co") == {
        "schema": CONTEXTS,
        "data": [
            {"schema": WEB_PAGE, "data": {"id": UUID_A}},
            {"schema": CUSTOM, "data": {"level": 23}},
        ],
    }


def test_contexts_are_sent_as_plain_co_when_base64_is_off(emitter: Capture) -> None:
    t = Tracker(emitter, encode_base64=False)
    t.track_struct_event("c", "a", context=[ctx()])
    event = only(emitter)
    assert "cx" not in event
    assert event["co"] == (
        '{"schema":"'
        + CONTEXTS
        + '","data":[{"schema":"'
        + WEB_PAGE
        + '","data":{"id":"'
        + UUID_A
        + '"}}]}'
    )


def test_self_describing_event_is_plain_ue_pr_when_base64_is_off(
    emitter: Capture,
) -> None:
    Tracker(emitter, encode_base64=False).track_link_click("http://x/")
    event = only(emitter)
    assert "ue_px" not in event
    assert json.loads(event["ue_pr"])["data"]["data"] == {"targetUrl": "http://x/"}


def test_encode_base64_can_be_switched_after_construction(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.encode_base64 = False
    tracker.track_struct_event("c", "a", context=[ctx()])
    assert "co" in only(emitter)


def test_no_context_field_without_context(tracker: Tracker, emitter: Capture) -> None:
    tracker.track_struct_event("c", "a").track_struct_event("c", "a", context=None)
    for event in emitter.events:
        assert "cx" not in event and "co" not in event


@pytest.mark.parametrize(
    "call",
    [
        lambda t, c: t.track_page_view("http://x/", context=c),
        lambda t, c: t.track_page_ping("http://x/", context=c),
        lambda t, c: t.track_struct_event("c", "a", context=c),
        lambda t, c: t.track_self_describing_event(SelfDescribingJson(CUSTOM, {}), context=c),
        lambda t, c: t.track_link_click("http://x/", context=c),
        lambda t, c: t.track_add_to_cart("s", 1, context=c),
        lambda t, c: t.track_remove_from_cart("s", 1, context=c),
        lambda t, c: t.track_form_change("f", "e", "INPUT", "v", context=c),
        lambda t, c: t.track_form_submit("f", context=c),
        lambda t, c: t.track_site_search(["q"], context=c),
        lambda t, c: t.track_screen_view("s", context=c),
        lambda t, c: t.track_mobile_screen_view("s", context=c),
        lambda t, c: t.track_ecommerce_transaction_item("o", "s", 1, 1, context=c),
        lambda t, c: t.track_ecommerce_transaction("o", 1, context=c),
    ],
)
def test_every_track_method_sends_its_context(
    tracker: Tracker, emitter: Capture, call: Callable[..., Any]
) -> None:
    call(tracker, [ctx()])
    assert decode(only(emitter), "cx", "co")["data"] == [
        {"schema": WEB_PAGE, "data": {"id": UUID_A}}
    ]


def test_an_empty_context_list_is_rejected(tracker: Tracker, emitter: Capture) -> None:
    with pytest.raises(ValidationError) as info:
        tracker.track_page_view("http://x/", context=[])
    assert str(info.value) == (
        "Tracker.track_page_view: argument 'context' must be a non-empty list of "
        "SelfDescribingJson (or None), got []"
    )
    assert emitter.events == []


def test_a_context_subclass_of_self_describing_json_is_accepted(
    tracker: Tracker, emitter: Capture
) -> None:
    class MyEntity(SelfDescribingJson):
        __slots__ = ()

    tracker.track_struct_event("c", "a", context=(MyEntity(CUSTOM, {"a": 1}),))
    assert decode(only(emitter), "cx", "co")["data"] == [{"schema": CUSTOM, "data": {"a": 1}}]


# ============================================================================ non-ASCII


@pytest.mark.parametrize("encode_base64", [True, False])
def test_non_ascii_survives_unchanged_in_plain_fields_contexts_and_events(
    emitter: Capture, encode_base64: bool
) -> None:
    t = Tracker(emitter, subject=Subject().set_user_id(NON_ASCII), encode_base64=encode_base64)
    t.track_struct_event(NON_ASCII, NON_ASCII, NON_ASCII, context=[ctx({"id": NON_ASCII})])
    t.track_self_describing_event(SelfDescribingJson(CUSTOM, {NON_ASCII: NON_ASCII}))
    se, ue = emitter.events
    assert se["se_ca"] == se["se_ac"] == se["se_la"] == se["uid"] == NON_ASCII
    assert decode(se, "cx", "co")["data"][0]["data"] == {"id": NON_ASCII}
    assert unstruct(ue)["data"] == {NON_ASCII: NON_ASCII}
    if not encode_base64:
        assert NON_ASCII in se["co"]  # raw UTF-8, not \\u escapes
        assert "\\u" not in se["co"]


# ============================================================================ JSON encoding


def test_json_encoder_serialises_unsupported_values(emitter: Capture) -> None:
    t = Tracker(emitter, json_encoder=lambda o: sorted(o) if isinstance(o, set) else repr(o))
    t.track_struct_event("c", "a", context=[ctx({"tags": {"b", "a"}})])
    t.track_self_describing_event(SelfDescribingJson(CUSTOM, {"tags": {"z"}}))
    assert decode(emitter.events[0], "cx", "co")["data"][0]["data"] == {"tags": ["a", "b"]}
    assert unstruct(emitter.events[1])["data"] == {"tags": ["z"]}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda t: t.track_struct_event("c", "a", context=[ctx({"x": {1}})]),
            "Tracker.track_struct_event: argument 'context' cannot be serialised to JSON",
        ),
        (
            lambda t: t.track_page_view("http://x/", context=[ctx({"x": {1}})]),
            "Tracker.track_page_view: argument 'context' cannot be serialised to JSON",
        ),
        (
            lambda t: t.track_self_describing_event(SelfDescribingJson(CUSTOM, {"x": {1}})),
            "Tracker.track_self_describing_event: argument 'event_json' cannot be serialised",
        ),
    ],
)
def test_unserialisable_data_raises_encoding_error_before_any_emitter_is_called(
    tracker: Tracker, emitter: Capture, call: Callable[[Tracker], Any], message: str
) -> None:
    with pytest.raises(EncodingError) as info:
        call(tracker)
    assert str(info.value).startswith(message)
    assert emitter.events == []


def test_non_string_keys_in_context_data_are_written_as_strings(
    tracker: Tracker, emitter: Capture
) -> None:
    tracker.track_struct_event("c", "a", context=[ctx({1: "one"})])
    assert decode(only(emitter), "cx", "co")["data"][0]["data"] == {"1": "one"}


# ============================================================================ emitters


def test_an_exception_from_an_emitter_input_propagates(tracker: Tracker) -> None:
    class Broken:
        def input(self, payload: Dict[str, str]) -> None:
            raise TypeError("cannot serialise")

    tracker.add_emitter(Broken())
    with pytest.raises(TypeError, match="cannot serialise"):
        tracker.track_struct_event("c", "a")


def test_flush_passes_is_async_to_emitters_that_accept_it_and_calls_others_bare() -> None:
    calls: List[Any] = []

    class WithKeyword(Capture):
        def flush(self, is_async: bool = False) -> None:
            calls.append(("keyword", is_async))

    class WithKwargs(Capture):
        def flush(self, **kwargs: Any) -> None:
            calls.append(("kwargs", kwargs))

    class Bare(Capture):
        def flush(self) -> None:
            calls.append(("bare",))

    t = Tracker([WithKeyword(), WithKwargs(), Bare(), Capture()])
    assert t.flush() is t
    t.flush(is_async=True)
    assert calls == [
        ("keyword", False),
        ("kwargs", {"is_async": False}),
        ("bare",),
        ("keyword", True),
        ("kwargs", {"is_async": True}),
        ("bare",),
    ]


def test_flush_handles_a_builtin_callable_without_signature() -> None:
    calls: List[int] = []

    class BuiltinFlush(Capture):
        pass

    e = BuiltinFlush()
    e.flush = calls.clear  # type: ignore[attr-defined]
    Tracker(e).flush()
    assert calls == []


# ============================================================================ validation


@pytest.mark.parametrize(
    ("call", "message"),
    [
        # page view / ping
        (
            lambda t: t.track_page_view(""),
            "Tracker.track_page_view: argument 'page_url' must be a non-empty string, got ''",
        ),
        (
            lambda t: t.track_page_view(None),
            "Tracker.track_page_view: argument 'page_url' must be a non-empty string, got None",
        ),
        (
            lambda t: t.track_page_view("u", 1),
            "Tracker.track_page_view: argument 'page_title' must be a string or None, got 1",
        ),
        (
            lambda t: t.track_page_view("u", referrer=2),
            "Tracker.track_page_view: argument 'referrer' must be a string or None, got 2",
        ),
        (
            lambda t: t.track_page_ping(""),
            "Tracker.track_page_ping: argument 'page_url' must be a non-empty string, got ''",
        ),
        (
            lambda t: t.track_page_ping("u", min_x="1"),
            "Tracker.track_page_ping: argument 'min_x' must be an integer from -2147483648 to "
            "2147483647 or None, got '1'",
        ),
        (
            lambda t: t.track_page_ping("u", max_y=1.5),
            "Tracker.track_page_ping: argument 'max_y' must be an integer from -2147483648 to "
            "2147483647 or None, got 1.5",
        ),
        # struct
        (
            lambda t: t.track_struct_event("", "a"),
            "Tracker.track_struct_event: argument 'category' must be a non-empty string, got ''",
        ),
        (
            lambda t: t.track_struct_event(None, "a"),
            "Tracker.track_struct_event: argument 'category' must be a non-empty string, got None",
        ),
        (
            lambda t: t.track_struct_event("c", ""),
            "Tracker.track_struct_event: argument 'action' must be a non-empty string, got ''",
        ),
        (
            lambda t: t.track_struct_event("c", 5),
            "Tracker.track_struct_event: argument 'action' must be a non-empty string, got 5",
        ),
        (
            lambda t: t.track_struct_event("c", "a", 5),
            "Tracker.track_struct_event: argument 'label' must be a string or None, got 5",
        ),
        (
            lambda t: t.track_struct_event("c", "a", property_=[]),
            "Tracker.track_struct_event: argument 'property_' must be a string or None, got []",
        ),
        (
            lambda t: t.track_struct_event("c", "a", value="2"),
            "Tracker.track_struct_event: argument 'value' must be a finite number (int or float, "
            "at most 1.8e308 in magnitude) "
            "or None, got '2'",
        ),
        (
            lambda t: t.track_struct_event("c", "a", value=True),
            "Tracker.track_struct_event: argument 'value' must be a finite number (int or float, "
            "at most 1.8e308 in magnitude) "
            "or None, got True",
        ),
        (
            lambda t: t.track_struct_event("c", "a", value=float("nan")),
            "Tracker.track_struct_event: argument 'value' must be a finite number (int or float, "
            "at most 1.8e308 in magnitude) "
            "or None, got nan",
        ),
        (
            lambda t: t.track_struct_event("c", "a", context=[]),
            "Tracker.track_struct_event: argument 'context' must be a non-empty list of "
            "SelfDescribingJson (or None), got []",
        ),
        (
            lambda t: t.track_struct_event("c", "a", context=[{"schema": "s", "data": {}}]),
            "Tracker.track_struct_event: argument 'context[0]' must be a SelfDescribingJson, got "
            "{'schema': 's', 'data': {}}",
        ),
        (
            lambda t: t.track_struct_event("c", "a", context=SelfDescribingJson(CUSTOM, {})),
            "Tracker.track_struct_event: argument 'context' must be a non-empty list of "
            "SelfDescribingJson (or None), "
            "got SelfDescribingJson('iglu:com.acme/save_game/jsonschema/1-0-2', {})",
        ),
        (
            lambda t: t.track_struct_event("c", "a", tstamp=0),
            "Tracker.track_struct_event: argument 'tstamp' must be a positive number of "
            "milliseconds since the Unix epoch "
            "(at most 253402300799999), got 0",
        ),
        (
            lambda t: t.track_struct_event("c", "a", tstamp="1600000000123"),
            "Tracker.track_struct_event: argument 'tstamp' must be a positive number of "
            "milliseconds since the Unix epoch "
            "(at most 253402300799999), got '1600000000123'",
        ),
        (
            lambda t: t.track_struct_event("c", "a", event_subject="u"),
            "Tracker.track_struct_event: argument 'event_subject' must be a Subject or None, got "
            "'u'",
        ),
        # self-describing
        (
            lambda t: t.track_unstruct_event({"schema": CUSTOM, "data": {}}),
            "Tracker.track_unstruct_event: argument 'event_json' must be a SelfDescribingJson, "
            "got {'schema': 'iglu:com.acme/save_game/jsonschema/1-0-2', 'data': {}}",
        ),
        (
            lambda t: t.track_self_describing_event(None),
            "Tracker.track_self_describing_event: argument 'event_json' must be a "
            "SelfDescribingJson, got None",
        ),
        (
            lambda t: t.track_self_describing_event(SelfDescribingJson(CUSTOM, {}), tstamp=-5),
            "Tracker.track_self_describing_event: argument 'tstamp' must be a positive number of "
            "milliseconds since "
            "the Unix epoch (at most 253402300799999), got -5",
        ),
        # link click
        (
            lambda t: t.track_link_click(""),
            "Tracker.track_link_click: argument 'target_url' must be a non-empty string, got ''",
        ),
        (
            lambda t: t.track_link_click("u", 1),
            "Tracker.track_link_click: argument 'element_id' must be a string or None, got 1",
        ),
        (
            lambda t: t.track_link_click("u", element_classes="x"),
            "Tracker.track_link_click: argument 'element_classes' must be a list of strings, got "
            "'x'",
        ),
        (
            lambda t: t.track_link_click("u", element_classes=["a", 1]),
            "Tracker.track_link_click: argument 'element_classes[1]' must be a string, got 1",
        ),
        (
            lambda t: t.track_link_click("u", element_target=1),
            "Tracker.track_link_click: argument 'element_target' must be a string or None, got 1",
        ),
        (
            lambda t: t.track_link_click("u", element_content=1),
            "Tracker.track_link_click: argument 'element_content' must be a string or None, got 1",
        ),
        # cart
        (
            lambda t: t.track_add_to_cart("", 1),
            "Tracker.track_add_to_cart: argument 'sku' must be a non-empty string, got ''",
        ),
        (
            lambda t: t.track_add_to_cart("s", "1"),
            "Tracker.track_add_to_cart: argument 'quantity' must be a finite number (int or "
            "float, at most 1.8e308 in magnitude), got '1'",
        ),
        (
            lambda t: t.track_add_to_cart("s", 1, name=1),
            "Tracker.track_add_to_cart: argument 'name' must be a string or None, got 1",
        ),
        (
            lambda t: t.track_add_to_cart("s", 1, unit_price="4"),
            "Tracker.track_add_to_cart: argument 'unit_price' must be a finite number (int or "
            "float, at most 1.8e308 in magnitude) or None, got '4'",
        ),
        (
            lambda t: t.track_remove_from_cart("s", None),
            "Tracker.track_remove_from_cart: argument 'quantity' must be a finite number (int or "
            "float, at most 1.8e308 in magnitude), got None",
        ),
        (
            lambda t: t.track_remove_from_cart("s", 1, currency=978),
            "Tracker.track_remove_from_cart: argument 'currency' must be a string or None, got 978",
        ),
        # forms
        (
            lambda t: t.track_form_change("", "e", "INPUT", "v"),
            "Tracker.track_form_change: argument 'form_id' must be a non-empty string, got ''",
        ),
        (
            lambda t: t.track_form_change("f", None, "INPUT", "v"),
            "Tracker.track_form_change: argument 'element_id' must be a string, got None",
        ),
        (
            lambda t: t.track_form_change("f", "e", "DIV", "v"),
            "Tracker.track_form_change: argument 'node_name' must be one of 'INPUT', 'SELECT', "
            "'TEXTAREA', got 'DIV'",
        ),
        (
            lambda t: t.track_form_change("f", "e", "INPUT", 5),
            "Tracker.track_form_change: argument 'value' must be a string or None, got 5",
        ),
        (
            lambda t: t.track_form_change("f", "e", "INPUT", "v", element_classes=[None]),
            "Tracker.track_form_change: argument 'element_classes[0]' must be a string, got None",
        ),
        (
            lambda t: t.track_form_submit(""),
            "Tracker.track_form_submit: argument 'form_id' must be a non-empty string, got ''",
        ),
        (
            lambda t: t.track_form_submit("f", form_classes="fc"),
            "Tracker.track_form_submit: argument 'form_classes' must be a list of strings, got "
            "'fc'",
        ),
        (
            lambda t: t.track_form_submit("f", elements={"name": "n"}),
            "Tracker.track_form_submit: argument 'elements' must be a list of dicts or None, got "
            "{'name': 'n'}",
        ),
        (
            lambda t: t.track_form_submit("f", elements=[{"name": "n", "value": "v"}]),
            "Tracker.track_form_submit: argument 'elements[0]' must be a dict with 'name', "
            "'value' and 'nodeName' "
            "(missing 'nodeName'), got {'name': 'n', 'value': 'v'}",
        ),
        (
            lambda t: t.track_form_submit(
                "f", elements=[{"name": "n", "value": "v", "nodeName": "DIV"}]
            ),
            "Tracker.track_form_submit: argument 'elements[0]['nodeName']' must be one of "
            "'INPUT', 'SELECT', "
            "'TEXTAREA', got 'DIV'",
        ),
        # site search
        (
            lambda t: t.track_site_search([]),
            "Tracker.track_site_search: argument 'terms' must be a non-empty list of strings, got "
            "[]",
        ),
        (
            lambda t: t.track_site_search("abc"),
            "Tracker.track_site_search: argument 'terms' must be a non-empty list of strings, got "
            "'abc'",
        ),
        (
            lambda t: t.track_site_search([1]),
            "Tracker.track_site_search: argument 'terms[0]' must be a string, got 1",
        ),
        (
            lambda t: t.track_site_search(["q"], filters=[("a", "b")]),
            "Tracker.track_site_search: argument 'filters' must be a dict of strings to strings "
            "or booleans, got [('a', 'b')]",
        ),
        (
            lambda t: t.track_site_search(["q"], filters={"a": 1}),
            "Tracker.track_site_search: argument 'filters['a']' must be a string or a boolean "
            "(keyed by a string), got 1",
        ),
        (
            lambda t: t.track_site_search(["q"], total_results=-1),
            "Tracker.track_site_search: argument 'total_results' must be an integer from 0 to "
            "2147483647 or None, got -1",
        ),
        (
            lambda t: t.track_site_search(["q"], page_results="5"),
            "Tracker.track_site_search: argument 'page_results' must be an integer from 0 to "
            "2147483647 or None, got '5'",
        ),
        # screen views
        (
            lambda t: t.track_screen_view(),
            "Tracker.track_screen_view: argument 'name' or 'id_' must be given (at least one of "
            "them is required), "
            "got name=None and id_=None",
        ),
        (
            lambda t: t.track_screen_view(""),
            "Tracker.track_screen_view: argument 'name' must be a non-empty string or None, got ''",
        ),
        (
            lambda t: t.track_screen_view("n", 23),
            "Tracker.track_screen_view: argument 'id_' must be a string or None, got 23",
        ),
        (
            lambda t: t.track_mobile_screen_view(None),
            "Tracker.track_mobile_screen_view: argument 'name' must be a non-empty string, got "
            "None",
        ),
        (
            lambda t: t.track_mobile_screen_view("n", "screen-1"),
            "Tracker.track_mobile_screen_view: argument 'id_' must be a UUID string such as "
            "'9c65e7f3-8e8e-4d2b-a7d6-6d1c3b2b8f1e', got 'screen-1'",
        ),
        (
            lambda t: t.track_mobile_screen_view("n", previous_id="p"),
            "Tracker.track_mobile_screen_view: argument 'previous_id' must be a UUID string such "
            "as "
            "'9c65e7f3-8e8e-4d2b-a7d6-6d1c3b2b8f1e', got 'p'",
        ),
        (
            lambda t: t.track_mobile_screen_view("n", type=1),
            "Tracker.track_mobile_screen_view: argument 'type' must be a string or None, got 1",
        ),
        # ecommerce
        (
            lambda t: t.track_ecommerce_transaction("", 1),
            "Tracker.track_ecommerce_transaction: argument 'order_id' must be a non-empty string, "
            "got ''",
        ),
        (
            lambda t: t.track_ecommerce_transaction("o", None),
            "Tracker.track_ecommerce_transaction: argument 'total_value' must be a finite number "
            "(int or float, at most 1.8e308 in magnitude), got None",
        ),
        (
            lambda t: t.track_ecommerce_transaction("o", 1, tax_value="1"),
            "Tracker.track_ecommerce_transaction: argument 'tax_value' must be a finite number "
            "(int or float, at most 1.8e308 in magnitude) or None, got '1'",
        ),
        (
            lambda t: t.track_ecommerce_transaction("o", 1, currency=1),
            "Tracker.track_ecommerce_transaction: argument 'currency' must be a string or None, "
            "got 1",
        ),
        (
            lambda t: t.track_ecommerce_transaction("o", 1, items="x"),
            "Tracker.track_ecommerce_transaction: argument 'items' must be a list of dicts or "
            "None, got 'x'",
        ),
        (
            lambda t: t.track_ecommerce_transaction("o", 1, items=["x"]),
            "Tracker.track_ecommerce_transaction: argument 'items[0]' must be a dict with 'sku', "
            "'price' and 'quantity', got 'x'",
        ),
        (
            lambda t: t.track_ecommerce_transaction("o", 1, items=[{"price": 1, "quantity": 1}]),
            "Tracker.track_ecommerce_transaction: argument 'items[0]['sku']' must be a non-empty "
            "string, got None",
        ),
        (
            lambda t: t.track_ecommerce_transaction(
                "o", 1, items=[{"sku": "s", "price": 1, "quantity": 1.5}]
            ),
            "Tracker.track_ecommerce_transaction: argument 'items[0]['quantity']' must be an "
            "integer from -2147483648 to "
            "2147483647, got 1.5",
        ),
        (
            lambda t: t.track_ecommerce_transaction(
                "o", 1, items=[{"sku": "s", "price": 1, "quantity": 1, "colour": "red"}]
            ),
            "Tracker.track_ecommerce_transaction: argument 'items[0]' must be a dict with keys "
            "among 'sku', 'price', "
            "'quantity', 'name', 'category', 'context' (unexpected 'colour'), "
            "got {'sku': 's', 'price': 1, 'quantity': 1, 'colour': 'red'}",
        ),
        (
            lambda t: t.track_ecommerce_transaction(
                "o", 1, items=[{"sku": "s", "price": 1, "quantity": 1, "context": []}]
            ),
            "Tracker.track_ecommerce_transaction: argument 'items[0]['context']' must be a "
            "non-empty list of "
            "SelfDescribingJson (or None), got []",
        ),
        (
            lambda t: t.track_ecommerce_transaction_item("o", "", 1, 1),
            "Tracker.track_ecommerce_transaction_item: argument 'sku' must be a non-empty string, "
            "got ''",
        ),
        (
            lambda t: t.track_ecommerce_transaction_item("o", "s", "1", 1),
            "Tracker.track_ecommerce_transaction_item: argument 'price' must be a finite number "
            "(int or float, at most 1.8e308 in magnitude), got '1'",
        ),
        (
            lambda t: t.track_ecommerce_transaction_item("o", "s", 1, 1.5),
            "Tracker.track_ecommerce_transaction_item: argument 'quantity' must be an integer "
            "from -2147483648 to "
            "2147483647, got 1.5",
        ),
        (
            lambda t: t.track_ecommerce_transaction_item("o", "s", 1, 1, event_subject=Subject),
            "Tracker.track_ecommerce_transaction_item: argument 'event_subject' must be a Subject "
            "or None, "
            "got <class 'snowplow_tracker.subject.Subject'>",
        ),
    ],
)
def test_each_broken_contract_raises_a_clear_error_and_nothing_is_emitted(
    tracker: Tracker, emitter: Capture, call: Callable[[Tracker], Any], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        call(tracker)
    assert str(info.value) == message
    assert emitter.events == []


def test_nothing_reaches_any_of_several_emitters_when_a_check_fails() -> None:
    e1, e2 = Capture(), Capture()
    with pytest.raises(ValidationError):
        Tracker([e1, e2]).track_struct_event("c", "a", context=[])
    assert e1.events == e2.events == []


# ============================================================================ disabled contracts


def test_disable_contracts_skips_the_checks(tracker: Tracker, emitter: Capture) -> None:
    contracts.disable_contracts()
    tracker.track_struct_event("", 5, value="x")
    tracker.track_screen_view()
    tracker.track_mobile_screen_view("n", "not-a-uuid")
    tracker.track_struct_event("c", "a", context=[])
    se, sv, msv, se2 = emitter.events
    assert "se_ca" not in se  # empty strings are still left out
    assert se["se_ac"] == "5"
    assert se["se_va"] == "x"
    assert unstruct(sv)["data"] == {}
    assert unstruct(msv)["data"]["id"] == "not-a-uuid"
    assert "cx" not in se2


def test_disable_contracts_still_writes_every_value_as_str(
    tracker: Tracker, emitter: Capture
) -> None:
    contracts.disable_contracts()
    tracker.track_page_view(123, 4.5).track_ecommerce_transaction_item(1, 2, 3, 4)
    for event in emitter.events:
        assert all(type(v) is str and v for v in event.values())


def test_enable_contracts_turns_the_checks_back_on(tracker: Tracker) -> None:
    contracts.disable_contracts()
    tracker.track_struct_event("", "a")
    contracts.enable_contracts()
    with pytest.raises(ValidationError):
        tracker.track_struct_event("", "a")
