"""The 1.x module path of :class:`SelfDescribing` (defined in :mod:`.event`)."""

from .event import SelfDescribing

__all__ = ["SelfDescribing"]
