"""The vocabulary of event descriptions: the event arguments' rules, encodings, fields, kinds.

An event kind is described once, as data (see :mod:`snowplow_tracker.events.table`): its ``e``
value and, for each argument, the wire key it is sent under, the rule it must follow and how it
is encoded. The generator (``python -m tools.generate_tracker``) turns each description into the
code of its ``track_*`` method and 1.x event class. The rules are
:class:`~snowplow_tracker.arguments.Rule` objects (the one rule type) with a
:mod:`~snowplow_tracker.protocol.contracts` check and inline fast checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional, Tuple

from ..arguments import Each, Rule
from ..protocol import contracts as _c
from ..protocol.constants import MAX_FORM_ID, MAX_FORM_VALUE

#: The arguments every ``track_*`` method ends with.
COMMON_ARGS = ("context", "tstamp", "event_subject")

# Strings written to the payload as they are: ``str.isascii`` (a flag of the string object,
# O(1)) lets the common case through inline; other strings go to the contracts function, which
# refuses lone surrogates (UTF-8 cannot encode them: the event could never be sent). Strings
# written into event data need no such test inline (see ``Rule.data_inline``).


def _contract(expected: str, name: str, **more: Any) -> Rule:
    """A rule checked by the contracts function ``name`` (and ``optional_<name>`` for an
    argument that may be None, when there is one); numbers for ``number`` and ``integer``."""
    optional = getattr(_c, f"optional_{name}", None)
    numeric = name in ("number", "integer")
    return Rule(expected, check=getattr(_c, name), optional_check=optional, numeric=numeric, **more)


def _text(expected: str, name: str, inline: str) -> Rule:
    """A string rule whose inline test is ``inline`` for event data, and also ASCII (a flag of
    the string object) for the payload."""
    return _contract(expected, name, inline=f"{inline} and {{v}}.isascii()", data_inline=inline)


NON_EMPTY_STRING = _text("a non-empty string", "non_empty_string", "{v}.__class__ is str and {v}")
STRING = _text("a string", "string", "{v}.__class__ is str")


def _bounded(rule: Rule, max_length: int) -> Rule:
    """``rule`` (a string rule) with a schema's ``maxLength`` as well."""
    limit = f" and len({{v}}) <= {max_length}"
    return Rule(
        f"{rule.expected} of at most {max_length} characters",
        check=rule.check,
        optional_check=rule.optional_check,
        inline=f"{rule.inline}{limit}",
        options=(("max_length", max_length),),
        data_inline=f"{rule.data_inline}{limit}",
    )


#: ``formId`` of ``change_form`` and ``submit_form``: at most 4096 characters.
FORM_ID = _bounded(NON_EMPTY_STRING, MAX_FORM_ID)
#: ``elementId`` of ``change_form``: at most 4096 characters.
FORM_ELEMENT_ID = _bounded(STRING, MAX_FORM_ID)
#: ``value`` of ``change_form``: at most 65535 characters.
FORM_VALUE = _bounded(STRING, MAX_FORM_VALUE)
NUMBER = _contract(
    _c.NUMBER_EXPECTED,
    "number",
    inline="(({v}.__class__ is int and -_MAXN <= {v} <= _MAXN)"
    " or ({v}.__class__ is float and _isfinite({v})))",
    data_inline="({v}.__class__ is int or ({v}.__class__ is float and _isfinite({v})))",
)
_INT = "({{v}}.__class__ is int and {} <= {{v}} <= 2147483647)"
INT32 = _contract(
    "an integer from -2147483648 to 2147483647", "integer", inline=_INT.format(-2147483648)
)
COUNT = _contract(
    "an integer from 0 to 2147483647", "integer", inline=_INT.format(0), options=(("minimum", 0),)
)
_UUID_OK = "({v}.__class__ is str and _uuid_fullmatch({v}) is not None)"
UUID = _contract("a UUID string", "uuid_string", inline=_UUID_OK)
# The containers below are all written into event data: their strings need no text test inline.
STRINGS = _contract(
    "a list of strings", "list_of_strings", each=Each("list", "_x in {v}", "_x.__class__ is str")
)
#: ``formClasses`` and ``elementClasses`` of the form events: each at most 4096 characters.
FORM_CLASSES = _contract(
    f"a list of strings of at most {MAX_FORM_ID} characters",
    "list_of_strings",
    options=(("max_length", MAX_FORM_ID),),
    each=Each("list", "_x in {v}", f"_x.__class__ is str and len(_x) <= {MAX_FORM_ID}"),
)
NON_EMPTY_STRINGS = _contract(
    "a non-empty list of strings",
    "list_of_strings",
    options=(("non_empty", True),),
    each=Each("list", "_x in {v}", "_x.__class__ is str", non_empty=True),
)
FORM_NODE_NAME = _contract(
    "'INPUT', 'SELECT' or 'TEXTAREA'",
    "form_node_name",
    inline="({v}.__class__ is str and {v} in _NODE_NAMES)",
)
FORM_TYPE_ANY_CASE = _contract(
    "an HTML input type, in any letter case",
    "form_type",
    # Most values are already in lower case (FORM_TYPES is): one set lookup, no lower() call.
    inline="({v}.__class__ is str and ({v} in _FORM_TYPES or {v}.lower() in _FORM_TYPES))",
    options=(("ignore_case", True),),
)
FORM_ELEMENTS = _contract(
    "a list of form element dicts",
    "form_elements",
    # What surely passes contracts.form_elements: "name", "value" and "nodeName" present (3 keys,
    # plus "type" when given: no other key), a string name, a string or None value (at most
    # 65535 characters), a known node name, and a known type if "type" is given.
    each=Each(
        "list",
        "_x in {v}",
        "_x.__class__ is dict and 'value' in _x and len(_x) == 3 + ('type' in _x)"
        f" and (_f := _x.get('name')).__class__ is str and len(_f) <= {MAX_FORM_VALUE}"
        " and ((_f := _x['value']) is None"
        f" or (_f.__class__ is str and len(_f) <= {MAX_FORM_VALUE}))"
        " and (_f := _x.get('nodeName')).__class__ is str and _f in _NODE_NAMES"
        " and ('type' not in _x or ((_f := _x['type']).__class__ is str and _f in _FORM_TYPES))",
    ),
)
SEARCH_FILTERS = _contract(
    "a dict of strings to strings or booleans",
    "search_filters",
    each=Each(
        "dict",
        "_k, _x in {v}.items()",
        "_k.__class__ is str and (_x.__class__ is str or _x.__class__ is bool)",
    ),
)
SELF_DESCRIBING_JSON = _contract(
    "a SelfDescribingJson", "self_describing_json", inline="{v}.__class__ is _SDJ"
)
TRANSACTION_ITEMS = _contract("a list of item dicts", "transaction_items", inline="_items_ok({v})")


