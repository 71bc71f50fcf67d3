"""Tests of snowplow_tracker.protocol.contracts: the switch and every check helper's rule and
message."""

from __future__ import annotations

import math
from typing import Any, Callable

import pytest

from snowplow_tracker.errors import SnowplowError, ValidationError
from snowplow_tracker.protocol import contracts
from snowplow_tracker.protocol.constants import FORM_NODE_NAMES, FORM_TYPES
from snowplow_tracker.protocol.self_describing_json import SelfDescribingJson

pytestmark = pytest.mark.usefixtures("restore_contracts")

M = "Tracker.track_x"
SDJ = SelfDescribingJson("iglu:com.acme/thing/jsonschema/1-0-0", {"a": 1})


def message_of(check: Callable[..., None], *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ValidationError) as info:
        check(M, "arg", *args, **kwargs)
    return str(info.value)


# ---------------------------------------------------------------------------- the switch


def test_contracts_are_enabled_by_default() -> None:
    assert contracts.contracts_enabled() is True


def test_disable_contracts_turns_the_flag_off_and_enable_turns_it_back_on() -> None:
    contracts.disable_contracts()
    assert contracts.contracts_enabled() is False
    contracts.enable_contracts()
    assert contracts.contracts_enabled() is True


def test_validation_error_is_a_value_error_and_a_snowplow_error() -> None:
    with pytest.raises(ValidationError) as info:
        contracts.non_empty_string(M, "arg", "")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, SnowplowError)


def test_fail_message_names_method_argument_expectation_and_value() -> None:
    with pytest.raises(ValidationError) as info:
        contracts.fail("Tracker.track_struct_event", "category", "a non-empty string", "")
    assert str(info.value) == (
        "Tracker.track_struct_event: argument 'category' must be a non-empty string, got ''"
    )


def test_describe_truncates_long_values() -> None:
    text = contracts.describe("x" * 1000)
    assert len(text) <= 204
    assert text.endswith("...")


def test_describe_survives_a_broken_repr() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("boom")

    assert contracts.describe(Broken()) == "<Broken object>"


# ---------------------------------------------------------------------------- strings


@pytest.mark.parametrize("value", ["a", "é✓😀", " "])
def test_non_empty_string_accepts_non_empty_strings(value: str) -> None:
    contracts.non_empty_string(M, "arg", value)


@pytest.mark.parametrize(
    ("value", "shown"), [("", "''"), (None, "None"), (5, "5"), (b"x", "b'x'"), (["a"], "['a']")]
)
def test_non_empty_string_rejects_empty_and_non_strings(value: Any, shown: str) -> None:
    assert message_of(contracts.non_empty_string, value) == (
        f"{M}: argument 'arg' must be a non-empty string, got {shown}"
    )


def test_optional_non_empty_string_accepts_none_and_rejects_empty() -> None:
    contracts.optional_non_empty_string(M, "arg", None)
    assert message_of(contracts.optional_non_empty_string, "") == (
        f"{M}: argument 'arg' must be a non-empty string or None, got ''"
    )


def test_string_accepts_empty_string_and_rejects_none() -> None:
    contracts.string(M, "arg", "")
    assert message_of(contracts.string, None) == f"{M}: argument 'arg' must be a string, got None"


def test_optional_string_accepts_none_and_strings_and_rejects_numbers() -> None:
    contracts.optional_string(M, "arg", None)
    contracts.optional_string(M, "arg", "")
    assert message_of(contracts.optional_string, 1.5) == (
        f"{M}: argument 'arg' must be a string or None, got 1.5"
    )


# ---------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("value", [0, 1, -3, 2.5, 1e300, 10**30])
def test_number_accepts_finite_ints_and_floats(value: float) -> None:
    contracts.number(M, "arg", value)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(True, "True"), ("2", "'2'"), (None, "None"), (math.nan, "nan"), (math.inf, "inf")],
)
def test_number_rejects_bools_strings_none_and_non_finite(value: Any, shown: str) -> None:
    assert message_of(contracts.number, value) == (
        f"{M}: argument 'arg' must be a finite number (int or float, at most 1.8e308 in "
        f"magnitude), got {shown}"
    )


def test_optional_number_accepts_none_and_names_none_in_the_expectation() -> None:
    contracts.optional_number(M, "arg", None)
    assert message_of(contracts.optional_number, "x") == (
        f"{M}: argument 'arg' must be a finite number (int or float, at most 1.8e308 in "
        "magnitude) or None, got 'x'"
    )


def test_integer_checks_type_and_32_bit_range_by_default() -> None:
    contracts.integer(M, "arg", -(2**31))
    contracts.integer(M, "arg", 2**31 - 1)
    for bad in (2**31, 1.0, True):
        assert message_of(contracts.integer, bad) == (
            f"{M}: argument 'arg' must be an integer from -2147483648 to 2147483647, got {bad!r}"
        )


