"""Validate what the tracker puts on the wire against the real Iglu schemas (test helper).

The schemas are copies of Iglu Central files under ``tests/data/schemas`` (see ``SOURCES.md``
there). They are JSON Schema draft-04 under Iglu's own ``$schema`` URI, which ``jsonschema`` does
not know, so :class:`jsonschema.Draft4Validator` is forced and the ``uuid`` format is added (the
networknt validator behind Iglu checks it). Each schema is itself checked against the Iglu
meta-schema when first loaded.

* :func:`validate_event` checks one event dict: ``payload_data`` 1-0-4, the atomic fields as
  Snowplow Enrich parses them (event code, platform, UUIDs, timestamps, integers, decimals,
  ``WxH``), then decodes ``ue_px``/``ue_pr`` and ``cx``/``co`` and validates the
  ``unstruct_event`` 1-0-0 / ``contexts`` 1-0-1 envelopes and, when the inner schema is stored
  here, the inner event or entity against it;
* :func:`validate_post_body` checks a POST body (the ``payload_data`` self-describing envelope,
  then every event);
* :func:`validate_get_query` checks a GET querystring (one event).

Every function raises :class:`SchemaValidationError` (an ``AssertionError``) listing every
problem found. Patterns are applied with ``fullmatch``: ``re.match`` with ``$`` would also
accept a trailing newline, which Enrich and Iglu refuse.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import parse_qsl

from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT4

SCHEMA_ROOT = Path(__file__).parent / "data" / "schemas"
META_SCHEMA_URI = (
    "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0"
)
PAYLOAD_DATA = ("com.snowplowanalytics.snowplow", "payload_data", "jsonschema", "1-0-4")

IGLU_URI = re.compile(
    r"^iglu:([a-zA-Z0-9\-_.]+)/([a-zA-Z0-9\-_]+)/([a-zA-Z0-9\-_]+)/([0-9]+-[0-9]+-[0-9]+)$"
)
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
DECIMAL_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
LONG_RE = re.compile(r"^[+-]?\d+$")
DIM_RE = re.compile(r"^(\d+)x(\d+)$")
PADDED_URLSAFE_B64 = re.compile(
    r"^(?:[A-Za-z0-9\-_]{4})*(?:[A-Za-z0-9\-_]{2}==|[A-Za-z0-9\-_]{3}=)?$"
)
URLSAFE_B64 = re.compile(r"^[A-Za-z0-9\-_]*={0,2}$")

EVENT_CODES = {"se", "ev", "ue", "ad", "tr", "ti", "pv", "pp"}
PLATFORMS = {"web", "iot", "app", "mob", "pc", "cnsl", "tv", "srv", "headset"}
INT_FIELDS = ("vid", "tid", "ti_qu", "pp_mix", "pp_max", "pp_miy", "pp_may")
DECIMAL_FIELDS = ("se_va", "tr_tt", "tr_tx", "tr_sh", "ti_pr")
TSTAMP_FIELDS = ("dtm", "stm", "ttm")
REQUIRED_BY_EVENT = {
    "pv": ("url",),
    "pp": ("url",),
    "se": ("se_ca", "se_ac"),
    "ue": (),
    "tr": ("tr_id", "tr_tt"),
    "ti": ("ti_id", "ti_sk", "ti_pr"),
}

Check = Callable[[Any], List[str]]


class SchemaValidationError(AssertionError):
    """What was validated broke one or more rules; the message lists them all."""


@functools.cache
def _meta_validator() -> Draft4Validator:
    path = SCHEMA_ROOT / "com.snowplowanalytics.self-desc" / "schema" / "jsonschema" / "1-0-0"
    meta = json.loads(path.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(
        META_SCHEMA_URI, DRAFT4.create_resource(meta)
    )
    return Draft4Validator(meta, registry=registry)


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=list(Draft4Validator.FORMAT_CHECKER.checkers))
    checker.checks("uuid")(lambda v: not isinstance(v, str) or bool(UUID_RE.fullmatch(v)))
    return checker


@functools.cache
def schema_check(vendor: str, name: str, fmt: str, version: str) -> Optional[Check]:
    """Return a function listing the errors of an instance, or None if the schema is not stored.

    Args:
        vendor: The schema vendor, e.g. ``com.snowplowanalytics.snowplow``.
        name: The schema name.
        fmt: The schema format (``jsonschema``).
        version: The SchemaVer, e.g. ``1-0-0``.
    """
    path = SCHEMA_ROOT / vendor / name / fmt / version
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    declared = schema.get("self", {})
    if (
        declared.get("vendor"),
        declared.get("name"),
        declared.get("format"),
        declared.get("version"),
    ) != (
        vendor,
        name,
        fmt,
        version,
    ):
        raise RuntimeError(f"{path} declares self={declared!r}")
    meta_errors = list(_meta_validator().iter_errors(schema))
    if meta_errors:
        raise RuntimeError(f"{path} fails the Iglu meta-schema: {meta_errors[0].message}")
    validator = Draft4Validator(schema, format_checker=_format_checker())

    def check(instance: Any) -> List[str]:
        out = []
        for err in sorted(validator.iter_errors(instance), key=lambda e: [str(x) for x in e.path]):
            loc = "/".join(str(x) for x in err.absolute_path) or "(root)"
            out.append(f"{name} {version} at {loc}: {err.message}")
        return out

    return check


def parse_iglu(uri: Any) -> Optional[Tuple[str, str, str, str]]:
    """Split an ``iglu:`` URI into (vendor, name, format, version), or None if malformed.

    Args:
        uri: The schema URI.
    """
    match = IGLU_URI.fullmatch(uri) if isinstance(uri, str) else None
    return match.groups() if match else None  # type: ignore[return-value]


def check_self_describing(
    sdj: Any, where: str, expect: Optional[Tuple[str, str, str]] = None, required: bool = True
) -> List[str]:
    """List the errors of a self-describing JSON: envelope, then data against its schema.

    Args:
        sdj: The ``{"schema": ..., "data": ...}`` object.
        where: A label for the messages.
        expect: (vendor, name, version) the envelope must name, if any.
        required: Whether a schema that is not stored here is an error (else it is skipped).
    """
    envelope = schema_check(
        "com.snowplowanalytics.self-desc", "instance-iglu-only", "jsonschema", "1-0-0"
    )
    assert envelope is not None
    errors = envelope(sdj)
    if errors:
        return [f"{where}: not a self-describing JSON: {e}" for e in errors]
    key = parse_iglu(sdj["schema"])
    assert key is not None  # the envelope schema checked the pattern
    vendor, name, fmt, version = key
    if expect is not None and (vendor, name, version) != expect:
        return [f"{where}: schema is {sdj['schema']}, expected {'/'.join(expect)}"]
    check = schema_check(vendor, name, fmt, version)
    if check is None:
        return [f"{where}: schema {sdj['schema']} is not stored"] if required else []
    return [f"{where}: {e}" for e in check(sdj["data"])]


def _decode_json_field(
    event: Mapping[str, str],
    encoded: str,
    plain: str,
    where: str,
    errors: List[str],
    require_padding: bool,
) -> Optional[Any]:
    if encoded in event and plain in event:
        errors.append(f"{where}: both {encoded} and {plain} present")
    if encoded in event:
        text = event[encoded]
        pattern = PADDED_URLSAFE_B64 if require_padding else URLSAFE_B64
        if not pattern.fullmatch(text):
            style = " with '=' padding" if require_padding else ""
            errors.append(f"{where}: {encoded} is not URL-safe base64{style}: {text!r}")
            return None
        try:
            raw = base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
            decoded = raw.decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            errors.append(f"{where}: {encoded} does not decode: {exc}")
            return None
        field = encoded
    elif plain in event:
        decoded, field = event[plain], plain
    else:
        return None
    try:
        return json.loads(decoded)
    except ValueError as exc:
        errors.append(f"{where}: {field} is not JSON: {exc}")
        return None


def _atomic_errors(event: Mapping[str, str], where: str) -> List[str]:
    errors: List[str] = []

    def bad(field: str, why: str) -> None:
        errors.append(f"{where}: {field}={event[field]!r}: {why}")

    code = event.get("e")
    if "e" in event and code not in EVENT_CODES:
        bad("e", "not an event code Enrich recognises")
    if "p" in event and event["p"] not in PLATFORMS:
        bad("p", "not a platform Enrich recognises")
    for field in ("eid", "sid"):
        if field in event and not UUID_RE.fullmatch(event[field]):
            bad(field, "not a canonical UUID")
    for field in TSTAMP_FIELDS:
        if field in event:
            value = event[field]
            if not LONG_RE.fullmatch(value):
                bad(field, "not milliseconds since the epoch")
            elif not 10**11 <= int(value) <= 253402300799999:
                bad(field, "not a plausible millisecond timestamp")
    for field in INT_FIELDS:
        if field in event and not (
            LONG_RE.fullmatch(event[field]) and -(2**31) <= int(event[field]) <= 2**31 - 1
        ):
            bad(field, "not a 32-bit integer")
    for field in DECIMAL_FIELDS:
        if field in event and not DECIMAL_RE.fullmatch(event[field]):
            bad(field, "not a decimal number")
    for field in ("res", "vp", "ds"):
        if field in event and not DIM_RE.fullmatch(event[field]):
            bad(field, "not WIDTHxHEIGHT")
    for field in REQUIRED_BY_EVENT.get(code or "", ()):
        if field not in event:
            errors.append(f"{where}: e={code} without {field}")
    return errors


def event_errors(
    event: Mapping[str, Any], where: str = "event", require_padding: bool = True
) -> List[str]:
    """List every problem of one event dict (see :func:`validate_event`).

    Args:
        event: The event's fields.
        where: A label for the messages.
        require_padding: Require ``ue_px``/``cx`` to be padded URL-safe base64, as this tracker
            (and tracker 1.1.0) writes it; Enrich also accepts it unpadded.
    """
    payload_data = schema_check(*PAYLOAD_DATA)
    assert payload_data is not None
    errors = [f"{where}: {e}" for e in payload_data([dict(event)])]
    if errors or not all(isinstance(v, str) for v in event.values()):
        return errors or [f"{where}: a value is not a string"]
    errors.extend(_atomic_errors(event, where))
    unstruct = _decode_json_field(event, "ue_px", "ue_pr", where, errors, require_padding)
    if event.get("e") == "ue" and "ue_px" not in event and "ue_pr" not in event:
        errors.append(f"{where}: e=ue without ue_px or ue_pr")
    if unstruct is not None:
        env_errors = check_self_describing(
            unstruct,
            f"{where} unstruct_event",
            expect=("com.snowplowanalytics.snowplow", "unstruct_event", "1-0-0"),
        )
        errors.extend(env_errors)
        if not env_errors:
            inner = unstruct["data"]
            inner_vendor = (
                (parse_iglu(inner.get("schema")) or ("",))[0] if isinstance(inner, dict) else ""
            )
            errors.extend(
                check_self_describing(
                    inner,
                    f"{where} ue data",
                    required=inner_vendor.startswith("com.snowplowanalytics"),
                )
            )
    contexts = _decode_json_field(event, "cx", "co", where, errors, require_padding)
    if contexts is not None:
        env_errors = check_self_describing(
            contexts,
            f"{where} contexts",
            expect=("com.snowplowanalytics.snowplow", "contexts", "1-0-1"),
        )
        errors.extend(env_errors)
        if not env_errors:
            for i, entity in enumerate(contexts["data"]):
                vendor = (parse_iglu(entity.get("schema")) or ("",))[0]
                errors.extend(
                    check_self_describing(
                        entity,
                        f"{where} contexts[{i}]",
                        required=vendor.startswith("com.snowplowanalytics"),
                    )
                )
    return errors


def validate_event(
    event: Mapping[str, Any], where: str = "event", require_padding: bool = True
) -> None:
    """Validate one event dict as a collector and Enrich would.

    Args:
        event: The event's fields (protocol names to string values).
        where: A label for the messages.
        require_padding: Require padded base64 (see :func:`event_errors`).

    Raises:
        SchemaValidationError: Listing every problem found.
    """
    errors = event_errors(event, where, require_padding)
    if errors:
        raise SchemaValidationError("\n".join(errors))


def validate_post_body(body: bytes, require_padding: bool = True) -> List[Dict[str, str]]:
    """Validate a POST body: the ``payload_data`` 1-0-4 envelope, then every event.

    Args:
        body: The request body as sent.
        require_padding: Require padded base64 (see :func:`event_errors`).

    Returns:
        The events of the body.

    Raises:
        SchemaValidationError: Listing every problem found.
    """
    try:
        doc = json.loads(body.decode("utf-8"))
    except ValueError as exc:
        raise SchemaValidationError(f"POST body is not UTF-8 JSON: {exc}") from exc
    errors = check_self_describing(
        doc, "POST body", expect=("com.snowplowanalytics.snowplow", "payload_data", "1-0-4")
    )
    if errors:
        raise SchemaValidationError("\n".join(errors))
    events: List[Dict[str, str]] = doc["data"]
    for i, event in enumerate(events):
        errors.extend(event_errors(event, f"POST event[{i}]", require_padding))
    if errors:
        raise SchemaValidationError("\n".join(errors))
    return events


def validate_get_query(query: str, require_padding: bool = True) -> Dict[str, str]:
    """Validate a GET querystring (one event, ``stm`` included).

    Args:
        query: The querystring, without the leading ``?``.
        require_padding: Require padded base64 (see :func:`event_errors`).

    Returns:
        The event's fields.

    Raises:
        SchemaValidationError: Listing every problem found.
    """
    if not query.isascii():
        raise SchemaValidationError(f"GET querystring is not ASCII: {query!r}")
    pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    event: Dict[str, str] = {}
    errors = []
    for key, value in pairs:
        if key in event:
            errors.append(f"GET: duplicate key {key!r}")
        event[key] = value
    errors.extend(event_errors(event, "GET event", require_padding))
    if errors:
        raise SchemaValidationError("\n".join(errors))
    return event
