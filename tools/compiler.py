"""Generates the code of the ``track_*`` methods and of the 1.x event classes from descriptions.

Each :class:`~snowplow_tracker.events.description.Kind` becomes the source of one plain Python
function (as :mod:`dataclasses` generates ``__init__``): inline fast checks that call a
:mod:`~snowplow_tracker.protocol.contracts` function only for values that may be wrong, the payload
or event data written field by field, then the shared tail (contexts, ``ttm``, subject, event id,
``dtm``, the tracker's constant fields, the emitters). Nothing is looked up from the description
at call time, so a generated ``track_*`` costs what hand-inlined code costs:

* container arguments are checked by a loop in the method itself
  (:class:`snowplow_tracker.arguments.Each`);
* the JSON envelopes (``unstruct_event`` around the event, the kind's schema around its data,
  ``contexts`` around the entities) are constants of the code, as text and, but for the last
  0 to 2 bytes, as base64: a call serialises only the inner value (see :func:`_json_field`);
* event ids are made in batches (:func:`snowplow_tracker.events.runtime.refill_event_ids`);
* a transaction's item events are built inline, sharing the transaction's encoded context.

``python -m tools.generate_tracker`` writes them to ``snowplow_tracker/events/track_methods.py``;
a test fails when that module differs from what :func:`source` gives. The 1.x event classes
build their payloads with the same functions (see
:class:`~snowplow_tracker.events.runtime.EventBuilder`).
"""

from __future__ import annotations

from binascii import b2a_base64
from typing import (
    Any,
    Dict,
    List,
    Optional,
    Sequence,
    Tuple,
)

from orjson import dumps

from snowplow_tracker.events.description import Encoding, Field, Kind
from snowplow_tracker.protocol import contracts
from snowplow_tracker.protocol.constants import (
    CONTEXT_SCHEMA,
    UNSTRUCT_EVENT_SCHEMA,
)
from snowplow_tracker.protocol.payload import URLSAFE_TABLE


def _each_check(f: Field, call: str) -> List[str]:
    """The inline loop checking a container argument (see :class:`.arguments.Each`)."""
    v, each = f.arg, f.rule.each
    assert each is not None
    bad = f"{v}.__class__ is not {each.container}" + (f" or not {v}" if each.non_empty else "")
    lines = [
        f"if {bad}:",
        f"    {call}",
        "else:",
        f"    for {each.loop.format(v=v)}:",
        f"        if not ({each.item_ok}):",
        f"            {call}",
        "            break",
    ]
    if f.optional:
        return [f"if {v} is not None:"] + ["    " + line for line in lines]
    return lines


def _call(f: Field, method: str, optional: bool) -> str:
    """The call of the field rule's contracts function (``_c.<name>(method, arg, value...)``)."""
    fn = f.rule.checker(optional)
    if getattr(contracts, fn.__name__, None) is not fn:  # pragma: no cover - a table error
        raise ValueError(f"{f.arg}: {fn.__name__} is no function of protocol.contracts")
    extra = "".join(f", {k}={o!r}" for k, o in f.rule.options)
    return f"_c.{fn.__name__}({method!r}, {f.arg!r}, {f.arg}{extra})"


