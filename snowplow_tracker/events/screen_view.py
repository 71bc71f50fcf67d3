"""The module path of snowplow-tracker 1.x for :class:`ScreenView` (defined in :mod:`.event`)."""

from .event import ScreenView

__all__ = ["ScreenView"]
