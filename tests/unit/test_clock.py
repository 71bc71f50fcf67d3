"""The event's device timestamp comes from ``time.time_ns`` at each call, so a patched clock
(``freezegun``, ``unittest.mock.patch("time.time_ns")``) reaches every ``track_*`` method."""

from __future__ import annotations

from typing import Dict, List
from unittest import mock

from snowplow_tracker import Tracker

FROZEN_NS = 1_234_567_890_123 * 1_000_000


class _Capture:
    def __init__(self) -> None:
        self.payloads: List[Dict[str, str]] = []

    def input(self, payload: Dict[str, str]) -> None:
        self.payloads.append(payload)


def test_a_patched_clock_sets_dtm_of_compiled_track_methods() -> None:
    """dtm follows a patched time.time_ns (the compiled code must not hold its own reference)."""
    capture = _Capture()
    tracker = Tracker(capture, namespace="ns")
    with mock.patch("time.time_ns", return_value=FROZEN_NS):
        tracker.track_struct_event("c", "a")
        tracker.track_page_view("https://example.com/")
        tracker.track_screen_view("Home")
    assert [p["dtm"] for p in capture.payloads] == ["1234567890123"] * 3
