"""Every event kind the tracker builds, on the wire (POST body and GET querystring, base64 on
and off), validated against the real Iglu schemas: payload_data 1-0-4, contexts 1-0-1,
unstruct_event 1-0-0 and the inner event and entity schemas (copies in tests/data/schemas)."""

from __future__ import annotations

import base64
import json
from typing import Any, Callable, Dict, List, Tuple

import pytest

from snowplow_tracker.protocol import contracts
from snowplow_tracker.protocol.self_describing_json import SelfDescribingJson
from snowplow_tracker.protocol.wire import encode_event, get_query, post_body
from snowplow_tracker.subject import Subject
from snowplow_tracker.tracker import Tracker
from tests.capture import Capture
from tests.schema_validation import (
    SchemaValidationError,
    validate_event,
    validate_get_query,
    validate_post_body,
)

pytestmark = pytest.mark.usefixtures("restore_contracts")

SNOWPLOW = "iglu:com.snowplowanalytics.snowplow"
UUID_A = "7f8a0c9e-1b2c-4d3e-8f90-a1b2c3d4e5f6"
UUID_B = "0f8a0c9e-1b2c-4d3e-8f90-a1b2c3d4e5f6"
TEXT = "é ✓ 😀 &?=+/ %"
STM = 1700000000000

WEB_PAGE = SelfDescribingJson(f"{SNOWPLOW}/web_page/jsonschema/1-0-0", {"id": UUID_A})
CUSTOM_CTX = SelfDescribingJson("iglu:com.acme/golden_ctx/jsonschema/1-0-0", {"t": TEXT})
CONTEXT = [WEB_PAGE, CUSTOM_CTX]

Call = Callable[[Tracker], Any]

# (event kind, call, expected e, expected inner schema or None)
EVENTS: List[Tuple[str, Call, str, Any]] = [
    (
        "page_view",
        lambda t: t.track_page_view(
            f"http://x/?q={TEXT}", TEXT, "http://r/", context=CONTEXT, tstamp=1600000000123
        ),
        "pv",
        None,
    ),
    (
        "page_ping",
        lambda t: t.track_page_ping(
            "http://x/", TEXT, "http://r/", 0, 100, 5, 500, context=CONTEXT
        ),
        "pp",
        None,
    ),
    (
        "struct_event",
        lambda t: t.track_struct_event(TEXT, "a", TEXT, "p", 2.5, context=CONTEXT),
        "se",
        None,
    ),
    ("struct_event_tiny_value", lambda t: t.track_struct_event("c", "a", value=1e-07), "se", None),
    (
        "unstruct_event",
        lambda t: t.track_unstruct_event(
            SelfDescribingJson(
                "iglu:com.acme/save_game/jsonschema/1-0-2", {"level": 23, "t": TEXT}
            ),
            context=CONTEXT,
        ),
        "ue",
        "iglu:com.acme/save_game/jsonschema/1-0-2",
    ),
    (
        "self_describing_event",
        lambda t: t.track_self_describing_event(
            SelfDescribingJson(
                f"{SNOWPLOW}/link_click/jsonschema/1-0-1", {"targetUrl": "http://x/"}
            )
        ),
        "ue",
        f"{SNOWPLOW}/link_click/jsonschema/1-0-1",
    ),
    (
        "link_click",
        lambda t: t.track_link_click("http://x/t", "lnk", ["x"], "_blank", TEXT, context=CONTEXT),
        "ue",
        f"{SNOWPLOW}/link_click/jsonschema/1-0-1",
    ),
    (
        "link_click_minimal",
        lambda t: t.track_link_click("http://x/t"),
        "ue",
        f"{SNOWPLOW}/link_click/jsonschema/1-0-1",
    ),
    (
        "add_to_cart",
        lambda t: t.track_add_to_cart("sku-1", 2, TEXT, "tools", 4.75, "EUR", context=CONTEXT),
        "ue",
        f"{SNOWPLOW}/add_to_cart/jsonschema/1-0-0",
    ),
    (
        "remove_from_cart",
        lambda t: t.track_remove_from_cart("sku-1", 1),
        "ue",
        f"{SNOWPLOW}/remove_from_cart/jsonschema/1-0-0",
    ),
    (
        "form_change",
        lambda t: t.track_form_change("f1", "e1", "INPUT", TEXT, "TEXT", ["k"]),
        "ue",
        f"{SNOWPLOW}/change_form/jsonschema/1-0-0",
    ),
    (
        "form_change_null_value",
        lambda t: t.track_form_change("f1", "", "SELECT", None),
        "ue",
        f"{SNOWPLOW}/change_form/jsonschema/1-0-0",
    ),
    (
        "form_submit",
        lambda t: t.track_form_submit(
            "f1",
            ["fc"],
            [
                {"name": "n", "value": TEXT, "nodeName": "INPUT", "type": "text"},
                {"name": "m", "value": None, "nodeName": "TEXTAREA"},
            ],
        ),
        "ue",
        f"{SNOWPLOW}/submit_form/jsonschema/1-0-0",
    ),
    (
        "form_submit_minimal",
        lambda t: t.track_form_submit("f1"),
        "ue",
        f"{SNOWPLOW}/submit_form/jsonschema/1-0-0",
    ),
    (
        "site_search",
        lambda t: t.track_site_search(["a", TEXT], {"cat": "x", "inStock": True}, 10, 0),
        "ue",
        f"{SNOWPLOW}/site_search/jsonschema/1-0-0",
    ),
    (
        "screen_view",
        lambda t: t.track_screen_view(TEXT, "screen-1", context=CONTEXT),
        "ue",
        f"{SNOWPLOW}/screen_view/jsonschema/1-0-0",
    ),
    (
        "screen_view_id_only",
        lambda t: t.track_screen_view(id_="screen-1"),
        "ue",
        f"{SNOWPLOW}/screen_view/jsonschema/1-0-0",
    ),
    (
        "mobile_screen_view",
        lambda t: t.track_mobile_screen_view(
            TEXT, UUID_A, "feed", "splash", UUID_B, "full", "push"
        ),
        "ue",
        "iglu:com.snowplowanalytics.mobile/screen_view/jsonschema/1-0-0",
    ),
    (
        "mobile_screen_view_generated_id",
        lambda t: t.track_mobile_screen_view("home", context=CONTEXT),
        "ue",
        "iglu:com.snowplowanalytics.mobile/screen_view/jsonschema/1-0-0",
    ),
    (
        "ecommerce_transaction_item",
        lambda t: t.track_ecommerce_transaction_item(
            "order-789", "2001", 49.99, 1, TEXT, "clothing", "GBP", context=CONTEXT
        ),
        "ti",
        None,
    ),
    (
        "with_event_subject",
        lambda t: t.track_struct_event(
            "c", "a", event_subject=Subject().set_user_id(TEXT).set_platform("web")
        ),
        "se",
        None,
    ),
]


