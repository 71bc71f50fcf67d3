"""The pipe message framing between ProcessEmitter and its senders (no pickle, one message per
micro-batch)."""

from __future__ import annotations

from typing import List

import pytest

from snowplow_tracker.emitters.process import ipc


def build(events: List[bytes], batch_id: int) -> bytearray:
    message = ipc.new_batch()
    for event in events:
        message += event
        message += ipc.SEPARATOR
    ipc.seal_batch(message, batch_id)
    return message


@pytest.mark.parametrize(
    "events", [[], [b'{"e":"pv"}'], [b'{"e":"pv"}', b"e=se&se_ca=c%0A", b"{}"]]
)
def test_a_batch_built_in_place_is_kind_id_and_joined_events(events: List[bytes]) -> None:
    """new_batch + appends + seal_batch gives B, the 8-byte id, the events joined by newlines."""
    message = build(events, 2**40 + 7)
    assert bytes(message) == b"B" + (2**40 + 7).to_bytes(8, "big") + b"\n".join(events)
    assert ipc.unpack_batch(bytes(message)) == (2**40 + 7, events)
    assert ipc.batch_events(message) == events


def test_progress_round_trip() -> None:
    """A progress message carries the micro-batch id and the indices of the events sent."""
    message = ipc.pack_progress(12, [0, 3, 255])
    assert message[:1] == ipc.PROGRESS
    assert ipc.unpack_progress(message) == (12, [0, 3, 255])
    assert ipc.unpack_progress(ipc.pack_progress(1, [])) == (1, [])


def test_ack_round_trip() -> None:
    """An acknowledgement carries the id, the re-sends and the failed indices."""
    assert ipc.unpack_ack(ipc.pack_ack(5, 3, [1, 2])) == (5, 3, [1, 2])
