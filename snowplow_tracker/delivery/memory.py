"""Give freed heap memory back to the operating system after a burst (glibc only).

Measured (see the ProcessEmitter notes in CHANGELOG and issue 9): glibc keeps the pages of
freed small and medium blocks (below its mmap threshold) in its heaps and arenas, so a
process that held 100 MB of queued events for a burst keeps that RSS after they were
delivered and freed. ``malloc_trim(0)`` returns every whole free page of every arena
(``madvise(MADV_DONTNEED)``); it is thread-safe (it locks each arena in turn) and ctypes
releases the GIL while it runs. On other C libraries (musl, macOS) this is a no-op.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any, Optional

_lock = threading.Lock()
_trim: Optional[Any] = None
_looked_up = False


def _malloc_trim() -> Optional[Any]:
    global _trim, _looked_up
    with _lock:
        if not _looked_up:
            _looked_up = True
            try:
                function = ctypes.CDLL(None).malloc_trim
            except (AttributeError, OSError):  # not glibc
                function = None
            if function is not None:
                function.argtypes = [ctypes.c_size_t]
                function.restype = ctypes.c_int
            _trim = function
    return _trim


def give_back_memory() -> bool:
    """Return free heap pages to the operating system; True if the C library could try.

    Cost: a few milliseconds per hundred megabytes of heap, off the GIL. Call it after a large
    amount of memory was freed, not routinely.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


#: After a process held at least this many bytes of queued events, memory is given back to the
#: OS once the queue has drained to an eighth of its peak.
TRIM_AFTER_BYTES = 16 * 1024 * 1024


class HeapWatermark:
    """The peak of bytes an emitter held since memory was last given back.

    Not thread-safe: the emitter calls it under its own lock, then calls
    :func:`give_back_memory` outside that lock when :meth:`drained` says so.

    Args:
        threshold: Peaks below this are not worth a trim.
    """

    def __init__(self, threshold: int = TRIM_AFTER_BYTES) -> None:
        self.threshold = threshold
        self.peak = 0

    def note(self, held: int) -> None:
        """Record that ``held`` bytes are held now (after the queue grew)."""
        if held > self.peak:
            self.peak = held

    def drained(self, held: int) -> bool:
        """True, once per burst, when a large peak has drained to an eighth of itself."""
        if self.peak < self.threshold or held > self.peak // 8:
            return False
        self.peak = held
        return True