def full_subject() -> Subject:
    return (
        Subject()
        .set_platform("mob")
        .set_user_id(TEXT)
        .set_screen_resolution(1920, 1080)
        .set_viewport(800, 600)
        .set_color_depth(24)
        .set_timezone("Europe/Paris")
        .set_lang("fr")
        .set_domain_user_id("5d79770b-015b-4af8-8c91-b2ed6faf4b1e")
        .set_domain_session_id("9c65e7f3-8e8e-4d2b-a7d6-6d1c3b2b8f1e")
        .set_domain_session_index(3)
        .set_ip_address("203.0.113.7")
        .set_useragent("golden-agent/1.0")
        .set_network_user_id("nuid-1")
    )


def track(call: Call, encode_base64: bool) -> List[Dict[str, str]]:
    emitter = Capture()
    tracker = Tracker(
        emitter,
        subject=full_subject(),
        namespace="golden",
        app_id="golden-app",
        encode_base64=encode_base64,
    )
    call(tracker)
    assert emitter.events
    return emitter.events


def inner_schema(event: Dict[str, str]) -> Any:
    if "ue_px" in event:
        envelope = json.loads(base64.urlsafe_b64decode(event["ue_px"]))
    else:
        envelope = json.loads(event["ue_pr"])
    return envelope["data"]["schema"]


@pytest.mark.parametrize("encode_base64", [True, False], ids=["base64", "plain"])
@pytest.mark.parametrize(("kind", "call", "code", "schema"), EVENTS, ids=[e[0] for e in EVENTS])
def test_post_body_of_every_event_kind_is_valid(
    kind: str, call: Call, code: str, schema: Any, encode_base64: bool
) -> None:
    events = track(call, encode_base64)
    body = post_body([encode_event(e, "post") for e in events], stm=STM)
    sent = validate_post_body(body)
    assert [e["e"] for e in sent] == [code]
    assert sent[0]["stm"] == str(STM)
    absent = ("ue_pr", "co") if encode_base64 else ("ue_px", "cx")
    assert not set(absent) & set(sent[0])
    if schema is not None:
        assert inner_schema(sent[0]) == schema
    # what was sent is exactly what the tracker built, plus stm
    assert {k: v for k, v in sent[0].items() if k != "stm"} == events[0]


