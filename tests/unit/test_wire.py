"""Unit tests of :mod:`snowplow_tracker.protocol.wire`: event encoding, request building, collector
URLs."""

from __future__ import annotations

import re
from typing import Any, Dict, Optional
from urllib.parse import parse_qsl

import orjson
import pytest

from snowplow_tracker.errors import ConfigurationError
from snowplow_tracker.protocol.wire import (
    GET_PATH,
    PAYLOAD_DATA_SCHEMA,
    POST_CONTENT_TYPE,
    POST_ENVELOPE_OVERHEAD,
    POST_PATH,
    check_method,
    collector_credentials,
    collector_urls,
    decode_event,
    decode_events,
    encode_event,
    event_cost,
    get_query,
    normalize_payload,
    post_body,
)
from tests.payloads import make_payload

STM = 1_700_000_000_123


TRICKY = {
    "se_la": "café é ✓ 😀",
    "se_pr": "a b&c=d+e%20f",
    "url": "https://shop.example.com/path?x=1&y=2#frag",
    "se_va": "",  # dropped
}


# -- constants ----------------------------------------------------------------------------------


def test_protocol_constants_match_the_tracker_protocol() -> None:
    assert PAYLOAD_DATA_SCHEMA == (
        "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
    )
    assert POST_PATH == "/com.snowplowanalytics.snowplow/tp2"
    assert GET_PATH == "/i"
    assert POST_CONTENT_TYPE == "application/json; charset=utf-8"


# -- encode / decode ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_encode_decode_round_trips_non_ascii_and_reserved_characters(method: str) -> None:
    event = make_payload(**TRICKY)
    encoded = encode_event(event, method)
    assert isinstance(encoded, bytes)
    expected = {k: v for k, v in event.items() if v != ""}
    assert decode_event(encoded, method) == expected


def test_encode_post_is_a_json_object_of_strings_without_stm() -> None:
    encoded = encode_event(make_payload(stm="123", **TRICKY), "post")
    doc = orjson.loads(encoded)
    assert isinstance(doc, dict)
    assert "stm" not in doc
    assert all(isinstance(v, str) for v in doc.values())
    assert doc["se_la"] == "café é ✓ 😀"


def test_encode_get_is_an_ascii_querystring_with_reserved_characters_escaped() -> None:
    encoded = encode_event(make_payload(**TRICKY), "get")
    text = encoded.decode("ascii")  # non-ASCII is percent-encoded
    pairs = text.split("&")
    # Every '&' and '=' of a value is escaped: each pair has exactly one '='.
    assert all(pair.count("=") == 1 for pair in pairs)
    assert " " not in text
    assert "se_la=caf%C3%A9" in text
    assert "stm=" not in text
    assert "se_va" not in text


def test_decode_events_decodes_each_event_in_order() -> None:
    events = [make_payload(se_la=str(i)) for i in range(3)]
    encoded = [encode_event(e, "post") for e in events]
    assert decode_events(encoded, "post") == events
    assert decode_events([], "get") == []


# -- normalize ----------------------------------------------------------------------------------


def test_normalize_returns_the_same_object_when_already_clean() -> None:
    event = make_payload()
    assert normalize_payload(event) is event


def test_normalize_turns_numbers_and_booleans_into_strings() -> None:
    out = normalize_payload({"e": "se", "se_va": 2.5, "vp": 0, "cookie": False, "n": 12})
    assert out == {"e": "se", "se_va": "2.5", "vp": "0", "cookie": "False", "n": "12"}
    assert all(type(v) is str for v in out.values())


def test_normalize_drops_none_and_empty_strings_but_keeps_zero() -> None:
    out = normalize_payload({"e": "pv", "url": None, "refr": "", "vp": 0, "page": "0"})
    assert out == {"e": "pv", "vp": "0", "page": "0"}


def test_normalize_drops_stm() -> None:
    event = make_payload(stm="1700000000000")
    out = normalize_payload(event)
    assert "stm" not in out
    assert out == {k: v for k, v in event.items() if k != "stm"}


def test_normalize_never_modifies_its_argument() -> None:
    event: Dict[str, Any] = {"e": "se", "se_va": 2, "url": None, "stm": "1"}
    snapshot = dict(event)
    out = normalize_payload(event)
    assert out is not event
    assert event == snapshot


@pytest.mark.parametrize("method", ["get", "post"])
def test_encode_normalizes_numbers_empties_and_stm(method: str) -> None:
    encoded = encode_event({"e": "se", "se_va": 3, "se_la": None, "stm": "9"}, method)
    assert decode_event(encoded, method) == {"e": "se", "se_va": "3"}


