"""The host queue every in-host emitter holds: bounds, units, flush barrier, drops."""

from __future__ import annotations

import logging
from typing import List, Tuple

import pytest

from snowplow_tracker.delivery.host_queue import HostQueue


class Unit:
    def __init__(self, count: int, size: int) -> None:
        self.ticket = 0
        self.count = self.left = count
        self.size = size


Calls = List[Tuple[List[bytes], List[bytes]]]
Queue = HostQueue[Unit]


def make(
    max_bytes: int = 100, max_events: int = 10, keep: int = 0
) -> Tuple[HostQueue[Unit], Calls]:
    calls: Calls = []
    queue: HostQueue[Unit] = HostQueue(
        max_bytes, max_events, "full: dropped %d", lambda s, f: calls.append((s, f)), None, keep
    )
    queue.open_locked()
    return queue, calls


def test_a_closed_queue_has_no_room_and_holds_nothing() -> None:
    queue: HostQueue[Unit] = HostQueue(100, None, "full %d")
    assert (queue.room, queue.event_room, queue.held_bytes) == (0, 0, 0)
    assert not queue.reserve_locked(1, 1)


def test_bounds_in_bytes_and_events_and_the_room_given_back() -> None:
    queue, _ = make(max_bytes=100, max_events=3)
    assert queue.reserve_locked(60, 1)
    assert not queue.reserve_locked(41, 1)  # bytes
    assert queue.reserve_locked(40, 2)
    assert not queue.reserve_locked(0, 1)  # events
    assert queue.held_bytes == 100
    queue.free_locked(60, 1)
    assert (queue.held_bytes, queue.room, queue.event_room) == (40, 60, 1)


def test_first_fits_takes_a_unit_larger_than_the_bound_into_an_empty_queue() -> None:
    queue, _ = make(max_bytes=100)
    assert queue.reserve_locked(500, 1, first_fits=True)
    queue.put_locked(Unit(1, 500))
    assert not queue.reserve_locked(1, 1, first_fits=True)  # no longer empty


def test_units_move_waiting_in_flight_back_and_out_with_the_gauges() -> None:
    queue, _ = make()
    with queue.lock:  # the _locked methods are called with it held
        a, b, c = Unit(2, 10), Unit(3, 10), Unit(1, 10)
        for unit in (a, b, c):
            assert queue.reserve_locked(unit.size, unit.count)
            queue.put_locked(unit)
        assert [u.ticket for u in (a, b, c)] == [1, 2, 3]
        assert queue.take_locked() is a and queue.take_locked() is b
        assert (queue.ready_events, queue.in_flight_events) == (1, 5)
        assert queue.requeue_locked([a, b]) == 5
        assert list(queue.ready) == [a, b, c]  # back at the head, in their order
        assert queue.take_locked() is a
        queue.land_locked(a, 1)  # one event's outcome counted
        assert queue.in_flight_events == 1
        queue.release_locked(a)
        assert (queue.in_flight_events, queue.ready_events, queue.held_bytes) == (0, 4, 20)


def test_the_flush_barrier_waits_for_older_units_only() -> None:
    queue, _ = make()
    with queue.lock:  # the _locked methods are called with it held
        old, new = Unit(1, 1), Unit(1, 1)
        queue.put_locked(old)
        target = queue.next_ticket
        queue.put_locked(new)
        queue.take_locked()
        assert queue.pending_locked(target)
        assert not queue.wait_locked(target, deadline=0.0)  # a deadline already passed
        assert queue.wait_locked(target, None, check=lambda: True)  # check ends the wait
        queue.release_locked(old)
        assert not queue.pending_locked(target) and queue.pending_locked(queue.next_ticket)
        assert queue.wait_locked(target, None)


def test_drops_are_counted_at_once_kept_and_reported_with_one_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue, calls = make(keep=10)
    assert not queue.drop_locked(1, [b"abcd"])
    assert queue.drop_locked(2, [b"efgh", b"ijkl"])  # more than 10 bytes kept: report now
    assert queue.counters.dropped == 3
    with caplog.at_level(logging.WARNING, logger="snowplow_tracker"):
        queue.report_drops(queue.take_drops_locked())
        queue.drop_locked(1)
        queue.report_drops(queue.take_drops_locked())  # throttled: no second record
    assert [r.getMessage() for r in caplog.records] == ["full: dropped 3"]
    assert calls == [([], [b"abcd", b"efgh", b"ijkl"])]
    assert queue.unreported == 0
