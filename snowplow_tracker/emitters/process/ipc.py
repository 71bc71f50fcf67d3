"""Framing of the messages between a ``ProcessEmitter`` and its sender processes.

Messages are raw bytes over a ``multiprocessing`` pipe (``send_bytes``/``recv_bytes``): never
pickle. One message carries a whole micro-batch: one IPC operation for many events. Each event
in it is length-prefixed (a 4-byte big-endian length, then the bytes), so the framing never
depends on what an event contains: newlines, NUL bytes, anything.

Host to sender:
    ``B`` + id + framed events: a micro-batch. ``F``: send everything buffered now.
    ``S``: drain, exit.
Sender to host:
    ``A`` + id + retried + failed indices: every event of micro-batch ``id`` has an outcome;
    the events not listed as failed (and not already reported by a ``P``) were sent.
    ``P`` + id + sent indices (optional, any number of times before the ``A``): these events
    of micro-batch ``id`` were accepted by the collector. The host counts them as sent at
    once, so that they are never reported as failed or dropped, even if the rest of the
    micro-batch is still being retried when the host shuts down.
    ``L`` + level + length of the logger name + logger name + message (UTF-8): a log record of
    the sender, already formatted, for the host to log (see :func:`pack_log`).

The host builds a micro-batch in place, without a Python object per event: it starts from
:func:`new_batch`, appends each event's :data:`LENGTH` prefix (``LENGTH.pack(len(event))``) and
then the event, and calls :func:`seal_batch`, which writes the id.
"""

from __future__ import annotations

import struct
from array import array
from typing import List, Tuple, Union

BATCH = b"B"
FLUSH = b"F"
STOP = b"S"
ACK = b"A"
PROGRESS = b"P"
LOG = b"L"

#: The prefix of each event in a micro-batch: its length in bytes.
LENGTH = struct.Struct(">I")
#: Bytes a queued event takes in a micro-batch besides its own.
EVENT_OVERHEAD = LENGTH.size
#: The longest event a micro-batch can carry.
MAX_EVENT_SIZE = 2**32 - 1

_ID = struct.Struct(">Q")
_ACK = struct.Struct(">QI")
_LOG = struct.Struct(">HH")
#: Bytes before the first event of a micro-batch message (kind and id).
BATCH_HEADER_SIZE = 1 + _ID.size

Buffer = Union[bytes, bytearray, memoryview]


def new_batch() -> bytearray:
    """An empty micro-batch message to append framed events to (see :func:`append_event`)."""
    return bytearray(BATCH + bytes(_ID.size))


def append_event(message: bytearray, event: bytes) -> None:
    """Append one event, length-prefixed, to a message or pile from :func:`new_batch`.

    (The host's hot path inlines these two appends.)
    """
    message += LENGTH.pack(len(event))
    message += event


def seal_batch(message: bytearray, batch_id: int) -> None:
    """Finish a batch from :func:`new_batch`: write its id."""
    _ID.pack_into(message, 1, batch_id)


def split_events(buffer: Buffer, start: int = 0) -> List[bytes]:
    """The events of a sequence of length-prefixed events, from offset ``start`` on.

    Raises:
        ValueError: The framing is truncated (an event runs past the end of ``buffer``).
    """
    view = memoryview(buffer)
    end = len(view)
    unpack = LENGTH.unpack_from
    size = LENGTH.size
    events: List[bytes] = []
    at = start
    while at < end:
        (length,) = unpack(view, at)
        at += size
        stop = at + length
        if stop > end:
            raise ValueError(f"truncated micro-batch: event of {length} bytes at offset {at}")
        events.append(bytes(view[at:stop]))
        at = stop
    return events


def unpack_batch(message: Buffer) -> Tuple[int, List[bytes]]:
    """The id and events of a micro-batch message (``message`` starts with ``B``)."""
    (batch_id,) = _ID.unpack_from(message, 1)
    return batch_id, split_events(message, BATCH_HEADER_SIZE)


def batch_events(message: Buffer) -> List[bytes]:
    """The encoded events of a micro-batch message."""
    return split_events(message, BATCH_HEADER_SIZE)


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


def pack_log(level: int, name: str, text: str) -> bytes:
    """Frame a sender's log record: its level, logger name and formatted message.

    Args:
        level: The record's level (``logging.WARNING``...), 0 to 65535.
        name: The logger's name (``snowplow_tracker...``).
        text: The formatted message, with the traceback if the record had one.
    """
    name_bytes = name.encode("utf-8", "replace")[:65535]
    return (
        LOG
        + _LOG.pack(max(0, min(level, 65535)), len(name_bytes))
        + name_bytes
        + text.encode("utf-8", "replace")
    )


def unpack_log(message: bytes) -> Tuple[int, str, str]:
    """Inverse of :func:`pack_log` (``message`` starts with ``L``): level, name, message."""
    level, name_size = _LOG.unpack_from(message, 1)
    start = 1 + _LOG.size
    name = message[start : start + name_size].decode("utf-8", "replace")
    text = message[start + name_size :].decode("utf-8", "replace")
    return level, name, text