def _checks(kind: Kind, method: str) -> List[str]:
    m = repr(method)
    out: List[str] = []
    if kind.require_one_of:
        names = kind.require_one_of
        cond = " and ".join(f"{a} is None" for a in names)
        given = " and ".join(f"{a}=None" for a in names)
        need = " or ".join(f"'{a}'" for a in names)
        msg = f"argument {need} must be given (at least one of them is required), got {given}"
        out += [f"if {cond}:", f"    raise _ValidationError({m} + {': ' + msg!r})"]
    for f in kind.fields:
        v = f.arg
        call = _call(f, method, f.optional)
        if f.rule.each is not None:
            out += _each_check(f, call)
            continue
        ok = f.inline.format(v=v) if f.inline else None
        if not f.optional:
            out += [f"if not ({ok}):", "    " + call] if ok else [call]
            continue
        guard = f"{v} is not None" + (f" and not ({ok})" if ok else "")
        out += [f"if {guard}:", "    " + call]
    out += [
        "if context is not None:",
        "    if context.__class__ is not list or not context:",
        f"        _c.list_of_self_describing_json({m}, 'context', context)",
        "    for _entity in context:",
        "        if _entity.__class__ is not _SDJ:",
        f"            _c.list_of_self_describing_json({m}, 'context', context)",
        "if tstamp is not None or event_subject is not None:",
        f"    _check_common({m}, tstamp, event_subject)",
    ]
    return ["if _checking.enabled:"] + ["    " + line for line in out]


def _data_checks(kind: Kind, method: str) -> List[str]:
    """Every contracts function of the fields written into event data, in full.

    Run when orjson refused the data: the inline checks leave to it what it refuses anyway (a
    string with a lone surrogate, an int beyond 64 bits), so that an argument the contracts
    refuse is named here; when they all pass, the data goes to the standard library's encoder
    (an int beyond 64 bits is then written exactly).
    """
    out: List[str] = []
    for f in kind.fields:
        if not f.in_data:
            continue
        call = _call(f, method, f.optional)
        out += [f"if {f.arg} is not None:", "    " + call] if f.optional else [call]
    if not out:
        return []
    return ["if _checking.enabled:"] + ["    " + line for line in out]


def _pair(f: Field) -> List[str]:
    v, k = f.arg, repr(f.key)
    if f.encoding is Encoding.STR:
        return [f"if {v} is not None:", f"    p[{k}] = _to_str({v})"]
    if f.rule.numeric:
        return [
            f"if {v}.__class__ is int or {v}.__class__ is float:",
            f"    p[{k}] = _str({v})",
            f"elif {v} is not None:",
            f"    _add(p, {k}, {v})",
        ]
    return [
        f"if {v}.__class__ is str:",
        f"    if {v}:",
        f"        p[{k}] = {v}",
        f"elif {v} is not None:",
        f"    _add(p, {k}, {v})",
    ]


def _always(f: Field) -> Optional[str]:
    """The value expression of a data field written whatever its value; None for the others."""
    v, enc = f.arg, f.encoding
    if enc is Encoding.DATA_ALWAYS or (enc is Encoding.DATA and not f.optional):
        return v
    if enc is Encoding.DATA_OR_NEW_ID:
        return f"{v} if {v} is not None else _new_id()"
    return None


#: How the other data fields are written, by encoding (``{v}`` the argument, ``{k}`` the key).
_DATUM = {
    Encoding.DATA: ["if {v} is not None:", "    data[{k}] = {v}"],
    Encoding.DATA_IF_TRUTHY: ["if {v}:", "    data[{k}] = {v}"],
    Encoding.DATA_LOWER: [
        "if {v} is not None:",
        "    data[{k}] = {v}.lower() if {v}.__class__ is str or isinstance({v}, str) else {v}",
    ],
}


def _datum(f: Field) -> List[str]:
    always = _always(f)
    if always is not None:
        return [f"data[{f.key!r}] = {always}"]
    return [line.format(v=f.arg, k=repr(f.key)) for line in _DATUM[f.encoding]]


def _wrapped(prefix: bytes) -> Tuple[str, bytes, str]:
    """Split a constant JSON prefix for :func:`_json_field`.

    Base64 encodes 3 bytes at a time, so the base64 of ``prefix + rest`` is the base64 of the
    prefix's first ``len - len % 3`` bytes followed by the base64 of the other bytes and
    ``rest``. Returns that constant base64 head (URL-safe), the 0 to 2 bytes left over, and the
    prefix as text (for plain JSON).
    """
    cut = len(prefix) - len(prefix) % 3
    head = b2a_base64(prefix[:cut], newline=False).translate(URLSAFE_TABLE).decode("ascii")
    return head, prefix[cut:], prefix.decode("utf-8")


