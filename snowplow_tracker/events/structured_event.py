"""The 1.x module path of :class:`StructuredEvent` (defined in :mod:`.event`)."""

from .event import StructuredEvent

__all__ = ["StructuredEvent"]
