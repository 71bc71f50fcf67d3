"""Framing of the messages between a ``ProcessEmitter`` and its sender processes.

Messages are raw bytes over a ``multiprocessing`` pipe (``send_bytes``/``recv_bytes``): never
pickle. Event bytes from :func:`snowplow_tracker.wire.encode_event` contain no newline (orjson
escapes it in JSON, urlencoding in querystrings), so a micro-batch is its events joined by
``\\n``. One message carries a whole micro-batch: one IPC operation for many events.

Host to sender:
    ``B`` + id + events: a micro-batch. ``F``: send everything buffered now. ``S``: drain, exit.
Sender to host:
    ``A`` + id + retried + failed indices: every event of micro-batch ``id`` has an outcome.
"""

from __future__ import annotations

import struct
from array import array
from typing import List, Tuple

BATCH = b"B"
FLUSH = b"F"
STOP = b"S"
ACK = b"A"

_ID = struct.Struct(">Q")
_ACK = struct.Struct(">QI")


def pack_batch(batch_id: int, events: List[bytes]) -> bytes:
    """Frame a micro-batch of encoded events."""
    return BATCH + _ID.pack(batch_id) + b"\n".join(events)


def unpack_batch(message: bytes) -> Tuple[int, List[bytes]]:
    """Inverse of :func:`pack_batch` (``message`` starts with ``B``)."""
    (batch_id,) = _ID.unpack_from(message, 1)
    body = message[1 + _ID.size :]
    return batch_id, body.split(b"\n") if body else []


def pack_ack(batch_id: int, retried: int, failed: List[int]) -> bytes:
    """Frame the outcome of a micro-batch: how many re-sends it took and which events failed."""
    return ACK + _ACK.pack(batch_id, retried) + array("I", failed).tobytes()


def unpack_ack(message: bytes) -> Tuple[int, int, List[int]]:
    """Inverse of :func:`pack_ack` (``message`` starts with ``A``)."""
    batch_id, retried = _ACK.unpack_from(message, 1)
    failed = array("I")
    failed.frombytes(message[1 + _ACK.size :])
    return batch_id, retried, failed.tolist()
