"""JSON numbers in context and self-describing data: what the user gets for the values that
orjson does not write natively (documented in ``payload.json_bytes``)."""

from __future__ import annotations

import base64
import decimal
import json
import math
from typing import Any, Dict, List

import pytest

from snowplow_tracker import SelfDescribingJson, Tracker
from snowplow_tracker.errors import EncodingError
from snowplow_tracker.protocol.payload import json_bytes

SCHEMA = "iglu:com.acme/thing/jsonschema/1-0-0"
BIG = 2**70 + 3


class _Capture:
    def __init__(self) -> None:
        self.payloads: List[Dict[str, str]] = []

    def input(self, payload: Dict[str, str]) -> None:
        self.payloads.append(payload)


def _unstruct_data(payload: Dict[str, str]) -> Any:
    raw = payload.get("ue_pr") or base64.urlsafe_b64decode(payload["ue_px"]).decode()
    return json.loads(raw)["data"]["data"]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_written_as_null(value: float) -> None:
    """NaN and infinities become null (JSON has no such numbers), as JSON.stringify does."""
    assert json_bytes({"x": value, "y": [1.5, value]}) == b'{"x":null,"y":[1.5,null]}'


def test_integers_beyond_64_bits_are_written_exactly() -> None:
    """JSON numbers have no size limit: a 71-bit integer keeps every digit."""
    assert json_bytes({"n": BIG}) == f'{{"n":{BIG}}}'.encode()


def test_big_integers_and_non_finite_floats_together() -> None:
    """The fallback path keeps the null rule for NaN beside a big integer."""
    assert json_bytes({"n": BIG, "f": math.nan, "s": "NaN"}) == (
        f'{{"n":{BIG},"f":null,"s":"NaN"}}'.encode()
    )


def test_big_integer_with_a_json_encoder_for_other_types() -> None:
    """A json_encoder still serialises the types it knows when a big integer forces the fallback."""
    out = json_bytes({"n": BIG, "d": decimal.Decimal("1.25")}, json_encoder=str)
    assert json.loads(out) == {"n": BIG, "d": "1.25"}


def test_unserialisable_values_still_raise_a_clear_error() -> None:
    """An object neither orjson nor the json_encoder handles raises EncodingError naming it."""
    with pytest.raises(EncodingError, match="argument 'obj'"):
        json_bytes({"o": object()})


@pytest.mark.parametrize("encode_base64", [False, True])
def test_tracked_self_describing_event_with_big_int_and_nan(encode_base64: bool) -> None:
    """A track call with such data sends the documented JSON and queues exactly one event."""
    capture = _Capture()
    tracker = Tracker(capture, encode_base64=encode_base64)
    tracker.track_self_describing_event(SelfDescribingJson(SCHEMA, {"n": BIG, "f": math.inf}))
    assert len(capture.payloads) == 1
    assert _unstruct_data(capture.payloads[0]) == {"n": BIG, "f": None}
