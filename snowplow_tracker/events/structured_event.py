"""The module path of snowplow-tracker 1.x for :class:`StructuredEvent` (defined in :mod:`.event`)."""

from .event import StructuredEvent

__all__ = ["StructuredEvent"]
