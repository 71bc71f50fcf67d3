"""What the ``track_*`` methods and the 1.x event classes call at run time.

Event ids made in batches, the checks shared by every event kind, the fast test of a
transaction's items, and the stand-in tracker with which the 1.x event classes build their
payloads. The code generated from :mod:`snowplow_tracker.events.table`
(:mod:`snowplow_tracker.events.track_methods`) refers to these by name.
"""

from __future__ import annotations

import os
from binascii import hexlify
from math import isfinite
from typing import Any, Dict, List, NoReturn, Optional

from ..errors import EncodingError
from ..protocol import contracts
from ..protocol.payload import JsonEncoder
from ..subject import Subject
from .description import Field

_MAX_NUMBER = contracts.MAX_NUMBER


#: Event ids made in advance, taken with ``list.pop`` (atomic: no lock needed between threads).
EVENT_IDS: List[str] = []
#: How many ids one refill makes.
EVENT_ID_BATCH = 256
# Where the 32 hex digits of an id go in its 37-byte slot ``8-4-4-4-12`` and a ``|``.
_HEX_SLOTS = [i for i in range(36) if i not in (8, 13, 18, 23)]
_SLOT_TEMPLATE = b"00000000-0000-0000-0000-000000000000|"
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))  # byte 6: version 4
_VARIANT_10 = bytes((b & 0x3F) | 0x80 for b in range(256))  # byte 8: variant 10


def format_event_ids(raw: bytes) -> List[str]:
    """Turn ``16 * n`` random bytes into ``n`` version-4 UUID strings.

    A few C-level operations on all the bytes at once: the version and variant bits set by
    translating every 16th byte, the hex digits copied into place by strided slice assignment,
    one ``split``. Each id is what :func:`uuid.UUID` would print for its 16 bytes with those
    bits set.

    Args:
        raw: The random bytes, a multiple of 16 of them.
    """
    n = len(raw) // 16
    data = bytearray(raw)
    data[6::16] = data[6::16].translate(_VERSION_4)
    data[8::16] = data[8::16].translate(_VARIANT_10)
    digits = hexlify(data)
    out = bytearray(_SLOT_TEMPLATE * n)
    for j, slot in enumerate(_HEX_SLOTS):
        out[slot::37] = digits[j::32]
    ids = out.decode("ascii").split("|")
    ids.pop()  # the empty string after the last "|"
    return ids


def refill_event_ids() -> str:
    """Make :data:`EVENT_ID_BATCH` random version-4 UUID strings; return one, pool the rest.

    The bytes come from one :func:`os.urandom` call, which the application cannot seed
    (``random.seed`` does not reach it), and are formatted all at once
    (:func:`format_event_ids`), so an id costs a fraction of formatting one UUID on its own,
    and taking it a ``list.pop``.
    """
    ids = format_event_ids(os.urandom(16 * EVENT_ID_BATCH))
    mine = ids.pop()
    EVENT_IDS.extend(ids)
    return mine


if hasattr(os, "register_at_fork"):  # a forked child must not reuse its parent's ids
    os.register_at_fork(after_in_child=EVENT_IDS.clear)


def new_event_id() -> str:
    """Return a random version-4 UUID string, e.g. ``"0f8a0c9e-1b2c-4d3e-8f90-a1b2c3d4e5f6"``.

    Built from :func:`os.urandom` (122 random bits), in batches (see :func:`refill_event_ids`),
    much cheaper than :func:`uuid.uuid4`. The operating system's generator cannot be
    seeded by the application: ``random.seed(42)`` in two processes does not give them the
    same ids. A child process made by ``fork`` drops the ids its parent made in advance.
    """
    try:
        return EVENT_IDS.pop()
    except IndexError:
        return refill_event_ids()


def check_common(method: str, tstamp: Any, event_subject: Any, tstamp_arg: str = "tstamp") -> None:
    """Check the ``tstamp`` and ``event_subject`` arguments every ``track_*`` method takes.

    Args:
        method: Qualified name of the method called.
        tstamp: The true timestamp in ms, or None.
        event_subject: A Subject, or None.
        tstamp_arg: The name of the timestamp argument (``true_timestamp`` for the 1.x event
            classes).

    Raises:
        ValidationError: An argument is invalid.
    """
    if tstamp is not None:
        contracts.timestamp(method, tstamp_arg, tstamp)
    if event_subject is not None and not isinstance(event_subject, Subject):
        contracts.fail(method, "event_subject", "a Subject or None", event_subject)


