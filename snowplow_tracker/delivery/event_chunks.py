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

    __slots__ = ("data", "ends", "left", "ticket")

    def __init__(self) -> None:
        self.data = bytearray()
        self.ends = array("q")
        # As a unit of a HostQueue (sealed): its ticket and the events not yet counted.
        self.ticket = 0
        self.left = 0

    def __len__(self) -> int:
        return len(self.ends)

    @property
    def count(self) -> int:
        """Events held."""
        return len(self.ends)

    @property
    def size(self) -> int:
        """Bytes of the events held (what a host queue's byte bound counts)."""
        return len(self.data)

    @property
    def nbytes(self) -> int:
        """Bytes of the events held (their encoded length, without overhead)."""
        return len(self.data)

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
