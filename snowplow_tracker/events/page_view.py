"""The module path of snowplow-tracker 1.x for :class:`PageView` (in :mod:`.track_methods`)."""

from .track_methods import PageView

__all__ = ["PageView"]