# -- post_body ----------------------------------------------------------------------------------


def test_post_body_splices_stm_into_every_event_and_is_a_payload_data_envelope() -> None:
    events = [make_payload(**TRICKY), make_payload(), make_payload(se_la="x")]
    body = post_body([encode_event(e, "post") for e in events], stm=STM)
    doc = orjson.loads(body)  # valid JSON
    assert doc["schema"] == PAYLOAD_DATA_SCHEMA
    assert len(doc["data"]) == 3
    for sent, original in zip(doc["data"], events):
        expected = {k: v for k, v in original.items() if v != ""}
        assert sent == {**expected, "stm": str(STM)}


def test_post_body_handles_an_empty_event_object() -> None:
    doc = orjson.loads(post_body([encode_event({}, "post")], stm=STM))
    assert doc["data"] == [{"stm": str(STM)}]


def test_post_body_uses_the_current_time_when_stm_is_omitted() -> None:
    doc = orjson.loads(post_body([encode_event(make_payload(), "post")]))
    stm = doc["data"][0]["stm"]
    assert re.fullmatch(r"\d{13}", stm)


def test_post_body_length_equals_the_event_costs_plus_the_envelope() -> None:
    encoded = [encode_event(make_payload(se_la="x" * i), "post") for i in (0, 5, 50)]
    body = post_body(encoded, stm=STM)
    assert len(body) == POST_ENVELOPE_OVERHEAD + sum(event_cost(e, "post") for e in encoded)


# -- get_query ----------------------------------------------------------------------------------


def test_get_query_appends_stm_as_the_last_parameter() -> None:
    event = make_payload(**TRICKY)
    query = get_query(encode_event(event, "get"), stm=STM)
    assert query.endswith(f"&stm={STM}")
    expected = {k: v for k, v in event.items() if v != ""}
    assert dict(parse_qsl(query)) == {**expected, "stm": str(STM)}
    assert len(query) == event_cost(encode_event(event, "get"), "get")


def test_get_query_of_an_empty_event_is_only_stm() -> None:
    assert get_query(b"", stm=STM) == f"stm={STM}"


def test_get_query_uses_the_current_time_when_stm_is_omitted() -> None:
    query = get_query(encode_event({"e": "pv"}, "get"))
    assert re.fullmatch(r"e=pv&stm=\d{13}", query)


# -- check_method -------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "expected"), [("get", "get"), ("POST", "post"), ("Get", "get")])
def test_check_method_lower_cases_get_and_post(given: str, expected: str) -> None:
    assert check_method(given, "Emitter") == expected


@pytest.mark.parametrize("bad", ["put", "", None, 1])
def test_check_method_rejects_anything_else_with_a_clear_message(bad: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        check_method(bad, "Emitter")
    message = str(info.value)
    assert message.startswith("Emitter: argument 'method'")
    assert "'get' or 'post'" in message
    assert repr(bad) in message


# -- collector_urls -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "protocol", "port", "base"),
    [
        ("collector.example.com", "http", None, "http://collector.example.com"),
        ("collector.example.com", "https", None, "https://collector.example.com"),
        ("collector.example.com:8080", "http", None, "http://collector.example.com:8080"),
        ("collector.example.com:8080", "http", 9090, "http://collector.example.com:9090"),
        ("collector.example.com", "http", 9090, "http://collector.example.com:9090"),
        ("https://collector.example.com", "http", None, "https://collector.example.com"),
        ("http://collector.example.com", "https", None, "http://collector.example.com"),
        ("HTTPS://Collector.Example.com", "http", None, "https://collector.example.com"),
        ("https://collector.example.com:8443", "http", 443, "https://collector.example.com:443"),
        ("collector.example.com/", "http", None, "http://collector.example.com"),
        ("collector.example.com/prefix", "http", None, "http://collector.example.com/prefix"),
        ("collector.example.com/prefix/", "http", None, "http://collector.example.com/prefix"),
        ("https://h.example.com:8443/a/b/", "http", None, "https://h.example.com:8443/a/b"),
        ("  collector.example.com  ", "http", None, "http://collector.example.com"),
        ("127.0.0.1:9090", "http", None, "http://127.0.0.1:9090"),
        ("[::1]:9090", "http", None, "http://[::1]:9090"),
        ("localhost:", "http", None, "http://localhost"),
    ],
)
def test_collector_urls_for_every_endpoint_form(
    endpoint: str, protocol: str, port: Optional[int], base: str
) -> None:
    get_url, post_url = collector_urls(endpoint, protocol, port)
    assert get_url == base + "/i"
    assert post_url == base + "/com.snowplowanalytics.snowplow/tp2"


