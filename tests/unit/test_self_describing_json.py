"""Tests of snowplow_tracker.protocol.self_describing_json.SelfDescribingJson."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from snowplow_tracker.errors import EncodingError, ValidationError
from snowplow_tracker.protocol import contracts
from snowplow_tracker.protocol.self_describing_json import SelfDescribingJson

pytestmark = pytest.mark.usefixtures("restore_contracts")

SCHEMA = "iglu:com.acme/movie_poster/jsonschema/2-1-1"


def test_to_json_returns_schema_and_data() -> None:
    data = {"movie_name": "Solaris", "poster_year": 1978}
    assert SelfDescribingJson(SCHEMA, data).to_json() == {"schema": SCHEMA, "data": data}


def test_to_json_does_not_copy_data() -> None:
    data: dict[str, Any] = {"a": 1}
    assert SelfDescribingJson(SCHEMA, data).to_json()["data"] is data


def test_schema_is_kept_exactly_as_given() -> None:
    contracts.disable_contracts()  # only then is a schema without "iglu:" accepted
    assert (
        SelfDescribingJson("com.acme/x/jsonschema/1-0-0", {}).schema
        == "com.acme/x/jsonschema/1-0-0"
    )


@pytest.mark.parametrize(
    "schema",
    [
        "com.acme/x/jsonschema/1-0-0",
        "iglu:com.acme/x/jsonschema/1-0",
        "iglu:com.acme/x/jsonschema/1-0-0\n",
        "iglu:com acme/x/jsonschema/1-0-0",
        "x",
    ],
)
def test_schema_must_be_an_iglu_uri_or_the_pipeline_refuses_the_event(schema: str) -> None:
    with pytest.raises(ValidationError) as info:
        SelfDescribingJson(schema, {})
    assert str(info.value) == (
        "SelfDescribingJson: argument 'schema' must be an Iglu schema URI such as "
        f"'iglu:com.acme/event/jsonschema/1-0-0', got {schema!r}"
    )


def test_to_string_is_compact_json() -> None:
    text = SelfDescribingJson(SCHEMA, {"a": 1, "b": [1, 2]}).to_string()
    assert (
        text == '{"schema":"iglu:com.acme/movie_poster/jsonschema/2-1-1","data":{"a":1,"b":[1,2]}}'
    )


def test_to_string_keeps_non_ascii_characters() -> None:
    text = SelfDescribingJson(SCHEMA, {"t": "é✓😀"}).to_string()
    assert "é✓😀" in text
    assert json.loads(text)["data"]["t"] == "é✓😀"


def test_to_string_serialises_datetimes_natively_and_others_with_json_encoder() -> None:
    sdj = SelfDescribingJson(SCHEMA, {"when": datetime.date(1978, 1, 1), "tags": {"x"}})
    with pytest.raises(EncodingError) as info:
        sdj.to_string()
    assert str(info.value).startswith(
        "SelfDescribingJson.to_string: argument 'data' cannot be serialised to JSON"
    )
    text = sdj.to_string(json_encoder=sorted)
    assert json.loads(text)["data"] == {"when": "1978-01-01", "tags": ["x"]}


def test_data_may_be_a_list() -> None:
    assert SelfDescribingJson(SCHEMA, [1, 2]).to_json()["data"] == [1, 2]


@pytest.mark.parametrize(("schema", "shown"), [("", "''"), (None, "None"), (5, "5")])
def test_schema_must_be_a_non_empty_string(schema: Any, shown: str) -> None:
    with pytest.raises(ValidationError) as info:
        SelfDescribingJson(schema, {})
    assert str(info.value) == (
        f"SelfDescribingJson: argument 'schema' must be a non-empty string, got {shown}"
    )


def test_disabled_contracts_skip_the_schema_check() -> None:
    contracts.disable_contracts()
    assert SelfDescribingJson("", {}).schema == ""


def test_equal_schema_and_data_compare_equal() -> None:
    assert SelfDescribingJson(SCHEMA, {"a": 1}) == SelfDescribingJson(SCHEMA, {"a": 1})
    assert SelfDescribingJson(SCHEMA, {"a": 1}) != SelfDescribingJson(SCHEMA, {"a": 2})
    assert SelfDescribingJson(SCHEMA, {}) != {"schema": SCHEMA, "data": {}}


def test_repr_shows_schema_and_data() -> None:
    assert (
        repr(SelfDescribingJson(SCHEMA, {"a": 1})) == f"SelfDescribingJson({SCHEMA!r}, {{'a': 1}})"
    )
