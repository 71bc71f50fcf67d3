"""Every dict the Tracker hands to emitters is already in protocol form.

``ProcessEmitter``'s Tracker fast path relies on it: it serialises these dicts without the check
``input`` makes (``normalize_payload`` must return them unchanged).
"""

from typing import Any, Dict, List

from snowplow_tracker import ProcessEmitter, SelfDescribingJson, Subject, Tracker
from snowplow_tracker.demo import track_everything
from snowplow_tracker.emitters import Emitter
from snowplow_tracker.protocol.wire import normalize_payload
from tests.capture import Capture


def tracked(**tracker_kwargs: Any) -> List[Dict[str, str]]:
    capture = Capture()
    subject = Subject().set_user_id("u").set_lang("")
    tracker = Tracker(capture, subject=subject, namespace="ns", app_id="app", **tracker_kwargs)
    track_everything(tracker)
    ctx = [SelfDescribingJson("iglu:com.acme/x/jsonschema/1-0-0", {"a": ""})]
    tracker.track_struct_event("c", "a", "", "", 0, context=ctx, tstamp=1)
    tracker.track_page_view("http://x/", "", "")
    tracker.track_page_ping("http://x/", None, None, 0, 0, 0, 0)
    tracker.track_ecommerce_transaction("o", 0, "", 0, 0, "", "", "", "", items=[])
    return capture.events


def test_tracker_payloads_are_already_normalized() -> None:
    """String values only, none empty, no stm: normalize_payload returns the same object."""
    for kwargs in ({}, {"encode_base64": False}):
        payloads = tracked(**kwargs)
        assert len(payloads) > 15
        for payload in payloads:
            assert normalize_payload(payload) is payload, payload


def test_process_emitter_fast_path_only_when_input_is_not_overridden() -> None:
    """A subclass that changes input() gets its own input() called by the Tracker."""

    class Tagging(ProcessEmitter):
        def input(self, payload: Any) -> None:
            super().input({**payload, "aid": "tagged"})

    plain = ProcessEmitter("collector.example.com")
    tagging = Tagging("collector.example.com")
    assert plain._tracker_input == plain._input_from_tracker
    assert tagging._tracker_input == tagging.input
    assert not hasattr(Emitter("collector.example.com"), "_tracker_input")
