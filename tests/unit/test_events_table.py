"""The event descriptions drive the ``track_*`` methods: tests iterate over the same table."""

from __future__ import annotations

import inspect
from typing import Any, Dict, List, Tuple

import pytest

from snowplow_tracker.errors import ValidationError
from snowplow_tracker.events.compiler import COMMON_ARGS
from snowplow_tracker.events.table import BY_NAME, KINDS
from snowplow_tracker.protocol import contracts
from snowplow_tracker.protocol.self_describing_json import SelfDescribingJson
from snowplow_tracker.tracker import Tracker
from tests.capture import Capture

UUID_A = "7f8a0c9e-1b2c-4d3e-8f90-a1b2c3d4e5f6"
EVENT = SelfDescribingJson("iglu:com.acme/ev/jsonschema/1-0-0", {"b": 2})

#: Valid arguments of every kind (the table says what each must be; these satisfy it).
VALID: Dict[str, Dict[str, Any]] = {
    "page_view": {"page_url": "http://x/", "page_title": "T", "referrer": "http://r/"},
    "page_ping": {"page_url": "http://x/", "min_x": 0, "max_x": 1, "min_y": 2, "max_y": 3},
    "struct_event": {"category": "c", "action": "a", "label": "l", "property_": "p", "value": 2},
    "self_describing_event": {"event_json": EVENT},
    "unstruct_event": {"event_json": EVENT},
    "link_click": {"target_url": "http://x/", "element_classes": ["a"]},
    "add_to_cart": {"sku": "s", "quantity": 2, "unit_price": 1.5},
    "remove_from_cart": {"sku": "s", "quantity": 2, "currency": "EUR"},
    "form_change": {"form_id": "f", "element_id": "e", "node_name": "INPUT", "value": "v"},
    "form_submit": {"form_id": "f", "elements": [{"name": "n", "value": "v", "nodeName": "INPUT"}]},
    "site_search": {"terms": ["a"], "filters": {"x": True}, "total_results": 1},
    "screen_view": {"name": "home", "id_": "1"},
    "mobile_screen_view": {"name": "home", "id_": UUID_A},
    "ecommerce_transaction_item": {"order_id": "o", "sku": "s", "price": 1.5, "quantity": 1},
    "ecommerce_transaction": {
        "order_id": "o",
        "total_value": 3,
        "items": [{"sku": "s", "price": 1.5, "quantity": 2}],
    },
}
#: A value every rule refuses (not None, not a string, not a number, not a list).
BAD = object()


pytestmark = pytest.mark.usefixtures("restore_contracts")


def _fields() -> List[Tuple[str, str]]:
    return [(k.name, f.arg) for k in KINDS for f in k.fields]


def test_every_kind_has_valid_example_arguments() -> None:
    """The table has 15 kinds, each with a track_* method and an example here."""
    assert len(KINDS) == 15
    assert sorted(VALID) == sorted(BY_NAME)
    for kind in KINDS:
        assert callable(getattr(Tracker, f"track_{kind.name}"))


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_signature_is_the_description_then_the_common_arguments(kind: Any) -> None:
    """track_<kind>(self, <fields in order>, context, tstamp, event_subject), typed."""
    method = getattr(Tracker, f"track_{kind.name}")
    params = list(inspect.signature(method).parameters)
    assert params == ["self", *kind.args, *COMMON_ARGS]
    assert set(method.__annotations__) == {*kind.args, *COMMON_ARGS, "return"}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_docstring_documents_every_described_argument(kind: Any) -> None:
    """Each argument of the table appears in the method's Args section."""
    doc = getattr(Tracker, f"track_{kind.name}").__doc__
    assert doc and "Args:" in doc
    for arg in (*kind.args, *COMMON_ARGS):
        assert f"    {arg}:" in doc, arg


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_valid_example_is_sent_with_the_described_event_type(kind: Any) -> None:
    """The example arguments pass and the event carries e=<kind.e>."""
    capture = Capture()
    result = getattr(Tracker(capture), f"track_{kind.name}")(**VALID[kind.name])
    assert isinstance(result, Tracker)
    assert capture.events[0]["e"] == kind.e


@pytest.mark.parametrize(("name", "arg"), _fields())
def test_a_value_breaking_the_rule_is_refused_naming_method_and_argument(
    name: str, arg: str
) -> None:
    """Every described argument is checked: the message names method and argument; nothing is
    queued."""
    capture = Capture()
    kwargs = dict(VALID[name], **{arg: BAD})
    with pytest.raises(ValidationError) as info:
        getattr(Tracker(capture), f"track_{name}")(**kwargs)
    assert str(info.value).startswith(f"Tracker.track_{name}: argument '{arg}")
    assert "must be" in str(info.value) and "<object object" in str(info.value)
    assert capture.events == []


@pytest.mark.parametrize(("name", "arg"), [f for f in _fields() if f[1] != "items"])
def test_with_contracts_disabled_nothing_is_checked(name: str, arg: str) -> None:
    """disable_contracts() skips every described rule (the value then reaches the payload)."""
    contracts.disable_contracts()
    capture = Capture()
    kwargs = dict(VALID[name], **{arg: 7 if arg != "event_json" else EVENT})
    getattr(Tracker(capture), f"track_{name}")(**kwargs)
    assert capture.events


@pytest.mark.parametrize("kind", [k for k in KINDS if not k.self_describing and not k.items])
def test_payload_fields_are_sent_under_their_wire_keys(kind: Any) -> None:
    """A non-self-describing kind sends each given argument under the key the table names."""
    capture = Capture()
    getattr(Tracker(capture), f"track_{kind.name}")(**VALID[kind.name])
    sent = capture.events[0]
    for f in kind.fields:
        value = VALID[kind.name].get(f.arg)
        if value is not None:
            assert sent[f.key] == str(value)


@pytest.mark.parametrize(
    "elements",
    [
        [{"name": "n", "value": "v", "nodeName": "INPUT"}],
        [{"name": "n", "value": None, "nodeName": "SELECT", "type": "text"}],
        [{"name": "n", "value": "v", "nodeName": "input"}],
        [{"name": "n", "value": "v", "nodeName": "INPUT", "type": "TEXT"}],
        [{"name": "n", "value": "v", "nodeName": "INPUT", "extra": 1}],
        [{"name": "n", "nodeName": "INPUT", "type": "text"}],
        [{"name": 1, "value": "v", "nodeName": "INPUT"}],
        [{"name": "n", "value": 2, "nodeName": "INPUT"}],
        [{"name": "n", "value": "v", "nodeName": ["INPUT"]}],
        ({"name": "n", "value": "v", "nodeName": "INPUT"},),
        [],
        ["x"],
    ],
)
def test_the_inline_form_elements_check_never_accepts_what_the_contract_refuses(
    elements: Any,
) -> None:
    """form_elements_ok (the compiled fast path) is True only for values form_elements accepts."""
    if contracts.form_elements_ok(elements):
        contracts.form_elements("m", "elements", elements)
    else:
        try:
            contracts.form_elements("m", "elements", elements)
        except ValidationError:
            pass
