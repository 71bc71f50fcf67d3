"""Tests of snowplow_tracker.subject.Subject: setters, validation, merging."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from snowplow_tracker.errors import ValidationError
from snowplow_tracker.protocol import contracts
from snowplow_tracker.subject import Subject

pytestmark = pytest.mark.usefixtures("restore_contracts")

SID = "9c65e7f3-8e8e-4d2b-a7d6-6d1c3b2b8f1e"


def test_a_fresh_subject_has_only_platform_pc() -> None:
    assert Subject().standard_nv_pairs == {"p": "pc"}


def test_every_setter_writes_its_protocol_field_as_a_string() -> None:
    s = (
        Subject()
        .set_platform("mob")
        .set_user_id("user-42")
        .set_screen_resolution(1920, 1080)
        .set_viewport(800, 600)
        .set_color_depth(24)
        .set_timezone("Europe/Paris")
        .set_lang("fr")
        .set_domain_user_id("5d79770b")
        .set_domain_session_id(SID)
        .set_domain_session_index(3)
        .set_ip_address("203.0.113.7")
        .set_useragent("golden-agent/1.0")
        .set_network_user_id("nuid-1")
    )
    assert s.standard_nv_pairs == {
        "p": "mob",
        "uid": "user-42",
        "res": "1920x1080",
        "vp": "800x600",
        "cd": "24",
        "tz": "Europe/Paris",
        "lang": "fr",
        "duid": "5d79770b",
        "sid": SID,
        "vid": "3",
        "ip": "203.0.113.7",
        "ua": "golden-agent/1.0",
        "tnuid": "nuid-1",
    }


def test_set_network_user_id_writes_tnuid_not_nuid() -> None:
    pairs = Subject().set_network_user_id("n").standard_nv_pairs
    assert pairs["tnuid"] == "n"
    assert "nuid" not in pairs


@pytest.mark.parametrize(
    "setter",
    [
        lambda s: s.set_platform("web"),
        lambda s: s.set_user_id("u"),
        lambda s: s.set_screen_resolution(1, 1),
        lambda s: s.set_viewport(1, 1),
        lambda s: s.set_color_depth(8),
        lambda s: s.set_timezone("UTC"),
        lambda s: s.set_lang("en"),
        lambda s: s.set_ip_address("::1"),
        lambda s: s.set_useragent("ua"),
        lambda s: s.set_domain_user_id("d"),
        lambda s: s.set_domain_session_id(SID),
        lambda s: s.set_domain_session_index(1),
        lambda s: s.set_network_user_id("n"),
    ],
)
def test_every_setter_returns_the_subject_for_chaining(setter: Callable[[Subject], Any]) -> None:
    s = Subject()
    assert setter(s) is s


@pytest.mark.parametrize(
    "platform", ["web", "mob", "pc", "srv", "app", "tv", "cnsl", "iot", "headset"]
)
def test_set_platform_accepts_every_supported_platform(platform: str) -> None:
    assert Subject().set_platform(platform).standard_nv_pairs["p"] == platform


@pytest.mark.parametrize(
    ("setter", "message"),
    [
        (
            lambda s: s.set_platform("desktop"),
            "Subject.set_platform: argument 'value' must be one of 'web', 'mob', 'pc', 'srv', "
            "'app', 'tv', 'cnsl', 'iot', 'headset', got 'desktop'",
        ),
        (
            lambda s: s.set_platform(None),
            "Subject.set_platform: argument 'value' must be one of 'web', 'mob', 'pc', 'srv', "
            "'app', 'tv', 'cnsl', 'iot', 'headset', got None",
        ),
        (
            lambda s: s.set_user_id(42),
            "Subject.set_user_id: argument 'user_id' must be a string or None, got 42",
        ),
        (
            lambda s: s.set_screen_resolution(0, 768),
            "Subject.set_screen_resolution: argument 'width' must be a positive integer "
            "(1 to 2147483647), got 0",
        ),
        (
            lambda s: s.set_screen_resolution(1366, "768"),
            "Subject.set_screen_resolution: argument 'height' must be a positive integer "
            "(1 to 2147483647), got '768'",
        ),
        (
            lambda s: s.set_viewport(-1, 200),
            "Subject.set_viewport: argument 'width' must be a positive integer "
            "(1 to 2147483647), got -1",
        ),
        (
            lambda s: s.set_viewport(300, 2.5),
            "Subject.set_viewport: argument 'height' must be a positive integer "
            "(1 to 2147483647), got 2.5",
        ),
        (
            lambda s: s.set_color_depth("walrus"),
            "Subject.set_color_depth: argument 'depth' must be a positive integer "
            "(1 to 2147483647), got 'walrus'",
        ),
        (
            lambda s: s.set_timezone(1),
            "Subject.set_timezone: argument 'timezone' must be a string or None, got 1",
        ),
        (
            lambda s: s.set_lang(["en"]),
            "Subject.set_lang: argument 'lang' must be a string or None, got ['en']",
        ),
        (
            lambda s: s.set_ip_address(1234),
            "Subject.set_ip_address: argument 'ip' must be a string or None, got 1234",
        ),
        (
            lambda s: s.set_useragent(b"ua"),
            "Subject.set_useragent: argument 'ua' must be a string or None, got b'ua'",
        ),
        (
            lambda s: s.set_domain_user_id(1),
            "Subject.set_domain_user_id: argument 'duid' must be a string or None, got 1",
        ),
        (
            lambda s: s.set_domain_session_id("session-1"),
            "Subject.set_domain_session_id: argument 'sid' must be a UUID string such as "
            "'9c65e7f3-8e8e-4d2b-a7d6-6d1c3b2b8f1e', got 'session-1'",
        ),
        (
            lambda s: s.set_domain_session_index(0),
            "Subject.set_domain_session_index: argument 'vid' must be a positive integer "
            "(1 to 2147483647), got 0",
        ),
        (
            lambda s: s.set_network_user_id(5),
            "Subject.set_network_user_id: argument 'nuid' must be a string or None, got 5",
        ),
    ],
)
def test_setters_reject_invalid_values_with_a_clear_message(
    setter: Callable[[Subject], Any], message: str
) -> None:
    s = Subject()
    with pytest.raises(ValidationError) as info:
        setter(s)
    assert str(info.value) == message
    assert s.standard_nv_pairs == {"p": "pc"}


def test_none_or_empty_string_removes_a_field() -> None:
    s = Subject().set_user_id("u").set_lang("en").set_color_depth(24)
    s.set_user_id(None).set_lang("").set_color_depth(None)
    assert s.standard_nv_pairs == {"p": "pc"}


def test_disabled_contracts_skip_setter_checks() -> None:
    contracts.disable_contracts()
    s = Subject().set_platform("desktop").set_color_depth("walrus").set_domain_session_id("x")
    assert s.standard_nv_pairs == {"p": "desktop", "cd": "walrus", "sid": "x"}


def test_disabled_contracts_set_platform_none_falls_back_to_the_default() -> None:
    contracts.disable_contracts()
    assert Subject().set_platform("web").set_platform(None).standard_nv_pairs["p"] == "pc"  # type: ignore[arg-type]


def test_later_setter_calls_overwrite_earlier_values() -> None:
    s = Subject().set_user_id("a").set_user_id("b")
    assert s.standard_nv_pairs["uid"] == "b"


# ---------------------------------------------------------------------------- merging


def test_combine_subject_lets_event_subject_fields_win() -> None:
    tracker_subject = Subject().set_platform("srv").set_user_id("u1").set_lang("fr")
    event_subject = Subject().set_user_id("u2")
    assert event_subject.combine_subject(tracker_subject) == {"p": "srv", "uid": "u2", "lang": "fr"}


def test_combine_subject_keeps_tracker_platform_unless_event_subject_set_one() -> None:
    tracker_subject = Subject().set_platform("mob")
    assert Subject().combine_subject(tracker_subject)["p"] == "mob"
    assert Subject().set_platform("tv").combine_subject(tracker_subject)["p"] == "tv"
    # explicitly setting the default also counts as explicit
    assert Subject().set_platform("pc").combine_subject(tracker_subject)["p"] == "pc"


def test_combine_subject_with_none_returns_a_copy_of_own_fields() -> None:
    s = Subject().set_user_id("u")
    merged = s.combine_subject(None)
    assert merged == {"p": "pc", "uid": "u"}
    merged["uid"] = "changed"
    assert s.standard_nv_pairs["uid"] == "u"


def test_combine_subject_modifies_neither_subject() -> None:
    tracker_subject = Subject().set_user_id("u1")
    event_subject = Subject().set_lang("de")
    event_subject.combine_subject(tracker_subject)
    assert tracker_subject.standard_nv_pairs == {"p": "pc", "uid": "u1"}
    assert event_subject.standard_nv_pairs == {"p": "pc", "lang": "de"}


def test_repr_shows_the_fields() -> None:
    assert repr(Subject().set_user_id("u")) == "Subject({'p': 'pc', 'uid': 'u'})"
