"""Self-describing JSON: a ``{"schema": <iglu URI>, "data": ...}`` pair.

Used for self-describing (unstructured) events and for context entities.
"""

from __future__ import annotations

import re
from typing import Any, Dict, NoReturn, Optional, Set

from . import checking
from .payload import JsonEncoder, json_bytes

#: An Iglu schema URI, as the ``contexts`` and ``unstruct_event`` envelopes require it
#: (``iglu:vendor/name/format/model-revision-addition``); used with ``fullmatch``.
IGLU_URI = re.compile(r"iglu:[a-zA-Z0-9\-_.]+/[a-zA-Z0-9\-_]+/[a-zA-Z0-9\-_]+/[0-9]+-[0-9]+-[0-9]+")
# Schemas already found valid: an application uses a few, so checking one again is a set lookup.
_VALID: Set[str] = set()
_MAX_REMEMBERED = 1024


def _refuse(schema: Any) -> NoReturn:
    """Raise the ValidationError for a schema that is no Iglu URI (contracts enabled)."""
    if schema.__class__ is not str or not schema:
        checking.fail("SelfDescribingJson", "schema", "a non-empty string", schema)
    checking.fail(
        "SelfDescribingJson",
        "schema",
        "an Iglu schema URI such as 'iglu:com.acme/event/jsonschema/1-0-0'",
        schema,
    )


def _check_schema(schema: Any) -> None:
    """Check ``schema`` against :data:`IGLU_URI` and remember it when it passes."""
    if not isinstance(schema, str) or IGLU_URI.fullmatch(schema) is None:
        _refuse(schema)
    if schema.__class__ is str and len(_VALID) < _MAX_REMEMBERED:
        _VALID.add(schema)


class SelfDescribingJson:
    """A JSON document together with the Iglu schema that describes it.

    The schema is kept exactly as given; while contracts are enabled it must be an Iglu schema
    URI, ``"iglu:vendor/name/jsonschema/1-0-0"`` (a collector's pipeline refuses events with
    other schemas). ``data`` is not copied: the event is
    serialised when it is tracked, so later changes to ``data`` do not affect events already
    tracked.

    Args:
        schema: The Iglu URI of the schema, e.g.
            ``"iglu:com.example_company/save_game/jsonschema/1-0-2"``.
        data: The JSON-serialisable payload (a dict for events and entities).

    Raises:
        ValidationError: ``schema`` is not an Iglu schema URI (contracts enabled).
    """

    __slots__ = ("data", "schema")

    def __init__(self, schema: str, data: Any) -> None:
        if checking.enabled and (schema.__class__ is not str or schema not in _VALID):
            _check_schema(schema)
        self.schema = schema
        self.data = data

    def to_json(self) -> Dict[str, Any]:
        """Return the ``{"schema": ..., "data": ...}`` dict (``data`` is not copied)."""
        return {"schema": self.schema, "data": self.data}

    def to_string(self, json_encoder: Optional[JsonEncoder] = None) -> str:
        """Return the compact JSON text of :meth:`to_json`, non-ASCII kept as is.

        Args:
            json_encoder: Called for objects orjson cannot serialise natively; it returns a
                serialisable replacement (orjson's ``default=``).

        Raises:
            EncodingError: ``data`` cannot be serialised.
        """
        return json_bytes(
            self.to_json(), json_encoder, "SelfDescribingJson.to_string", "data"
        ).decode("utf-8")

    def __repr__(self) -> str:
        return f"SelfDescribingJson({self.schema!r}, {self.data!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SelfDescribingJson):
            return NotImplemented
        return bool(self.schema == other.schema and self.data == other.data)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value
