"""The lifecycle registry (``snowplow_tracker.emitters.lifecycle``): which emitters it holds.

Its exit handler's order among the other ``atexit`` hooks is tested by running scripts
(``tests/integration/test_emitter_lifecycle.py``)."""

from __future__ import annotations

import gc
import weakref

from snowplow_tracker import Emitter
from snowplow_tracker.emitters import lifecycle

EVENT = {"e": "pv", "url": "https://example.com/", "p": "srv", "tv": "t", "eid": "e-1"}


def test_an_emitter_never_used_is_forgotten_when_it_is_garbage() -> None:
    ref = weakref.ref(Emitter("127.0.0.1:9", buffer_size=10))
    gc.collect()
    assert ref() is None


def test_a_used_emitter_is_held_until_close_so_that_exit_still_delivers_it() -> None:
    emitter = Emitter("127.0.0.1:9", buffer_size=10)
    emitter.input(EVENT)  # buffered: nothing is sent yet
    ref = weakref.ref(emitter)
    del emitter
    gc.collect()
    held = ref()
    assert held is not None and held in lifecycle._live
    assert held.close(timeout=0) is False  # the deadline passed: the event is dropped
    assert held.stats().dropped == 1
    del held
    gc.collect()
    assert ref() is None
