"""Building an event's payload: the flat ``dict[str, str]`` handed to every emitter.

Rules (the tracker protocol's, as the python tracker applies them):

* a field whose value is None or ``""`` is left out; ``0`` and ``False`` are kept;
* every value is a ``str`` (exactly ``str``, not a subclass): numbers are written with ``str()``,
  so ``2.5`` becomes ``"2.5"`` and ``2`` becomes ``"2"``;
* JSON fields (self-describing event, contexts) are serialised by orjson into compact UTF-8 JSON
  text (non-ASCII characters are kept, not escaped), then either sent as is (``ue_pr``/``co``) or
  as URL-safe base64 **with** ``=`` padding (``ue_px``/``cx``), like tracker 1.1.0.
"""

from __future__ import annotations

import json
import math
from binascii import b2a_base64
from typing import Any, Callable, Dict, Mapping, MutableMapping, Optional

import orjson

from ..errors import EncodingError
from .checking import fail

#: A custom JSON encoder: called with an object orjson cannot serialise, returns a replacement.
JsonEncoder = Callable[[Any], Any]
#: What an emitter receives: protocol field names to string values.
PayloadDict = Dict[str, str]

#: ``bytes.translate`` table turning standard base64 into the URL-safe alphabet.
URLSAFE_TABLE = bytes.maketrans(b"+/", b"-_")


def to_str(value: Any) -> str:
    """Return ``value`` as an exact ``str`` for the wire.

    Strings are returned unchanged (a ``str`` subclass such as a ``str``-based Enum member is
    turned into its plain string value); anything else goes through ``str()``.

    Args:
        value: The field value.
    """
    if value.__class__ is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    return str(value)


def add(pairs: MutableMapping[str, str], name: str, value: Any) -> None:
    """Set ``pairs[name]`` to ``value`` as a string, unless ``value`` is None or empty.

    Args:
        pairs: The payload being built.
        name: The protocol field name.
        value: The value; None and ``""`` are skipped, ``0`` is kept.
    """
    if value is None:
        return
    text = to_str(value)
    if text:
        pairs[name] = text


def json_bytes(
    obj: Any,
    json_encoder: Optional[JsonEncoder] = None,
    where: str = "Payload.add_json",
    arg: str = "obj",
) -> bytes:
    """Serialise ``obj`` to compact UTF-8 JSON with orjson.

    Dict keys that are not strings (ints, for example) are converted to strings, as the
    standard ``json`` module does, and integers beyond 64 bits are written exactly (JSON numbers
    have no size limit); those paths are only taken when the plain dump fails. Floats that are
    not finite (NaN, infinities) are written as ``null``, as JavaScript's ``JSON.stringify``
    does: JSON has no such numbers.

    Args:
        obj: The JSON-serialisable object.
        json_encoder: Called for objects orjson cannot serialise natively (orjson's ``default``).
        where: Qualified name of the calling method, for the error message.
        arg: Name of the argument that held ``obj``, for the error message.

    Raises:
        EncodingError: ``obj`` cannot be serialised (a string with a lone surrogate, which
            UTF-8 cannot encode, an integer of more than 4300 digits, an object neither orjson
            nor ``json_encoder`` can serialise...).
    """
    try:
        return orjson.dumps(obj, default=json_encoder)
    except orjson.JSONEncodeError:
        pass
    try:  # non-str dict keys (json.dumps accepts them); rare, so kept off the fast path
        return orjson.dumps(obj, default=json_encoder, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as exc:
        first = exc
    try:  # integers beyond 64 bits, which orjson refuses and JSON allows: the standard library
        text = json.dumps(
            _finite(obj),
            default=json_encoder,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
        raw = text.encode("utf-8")  # a lone surrogate, which json.dumps accepts, fails here
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        raise EncodingError(
            f"{where}: argument '{arg}' cannot be serialised to JSON: {first}"
        ) from first
    return raw


def _finite(obj: Any) -> Any:
    """``obj`` with its non-finite floats as None (as orjson writes them), for ``json.dumps``."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def encode_json(
    obj: Any,
    encode_base64: bool,
    json_encoder: Optional[JsonEncoder] = None,
    where: str = "Payload.add_json",
    arg: str = "obj",
) -> str:
    """Serialise ``obj`` for a JSON field: base64 text when ``encode_base64``, else JSON text.

    Args:
        obj: The JSON-serialisable object.
        encode_base64: Whether to return URL-safe padded base64 of the JSON text.
        json_encoder: Called for objects orjson cannot serialise natively.
        where: Qualified name of the calling method, for the error message.
        arg: Name of the argument that held ``obj``, for the error message.

    Raises:
        EncodingError: ``obj`` cannot be serialised.
    """
    raw = json_bytes(obj, json_encoder, where, arg)
    if encode_base64:
        return b2a_base64(raw, newline=False).translate(URLSAFE_TABLE).decode("ascii")
    return raw.decode("utf-8")


class Payload:
    """A payload under construction (the API of tracker 1.1.0's ``Payload``).

    Args:
        dict_: Initial fields, added with :meth:`add_dict` (None and ``""`` values skipped).
        json_encoder: Custom JSON encoder used by :meth:`add_json` (orjson's ``default``).
    """

    __slots__ = ("json_encoder", "nv_pairs")

    def __init__(
        self,
        dict_: Optional[Mapping[str, Any]] = None,
        json_encoder: Optional[JsonEncoder] = None,
    ) -> None:
        self.nv_pairs: PayloadDict = {}
        self.json_encoder = json_encoder
        if dict_ is not None:
            self.add_dict(dict_)

    def add(self, name: str, value: Any) -> None:
        """Add a field, converting the value to ``str``; None and ``""`` are skipped.

        Args:
            name: The protocol field name.
            value: The value (``0`` and ``False`` are kept).
        """
        add(self.nv_pairs, name, value)

    def add_dict(self, dict_: Mapping[str, Any]) -> None:
        """Add every field of ``dict_`` with :meth:`add`.

        Args:
            dict_: Field names to values.

        Raises:
            ValidationError: ``dict_`` is not a mapping.
        """
        if not isinstance(dict_, Mapping):
            fail("Payload.add_dict", "dict_", "a dict of field names to values", dict_)
        pairs = self.nv_pairs
        for name, value in dict_.items():
            add(pairs, name, value)

    def add_json(
        self,
        obj: Any,
        encode_base64: bool,
        base64_name: str,
        plain_name: str,
        json_encoder: Optional[JsonEncoder] = None,
    ) -> None:
        """Add ``obj`` as JSON: base64 under ``base64_name`` or plain text under ``plain_name``.

        Nothing is added when ``obj`` is None or an empty dict.

        Args:
            obj: The JSON-serialisable object (e.g. a self-describing JSON envelope).
            encode_base64: Whether to send URL-safe base64 (with ``=`` padding) of the JSON text.
            base64_name: The field used when encoding, e.g. ``"cx"`` or ``"ue_px"``.
            plain_name: The field used otherwise, e.g. ``"co"`` or ``"ue_pr"``.
            json_encoder: The custom JSON encoder for this call (1.x's argument); the
                payload's own :attr:`json_encoder` when None.

        Raises:
            EncodingError: ``obj`` cannot be serialised.
        """
        if obj is None or (isinstance(obj, dict) and not obj):
            return
        name = base64_name if encode_base64 else plain_name
        encoder = json_encoder if json_encoder is not None else self.json_encoder
        self.nv_pairs[name] = encode_json(obj, encode_base64, encoder, "Payload.add_json", name)

    def get(self) -> PayloadDict:
        """Return the fields added so far (the dict itself, not a copy)."""
        return self.nv_pairs
