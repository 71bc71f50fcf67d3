"""The Snowplow tracker protocol on the wire: the one place that encodes events and builds requests.

An event crosses every emitter as *encoded bytes*, produced exactly once by :func:`encode_event`:

* for POST, the event's JSON object (orjson, every value a string, no ``stm``);
* for GET, the event's urlencoded querystring (no ``stm``).

Requests are built from those bytes without parsing them again: :func:`post_body` splices the
send time ``stm`` into each JSON object and wraps the batch in the ``payload_data`` envelope;
:func:`get_query` appends ``&stm=`` to the querystring. :func:`decode_event` turns bytes back into
a dict only where a user asked for dicts (``on_success``/``on_failure`` callbacks).
"""

from __future__ import annotations

import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import orjson

from .. import arguments as _args
from .credentials import (
    ENCODED_CREDENTIALS,
    has_scheme,
    mask_url,
    split_userinfo,
    unencoded_credentials,
)

PAYLOAD_DATA_SCHEMA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
POST_PATH = "/com.snowplowanalytics.snowplow/tp2"
GET_PATH = "/i"
POST_CONTENT_TYPE = "application/json; charset=utf-8"
METHODS = ("get", "post")

PayloadDict = Dict[str, str]

_POST_PREFIX = b'{"schema":"' + PAYLOAD_DATA_SCHEMA.encode() + b'","data":['
_POST_SUFFIX = b"]}"
#: Bytes a POST event costs on the wire beyond its own JSON: ``,"stm":"1700000000000"`` and a comma.
POST_EVENT_OVERHEAD = 23
#: Bytes a GET event costs beyond its querystring: ``&stm=1700000000000``.
GET_EVENT_OVERHEAD = 18
#: Bytes of a POST body beyond the costs of its events: the ``payload_data`` envelope (less the
#: one comma counted in ``POST_EVENT_OVERHEAD`` that the first event does not need).
POST_ENVELOPE_OVERHEAD = len(_POST_PREFIX) + len(_POST_SUFFIX) - 1


def check_method(method: str, where: str) -> str:
    """Return ``method`` lower-cased if it is ``"get"`` or ``"post"``, else raise.

    Args:
        method: The HTTP method name given by the user.
        where: The qualified name of the caller, for the error message.
    """
    if not isinstance(method, str) or method.lower() not in METHODS:
        _args.fail(where, "method", "'get' or 'post'", method)
    return method.lower()


def _stringify(payload: Mapping[str, Any]) -> PayloadDict:
    out: PayloadDict = {}
    for key, value in payload.items():
        if value is None or value == "" or key == "stm":
            continue
        out[str(key)] = value if value.__class__ is str else str(value)
    return out


def normalize_payload(payload: Mapping[str, Any]) -> PayloadDict:
    """Return ``payload`` as the protocol wants: values are non-empty strings, no ``stm``.

    The tracker already builds such dicts, so this is a cheap check that returns the same object;
    a dict from a custom caller (for instance events re-sent from ``on_failure``) is copied and
    fixed.

    Args:
        payload: A flat mapping of protocol field names to values.
    """
    if "stm" in payload:
        return _stringify(payload)
    for value in payload.values():
        if value.__class__ is not str or not value:
            return _stringify(payload)
    return payload  # type: ignore[return-value]


def encode_event(payload: Mapping[str, Any], method: str) -> bytes:
    """Encode one event for ``method``; the only serialisation an event ever gets.

    Args:
        payload: The event, a flat mapping of protocol field names to string values.
        method: ``"post"`` (JSON object bytes) or ``"get"`` (querystring bytes).
    """
    payload = normalize_payload(payload)
    if method == "post":
        return orjson.dumps(payload)
    return urlencode(payload).encode("ascii")


def decode_event(event: bytes, method: str) -> PayloadDict:
    """Turn encoded event bytes back into the event dict (for callbacks; never on the send path).

    Args:
        event: Bytes produced by :func:`encode_event` with the same ``method``.
        method: ``"post"`` or ``"get"``.
    """
    if method == "post":
        decoded: PayloadDict = orjson.loads(event)
        return decoded
    return dict(parse_qsl(event.decode("ascii"), keep_blank_values=True))


def decode_events(events: Iterable[bytes], method: str) -> List[PayloadDict]:
    """Decode many events; see :func:`decode_event`."""
    return [decode_event(e, method) for e in events]


def event_cost(event: bytes, method: str) -> int:
    """Bytes ``event`` adds to a request, as counted against ``byte_limit``."""
    return len(event) + (POST_EVENT_OVERHEAD if method == "post" else GET_EVENT_OVERHEAD)


