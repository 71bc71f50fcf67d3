"""Tests of snowplow_tracker.protocol.payload: field rules and JSON/base64 encoding."""

from __future__ import annotations

import base64
import enum
import json
from typing import Any

import pytest

from snowplow_tracker.errors import EncodingError
from snowplow_tracker.protocol import payload
from snowplow_tracker.protocol.payload import Payload


class Colour(str, enum.Enum):
    RED = "red"


def test_add_skips_none_and_empty_string() -> None:
    p = Payload()
    p.add("a", None)
    p.add("b", "")
    assert p.get() == {}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (2, "2"),
        (2.5, "2.5"),
        (0.0, "0.0"),
        (False, "False"),
        ("x", "x"),
        (1e-07, "1e-07"),
    ],
)
def test_add_keeps_zero_and_writes_values_as_str(value: Any, text: str) -> None:
    p = Payload()
    p.add("f", value)
    assert p.get() == {"f": text}
    assert type(p.get()["f"]) is str


def test_add_turns_str_subclasses_into_plain_str_values() -> None:
    p = Payload()
    p.add("c", Colour.RED)
    assert p.get() == {"c": "red"}
    assert type(p.get()["c"]) is str


def test_to_str_returns_strings_unchanged() -> None:
    s = "é✓😀"
    assert payload.to_str(s) is s


def test_add_dict_adds_every_field_with_the_same_rules() -> None:
    p = Payload({"a": "1", "b": None, "c": 0})
    p.add_dict({"d": "", "e": 2.5})
    assert p.get() == {"a": "1", "c": "0", "e": "2.5"}


def test_get_returns_the_dict_itself() -> None:
    p = Payload()
    assert p.get() is p.nv_pairs


def test_add_json_base64_is_urlsafe_with_padding_of_compact_utf8_json() -> None:
    obj = {"schema": "iglu:a/b/jsonschema/1-0-0", "data": {"k": "é✓😀?>>"}}
    p = Payload()
    p.add_json(obj, True, "cx", "co")
    text = p.get()["cx"]
    assert "co" not in p.get()
    assert "+" not in text and "/" not in text
    assert len(text) % 4 == 0
    raw = base64.urlsafe_b64decode(text)
    assert raw == json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert text == base64.urlsafe_b64encode(raw).decode("ascii")


def test_add_json_base64_keeps_padding_when_needed() -> None:
    # len('{"a":"b"}') == 9 bytes -> 12 base64 chars, no padding; 10 bytes -> '=='.
    p = Payload()
    p.add_json({"a": "bc"}, True, "x", "y")
    assert p.get()["x"].endswith("==")


def test_add_json_plain_keeps_non_ascii_unescaped() -> None:
    p = Payload()
    p.add_json({"k": "é✓😀"}, False, "cx", "co")
    assert p.get() == {"co": '{"k":"é✓😀"}'}


def test_add_json_skips_none_and_empty_dict() -> None:
    p = Payload()
    p.add_json(None, True, "cx", "co")
    p.add_json({}, False, "cx", "co")
    assert p.get() == {}


def test_add_json_uses_the_custom_json_encoder_as_default() -> None:
    p = Payload(json_encoder=lambda o: sorted(o) if isinstance(o, set) else str(o))
    p.add_json({"s": {"b", "a"}}, False, "cx", "co")
    assert json.loads(p.get()["co"]) == {"s": ["a", "b"]}


def test_add_json_raises_encoding_error_for_unserialisable_values() -> None:
    p = Payload()
    with pytest.raises(EncodingError) as info:
        p.add_json({"s": {1}}, False, "cx", "co")
    assert str(info.value).startswith(
        "Payload.add_json: argument 'co' cannot be serialised to JSON"
    )
    assert p.get() == {}


def test_encoding_error_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        payload.encode_json(object(), False)


def test_json_bytes_accepts_non_string_dict_keys_like_json_dumps() -> None:
    assert payload.json_bytes({1: "a", "b": 2}) == b'{"1":"a","b":2}'


def test_encode_json_error_names_where_and_argument() -> None:
    with pytest.raises(EncodingError) as info:
        payload.encode_json({"x": object()}, True, None, "Tracker.track_x", "context")
    assert str(info.value).startswith("Tracker.track_x: argument 'context' cannot be serialised")


def test_base64_encoding_matches_urlsafe_b64encode() -> None:
    """Padding, and the URL-safe '-' and '_' in place of '+' and '/', as urlsafe_b64encode."""
    for obj in ("", "a", "ab", "abc", "\u00ff\u00fe?>~", [chr(i) for i in range(32, 2048)]):
        raw = payload.json_bytes(obj)
        assert payload.encode_json(obj, True) == base64.urlsafe_b64encode(raw).decode("ascii")
