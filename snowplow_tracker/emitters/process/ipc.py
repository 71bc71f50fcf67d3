"""Framing of the messages between a ``ProcessEmitter`` and its sender processes.

Messages are raw bytes over a socket pair, framed by ``multiprocessing.connection.Connection``
(``send_bytes``/``recv_bytes``): never pickle. One message carries a whole micro-batch: one IPC
operation for many events. The events are framed by their lengths, never by a separator, so the
framing does not depend on what an event contains (newlines, NUL bytes, anything).

Host to sender:
    ``C`` + JSON: the sender's configuration (its first message, once).
    ``B`` + id + events + lengths + count: a micro-batch (see below). ``F``: send everything
    buffered now. ``S``: drain, exit.
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
    ``L`` + level + length of the logger name + logger name + message (UTF-8): a log record of
    the sender, already formatted, for the host to log (see :func:`pack_log`).

A micro-batch message is ``B``, the 8-byte big-endian id, the events' bytes one after the
other, then each event's length and the number of events (4-byte unsigned integers in the
machine's byte order: both ends of the pipe run on the same machine). The host builds it in
place, without a Python object per event: it starts from :func:`new_batch` (the message) and
:func:`new_lengths` (an ``array`` of lengths), appends each event to the message and its length
to the array (:func:`append_event`; the hot path inlines it), and calls :func:`seal_batch`,
which writes the id and appends the lengths and the count.
"""

from __future__ import annotations

import struct
from array import array
from typing import List, Tuple, Union

CONFIG = b"C"
BATCH = b"B"
FLUSH = b"F"
STOP = b"S"
ACK = b"A"
READY = b"R"
PROGRESS = b"P"
THROTTLED = b"T"
LOG = b"L"

#: Bytes a queued event takes in a micro-batch besides its own (its length).
EVENT_OVERHEAD = 4
#: The longest event a micro-batch can carry.
MAX_EVENT_SIZE = 2**32 - 1

_ID = struct.Struct(">Q")
_ACK = struct.Struct(">QI")
_LOG = struct.Struct(">HH")
_COUNT = struct.Struct("=I")
#: Bytes before the first event of a micro-batch message (kind and id).
BATCH_HEADER_SIZE = 1 + _ID.size
#: The array type code of the lengths (a 4-byte unsigned integer).
LENGTH_CODE = "I" if array("I").itemsize == 4 else "L"

Buffer = Union[bytes, bytearray, memoryview]


def new_batch() -> bytearray:
    """An empty micro-batch message to append events to (see :func:`append_event`)."""
    return bytearray(BATCH + bytes(_ID.size))


def new_lengths() -> array[int]:
    """An empty array for the lengths of the events of a micro-batch."""
    return array(LENGTH_CODE)


def append_event(message: bytearray, lengths: array[int], event: bytes) -> None:
    """Append one event to a message from :func:`new_batch` and its length to ``lengths``."""
    lengths.append(len(event))
    message += event


def seal_batch(message: bytearray, lengths: array[int], batch_id: int) -> None:
    """Finish a batch from :func:`new_batch`: write its id, append the lengths and the count."""
    _ID.pack_into(message, 1, batch_id)
    message += lengths
    message += _COUNT.pack(len(lengths))


def batch_events(message: Buffer) -> List[bytes]:
    """The encoded events of a sealed micro-batch message.

    Raises:
        ValueError: The message is not a well-formed micro-batch (its lengths do not add up).
    """
    view = memoryview(message)
    end = len(view) - _COUNT.size
    if end < BATCH_HEADER_SIZE:
        raise ValueError("malformed micro-batch: too short")
    (count,) = _COUNT.unpack_from(view, end)
    table = end - EVENT_OVERHEAD * count
    if table < BATCH_HEADER_SIZE:
        raise ValueError(f"malformed micro-batch: {count} events cannot fit")
    lengths = array(LENGTH_CODE)
    lengths.frombytes(view[table:end])
    if sum(lengths) != table - BATCH_HEADER_SIZE:
        raise ValueError("malformed micro-batch: the lengths do not add up")
    events: List[bytes] = []
    at = BATCH_HEADER_SIZE
    for length in lengths:
        stop = at + length
        events.append(bytes(view[at:stop]))
        at = stop
    return events


def unpack_batch(message: Buffer) -> Tuple[int, List[bytes]]:
    """The id and events of a micro-batch message (``message`` starts with ``B``)."""
    (batch_id,) = _ID.unpack_from(message, 1)
    return batch_id, batch_events(message)


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