def envelope_prefix(envelope: Dict[str, Any], suffix: bytes) -> bytes:
    """The JSON text of ``envelope`` before its innermost value, which must be ``0``.

    E.g. ``{"schema": S, "data": 0}`` with suffix ``b"}"`` gives ``b'{"schema":"S","data":'``:
    the envelope serialised once, at import, so that a call serialises only the inner value.
    """
    full = dumps(envelope)
    tail = b"0" + suffix
    if not full.endswith(tail):  # pragma: no cover - a caller's mistake
        raise ValueError(f"{full!r} does not end with {tail!r}")
    return full[: -len(tail)]


def _json_field(
    inner: str,
    full: str,
    prefix: bytes,
    suffix: bytes,
    keys: Tuple[str, str],
    arg: str,
    method: str,
    refused: Sequence[str] = (),
) -> List[str]:
    """Lines writing the JSON of ``full`` into ``p[keys[0]]`` (base64) or ``p[keys[1]]`` (plain).

    ``full`` (an expression) is a constant envelope around the expression ``inner``: its JSON is
    ``prefix``, the JSON of ``inner``, ``suffix``. Only ``inner`` is serialised (one orjson
    call); the envelope's text, and most of its base64, are constants of the generated code.
    When orjson refuses ``inner`` (non-string keys, huge integers, a lone surrogate, an encoder
    error), the lines ``refused`` run (the full checks of the data's arguments), then the whole
    envelope goes through :func:`~snowplow_tracker.payload.json_bytes`.
    """
    head, rest, text = _wrapped(prefix)
    b64_key, plain_key = keys
    dump = f"_dumps({inner}, default=self.json_encoder)"
    raw = " + ".join([*([repr(rest)] if rest else []), dump, repr(suffix)])
    b64 = "_b2a({}, newline=False).translate(_URLSAFE).decode('ascii')"
    fallback = f"_json_bytes({full}, self.json_encoder, {method!r}, {arg!r})"
    return [
        "if self.encode_base64:",
        "    try:",
        f"        p[{b64_key!r}] = "
        + " + ".join([*([repr(head)] if head else []), b64.format(raw)]),
        "    except _JSONEncodeError:",
        *["        " + line for line in refused],
        f"        p[{b64_key!r}] = " + b64.format(fallback),
        "else:",
        "    try:",
        f"        p[{plain_key!r}] = {text!r} + {dump}.decode('utf-8') + {suffix.decode()!r}",
        "    except _JSONEncodeError:",
        *["        " + line for line in refused],
        f"        p[{plain_key!r}] = {fallback}.decode('utf-8')",
    ]


def _data(kind: Kind) -> List[str]:
    fields = list(kind.data_fields())
    # The leading fields written whatever their value go into the dict display (one
    # BUILD_MAP instead of an empty dict and a store per key; the key order is the same).
    first: List[str] = []
    while fields and _always(fields[0]) is not None:
        f = fields.pop(0)
        first.append(f"{f.key!r}: {_always(f)}")
    lines = ["data: Dict[str, Any] = {" + ", ".join(first) + "}"]
    for f in fields:
        lines += _datum(f)
    return lines


