"""Framing of the messages between a ``ProcessEmitter`` and its sender processes.

Messages are raw bytes over a ``multiprocessing`` pipe (``send_bytes``/``recv_bytes``): never
pickle. Event bytes from :func:`snowplow_tracker.protocol.wire.encode_event` contain no newline
(orjson escapes it in JSON, urlencoding in querystrings), so a micro-batch is its events joined by
``\\n``. One message carries a whole micro-batch: one IPC operation for many events.

Host to sender:
    ``B`` + id + events: a micro-batch. ``F``: send everything buffered now. ``S``: drain, exit.
Sender to host:
    ``R``: the sender runs (its first message). A sender that exits without it could not start.
    ``A`` + id + retried + failed indices: every event of micro-batch ``id`` has an outcome;
    the events not listed as failed (and not already reported by a ``P``) were sent.
    ``P`` + id + sent indices (optional, any number of times before the ``A``): these events
    of micro-batch ``id`` were accepted by the collector. The host counts them as sent at
    once, so that they are never reported as failed or dropped, even if the rest of the
    micro-batch is still being retried when the host shuts down.
    ``T`` + count: the collector answered ``count`` requests with a ``Retry-After`` that the
    sender obeyed (``stats().throttled``).

The host builds a micro-batch in place, without a Python object per event: it starts from
:func:`new_batch`, appends each event followed by :data:`SEPARATOR`, and calls
:func:`seal_batch`: kind ``B``, the 8-byte big-endian id, then the events joined by
:data:`SEPARATOR`.
"""

from __future__ import annotations

import struct
from array import array
from typing import List, Tuple, Union

BATCH = b"B"
FLUSH = b"F"
STOP = b"S"
ACK = b"A"
READY = b"R"
PROGRESS = b"P"
THROTTLED = b"T"
#: Follows each event appended to a batch built with :func:`new_batch`.
SEPARATOR = b"\n"

_ID = struct.Struct(">Q")
_ACK = struct.Struct(">QI")
#: Bytes before the first event of a micro-batch message (kind and id).
BATCH_HEADER_SIZE = 1 + _ID.size

Buffer = Union[bytes, bytearray]


def unpack_batch(message: bytes) -> Tuple[int, List[bytes]]:
    """The id and events of a micro-batch message (``message`` starts with ``B``)."""
    (batch_id,) = _ID.unpack_from(message, 1)
    body = message[1 + _ID.size :]
    return batch_id, body.split(b"\n") if body else []


def new_batch() -> bytearray:
    """An empty micro-batch message to append events to (each followed by :data:`SEPARATOR`)."""
    return bytearray(BATCH + bytes(_ID.size))


def seal_batch(message: bytearray, batch_id: int) -> None:
    """Finish a batch from :func:`new_batch`: drop the last separator and write the id."""
    if len(message) > BATCH_HEADER_SIZE:
        del message[-1]
    _ID.pack_into(message, 1, batch_id)


def batch_events(message: Buffer) -> List[bytes]:
    """The encoded events of a sealed micro-batch message."""
    return unpack_batch(bytes(message))[1]


def pack_ack(batch_id: int, retried: int, failed: List[int]) -> bytes:
    """Frame the outcome of a micro-batch: how many re-sends it took and which events failed."""
    return ACK + _ACK.pack(batch_id, retried) + array("I", failed).tobytes()


def unpack_ack(message: bytes) -> Tuple[int, int, List[int]]:
    """Inverse of :func:`pack_ack` (``message`` starts with ``A``)."""
    batch_id, retried = _ACK.unpack_from(message, 1)
    failed = array("I")
    failed.frombytes(message[1 + _ACK.size :])
    return batch_id, retried, failed.tolist()


def pack_progress(batch_id: int, sent: List[int]) -> bytes:
    """Frame a partial outcome: these events (indices) of micro-batch ``batch_id`` were sent."""
    return PROGRESS + _ID.pack(batch_id) + array("I", sent).tobytes()


def unpack_progress(message: bytes) -> Tuple[int, List[int]]:
    """Inverse of :func:`pack_progress` (``message`` starts with ``P``)."""
    (batch_id,) = _ID.unpack_from(message, 1)
    sent = array("I")
    sent.frombytes(message[1 + _ID.size :])
    return batch_id, sent.tolist()


def pack_throttled(count: int) -> bytes:
    """Frame how many answers' ``Retry-After`` a sender obeyed since its last such message."""
    return THROTTLED + _ID.pack(count)


def unpack_throttled(message: bytes) -> int:
    """Inverse of :func:`pack_throttled` (``message`` starts with ``T``)."""
    (count,) = _ID.unpack_from(message, 1)
    return int(count)
