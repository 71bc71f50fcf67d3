"""Tests of snowplow_tracker.arguments: the rules every constructor argument is checked with."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

from snowplow_tracker import arguments
from snowplow_tracker.delivery.event_store import InMemoryEventStore
from snowplow_tracker.errors import ConfigurationError


def message_of(check: Callable[..., None], value: Any, *extra: Any) -> str:
    with pytest.raises(ConfigurationError) as info:
        check("Where", "arg", value, *extra)
    return str(info.value)


@pytest.mark.parametrize(
    ("check", "value", "expected"),
    [
        (arguments.positive_integer, 0, "a positive integer"),
        (arguments.positive_integer, True, "a positive integer"),
        (arguments.optional_positive_integer, 1.5, "a positive integer or None"),
        (arguments.positive_seconds, -1, "a positive number of seconds"),
        (arguments.optional_positive_seconds, "1", "a positive number of seconds or None"),
        (arguments.non_negative_number, float("nan"), "a number >= 0"),
        (arguments.non_empty_string, "", "a non-empty string"),
        (arguments.optional_non_empty_string, "", "a non-empty string or None"),
        (arguments.optional_string, 1, "a string or None"),
        (arguments.boolean, 1, "True or False"),
        (arguments.optional_callable, "f", "a callable or None"),
        (arguments.positive_finite_seconds, math.inf, "a positive number of seconds"),
        (arguments.positive_finite_seconds, 0, "a positive number of seconds"),
        (arguments.optional_session, "s", "a requests.Session or None"),
        (
            arguments.optional_event_store,
            [],
            "an EventStore (add_event, get_events_batch, cleanup, size) or None",
        ),
    ],
)
def test_a_rule_names_where_the_argument_the_expectation_and_the_value(
    check: Callable[..., None], value: Any, expected: str
) -> None:
    assert message_of(check, value) == f"Where: argument 'arg' must be {expected}, got {value!r}"


@pytest.mark.parametrize(
    "check",
    [
        arguments.optional_positive_integer,
        arguments.optional_positive_seconds,
        arguments.optional_non_empty_string,
        arguments.optional_string,
        arguments.optional_callable,
        arguments.optional_session,
        arguments.optional_event_store,
    ],
)
def test_an_optional_rule_accepts_none(check: Callable[..., None]) -> None:
    check("Where", "arg", None)


def test_the_object_rules_accept_their_objects() -> None:
    with requests.Session() as session:
        arguments.optional_session("Where", "session", session)
    arguments.optional_event_store("Where", "event_store", InMemoryEventStore())
    arguments.positive_finite_seconds("Where", "timeout", 0.5)


def test_parametrised_rules_say_their_bounds() -> None:
    assert message_of(arguments.optional_integer_between, 0, 1, 65535).endswith(
        "must be an integer from 1 to 65535 or None, got 0"
    )
    assert message_of(arguments.number_between, 2, 0, 1).endswith(
        "must be a number from 0 to 1, got 2"
    )
    assert message_of(arguments.count, 0, 1).endswith("must be an integer of at least 1, got 0")
    assert message_of(arguments.one_of, "put", ("get", "post")).endswith(
        "must be one of 'get', 'post', got 'put'"
    )
    arguments.optional_integer_between("Where", "arg", None, 1, 65535)
    arguments.number_between("Where", "arg", 0.5, 0, 1)


def test_shown_replaces_the_value_in_the_message() -> None:
    with pytest.raises(ConfigurationError) as info:
        arguments.fail("Where", "url", "a URL", "http://u:secret@h", shown="'http://u:***@h'")
    assert "secret" not in str(info.value)
    assert str(info.value) == "Where: argument 'url' must be a URL, got 'http://u:***@h'"


def test_event_arguments_and_configuration_arguments_share_one_rule_type() -> None:
    """Every event field's rule is an ``arguments.Rule`` whose check is a contracts function;
    the generated ``track_*`` code calls that function by name."""
    from snowplow_tracker.events import track_methods
    from snowplow_tracker.events.table import KINDS
    from snowplow_tracker.protocol import contracts

    source = "".join(Path(track_methods.__file__).read_text().split())  # without whitespace
    for kind in KINDS:
        for field in kind.fields:
            rule = field.rule
            assert isinstance(rule, arguments.Rule)
            check = rule.checker(field.optional)
            assert getattr(contracts, check.__name__) is check
            assert f'_c.{check.__name__}("{kind.method}","{field.arg}",{field.arg}' in source


def test_an_event_rule_checks_with_its_contract_message() -> None:
    from snowplow_tracker.errors import ValidationError
    from snowplow_tracker.events.description import FORM_ID, NON_EMPTY_STRING

    with pytest.raises(ValidationError) as info:
        NON_EMPTY_STRING("Tracker.track_page_view", "page_url", "")
    assert str(info.value) == (
        "Tracker.track_page_view: argument 'page_url' must be a non-empty string, got ''"
    )
    assert FORM_ID.ok("f") and not FORM_ID.ok("f" * 4097) and not FORM_ID.ok(1)


def test_encodings_are_an_enum_found_by_their_names() -> None:
    from enum import Enum

    from snowplow_tracker.events.description import ADD, DATA, Encoding

    assert issubclass(Encoding, Enum)
    assert Encoding("add") is ADD and Encoding("data") is DATA
    assert DATA.in_data and not ADD.in_data