def _payload(kind: Kind, method: str) -> List[str]:
    if not kind.self_describing:
        lines = [f"p = {{'e': {kind.e!r}}}" if kind.e else "p = {}"]
        for f in kind.data_fields():
            if f.encoding is not Encoding.ITEMS:
                lines += _pair(f)
        return lines
    # The unstruct_event envelope around the event (a SelfDescribingJson's dict, or the
    # kind's schema around its data): constant JSON but for the innermost value.
    if kind.event_arg:
        ev = kind.event_arg
        lines = [
            f"_ej = {{'schema': {ev}.schema, 'data': {ev}.data}} if {ev}.__class__ is _SDJ"
            f" else {ev}.to_json()"
        ]
        envelope: Dict[str, Any] = {"schema": UNSTRUCT_EVENT_SCHEMA, "data": 0}
        suffix, inner, full = b"}", "_ej", "{'schema': _UE, 'data': _ej}"
    else:
        lines = _data(kind)
        envelope = {"schema": UNSTRUCT_EVENT_SCHEMA, "data": {"schema": kind.schema, "data": 0}}
        suffix, inner = b"}}", "data"
        full = f"{{'schema': _UE, 'data': {{'schema': {kind.schema!r}, 'data': data}}}}"
    lines.append("p = {'e': 'ue'}")
    prefix = envelope_prefix(envelope, suffix)
    return lines + _json_field(
        inner,
        full,
        prefix,
        suffix,
        ("ue_px", "ue_pr"),
        "event_json",
        method,
        _data_checks(kind, method),
    )


_CX_PREFIX = envelope_prefix({"schema": CONTEXT_SCHEMA, "data": 0}, b"}")


def _context(method: str) -> List[str]:
    # One SelfDescribingJson (the common case): its dict built inline, without the list
    # comprehension's frame and the to_json() call.
    entities = (
        "_cl = [{'schema': _e.schema, 'data': _e.data}] if context.__class__ is list"
        " and len(context) == 1 and (_e := context[0]).__class__ is _SDJ"
        " else [c.to_json() for c in context]"
    )
    field = _json_field(
        "_cl", "{'schema': _CX, 'data': _cl}", _CX_PREFIX, b"}", ("cx", "co"), "context", method
    )
    return ["if context:", "    " + entities] + ["    " + line for line in field]


_SUBJECT = [
    "if event_subject is None:",
    "    p.update(self._subject._pairs)",
    "else:",
    "    p.update(event_subject.combine_subject(self._subject))",
]
_EID = [
    "try:",
    "    p['eid'] = _take_id()",
    "except IndexError:",
    "    p['eid'] = _refill_ids()",
]
_EMIT = [
    "for _emitter in self.emitters:",
    "    getattr(_emitter, '_tracker_input', _emitter.input)(p)",
]
_FINISH = [
    *_EID,
    "p['dtm'] = _str(_time.time_ns() // 1000000)",
    "p.update(self._standard)",
    *_EMIT,
    "return self",
]


def _transaction(method: str) -> List[str]:
    """The tail of ``track_ecommerce_transaction``: the ``tr`` event ``p``, then one ``ti``
    event per item, built inline (every event shares ``dtm``, the subject's fields and, but for
    items with a ``"context"`` of their own, the encoded context), all before the first is sent.
    """
    from snowplow_tracker.events.table import ECOMMERCE_TRANSACTION_ITEM as item

    get = {f.arg: f"_item.get({f.arg!r})" for f in item.fields}
    get.update(order_id="order_id", currency="currency")  # the transaction's, for every item
    item_lines = [f"{f.arg} = {get[f.arg]}" for f in item.fields if f.arg in _ITEM_OWN]
    item_lines += _payload(item, method)
    item_lines += [
        "_ic = _item.get('context')",
        "if _ic:",
        "    _cl = [c.to_json() for c in (*(context or ()), *_ic)]",
        f"    p[_ck] = _encode_json({{'schema': _CX, 'data': _cl}}, self.encode_base64,"
        f" self.json_encoder, {method!r}, 'context')",
        "elif _ctx is not None:",
        "    p[_ck] = _ctx",
        "if _ttm is not None:",
        "    p['ttm'] = _ttm",
        "p.update(_sp)",
        *_EID,
        "p['dtm'] = _dtm",
        "p.update(_std)",
        "_events.append(p)",
    ]
    return [
        "_dtm = _str(_time.time_ns() // 1000000)",
        *_context(method),
        "_ttm = None if tstamp is None else _str(_int(tstamp))",
        "if _ttm is not None:",
        "    p['ttm'] = _ttm",
        "if event_subject is None:",
        "    _sp = self._subject._pairs",
        "else:",
        "    _sp = event_subject.combine_subject(self._subject)",
        "p.update(_sp)",
        *_EID,
        "p['dtm'] = _dtm",
        "_std = self._standard",
        "p.update(_std)",
        "if not items:",
        *["    " + line for line in _EMIT],
        "    return self",
        "_events = [p]",
        "_ck = 'cx' if self.encode_base64 else 'co'",
        "_ctx = p.get(_ck)",
        "for _item in items:",
        *["    " + line for line in item_lines],
        # Every event must encode before the first is handed to an emitter: an emitter that
        # refused the third would leave the first two sent and the call failed. The checks
        # refuse every string that could not encode (a lone surrogate); without them, the
        # events are encoded here once first.
        "if not _checking.enabled:",
        "    for _i, p in enumerate(_events):",
        "        try:",
        "            _dumps(p)",
        "        except _JSONEncodeError as _exc:",
        f"            _unsendable({method!r}, _i, _exc)",
        "for p in _events:",
        *["    " + line for line in _EMIT],
        "return self",
    ]


