"""The pipe message framing between ProcessEmitter and its senders (no pickle, one message per
micro-batch)."""

from __future__ import annotations

import sys
from typing import List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snowplow_tracker.emitters.process import ipc


def build(events: List[bytes], batch_id: int) -> bytearray:
    message = ipc.new_batch()
    lengths = ipc.new_lengths()
    for event in events:
        ipc.append_event(message, lengths, event)
    ipc.seal_batch(message, lengths, batch_id)
    return message


@pytest.mark.parametrize(
    "events", [[], [b'{"e":"pv"}'], [b'{"e":"pv"}', b"e=se&se_ca=c%0A", b"{}"]]
)
def test_a_batch_built_in_place_is_kind_id_events_lengths_count(events: List[bytes]) -> None:
    """new_batch + appends + seal_batch gives B, the 8-byte id, the events, their lengths and
    their number."""
    message = build(events, 2**40 + 7)
    native = sys.byteorder
    lengths = b"".join(len(e).to_bytes(4, native) for e in events)
    expected = b"B" + (2**40 + 7).to_bytes(8, "big") + b"".join(events) + lengths
    assert bytes(message) == expected + len(events).to_bytes(4, native)
    assert ipc.unpack_batch(bytes(message)) == (2**40 + 7, events)
    assert ipc.batch_events(message) == events


def test_events_with_newlines_keep_their_bytes_and_count() -> None:
    """A pretty-printed event (newlines inside) stays one event, unchanged."""
    pretty = b'{\n "e": "pv",\n "eid": "x"\n}'
    events = [b'{"e":"pv"}', pretty, b"", b"\n", b"\n\n"]
    assert ipc.unpack_batch(bytes(build(events, 3))) == (3, events)


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(st.binary(max_size=300), max_size=40),
    batch_id=st.integers(min_value=0, max_value=2**64 - 1),
)
def test_any_bytes_round_trip_through_a_batch(events: List[bytes], batch_id: int) -> None:
    """Whatever bytes the events hold, the sender reads back exactly the events appended."""
    message = build(events, batch_id)
    assert ipc.unpack_batch(bytes(message)) == (batch_id, events)
    assert ipc.batch_events(message) == events


@pytest.mark.parametrize("cut", [1, 4, 5, 8])
def test_a_damaged_batch_is_refused(cut: int) -> None:
    """A message whose lengths do not add up raises rather than yielding other events."""
    message = bytes(build([b"abcdef", b"\n\n"], 1))
    with pytest.raises(ValueError, match="malformed"):
        ipc.unpack_batch(message[:-cut])


@settings(max_examples=100, deadline=None)
@given(level=st.integers(0, 60), name=st.text(max_size=40), text=st.text(max_size=500))
def test_log_round_trip(level: int, name: str, text: str) -> None:
    """A sender's log record (level, logger name, message) survives the pipe framing."""
    message = ipc.pack_log(level, name, text)
    assert message[:1] == ipc.LOG
    got = ipc.unpack_log(message)
    assert got[0] == level
    assert got[1] == name.encode("utf-8", "replace").decode("utf-8", "replace")
    assert got[2] == text.encode("utf-8", "replace").decode("utf-8", "replace")


def test_progress_round_trip() -> None:
    """A progress message carries the micro-batch id and the indices of the events sent."""
    message = ipc.pack_progress(12, [0, 3, 255])
    assert message[:1] == ipc.PROGRESS
    assert ipc.unpack_progress(message) == (12, [0, 3, 255])
    assert ipc.unpack_progress(ipc.pack_progress(1, [])) == (1, [])


def test_ack_round_trip() -> None:
    """An acknowledgement carries the id, the re-sends and the failed indices."""
    assert ipc.unpack_ack(ipc.pack_ack(5, 3, [1, 2])) == (5, 3, [1, 2])
