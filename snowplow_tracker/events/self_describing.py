"""The module path of snowplow-tracker 1.x for :class:`SelfDescribing` (defined in :mod:`.event`)."""

from .event import SelfDescribing

__all__ = ["SelfDescribing"]
