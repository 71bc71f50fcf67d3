"""Events as data: the description of every event kind, its generated code, the 1.x event classes.

* :mod:`~snowplow_tracker.events.description`: the vocabulary (rules, encodings, fields, kinds);
* :mod:`~snowplow_tracker.events.table`: the 15 event kinds, described once;
* :mod:`~snowplow_tracker.events.track_methods`: the ``Tracker.track_*`` methods, and
  :mod:`~snowplow_tracker.events.builders`: the 1.x event classes' code, both generated from the
  table by ``python -m tools.generate_tracker`` (``tools/compiler.py``; a test checks that the
  committed modules are current);
* :mod:`~snowplow_tracker.events.runtime`: event ids and the checks the generated code calls;
* :mod:`~snowplow_tracker.events.routes`: the calls through an overridden ``Tracker.track``;
* :mod:`~snowplow_tracker.events.event`: ``Event``, ``PageView``, ``PagePing``, ``ScreenView``,
  ``StructuredEvent`` and ``SelfDescribing`` (snowplow-tracker 1.x), tracked with
  ``Tracker.track(event)``.
"""

from .event import Event, PagePing, PageView, ScreenView, SelfDescribing, StructuredEvent

__all__ = ["Event", "PagePing", "PageView", "ScreenView", "SelfDescribing", "StructuredEvent"]
