"""The 1.x module path of :class:`SelfDescribing` (in :mod:`.track_methods`)."""

from .track_methods import SelfDescribing

__all__ = ["SelfDescribing"]
