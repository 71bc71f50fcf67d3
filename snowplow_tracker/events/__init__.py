"""Events as data: the description of every event kind, its compiler and the 1.x event classes.

* :mod:`~snowplow_tracker.events.description`: the vocabulary (rules, encodings, fields, kinds);
* :mod:`~snowplow_tracker.events.table`: the 15 event kinds, described once;
* :mod:`~snowplow_tracker.events.compiler`: turns a description into code at import time;
* :mod:`~snowplow_tracker.events.event`: ``Event``, ``PageView``, ``PagePing``, ``ScreenView``,
  ``StructuredEvent`` and ``SelfDescribing`` (snowplow-tracker 1.x), tracked with
  ``Tracker.track(event)``.
"""

from .event import Event, PagePing, PageView, ScreenView, SelfDescribing, StructuredEvent

__all__ = ["Event", "PagePing", "PageView", "ScreenView", "SelfDescribing", "StructuredEvent"]
