"""The event descriptions drive the ``track_*`` methods: tests iterate over the same table."""

from __future__ import annotations

import inspect
import json
import os
import warnings
from typing import Any, Dict, List, Tuple

import pytest

from snowplow_tracker.errors import ValidationError
from snowplow_tracker.events.description import COMMON_ARGS
from snowplow_tracker.events.table import BY_NAME, KINDS
from snowplow_tracker.protocol import contracts
from snowplow_tracker.protocol.self_describing_json import SelfDescribingJson
from snowplow_tracker.tracker import Tracker
from tests.capture import Capture
from tests.scripts import run_to_end

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
    """The generated fast path of track_form_submit accepts only what form_elements accepts,
    and refuses with its message."""
    method = "Tracker.track_form_submit"
    expected = _refusal(lambda: contracts.form_elements(method, "elements", elements))
    tracker = Tracker(Capture())
    assert _refusal(lambda: tracker.track_form_submit("f", elements=elements)) == expected


class _Str(str):
    """A str subclass: the contracts accept it, the inline fast checks leave it to them."""


_ELEMENT = {"name": "n", "value": "v", "nodeName": "INPUT"}
_ITEM = {"sku": "s", "price": 1.5, "quantity": 2}
#: Values near the edges of the rules (accepted by some contracts, refused by others).
SAMPLES: List[Any] = [
    None,
    "",
    "x",
    _Str("x"),
    "INPUT",
    "TEXT",
    "text",
    UUID_A,
    0,
    -1,
    2**31,
    1.5,
    float("nan"),
    True,
    [],
    ["a"],
    ("a", "b"),
    ["a", 1],
    ["a", _Str("b")],
    [None],
    {},
    {"k": "v"},
    {"k": True},
    {"k": 1},
    {"k": None},
    {1: "v"},
    {_Str("k"): "v"},
    [_ELEMENT],
    (_ELEMENT,),
    [dict(_ELEMENT, type="text")],
    [dict(_ELEMENT, type=None)],
    [dict(_ELEMENT, type="TEXT")],
    [dict(_ELEMENT, value=None)],
    [dict(_ELEMENT, value=3)],
    [dict(_ELEMENT, extra=1)],
    [{"name": "n", "nodeName": "INPUT"}],
    [{"name": "n", "nodeName": "INPUT", "type": "text"}],
    [dict(_ELEMENT, name=_Str("n"))],
    [dict(_ELEMENT, nodeName="input")],
    [dict(_ELEMENT, nodeName=["INPUT"])],
    [_ITEM],
    (_ITEM,),
    [dict(_ITEM, name="w", category=None)],
    [dict(_ITEM, quantity=1.0)],
    [dict(_ITEM, price=float("inf"))],
    [dict(_ITEM, sku="")],
    [dict(_ITEM, order_id="o", currency="EUR")],
    [dict(_ITEM, context=[EVENT])],
    [dict(_ITEM, context=[])],
    [dict(_ITEM, colour="red")],
    EVENT,
]


def _refusal(call: Any) -> Any:
    try:
        call()
    except ValidationError as e:
        return str(e)
    return None


@pytest.mark.parametrize(("name", "arg"), _fields())
def test_the_compiled_checks_refuse_exactly_what_the_contracts_refuse(name: str, arg: str) -> None:
    """The inline fast checks (``Rule.ok``, ``Rule.each``) only skip the contract function:
    for every sample value the method refuses with the contract's message, or accepts."""
    from snowplow_tracker.events.runtime import check_argument

    kind = BY_NAME[name]
    field = kind.field(arg)
    for value in SAMPLES:
        if value is None and not field.optional:
            continue
        if value is None and arg in kind.require_one_of:
            continue
        expected = _refusal(lambda v=value: check_argument(kind.method, field, v))
        kwargs = dict(VALID[name], **{arg: value})
        got = _refusal(lambda kw=kwargs: getattr(Tracker(Capture()), f"track_{name}")(**kw))
        assert got == expected, value


@pytest.mark.parametrize("encode_base64", [True, False], ids=["base64", "plain"])
@pytest.mark.parametrize("kind", [k for k in KINDS if k.self_describing], ids=lambda k: k.name)
def test_json_fields_are_the_whole_envelope_serialised_at_once(
    kind: Any, encode_base64: bool
) -> None:
    """The compiled code serialises only the event data and the context entities, behind
    constant envelope text (and base64): the result is the envelope encoded whole, for every
    kind's schema (so every prefix length modulo 3), in both encodings, with non-ASCII text."""
    from snowplow_tracker.constants import CONTEXT_SCHEMA, UNSTRUCT_EVENT_SCHEMA
    from snowplow_tracker.payload import encode_json

    entity = SelfDescribingJson("iglu:com.acme/c/jsonschema/1-0-0", {"é": "ü€😀", "n": [1, 2.5]})
    capture = Capture()
    tracker = Tracker(capture, encode_base64=encode_base64)
    getattr(tracker, f"track_{kind.name}")(**VALID[kind.name], context=[entity, entity])
    sent = capture.events[0]
    ue, cx = ("ue_px", "cx") if encode_base64 else ("ue_pr", "co")
    plain = Capture()
    getattr(Tracker(plain, encode_base64=False), f"track_{kind.name}")(**VALID[kind.name])
    envelope = json.loads(plain.events[0]["ue_pr"])
    assert envelope["schema"] == UNSTRUCT_EVENT_SCHEMA
    if kind.schema:
        assert envelope["data"]["schema"] == kind.schema
    assert sent[ue] == encode_json(envelope, encode_base64)
    contexts = {"schema": CONTEXT_SCHEMA, "data": [entity.to_json(), entity.to_json()]}
    assert sent[cx] == encode_json(contexts, encode_base64)


