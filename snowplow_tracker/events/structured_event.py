"""The 1.x module path of :class:`StructuredEvent` (in :mod:`.track_methods`)."""

from .track_methods import StructuredEvent

__all__ = ["StructuredEvent"]