def test_integer_honours_custom_bounds() -> None:
    assert message_of(contracts.integer, -1, minimum=0) == (
        f"{M}: argument 'arg' must be an integer from 0 to 2147483647, got -1"
    )


def test_optional_integer_accepts_none() -> None:
    contracts.optional_integer(M, "arg", None)
    assert message_of(contracts.optional_integer, "1") == (
        f"{M}: argument 'arg' must be an integer from -2147483648 to 2147483647 or None, got '1'"
    )


@pytest.mark.parametrize("value", [1, 1920, 2**31 - 1])
def test_positive_int_accepts_positive_32_bit_ints(value: int) -> None:
    contracts.positive_int(M, "arg", value)


@pytest.mark.parametrize("value", [0, -1, 2**31, 1.0, True, "3", None])
def test_positive_int_rejects_zero_negative_too_large_and_non_ints(value: Any) -> None:
    assert message_of(contracts.positive_int, value) == (
        f"{M}: argument 'arg' must be a positive integer (1 to 2147483647), got {value!r}"
    )


# ---------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize("value", [1, 1600000000123, 1600000000123.7, 253402300799999])
def test_timestamp_accepts_positive_milliseconds(value: float) -> None:
    contracts.timestamp(M, "tstamp", value)


@pytest.mark.parametrize("value", [0, -1, 253402300800000, math.nan, True, "1600000000123", None])
def test_timestamp_rejects_non_positive_too_large_and_non_numbers(value: Any) -> None:
    assert message_of(contracts.timestamp, value) == (
        f"{M}: argument 'arg' must be a positive number of milliseconds since the Unix epoch "
        f"(at most 253402300799999), got {value!r}"
    )


# ---------------------------------------------------------------------------- choices, uuids


def test_one_of_lists_the_choices_in_order() -> None:
    contracts.one_of(M, "arg", "b", ("a", "b"))
    assert message_of(contracts.one_of, "c", ("a", "b")) == (
        f"{M}: argument 'arg' must be one of 'a', 'b', got 'c'"
    )


def test_one_of_rejects_non_strings_even_if_equal() -> None:
    with pytest.raises(ValidationError):
        contracts.one_of(M, "arg", 1, ("1",))


def test_uuid_string_accepts_canonical_uuids_in_either_case() -> None:
    contracts.uuid_string(M, "arg", "9c65e7f3-8e8e-4d2b-a7d6-6d1c3b2b8f1e")
    contracts.uuid_string(M, "arg", "9C65E7F3-8E8E-4D2B-A7D6-6D1C3B2B8F1E")


@pytest.mark.parametrize("value", ["not-a-uuid", "9c65e7f38e8e4d2ba7d66d1c3b2b8f1e", 5, None])
def test_uuid_string_rejects_other_values(value: Any) -> None:
    assert message_of(contracts.uuid_string, value) == (
        f"{M}: argument 'arg' must be a UUID string such as "
        f"'9c65e7f3-8e8e-4d2b-a7d6-6d1c3b2b8f1e', got {value!r}"
    )


def test_optional_uuid_string_accepts_none() -> None:
    contracts.optional_uuid_string(M, "arg", None)
    with pytest.raises(ValidationError):
        contracts.optional_uuid_string(M, "arg", "x")


# ---------------------------------------------------------------------------- self-describing


def test_self_describing_json_accepts_instances_and_rejects_dicts() -> None:
    contracts.self_describing_json(M, "arg", SDJ)
    assert message_of(contracts.self_describing_json, {"schema": "s", "data": {}}) == (
        f"{M}: argument 'arg' must be a SelfDescribingJson, got {{'schema': 's', 'data': {{}}}}"
    )


def test_list_of_self_describing_json_accepts_lists_and_tuples() -> None:
    contracts.list_of_self_describing_json(M, "context", [SDJ])
    contracts.list_of_self_describing_json(M, "context", (SDJ, SDJ))


