"""Argument contracts: the documented validation rules and the switch that turns them off.

Every ``track_*`` method, every :class:`~snowplow_tracker.subject.Subject` setter and
:class:`~snowplow_tracker.protocol.self_describing_json.SelfDescribingJson` check their arguments
while contracts are enabled (the default) and raise
:class:`~snowplow_tracker.errors.ValidationError`
before anything reaches an emitter. The message names the method, the argument, what was expected
and the value given, for example::

    Tracker.track_struct_event: argument 'category' must be a non-empty string, got ''

:func:`disable_contracts` turns every check off, for speed: callers then test one module flag and
skip their checks entirely. The check helpers below always check; it is the caller's job to test
:func:`contracts_enabled` (or ``checking.enabled``) once per call before using them.

Every check helper takes ``method`` (the qualified name of the method called), ``arg`` (the
argument's name, or a path into it such as ``"items[0]['sku']"``) and ``value`` (the value
given), then its own options, and raises :class:`~snowplow_tracker.errors.ValidationError` when
the value breaks the rule its docstring states.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any, Iterable, Mapping, Optional

from . import checking
from . import self_describing_json as _sdj
from .checking import describe as describe  # re-exported: the message form
from .checking import fail as fail
from .constants import (
    FORM_NODE_NAMES,
    FORM_TYPES,
    MAX_FORM_VALUE,
    MAX_INT32,
    MAX_TIMESTAMP_MS,
)

#: A UUID in canonical 8-4-4-4-12 form; use ``fullmatch`` (``match`` with ``$`` would also accept
#: a trailing newline).
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: The largest finite float: a number argument beyond it (an int such as ``10**400``) cannot be
#: sent as a decimal that Snowplow Enrich parses into a double.
MAX_NUMBER = sys.float_info.max
#: What a number argument must be, as error messages say it.
NUMBER_EXPECTED = "a finite number (int or float, at most 1.8e308 in magnitude)"
#: Why a string with a lone surrogate is refused, as error messages say it.
TEXT_EXPECTED = (
    "a string of Unicode text (no lone surrogate such as '\\ud800': UTF-8 cannot encode it)"
)
_FORM_ELEMENT_KEYS = frozenset({"name", "value", "nodeName", "type"})
#: Keys a transaction item may have. The last four are ignored (the transaction's values win):
#: tracker 1.1.0 wrote them into the caller's item dicts, so such dicts must still be accepted.
ITEM_KEYS = frozenset(
    {"sku", "price", "quantity", "name", "category", "context"}
    | {"order_id", "currency", "tstamp", "event_subject"}
)


def enable_contracts() -> None:
    """Turn argument checks on (the default)."""
    checking.enabled = True


def disable_contracts() -> None:
    """Turn argument checks off everywhere, for speed.

    Invalid arguments are then no longer reported; they may produce events that a collector
    rejects, or exceptions from deeper down (for instance when serialising).
    """
    checking.enabled = False


def contracts_enabled() -> bool:
    """Return whether argument checks are on."""
    return checking.enabled


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and -MAX_NUMBER <= value <= MAX_NUMBER
    )


def is_text(value: str) -> bool:
    """Whether the string ``value`` can be sent: it encodes to UTF-8 (no lone surrogate).

    ASCII strings are answered at once (``str.isascii`` reads a flag of the string object).

    Args:
        value: A string.
    """
    if str.isascii(value):
        return True
    try:
        str.encode(value, "utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(
    method: str, arg: str, value: Any, expected: str, max_length: Optional[int], non_empty: bool
) -> None:
    """Check that ``value`` is a string (non-empty if asked), of Unicode text, not too long.

    Args:
        expected: What the argument must be, for the message when ``value`` is no string.
        max_length: Most characters allowed (a schema's ``maxLength``), or None.
        non_empty: Whether ``""`` is refused.
    """
    if not isinstance(value, str) or (non_empty and not value):
        fail(method, arg, expected, value)
    if not is_text(value):
        fail(method, arg, TEXT_EXPECTED, value)
    if max_length is not None and len(value) > max_length:
        fail(
            method,
            arg,
            f"a string of at most {max_length} characters (the event's schema; this one has "
            f"{len(value)})",
            value,
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def non_empty_string(method: str, arg: str, value: Any, max_length: Optional[int] = None) -> None:
    """Check that ``value`` is a non-empty string of Unicode text.

    Args:
        max_length: Most characters allowed, or None.
    """
    _check_text(method, arg, value, "a non-empty string", max_length, True)


def optional_non_empty_string(
    method: str, arg: str, value: Any, max_length: Optional[int] = None
) -> None:
    """Check ``value`` as :func:`non_empty_string` does, but accept None (the message adds
    ``or None``)."""
    if value is not None:
        _check_text(method, arg, value, "a non-empty string or None", max_length, True)


def string(method: str, arg: str, value: Any, max_length: Optional[int] = None) -> None:
    """Check that ``value`` is a string (possibly empty) of Unicode text.

    Args:
        max_length: Most characters allowed, or None.
    """
    _check_text(method, arg, value, "a string", max_length, False)


def optional_string(method: str, arg: str, value: Any, max_length: Optional[int] = None) -> None:
    """Check ``value`` as :func:`string` does, but accept None (the message adds
    ``or None``)."""
    if value is not None:
        _check_text(method, arg, value, "a string or None", max_length, False)


def number(method: str, arg: str, value: Any) -> None:
    """Check that ``value`` is a finite int or float (not a bool)."""
    if not _is_number(value):
        fail(method, arg, NUMBER_EXPECTED, value)


def optional_number(method: str, arg: str, value: Any) -> None:
    """Check ``value`` as :func:`number` does, but accept None (the message adds
    ``or None``)."""
    if value is not None and not _is_number(value):
        fail(method, arg, NUMBER_EXPECTED + " or None", value)


def integer(
    method: str, arg: str, value: Any, minimum: int = -MAX_INT32 - 1, maximum: int = MAX_INT32
) -> None:
    """Check that ``value`` is an int (not a bool) from ``minimum`` to ``maximum``.

    Args:
        minimum: Smallest allowed value (default: the 32-bit minimum).
        maximum: Largest allowed value (default: the 32-bit maximum).
    """
    if not _is_int(value) or not minimum <= value <= maximum:
        fail(method, arg, f"an integer from {minimum} to {maximum}", value)


def optional_integer(
    method: str, arg: str, value: Any, minimum: int = -MAX_INT32 - 1, maximum: int = MAX_INT32
) -> None:
    """Check ``value`` as :func:`integer` does, but accept None (the message adds
    ``or None``)."""
    if value is not None and (not _is_int(value) or not minimum <= value <= maximum):
        fail(method, arg, f"an integer from {minimum} to {maximum} or None", value)


def positive_int(method: str, arg: str, value: Any) -> None:
    """Check that ``value`` is an int from 1 to 2147483647 (a positive 32-bit integer)."""
    if not _is_int(value) or not 0 < value <= MAX_INT32:
        fail(method, arg, f"a positive integer (1 to {MAX_INT32})", value)


def timestamp(method: str, arg: str, value: Any) -> None:
    """Check that ``value`` is a positive number of milliseconds since the Unix epoch."""
    if not _is_number(value) or not 0 < value <= MAX_TIMESTAMP_MS:
        fail(
            method,
            arg,
            f"a positive number of milliseconds since the Unix epoch (at most {MAX_TIMESTAMP_MS})",
            value,
        )


def one_of(method: str, arg: str, value: Any, allowed: Iterable[Any]) -> None:
    """Check that ``value`` is one of ``allowed``.

    Args:
        allowed: The allowed values, in the order the message lists them.
    """
    choices = tuple(allowed)
    if not isinstance(value, str) or value not in choices:
        fail(method, arg, "one of " + ", ".join(repr(c) for c in choices), value)


def uuid_string(method: str, arg: str, value: Any) -> None:
    """Check that ``value`` is a UUID in canonical 8-4-4-4-12 hexadecimal form."""
    if not isinstance(value, str) or not UUID_RE.fullmatch(value):
        fail(
            method,
            arg,
            "a UUID string such as '9c65e7f3-8e8e-4d2b-a7d6-6d1c3b2b8f1e'",
            value,
        )


def optional_uuid_string(method: str, arg: str, value: Any) -> None:
    """Check ``value`` as :func:`uuid_string` does, but accept None (the message adds
    ``or None``)."""
    if value is not None:
        uuid_string(method, arg, value)


def self_describing_json(method: str, arg: str, value: Any) -> None:
    """Check that ``value`` is a :class:`.SelfDescribingJson`."""
    if not isinstance(value, _sdj.SelfDescribingJson):
        fail(method, arg, "a SelfDescribingJson", value)


def list_of_self_describing_json(method: str, arg: str, value: Any) -> None:
    """Check that ``value`` is a non-empty list (or tuple) of SelfDescribingJson."""
    if not isinstance(value, (list, tuple)) or not value:
        fail(method, arg, "a non-empty list of SelfDescribingJson (or None)", value)
    cls = _sdj.SelfDescribingJson
    for i, item in enumerate(value):
        if not isinstance(item, cls):
            fail(method, f"{arg}[{i}]", "a SelfDescribingJson", item)


def optional_list_of_self_describing_json(method: str, arg: str, value: Any) -> None:
    """Check ``value`` as :func:`list_of_self_describing_json` does, but accept None."""
    if value is not None:
        list_of_self_describing_json(method, arg, value)


def list_of_strings(
    method: str, arg: str, value: Any, non_empty: bool = False, max_length: Optional[int] = None
) -> None:
    """Check that ``value`` is a list (or tuple) of strings of Unicode text.

    Args:
        non_empty: Whether the list must hold at least one string.
        max_length: Most characters allowed in each string, or None.
    """
    what = "a non-empty list of strings" if non_empty else "a list of strings"
    if not isinstance(value, (list, tuple)) or (non_empty and not value):
        fail(method, arg, what, value)
    for i, item in enumerate(value):
        _check_text(method, f"{arg}[{i}]", item, "a string", max_length, False)


def optional_list_of_strings(
    method: str, arg: str, value: Any, max_length: Optional[int] = None
) -> None:
    """Check ``value`` as :func:`list_of_strings` does, but accept None (the message adds
    ``or None``)."""
    if value is not None:
        list_of_strings(method, arg, value, max_length=max_length)


def form_node_name(method: str, arg: str, value: Any) -> None:
    """Check that ``value`` is a form node name: ``INPUT``, ``SELECT`` or ``TEXTAREA``."""
    one_of(method, arg, value, sorted(FORM_NODE_NAMES))


def form_type(method: str, arg: str, value: Any, ignore_case: bool = False) -> None:
    """Check that ``value`` is an HTML input type from :data:`~.constants.FORM_TYPES`.

    Args:
        ignore_case: Accept any letter case (``"TEXT"``), as ``track_form_change`` does.
    """
    if not isinstance(value, str) or (value.lower() if ignore_case else value) not in FORM_TYPES:
        fail(
            method, arg, "an HTML input type (one of " + ", ".join(sorted(FORM_TYPES)) + ")", value
        )


def _known_keys(
    method: str, arg: str, value: Mapping[Any, Any], known: Iterable[Any], expected: str
) -> None:
    """Check that every key of the dict ``value`` is one of ``known``."""
    unknown = sorted(str(k) for k in value if k not in known)
    if unknown:
        fail(method, arg, f"{expected} (unexpected {', '.join(repr(k) for k in unknown)})", value)


def form_element(method: str, arg: str, value: Any) -> None:
    """Check one element of ``track_form_submit(elements=...)`` against ``submit_form`` 1-0-0.

    An element is a dict with ``name`` (string), ``value`` (string or None), ``nodeName`` (a form
    node name) and optionally ``type`` (an input type; the schema refuses ``null``: leave the
    key out), and no other key. ``name`` and ``value`` hold at most
    :data:`~.constants.MAX_FORM_VALUE` characters.
    """
    if not isinstance(value, dict):
        fail(method, arg, "a dict with 'name', 'value' and 'nodeName'", value)
    for key in ("name", "value", "nodeName"):
        if key not in value:
            fail(
                method, arg, f"a dict with 'name', 'value' and 'nodeName' (missing {key!r})", value
            )
    expected = "a dict with only 'name', 'value', 'nodeName' and 'type' keys"
    _known_keys(method, arg, value, _FORM_ELEMENT_KEYS, expected)
    string(method, f"{arg}['name']", value["name"], MAX_FORM_VALUE)
    optional_string(method, f"{arg}['value']", value["value"], MAX_FORM_VALUE)
    form_node_name(method, f"{arg}['nodeName']", value["nodeName"])
    if "type" in value:
        form_type(method, f"{arg}['type']", value["type"])


def form_elements(method: str, arg: str, value: Any) -> None:
    """Check ``track_form_submit(elements=...)``: a list (or tuple) of form elements."""
    if not isinstance(value, (list, tuple)):
        fail(method, arg, "a list of dicts or None", value)
    for i, element in enumerate(value):
        form_element(method, f"{arg}[{i}]", element)


def search_filters(method: str, arg: str, value: Any) -> None:
    """Check ``track_site_search(filters=...)``: a dict of strings to strings or booleans."""
    if not isinstance(value, dict):
        fail(method, arg, "a dict of strings to strings or booleans", value)
    for key, flt in value.items():
        if not isinstance(key, str) or not isinstance(flt, (str, bool)):
            fail(method, f"{arg}[{key!r}]", "a string or a boolean (keyed by a string)", flt)
        if not is_text(key):
            fail(method, f"{arg} key", TEXT_EXPECTED, key)
        if isinstance(flt, str) and not is_text(flt):
            fail(method, f"{arg}[{key!r}]", TEXT_EXPECTED, flt)


def transaction_items(method: str, arg: str, value: Any) -> None:
    """Check ``track_ecommerce_transaction(items=...)``: a list of item dicts.

    An item has ``"sku"`` (non-empty string), ``"price"`` (number), ``"quantity"`` (integer)
    and optionally ``"name"``, ``"category"`` (strings) and ``"context"`` (a non-empty list of
    SelfDescribingJson). The keys ``"order_id"``, ``"currency"``, ``"tstamp"`` and
    ``"event_subject"`` are accepted and ignored (tracker 1.1.0 wrote them into the caller's
    dicts).
    """
    if not isinstance(value, (list, tuple)):
        fail(method, arg, "a list of dicts or None", value)
    for i, item in enumerate(value):
        where = f"{arg}[{i}]"
        if not isinstance(item, Mapping):
            fail(method, where, "a dict with 'sku', 'price' and 'quantity'", item)
        expected = (
            "a dict with keys among 'sku', 'price', 'quantity', 'name', 'category', 'context'"
        )
        _known_keys(method, where, item, ITEM_KEYS, expected)
        non_empty_string(method, f"{where}['sku']", item.get("sku"))
        number(method, f"{where}['price']", item.get("price"))
        integer(method, f"{where}['quantity']", item.get("quantity"))
        optional_string(method, f"{where}['name']", item.get("name"))
        optional_string(method, f"{where}['category']", item.get("category"))
        optional_list_of_self_describing_json(method, f"{where}['context']", item.get("context"))