@pytest.mark.parametrize("encode_base64", [True, False], ids=["base64", "plain"])
def test_json_the_plain_dump_refuses_goes_through_json_bytes_whole(encode_base64: bool) -> None:
    """Non-string keys, a json_encoder and huge integers: the fallback serialises the whole
    envelope (json_bytes), for the event and for one or several context entities."""
    from snowplow_tracker.constants import CONTEXT_SCHEMA, UNSTRUCT_EVENT_SCHEMA
    from snowplow_tracker.payload import encode_json

    def encoder(o: Any) -> Any:
        return sorted(o) if isinstance(o, set) else str(o)

    data = {1: "int key", "s": {3, 1, 2}, "big": 2**70}
    event = SelfDescribingJson("iglu:com.acme/ev/jsonschema/1-0-0", data)
    for entities in ([event], [event, EVENT]):
        capture = Capture()
        tracker = Tracker(capture, encode_base64=encode_base64, json_encoder=encoder)
        tracker.track_self_describing_event(event, context=entities)
        tracker.track_link_click("http://x/", element_classes=["a"], context=entities)
        ue, cx = ("ue_px", "cx") if encode_base64 else ("ue_pr", "co")
        sdj, link = capture.events
        expected = {"schema": UNSTRUCT_EVENT_SCHEMA, "data": event.to_json()}
        assert sdj[ue] == encode_json(expected, encode_base64, encoder)
        contexts = {"schema": CONTEXT_SCHEMA, "data": [e.to_json() for e in entities]}
        assert sdj[cx] == link[cx] == encode_json(contexts, encode_base64, encoder)


def test_event_ids_are_formatted_as_uuid4_strings_from_their_random_bytes() -> None:
    """format_event_ids writes what uuid.UUID prints for each 16 bytes, version and variant
    bits set; refill_event_ids pools all but the last, which new_event_id then takes first."""
    import uuid

    from snowplow_tracker.events import runtime

    raw = bytes(range(256)) * 2  # 32 ids, every byte value in every position of some id
    expected = []
    for i in range(len(raw) // 16):
        b = bytearray(raw[16 * i : 16 * i + 16])
        b[6] = b[6] & 0x0F | 0x40
        b[8] = b[8] & 0x3F | 0x80
        expected.append(str(uuid.UUID(bytes=bytes(b))))
    assert runtime.format_event_ids(raw) == expected
    assert all(uuid.UUID(e).version == 4 and e[19] in "89ab" for e in expected)
    runtime.EVENT_IDS.clear()
    first = runtime.new_event_id()
    assert len(runtime.EVENT_IDS) == runtime.EVENT_ID_BATCH - 1
    assert first not in runtime.EVENT_IDS
    last = runtime.EVENT_IDS[-1]
    assert runtime.new_event_id() == last  # taken from the end of the pool


def test_event_ids_do_not_repeat_when_the_application_seeds_random() -> None:
    """The ids come from os.urandom: random.seed(42) before each burst (as an application or
    a test framework may do) must not give the bursts the same ids."""
    import random

    from snowplow_tracker.events import runtime

    state = random.getstate()
    ids: List[str] = []
    try:
        for _ in range(3):
            runtime.EVENT_IDS.clear()  # each burst starts a fresh batch, after the seed
            random.seed(42)
            ids += [runtime.new_event_id() for _ in range(300)]
    finally:
        random.setstate(state)
    assert len(set(ids)) == 900


def test_event_ids_differ_between_two_processes_that_seed_random_alike() -> None:
    code = """
        import random
        random.seed(42)
        from snowplow_tracker import Tracker
        class Keep:
            events = []
            def input(self, payload):
                self.events.append(payload)
        keep = Keep()
        tracker = Tracker(keep)
        for _ in range(300):
            tracker.track_page_view("https://example.com/")
        print(" ".join(e["eid"] for e in keep.events))
    """
    first = run_to_end(code, timeout=60).split()
    second = run_to_end(code, timeout=60).split()
    assert len(first) == len(second) == 300
    assert not set(first) & set(second)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_takes_the_event_ids_its_parent_made_in_advance() -> None:
    from snowplow_tracker.events import runtime

    runtime.new_event_id()
    pooled = set(runtime.EVENT_IDS)
    assert pooled
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.write(write_fd, runtime.new_event_id().encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        child = pipe.read().decode()
    os.waitpid(pid, 0)
    assert len(child) == 36 and child not in pooled
    assert runtime.new_event_id() in pooled


def test_form_types_are_lower_case_as_the_compiled_type_check_assumes() -> None:
    """FORM_TYPE_ANY_CASE's fast check accepts a value found in FORM_TYPES as given, before
    lower-casing it: right only while every listed type is in lower case."""
    from snowplow_tracker.constants import FORM_TYPES

    assert all(t == t.lower() for t in FORM_TYPES)