@pytest.mark.parametrize("value", [[], (), SDJ, "x", None])
def test_list_of_self_describing_json_rejects_empty_lists_and_non_lists(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        contracts.list_of_self_describing_json(M, "context", value)
    assert str(info.value) == (
        f"{M}: argument 'context' must be a non-empty list of SelfDescribingJson (or None), "
        f"got {value!r}"
    )


def test_list_of_self_describing_json_names_the_bad_item_index() -> None:
    with pytest.raises(ValidationError) as info:
        contracts.list_of_self_describing_json(M, "context", [SDJ, {"a": 1}])
    assert str(info.value) == (
        f"{M}: argument 'context[1]' must be a SelfDescribingJson, got {{'a': 1}}"
    )


def test_optional_list_of_self_describing_json_accepts_none() -> None:
    contracts.optional_list_of_self_describing_json(M, "context", None)


# ---------------------------------------------------------------------------- lists of strings


def test_list_of_strings_accepts_lists_tuples_and_empty_lists() -> None:
    contracts.list_of_strings(M, "arg", ["a", ""])
    contracts.list_of_strings(M, "arg", ("a",))
    contracts.list_of_strings(M, "arg", [])


def test_list_of_strings_rejects_a_bare_string() -> None:
    assert message_of(contracts.list_of_strings, "abc") == (
        f"{M}: argument 'arg' must be a list of strings, got 'abc'"
    )


def test_list_of_strings_non_empty_rejects_empty_list() -> None:
    assert message_of(contracts.list_of_strings, [], non_empty=True) == (
        f"{M}: argument 'arg' must be a non-empty list of strings, got []"
    )


def test_list_of_strings_names_the_bad_item_index() -> None:
    assert message_of(contracts.list_of_strings, ["a", 2]) == (
        f"{M}: argument 'arg[1]' must be a string, got 2"
    )


def test_optional_list_of_strings_accepts_none() -> None:
    contracts.optional_list_of_strings(M, "arg", None)


# ---------------------------------------------------------------------------- forms


def test_form_node_names_and_types_mirror_tracker_1_1_0() -> None:
    assert {"INPUT", "TEXTAREA", "SELECT"} == FORM_NODE_NAMES
    assert len(FORM_TYPES) == 23
    assert {"text", "checkbox", "datetime-local", "week"} <= FORM_TYPES


@pytest.mark.parametrize("value", sorted(FORM_NODE_NAMES))
def test_form_node_name_accepts_the_documented_node_names(value: str) -> None:
    contracts.form_node_name(M, "node_name", value)


@pytest.mark.parametrize("value", ["input", "DIV", None])
def test_form_node_name_rejects_other_names(value: Any) -> None:
    assert message_of(contracts.form_node_name, value) == (
        f"{M}: argument 'arg' must be one of 'INPUT', 'SELECT', 'TEXTAREA', got {value!r}"
    )


def test_form_type_is_case_sensitive_unless_asked() -> None:
    contracts.form_type(M, "arg", "text")
    contracts.form_type(M, "arg", "TEXT", ignore_case=True)
    with pytest.raises(ValidationError) as info:
        contracts.form_type(M, "arg", "TEXT")
    assert str(info.value).startswith(f"{M}: argument 'arg' must be an HTML input type (one of ")
    assert str(info.value).endswith(", got 'TEXT'")


def test_form_element_accepts_a_valid_element() -> None:
    contracts.form_element(M, "e", {"name": "n", "value": None, "nodeName": "INPUT"})
    contracts.form_element(
        M, "e", {"name": "n", "value": "v", "nodeName": "SELECT", "type": "text"}
    )


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ("x", "argument 'e' must be a dict with 'name', 'value' and 'nodeName', got 'x'"),
        (
            {"name": "n", "nodeName": "INPUT"},
            "argument 'e' must be a dict with 'name', 'value' and 'nodeName' "
            "(missing 'value'), got {'name': 'n', 'nodeName': 'INPUT'}",
        ),
        (
            {"name": "n", "value": "v", "nodeName": "INPUT", "id": "x"},
            "argument 'e' must be a dict with only 'name', 'value', 'nodeName' and 'type' keys "
            "(unexpected 'id'), got {'name': 'n', 'value': 'v', 'nodeName': 'INPUT', 'id': 'x'}",
        ),
        (
            {"name": 1, "value": "v", "nodeName": "INPUT"},
            "argument 'e['name']' must be a string, got 1",
        ),
        (
            {"name": "n", "value": 1, "nodeName": "INPUT"},
            "argument 'e['value']' must be a string or None, got 1",
        ),
        (
            {"name": "n", "value": "v", "nodeName": "DIV"},
            "argument 'e['nodeName']' must be one of 'INPUT', 'SELECT', 'TEXTAREA', got 'DIV'",
        ),
    ],
)
def test_form_element_rejects_elements_the_submit_form_schema_rejects(
    element: Any, message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        contracts.form_element(M, "e", element)
    assert str(info.value) == f"{M}: {message}"


def test_form_element_rejects_an_unknown_type() -> None:
    with pytest.raises(ValidationError) as info:
        contracts.form_element(
            M, "e", {"name": "n", "value": "v", "nodeName": "INPUT", "type": "x"}
        )
    assert str(info.value).startswith(f"{M}: argument 'e['type']' must be an HTML input type")


# ---------------------------------------------------------------------------- misc


def test_helpers_check_even_when_contracts_are_disabled() -> None:
    # Callers test the flag once per call; a helper called directly always checks.
    contracts.disable_contracts()
    with pytest.raises(ValidationError):
        contracts.non_empty_string(M, "arg", "")
