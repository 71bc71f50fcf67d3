"""Events as data: the description of every event kind, its generated code, the 1.x event classes.

* :mod:`~snowplow_tracker.events.description`: the vocabulary (rules, encodings, fields, kinds);
* :mod:`~snowplow_tracker.events.table`: the 15 event kinds, described once;
* :mod:`~snowplow_tracker.events.track_methods`: the ``Tracker.track_*`` methods and the 1.x
  event classes ``PageView``, ``PagePing``, ``ScreenView``, ``StructuredEvent`` and
  ``SelfDescribing`` (whose payloads the methods' functions build), generated from the table by
  ``python -m tools.generate_tracker`` (``tools/compiler.py``; a test checks that the committed
  module is current);
* :mod:`~snowplow_tracker.events.runtime`: event ids, the checks the generated code calls, and
  the stand-in tracker that builds a 1.x event object's payload;
* :mod:`~snowplow_tracker.events.routes`: the calls through an overridden ``Tracker.track``;
* :mod:`~snowplow_tracker.events.event`: ``Event``, the base of the 1.x event classes (tracked
  with ``Tracker.track(event)``).
"""

from .event import Event
from .track_methods import PagePing, PageView, ScreenView, SelfDescribing, StructuredEvent

__all__ = ["Event", "PagePing", "PageView", "ScreenView", "SelfDescribing", "StructuredEvent"]
