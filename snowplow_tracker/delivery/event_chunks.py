"""Encoded events held compactly: appended to ``bytearray`` chunks, not one object per event.

orjson returns each ``bytes`` inside an allocation of at least 4 KB, so a queue that keeps the
``bytes`` objects it is given costs about 4 KB per event however small the event is (and a
Python object per event besides). A :class:`Chunk` copies each event into one ``bytearray``
with an array of end offsets, so that a held event costs its length plus 8 bytes. A sealed
chunk (never appended to again) can be read through ``memoryview`` slices
(:meth:`Chunk.views`) without copying. Not thread-safe: its owner locks.
"""

from __future__ import annotations

from array import array
from typing import List

__all__ = ["Chunk"]


class Chunk:
    """Events stored back to back in one ``bytearray``, with the offset where each ends."""

    __slots__ = ("count", "data", "ends", "left", "size", "ticket")

    def __init__(self) -> None:
        self.data = bytearray()
        self.ends = array("q")
        # As a unit of a HostQueue, set by seal(): its ticket, events, bytes, and the events
        # whose outcome is not counted yet.
        self.ticket = self.count = self.size = self.left = 0

    def __len__(self) -> int:
        return len(self.ends)

    def seal(self) -> None:
        """Freeze the counts of the chunk as a unit of a host queue (no append after this)."""
        self.count = self.left = len(self.ends)
        self.size = len(self.data)

    def append(self, event: bytes) -> None:
        """Copy ``event`` to the end of the chunk."""
        self.data += event
        self.ends.append(len(self.data))

    def views(self) -> List[memoryview]:
        """One read-only ``memoryview`` per event, in order, without copying."""
        whole = memoryview(self.data).toreadonly()
        views: List[memoryview] = []
        start = 0
        for end in self.ends:
            views.append(whole[start:end])
            start = end
        return views

    def events(self) -> List[bytes]:
        """A copy of each event, in order (for callbacks, never on the sending path)."""
        return [bytes(view) for view in self.views()]
