"""The module path of snowplow-tracker 1.x for :class:`PagePing` (in :mod:`.track_methods`)."""

from .track_methods import PagePing

__all__ = ["PagePing"]
