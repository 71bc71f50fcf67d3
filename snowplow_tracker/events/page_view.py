"""The module path of snowplow-tracker 1.x for :class:`PageView` (defined in :mod:`.event`)."""

from .event import PageView

__all__ = ["PageView"]