def unsendable(method: str, index: int, error: Exception) -> NoReturn:
    """Raise the EncodingError for a transaction whose event ``index`` cannot be encoded.

    Args:
        method: Qualified name of the method called.
        index: 0 for the ``tr`` event, ``i + 1`` for the event of ``items[i]``.
        error: What the encoder said (a string with a lone surrogate, when contracts are off).

    Raises:
        EncodingError: Always; no event of the transaction was handed to an emitter.
    """
    what = f"argument 'items[{index - 1}]'" if index else "the 'tr' event"
    raise EncodingError(
        f"{method}: {what} cannot be encoded ({error}); no event of the transaction was sent"
    ) from None


def items_ok(value: Any) -> bool:
    """Return True when ``value`` is surely a valid transaction ``items`` list (fast).

    False means "run :func:`~snowplow_tracker.contracts.transaction_items`", which raises the
    precise error (or accepts the value: a tuple, a Mapping that is not a dict, a ``str``
    subclass, an item with a ``"context"``...).

    Args:
        value: The value given.
    """
    if value.__class__ is not list:
        return False
    for item in value:  # noqa: SIM110 - a loop: no generator frame on the caller's hot path
        if not _item_ok(item):
            return False
    return True


def _item_ok(item: Any) -> bool:
    """Whether one item is surely valid: a dict of known keys, a non-empty ASCII ``sku``, a
    finite ``price``, a 32-bit ``quantity``, ASCII ``name`` and ``category`` or None, and no
    ``context`` of its own."""
    if item.__class__ is not dict or not item.keys() <= contracts.ITEM_KEYS:
        return False
    sku, price, quantity = item.get("sku"), item.get("price"), item.get("quantity")
    name, category = item.get("name"), item.get("category")
    if sku.__class__ is not str or not sku or not sku.isascii() or item.get("context") is not None:
        return False
    if not (
        (price.__class__ is int and -_MAX_NUMBER <= price <= _MAX_NUMBER)
        or (price.__class__ is float and isfinite(price))
    ):
        return False
    if quantity.__class__ is not int or not -2147483648 <= quantity <= 2147483647:
        return False
    return (name is None or (name.__class__ is str and name.isascii())) and (
        category is None or (category.__class__ is str and category.isascii())
    )


def check_argument(method: str, f: Field, value: Any) -> None:
    """Check one argument against its field's rule, outside generated code (1.x event setters).

    Args:
        method: The name used in the error message, e.g. ``"PageView"``.
        f: The field.
        value: The value given.

    Raises:
        ValidationError: The value breaks the rule.
    """
    if not (f.optional and value is None):
        f.rule.checker(f.optional)(method, f.arg, value, **dict(f.rule.options))


class EventBuilder:
    """What a generated ``track_*`` function reads of a tracker, for a 1.x event object.

    ``Event.build_payload`` runs the function of the event's kind with this object as ``self``:
    the function takes its fast path (never a route), and the payload it hands to its one
    "emitter" (:attr:`payload`) is the event's, up to the subject (with ``eid`` and ``dtm``,
    without the tracker's constant fields).

    Args:
        encode_base64: Whether JSON fields are sent as base64 (``ue_px``/``cx``).
        json_encoder: Called by orjson for objects it cannot serialise.
        subject: The tracker's subject; None: no subject field but the event's own.
    """

    __slots__ = ("_standard", "_subject", "emitters", "encode_base64", "json_encoder", "payload")

    #: Read by the route test of the generated functions, which lets this class through.
    track: Any = None

    def __init__(
        self, encode_base64: bool, json_encoder: Optional[JsonEncoder], subject: Optional[Subject]
    ) -> None:
        self.encode_base64 = encode_base64
        self.json_encoder = json_encoder
        if subject is None:
            subject = Subject()
            subject._pairs.clear()
        self._subject = subject
        self._standard: Dict[str, str] = {}
        self.emitters = (self,)
        self.payload: Dict[str, str] = {}

    def input(self, payload: Dict[str, str]) -> None:
        """Keep the payload the generated function built."""
        self.payload = payload
