"""Hypothesis strategies for the arguments of every public entry point, and the property.

The property: a call either sends events that are valid (as a dict, and encoded for POST and
for GET, against the Iglu schemas: :mod:`tests.schema_validation`), or raises the library's own
error (:mod:`snowplow_tracker.errors`) whose message starts with the method and names one of its
arguments, having queued nothing.

The strategies are derived from the event descriptions (:data:`snowplow_tracker.events.table.KINDS`,
by each field's rule), so a new kind or field is covered without a new strategy. Each argument is
mostly drawn from what its rule allows (with the edge values: non-ASCII text, ``"\\x00"``, the
schemas' length limits, the 32-bit bounds...) and sometimes from :data:`anything` (lone
surrogates, huge integers, NaN, wrong types, nested containers).
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any, Callable, Dict, List, Sequence

from hypothesis import event as label
from hypothesis import strategies as st

from snowplow_tracker import SelfDescribingJson, Subject
from snowplow_tracker.errors import SnowplowError
from snowplow_tracker.events.description import Field, Kind
from snowplow_tracker.protocol.constants import FORM_NODE_NAMES, FORM_TYPES, SUPPORTED_PLATFORMS
from snowplow_tracker.protocol.wire import encode_event, get_query, post_body
from tests.capture import Capture
from tests.schema_validation import validate_event, validate_get_query, validate_post_body

#: Multiplies every property test's examples (environment variable ``PROPERTY_EXAMPLES``).
EXAMPLES_FACTOR = int(os.environ.get("PROPERTY_EXAMPLES", "1"))


def examples(n: int) -> int:
    """``max_examples`` of a property test: ``n`` times :data:`EXAMPLES_FACTOR`."""
    return n * EXAMPLES_FACTOR


#: Schemas of the entities and events drawn (the vendor is not Snowplow's: their data is free).
SCHEMAS = ("iglu:com.acme/thing/jsonschema/1-0-0", "iglu:com.acme.x/other_1/jsonschema/10-2-3")
SURROGATES = ("\ud800", "\udfff", "a\udc00b")
HUGE_INTS = (2**63, 2**64, -(2**64), 10**400, 2**1024, -(2**1024), 10**5000)
#: Draws one of :data:`HUGE_INTS` (a strategy's repr must not repr ``10**5000``: it raises).
huge_ints = st.integers(0, len(HUGE_INTS) - 1).map(HUGE_INTS.__getitem__)
SPECIAL_TEXT = ("", " ", "\x00", "a\nb", "caf\u00e9", "\u2713", "\U0001f600", "\u0000\uffff")


def _either(
    usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any], tenths: int
) -> st.SearchStrategy[Any]:
    """``usual`` ``tenths`` times in ten, else ``other``."""
    return st.integers(0, 9).flatmap(lambda i: usual if i < tenths else other)


def texts(max_size: int = 12) -> st.SearchStrategy[str]:
    """Text: mostly any Unicode (no surrogates) or a special string; one time in ten, text with
    lone surrogates."""
    return _either(
        st.one_of(st.text(max_size=max_size), st.sampled_from(SPECIAL_TEXT)),
        st.one_of(
            st.text(st.characters(exclude_categories=()), max_size=max_size),
            st.tuples(st.text(max_size=4), st.sampled_from(SURROGATES)).map("".join),
        ),
        9,
    )


def mostly(valid: st.SearchStrategy[Any], tenths: int = 9) -> st.SearchStrategy[Any]:
    """``valid`` ``tenths`` times in ten, else :data:`anything`."""
    return st.integers(0, 9).flatmap(lambda i: valid if i < tenths else anything)


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    huge_ints,
    st.floats(),
    texts(),
    st.binary(max_size=4),
    st.builds(object),
)
#: Anything a careless caller may pass: wrong types, NaN, huge ints, surrogates, containers.
anything: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(texts(6), st.integers()), inner, max_size=3),
        st.frozensets(st.integers(), max_size=2),
    ),
    max_leaves=6,
)

#: JSON-like data (what context entities and self-describing events hold), edge values included.
json_data: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        huge_ints,
        st.floats(),
        texts(),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(texts(8), inner, max_size=3)
    ),
    max_leaves=8,
)

sdjs = st.builds(SelfDescribingJson, st.sampled_from(SCHEMAS), _either(json_data, anything, 9))
contexts = st.one_of(st.none(), st.lists(sdjs, min_size=1, max_size=3))
# Valid timestamps from 1973 on: the schema validator takes earlier ones for seconds given as
# milliseconds (the library accepts any positive number of milliseconds).
timestamps = _either(
    st.one_of(st.none(), st.integers(10**11, 253402300799999), st.floats(10**11, 253402300799999)),
    st.one_of(st.sampled_from([0, -1, 253402300799999 + 1, float("nan"), True]), huge_ints),
    9,
)


def _early(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1e11


#: :data:`anything` but a number of milliseconds before 1973, which the library accepts and the
#: schema validator refuses (it takes them for seconds given as milliseconds).
not_early_timestamps = anything.filter(lambda v: not _early(v))
numbers = _either(
    st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)),
    st.one_of(st.floats(), huge_ints),
    9,
)
int32s = _either(st.integers(-(2**31), 2**31 - 1), st.sampled_from([-(2**31) - 1, 2**31, 2**64]), 9)
uuids = _either(
    st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper())),
    st.one_of(st.uuids().map(lambda u: str(u) + "\n"), st.uuids().map(lambda u: str(u)[:-1])),
    8,
)
node_names = _either(st.sampled_from(sorted(FORM_NODE_NAMES)), st.sampled_from(["input", "DIV"]), 9)
form_types = _either(
    st.sampled_from(sorted(FORM_TYPES)),
    st.sampled_from(sorted(FORM_TYPES)).flatmap(lambda t: st.sampled_from([t.upper(), t + " "])),
    8,
)


def _bounded_texts(max_length: int) -> st.SearchStrategy[str]:
    return _either(texts(), st.sampled_from(["x" * max_length, "x" * (max_length + 1)]), 9)


def _item_dicts() -> st.SearchStrategy[Dict[str, Any]]:
    return st.fixed_dictionaries(
        {"sku": mostly(texts()), "price": mostly(numbers), "quantity": mostly(int32s)},
        optional={
            "name": mostly(texts()),
            "category": mostly(texts()),
            "context": mostly(contexts),
            "currency": mostly(texts()),  # ignored (the transaction's is used)
        },
    )


def _form_elements() -> st.SearchStrategy[Dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "name": mostly(_bounded_texts(65535)),
            "value": mostly(st.one_of(st.none(), _bounded_texts(65535))),
            "nodeName": mostly(node_names),
        },
        optional={"type": mostly(form_types)},
    )


def _strings(max_length: Any) -> st.SearchStrategy[List[str]]:
    item = texts() if max_length is None else _bounded_texts(max_length)
    return st.one_of(st.lists(item, max_size=3), st.lists(item, max_size=2).map(tuple))


def for_rule(f: Field) -> st.SearchStrategy[Any]:
    """What an argument with the rule of ``f`` is drawn from (before :func:`mostly`)."""
    rule = f.rule
    options = dict(rule.options)
    by_check: Dict[str, Callable[[], st.SearchStrategy[Any]]] = {
        "non_empty_string": lambda: (
            _bounded_texts(options["max_length"]) if "max_length" in options else texts()
        ),
        "string": lambda: (
            _bounded_texts(options["max_length"]) if "max_length" in options else texts()
        ),
        "number": lambda: numbers,
        "integer": lambda: int32s,
        "uuid_string": lambda: uuids,
        "list_of_strings": lambda: _strings(options.get("max_length")),
        "form_node_name": lambda: node_names,
        "form_type": lambda: form_types,
        "form_elements": lambda: st.lists(_form_elements(), max_size=3),
        "search_filters": lambda: st.dictionaries(
            texts(), st.one_of(texts(), st.booleans()), max_size=3
        ),
        "self_describing_json": lambda: sdjs,
        "transaction_items": lambda: st.lists(_item_dicts(), max_size=3),
    }
    valid = by_check[rule.checker(False).__name__]()
    return st.one_of(st.none(), valid) if f.optional else valid


def subjects() -> st.SearchStrategy[Subject]:
    """A valid Subject with a few fields set."""
    return st.builds(
        lambda platform, uid, sid: (
            Subject().set_platform(platform).set_user_id(uid).set_domain_session_id(sid)
        ),
        st.sampled_from(SUPPORTED_PLATFORMS),
        st.one_of(st.none(), st.text(max_size=8)),
        st.one_of(st.none(), st.uuids().map(str)),
    )


@functools.cache
def kind_arguments(kind: Kind) -> st.SearchStrategy[Dict[str, Any]]:
    """Keyword arguments of ``track_<kind>``: each mostly valid, sometimes anything.

    Built once per kind: hypothesis validates a strategy object once, so a test that draws
    ``kind_arguments(kind)`` in every example reuses the validated one.
    """
    drawn = {f.arg: mostly(for_rule(f)) for f in kind.fields}
    drawn["context"] = mostly(contexts)
    drawn["tstamp"] = _either(timestamps, not_early_timestamps, 9)
    drawn["event_subject"] = mostly(st.one_of(st.none(), subjects()))
    return st.fixed_dictionaries(drawn)


_ARGUMENT = re.compile(r"argument '([A-Za-z_]\w*)")


def assert_library_error(error: BaseException, where: str, arguments: Sequence[str]) -> None:
    """``error`` is the library's, starts with ``where: `` and names one of ``arguments``."""
    assert isinstance(error, SnowplowError), repr(error)
    message = str(error)
    assert message.startswith(where + ": "), message
    named = _ARGUMENT.search(message)
    if named is None:  # the one message that names no argument: a transaction's own event
        assert "the 'tr' event cannot be encoded" in message, message
        return
    assert named.group(1) in arguments, message


def assert_valid(event: Dict[str, str]) -> None:
    """The event is valid as a dict, as a POST body and as a GET querystring."""
    validate_event(event)
    validate_post_body(post_body([encode_event(event, "post")]))
    validate_get_query(get_query(encode_event(event, "get")))


def check_call(
    call: Callable[[], Any], capture: Capture, where: str, arguments: Sequence[str]
) -> int:
    """Run ``call`` under the property; return how many events it sent (0 when it raised)."""
    before = len(capture.events)
    try:
        call()
    except SnowplowError as error:
        assert_library_error(error, where, arguments)
        assert len(capture.events) == before, "a call that raised queued events"
        label(f"refused: {type(error).__name__}")
        return 0
    sent = capture.events[before:]
    assert sent, "a call that returned sent nothing"
    for event in sent:
        assert_valid(event)
    label("sent")
    return len(sent)
