"""The module path of snowplow-tracker 1.x for :class:`ScreenView` (in :mod:`.track_methods`)."""

from .track_methods import ScreenView

__all__ = ["ScreenView"]
