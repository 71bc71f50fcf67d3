"""The module path of snowplow-tracker 1.x for :class:`PagePing` (defined in :mod:`.event`)."""

from .event import PagePing

__all__ = ["PagePing"]