class Encoding(Enum):
    """How a checked value is written: onto the payload or into the event's data."""

    #: Payload; None and ``""`` skipped, ``str()`` of the rest.
    ADD = "add"
    #: Payload; None skipped, ``str()``.
    STR = "str"
    #: Event data; None skipped.
    DATA = "data"
    #: Event data, even None.
    DATA_ALWAYS = "data_always"
    #: Event data; empty values skipped.
    DATA_IF_TRUTHY = "data_if_truthy"
    #: Event data, lower-cased; None skipped.
    DATA_LOWER = "data_lower"
    #: Event data; a new UUID when None.
    DATA_OR_NEW_ID = "data_or_new_id"
    #: Transaction items: each sent as its own ``e=ti`` event after the transaction.
    ITEMS = "items"

    @property
    def in_data(self) -> bool:
        """Whether the value is written into the event's data (serialised in the call)."""
        return self.value.startswith("data")


ADD = Encoding.ADD
STR = Encoding.STR
DATA = Encoding.DATA
DATA_ALWAYS = Encoding.DATA_ALWAYS
DATA_IF_TRUTHY = Encoding.DATA_IF_TRUTHY
DATA_LOWER = Encoding.DATA_LOWER
DATA_OR_NEW_ID = Encoding.DATA_OR_NEW_ID
ITEMS = Encoding.ITEMS


@dataclass(frozen=True)
class Field:
    """One argument of an event kind.

    Attributes:
        arg: The argument name of the ``track_*`` method and of the event class.
        key: The wire key (payload field such as ``se_ca``) or the event data key
            (``targetUrl``).
        rule: The rule the argument must follow.
        optional: Whether None is accepted (and the field then left out).
        encoding: How the value is written.
    """

    arg: str
    key: str
    rule: Rule
    optional: bool = True
    encoding: Encoding = ADD

    @property
    def in_data(self) -> bool:
        """Whether the value is written into the event's data (serialised in the call)."""
        return self.encoding.in_data

    @property
    def inline(self) -> Optional[str]:
        """The inline check of this field's value (``Rule.inline``, or ``Rule.data_inline`` for
        a field written into event data)."""
        if self.in_data and self.rule.data_inline is not None:
            return self.rule.data_inline
        return self.rule.inline


@dataclass(frozen=True)
class Kind:
    """One event kind: the ``e`` value and the fields of a ``track_*`` method.

    Attributes:
        name: The method is ``track_<name>``.
        e: The event type sent as ``e`` (``"ue"`` for self-describing events; ``""`` for the
            bare 1.x ``Event``, whose fields the caller gives).
        fields: The kind's own arguments, in signature order.
        schema: For self-describing kinds built from fields, the event's Iglu schema.
        event_arg: For ``track_self_describing_event``: the argument holding the
            SelfDescribingJson sent as the event.
        data_order: Order of the keys in the event data when it differs from ``fields``.
        require_one_of: Arguments of which at least one must not be None.
        items: Whether the kind carries transaction items (sent as their own events).
    """

    name: str
    e: str
    fields: Tuple[Field, ...]
    schema: Optional[str] = None
    event_arg: Optional[str] = None
    data_order: Tuple[str, ...] = ()
    require_one_of: Tuple[str, ...] = ()
    items: bool = False

    @property
    def method(self) -> str:
        """The qualified method name used in error messages."""
        return f"Tracker.track_{self.name}"

    @property
    def args(self) -> Tuple[str, ...]:
        """The kind's own argument names, in signature order."""
        return tuple(f.arg for f in self.fields)

    @property
    def self_describing(self) -> bool:
        """Whether the event is sent as a self-describing event (``e=ue``)."""
        return self.e == "ue"

    def field(self, arg: str) -> Field:
        """Return the field of argument ``arg``.

        Args:
            arg: The argument name.

        Raises:
            KeyError: The kind has no such argument.
        """
        for f in self.fields:
            if f.arg == arg:
                return f
        raise KeyError(arg)

    def data_fields(self) -> Tuple[Field, ...]:
        """The fields in the order they are written."""
        if not self.data_order:
            return self.fields
        return tuple(self.field(a) for a in self.data_order)