@pytest.mark.parametrize("encode_base64", [True, False], ids=["base64", "plain"])
@pytest.mark.parametrize(("kind", "call", "code", "schema"), EVENTS, ids=[e[0] for e in EVENTS])
def test_get_query_of_every_event_kind_is_valid(
    kind: str, call: Call, code: str, schema: Any, encode_base64: bool
) -> None:
    events = track(call, encode_base64)
    query = get_query(encode_event(events[0], "get"), stm=STM)
    sent = validate_get_query(query)
    assert sent["e"] == code
    assert {k: v for k, v in sent.items() if k != "stm"} == events[0]


@pytest.mark.parametrize("encode_base64", [True, False], ids=["base64", "plain"])
def test_ecommerce_transaction_and_items_are_valid_in_one_post_body_and_as_gets(
    encode_base64: bool,
) -> None:
    events = track(
        lambda t: t.track_ecommerce_transaction(
            "order-1",
            35.5,
            "aff",
            3.5,
            4,
            "London",
            "England",
            "UK",
            "GBP",
            [
                {"sku": "pbz0026", "price": 20, "quantity": 1, "name": TEXT},
                {"sku": "pbz0038", "price": 15.5, "quantity": 2, "context": [CUSTOM_CTX]},
            ],
            context=[WEB_PAGE],
            tstamp=1600000000123,
        ),
        encode_base64,
    )
    sent = validate_post_body(post_body([encode_event(e, "post") for e in events], stm=STM))
    assert [e["e"] for e in sent] == ["tr", "ti", "ti"]
    for event in events:
        validate_get_query(get_query(encode_event(event, "get"), stm=STM))


@pytest.mark.parametrize("encode_base64", [True, False], ids=["base64", "plain"])
def test_a_batch_of_every_event_kind_is_one_valid_post_body(encode_base64: bool) -> None:
    events: List[Dict[str, str]] = []
    for _, call, _, _ in EVENTS:
        events.extend(track(call, encode_base64))
    sent = validate_post_body(post_body([encode_event(e, "post") for e in events], stm=STM))
    assert len(sent) == len(EVENTS)


def test_a_fresh_tracker_with_default_subject_is_valid() -> None:
    emitter = Capture()
    Tracker(emitter).track_struct_event("c", "a")
    validate_event(emitter.events[0])
    validate_post_body(post_body([encode_event(emitter.events[0], "post")], stm=STM))


# ---------------------------------------------------------------------------- the checker checks


def test_the_schema_check_rejects_a_link_click_without_target_url() -> None:
    contracts.disable_contracts()
    events = track(lambda t: t.track_link_click(""), True)
    with pytest.raises(
        SchemaValidationError, match="link_click 1-0-1 at targetUrl: '' should be non-empty"
    ):
        validate_event(events[0])


def test_the_schema_check_rejects_a_mobile_screen_view_id_that_is_not_a_uuid() -> None:
    contracts.disable_contracts()
    events = track(lambda t: t.track_mobile_screen_view("home", "screen-1"), False)
    with pytest.raises(SchemaValidationError, match="is not a 'uuid'"):
        validate_event(events[0])


def test_the_schema_check_rejects_a_non_string_value_and_an_unknown_field() -> None:
    with pytest.raises(SchemaValidationError, match="is not of type 'string'"):
        validate_event({"e": "se", "p": "pc", "tv": "t", "se_ca": "c", "se_ac": "a", "se_va": 2})  # type: ignore[dict-item]
    with pytest.raises(SchemaValidationError, match="'zz' was unexpected"):
        validate_event({"e": "pv", "p": "pc", "tv": "t", "url": "u", "zz": "1"})


def test_the_schema_check_rejects_unpadded_base64() -> None:
    # one of three consecutive name lengths gives a JSON length that needs padding
    padded = [
        e
        for n in ("s", "ss", "sss")
        for e in track(lambda t, n=n: t.track_screen_view(n), True)  # type: ignore[misc]
        if e["ue_px"].endswith("=")
    ]
    event = dict(padded[0])
    event["ue_px"] = event["ue_px"].rstrip("=")
    with pytest.raises(SchemaValidationError, match="padding"):
        validate_event(event)
