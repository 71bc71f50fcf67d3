"""Encoded events held compactly: appended to ``bytearray`` chunks, not one object per event.

orjson returns each ``bytes`` inside an allocation of at least 4 KB, so a queue that keeps the
``bytes`` objects it is given costs about 4 KB per event however small the event is (and a
Python object per event besides). An :class:`EventChunks` copies each event into the open
chunk, a ``bytearray`` with an array of end offsets, so that a queued event costs its length
plus 8 bytes.

A chunk is sealed (never appended to again) when it holds ``chunk_events`` events or
``chunk_bytes`` bytes, or when :meth:`EventChunks.take` hands it out; a sealed chunk can
therefore be read through ``memoryview`` slices (:meth:`Chunk.views`) without copying while
more events arrive. Not thread-safe: its owner locks.
"""

from __future__ import annotations

from array import array
from collections import deque
from typing import Deque, List

__all__ = ["Chunk", "EventChunks"]


class Chunk:
    """Events stored back to back in one ``bytearray``, with the offset where each ends."""

    __slots__ = ("data", "ends")

    def __init__(self) -> None:
        self.data = bytearray()
        self.ends = array("q")

    def __len__(self) -> int:
        return len(self.ends)

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


class EventChunks:
    """A FIFO queue of encoded events in :class:`Chunk` objects.

    Args:
        chunk_events: Events per chunk at most (a chunk is then sealed).
        chunk_bytes: Bytes after which a chunk is sealed.
    """

    __slots__ = ("_chunks", "_open", "chunk_bytes", "chunk_events", "events", "nbytes")

    def __init__(self, chunk_events: int = 1000, chunk_bytes: int = 1 << 20) -> None:
        self.chunk_events = chunk_events
        self.chunk_bytes = chunk_bytes
        self._chunks: Deque[Chunk] = deque()  # sealed chunks, oldest first
        self._open = Chunk()
        #: Events held.
        self.events = 0
        #: Bytes of the events held.
        self.nbytes = 0

    def __len__(self) -> int:
        return self.events

    def append(self, event: bytes) -> None:
        """Copy ``event`` to the tail of the queue."""
        chunk = self._open
        chunk.append(event)
        self.events += 1
        self.nbytes += len(event)
        if len(chunk) >= self.chunk_events or chunk.nbytes >= self.chunk_bytes:
            self._chunks.append(chunk)
            self._open = Chunk()

    def take(self, max_chunks: int) -> List[Chunk]:
        """Remove and return up to ``max_chunks`` chunks from the head (the open one included)."""
        taken: List[Chunk] = []
        while self._chunks and len(taken) < max_chunks:
            taken.append(self._chunks.popleft())
        if len(taken) < max_chunks and len(self._open):
            taken.append(self._open)
            self._open = Chunk()
        for chunk in taken:
            self.events -= len(chunk)
            self.nbytes -= chunk.nbytes
        return taken

    def put_back(self, chunks: List[Chunk]) -> None:
        """Return chunks taken with :meth:`take` to the head of the queue, in their order."""
        for chunk in reversed(chunks):
            self._chunks.appendleft(chunk)
            self.events += len(chunk)
            self.nbytes += chunk.nbytes