def test_collector_urls_default_protocol_is_http() -> None:
    assert collector_urls("c.example.com")[0] == "http://c.example.com/i"


@pytest.mark.parametrize(
    ("endpoint", "expectation"),
    [
        ("", "non-empty host name"),
        ("   ", "non-empty host name"),
        (None, "non-empty host name"),
        (42, "non-empty host name"),
        ("ftp://collector.example.com", "optional http(s) scheme"),
        ("http://", "optional http(s) scheme"),
        ("://collector.example.com", "optional http(s) scheme"),
        ("collector.example.com?x=1", "optional http(s) scheme"),
        ("collector.example.com#frag", "optional http(s) scheme"),
        ("collector.example.com:abc", "port from 1 to 65535"),
        ("collector.example.com:99999", "port from 1 to 65535"),
        ("collector.example.com:-1", "port from 1 to 65535"),
        ("collector.example.com:0", "port from 1 to 65535"),
        ("collector example.com", "without spaces"),
        ("collector.example.com/a b", "without spaces"),
    ],
)
def test_collector_urls_rejects_invalid_endpoints_with_a_clear_message(
    endpoint: Any, expectation: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        collector_urls(endpoint)
    message = str(info.value)
    assert message.startswith("Emitter: argument 'endpoint' must be")
    assert expectation in message
    assert repr(endpoint) in message


@pytest.mark.parametrize(
    ("endpoint", "shown"),
    [
        ("https://u:pw-s3cret@host:99999", "'https://u:***@host:99999'"),
        ("u:pw-s3cret@host:99999", "'u:***@host:99999'"),
        ("http://u:pw-s3cret@host:abc", "'http://u:***@host:abc'"),
        ("ftp://u:pw-s3cret@host", "'ftp://u:***@host'"),
        ("http://u:pw-s3cret@host?x=1", "'http://u:***@host?x=1'"),
        ("http://u:pw-s3cret@host/a b", "'http://u:***@host/a b'"),
        ("u:pw-s3cret@host:0", "'u:***@host:0'"),
        ("https://u:pw@s3cret@host:99999", "'https://u:***@host:99999'"),
        ("u:pw@s3cret@host:99999", "'u:***@host:99999'"),
    ],
)
def test_collector_urls_errors_never_echo_a_password(endpoint: str, shown: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        collector_urls(endpoint)
    message = str(info.value)
    assert "s3cret" not in message
    assert shown in message


@pytest.mark.parametrize(
    ("endpoint", "base", "credentials"),
    [
        ("https://user:pass@c.example.com:8443", "https://c.example.com:8443", "user:pass"),
        ("user:pass@c.example.com", "http://c.example.com", "user:pass"),
        ("https://us%40er:p%3Aa%2Fss@c.example.com", "https://c.example.com", "us@er:p:a/ss"),
        ("https://token@c.example.com", "https://c.example.com", "token:"),
        ("https://c.example.com", "https://c.example.com", None),
    ],
)
def test_credentials_leave_the_urls_and_are_returned_decoded_for_basic_auth(
    endpoint: str, base: str, credentials: Optional[str]
) -> None:
    assert collector_urls(endpoint)[0] == base + "/i"
    assert collector_credentials(endpoint) == credentials


@pytest.mark.parametrize("protocol", ["ftp", "HTTP", "", None, "http://"])
def test_collector_urls_rejects_invalid_protocols_with_a_clear_message(protocol: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        collector_urls("collector.example.com", protocol)
    message = str(info.value)
    assert message.startswith("Emitter: argument 'protocol'")
    assert "'http' or 'https'" in message
    assert repr(protocol) in message


@pytest.mark.parametrize("port", [0, -1, 65536, "80", 80.0, True])
def test_collector_urls_rejects_invalid_ports_with_a_clear_message(port: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        collector_urls("collector.example.com", "http", port)
    message = str(info.value)
    assert message.startswith("Emitter: argument 'port'")
    assert "integer from 1 to 65535" in message
    assert repr(port) in message


def test_collector_urls_names_the_caller_given_in_where() -> None:
    with pytest.raises(ConfigurationError, match=r"^AsyncEmitter: argument 'endpoint'"):
        collector_urls("", where="AsyncEmitter")


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        collector_urls("")