#: The item fields read from each item dict (the others are the transaction's).
_ITEM_OWN = ("sku", "price", "quantity", "name", "category")


def _route(kind: Kind, params: Sequence[str]) -> Tuple[str, List[str]]:
    """Where the call of ``kind`` leaves for its route when the tracker's class overrides
    ``track`` (see :mod:`snowplow_tracker.events.routes`), and the lines that take it.

    ``"start"``: the route builds a 1.x event object (which checks the arguments) and hands it
    to ``track``. ``"fields"``: after the checks, with the payload fields ``p`` (the ecommerce
    kinds). ``"data"``: after the checks and the event data's encoding, with ``data`` (the
    self-describing kinds built from fields, which call ``track_self_describing_event`` too).
    """
    args = ", ".join(p.split("=")[0].split(":")[0].strip() for p in params)
    call = f"_ROUTES[{kind.name!r}](self, {{}}{args})"
    if kind.self_describing and kind.schema and kind.name != "mobile_screen_view":
        cond = "_cls.track is not _TRACK or _cls.track_self_describing_event is not _TSDE"
        where, call = "data", call.format("data, ")
    elif kind.name.startswith("ecommerce_transaction"):
        where, cond, call = "fields", "_cls.track is not _TRACK", call.format("p, ")
    else:  # the builder of the 1.x event classes (events/runtime.py) takes the fast path
        where, cond = "start", "_cls.track is not _TRACK and _cls is not _EventBuilder"
        call = call.format("")
    return where, ["_cls = self.__class__", f"if {cond}:", f"    return {call}"]


def source(kind: Kind, params: Sequence[str], method: str, routed: bool = True) -> str:
    """Return the Python source of one generated ``track_*`` function.

    Args:
        kind: The event description.
        params: The parameter list's source, without ``self``.
        method: The name used in error messages, e.g. ``"Tracker.track_page_view"``.
        routed: Whether the call takes its route when the tracker's class overrides ``track``
            (or ``track_self_describing_event``), as tracker 1.x's methods call them.
    """
    where, route = _route(kind, params) if routed else ("", [])
    body = _checks(kind, method) + _payload(kind, method)
    if where == "start":
        body = route + body
    elif route:
        # The data routes leave after the data's encoding, which names what orjson refuses.
        body += route
    if kind.items:
        body += _transaction(method)
    else:
        body += _context(method)
        body += ["if tstamp is not None:", "    p['ttm'] = _str(_int(tstamp))"]
        body += _SUBJECT + _FINISH
    return f"def track_{kind.name}(self, {', '.join(params)}):\n" + "".join(
        f"    {x}\n" for x in body
    )