def sent_timestamp() -> int:
    """The send time ``stm`` in milliseconds since the epoch."""
    return int(time.time() * 1000)


def post_body(events: Sequence[bytes], stm: Optional[int] = None) -> bytes:
    """Build a POST body from encoded events, splicing ``stm`` into each one without parsing.

    Args:
        events: JSON object bytes from :func:`encode_event` (``method="post"``), at least one.
        stm: The send time in ms; now when omitted.
    """
    if stm is None:
        stm = sent_timestamp()
    tail = b',"stm":"%d"}' % stm
    parts = []
    for event in events:
        if len(event) <= 2:  # "{}": nothing to splice after
            parts.append(b'{"stm":"%d"}' % stm)
        else:
            parts.append(event[:-1] + tail)
    return _POST_PREFIX + b",".join(parts) + _POST_SUFFIX


def get_query(event: bytes, stm: Optional[int] = None) -> str:
    """Build the querystring of a GET request for one encoded event, with ``stm`` appended.

    Args:
        event: Querystring bytes from :func:`encode_event` (``method="get"``).
        stm: The send time in ms; now when omitted.
    """
    if stm is None:
        stm = sent_timestamp()
    return f"{event.decode('ascii')}&stm={stm}" if event else f"stm={stm}"


def _with_scheme(endpoint: str, protocol: str) -> str:
    text = endpoint.strip()
    return text if has_scheme(text) else f"{protocol}://{text}"


def _shown(endpoint: str) -> str:
    """``repr(endpoint)`` for an error message, its password masked (with or without scheme)."""
    if has_scheme(endpoint):
        return repr(mask_url(endpoint))
    return repr(mask_url("x://" + endpoint)[len("x://") :])


def collector_urls(
    endpoint: str, protocol: str = "http", port: Optional[int] = None, *, where: str = "Emitter"
) -> Tuple[str, str]:
    """Return the collector's ``(get_url, post_url)``, without the credentials of ``endpoint``.

    Args:
        endpoint: Host name, optionally with ``:port``, a path prefix, credentials
            (``user:password@host``, see :func:`collector_credentials`) or a scheme
            (``https://host``), which then wins over ``protocol``.
        protocol: ``"http"`` or ``"https"``.
        port: A port, which wins over one in ``endpoint``.
        where: The qualified name of the caller, for error messages (which never show a
            password).

    Raises:
        ConfigurationError: The endpoint is empty or malformed, or the protocol or port is invalid.
    """
    if not isinstance(endpoint, str) or not endpoint.strip():
        _args.fail(
            where, "endpoint", "a non-empty host name such as 'collector.example.com'", endpoint
        )
    if protocol not in ("http", "https"):
        _args.fail(where, "protocol", "'http' or 'https'", protocol)
    _args.optional_integer_between(where, "port", port, 1, 65535)
    text = _with_scheme(endpoint, protocol)
    if unencoded_credentials(text):
        expected = f"a collector URL with {ENCODED_CREDENTIALS}"
        _args.fail(where, "endpoint", expected, endpoint, shown=_shown(endpoint))
    with_port = "a host name with an optional port from 1 to 65535"
    try:
        parts = urlsplit(text)
        host = parts.hostname
        url_port = parts.port
        unreadable = False
    except ValueError:  # its message may quote the URL: it is not shown, nor chained
        unreadable = True
    if unreadable:
        _args.fail(where, "endpoint", with_port, endpoint, shown=_shown(endpoint))
    if url_port == 0:
        _args.fail(where, "endpoint", with_port, endpoint, shown=_shown(endpoint))
    if parts.scheme not in ("http", "https") or not host or parts.query or parts.fragment:
        expected = "a host name with an optional http(s) scheme, port and path"
        _args.fail(where, "endpoint", expected, endpoint, shown=_shown(endpoint))
    if any(c.isspace() for c in text):
        expected = "a host name without spaces"
        _args.fail(where, "endpoint", expected, endpoint, shown=_shown(endpoint))
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    elif url_port is not None:
        netloc += f":{url_port}"
    base = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
    return base + GET_PATH, base + POST_PATH


def collector_credentials(endpoint: str, protocol: str = "http") -> Optional[str]:
    """The ``"user:password"`` in ``endpoint`` (percent-decoded), sent as HTTP basic auth; None
    when it has none. Call it after :func:`collector_urls` accepted the endpoint.

    Args:
        endpoint: As given to :func:`collector_urls`.
        protocol: As given to :func:`collector_urls`.
    """
    _, userinfo, _ = split_userinfo(_with_scheme(endpoint, protocol))
    if userinfo is None:
        return None
    user, _, password = userinfo.partition(":")
    return f"{unquote(user)}:{unquote(password)}"
