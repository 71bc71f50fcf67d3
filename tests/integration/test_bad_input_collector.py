"""Bad input through real emitters to the embedded collector: what arrives is valid, and a call
that raised sent nothing (see ``tests/unit/test_properties.py`` for the bulk, with a capturing
emitter)."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snowplow_tracker import AsyncEmitter, Emitter, ProcessEmitter, Tracker
from snowplow_tracker.errors import SnowplowError, ValidationError
from snowplow_tracker.events.description import COMMON_ARGS
from snowplow_tracker.events.table import BY_NAME, KINDS
from snowplow_tracker.protocol import contracts
from snowplow_tracker.testing import Collector
from tests.properties import assert_library_error, examples, kind_arguments
from tests.schema_validation import validate_get_query, validate_post_body

pytestmark = pytest.mark.usefixtures("restore_contracts")

ITEMS: List[Dict[str, Any]] = [
    {"sku": "s1", "price": 1, "quantity": 1},
    {"sku": "s2", "price": 2, "quantity": 1, "name": "\ud800"},
]


def _validate_requests(collector: Collector) -> int:
    """Validate every request the collector received; return the number of events."""
    events = 0
    for request in collector.requests:
        if request.method == "POST":
            events += len(validate_post_body(request.body))
        else:
            validate_get_query(request.query)
            events += 1
    return events


@pytest.fixture(params=["post", "get", "async-post", "process-post"])
def emitter(request: pytest.FixtureRequest, collector: Collector) -> Iterator[Any]:
    method = "get" if request.param == "get" else "post"
    kind = request.param.split("-")[0]
    cls = {"async": AsyncEmitter, "process": ProcessEmitter}.get(kind, Emitter)
    made = cls(collector.endpoint, method=method, buffer_size=1)
    yield made
    made.close(timeout=10)


@pytest.mark.parametrize("contracts_on", [True, False])
def test_a_transaction_with_an_unsendable_second_item_reaches_the_collector_not_at_all(
    collector: Collector, emitter: Any, contracts_on: bool
) -> None:
    tracker = Tracker(emitter)
    if not contracts_on:
        contracts.disable_contracts()
    with pytest.raises(
        SnowplowError, match=r"^Tracker\.track_ecommerce_transaction: argument 'items"
    ):
        tracker.track_ecommerce_transaction("o-1", 10, items=ITEMS)
    contracts.enable_contracts()
    tracker.track_ecommerce_transaction("o-2", 10, items=ITEMS[:1])  # then a good one
    assert emitter.flush(timeout=10)
    assert collector.wait_for_events(2)
    assert _validate_requests(collector) == 2
    assert [e.get("tr_id") or e.get("ti_id") for e in collector.events] == ["o-2", "o-2"]


def test_bad_arguments_through_a_real_emitter_send_nothing(
    collector: Collector, emitter: Any
) -> None:
    tracker = Tracker(emitter)
    for call in (
        lambda: tracker.track_struct_event("c", "a", value=10**5000),
        lambda: tracker.track_page_view("u", tstamp=2**1024),
        lambda: tracker.track_form_submit("f" * 5000),
        lambda: tracker.track_page_view("\ud800"),
    ):
        with pytest.raises(ValidationError):
            call()
    tracker.track_page_view("https://example.com/")
    assert emitter.flush(timeout=10)
    assert collector.wait_for_events(1)
    assert _validate_requests(collector) == 1


@pytest.mark.parametrize("method", ["post", "get"])
@settings(max_examples=examples(15), deadline=None)
@given(data=st.data())
def test_generated_calls_through_a_real_emitter_arrive_valid(method: str, data: Any) -> None:
    """The property through a real Emitter and collector, a few examples per method: every
    accepted event arrives valid, or (a GET whose URL is longer than the collector takes, 414)
    is reported to ``on_failure``; nothing is lost silently."""
    failed: List[Dict[str, Any]] = []
    with Collector(mode="record") as collector:
        emitter = Emitter(
            collector.endpoint,
            method=method,
            buffer_size=1,
            on_failure=lambda _sent, events: failed.extend(events),
        )
        try:
            tracker = Tracker(emitter, encode_base64=data.draw(st.booleans()))
            sent = 0
            for _ in range(3):
                kind = BY_NAME[data.draw(st.sampled_from([k.name for k in KINDS]), "kind")]
                kwargs = data.draw(kind_arguments(kind), "arguments")
                try:
                    getattr(tracker, f"track_{kind.name}")(**kwargs)
                except SnowplowError as error:
                    assert_library_error(error, kind.method, [*kind.args, *COMMON_ARGS])
                    continue
                sent += 1 + len(kwargs.get("items") or ())
            assert emitter.flush(timeout=10)
            if method == "post":
                assert not failed
            assert emitter.stats().failed == len(failed)
            assert collector.wait_for_events(sent - len(failed), timeout=10)
            assert _validate_requests(collector) == sent - len(failed)
            assert all(len(str(event)) > 8_000 for event in failed)
        finally:
            emitter.close(timeout=10)
