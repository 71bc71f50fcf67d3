"""The one lifecycle registry of the emitters: delivery at exit, a fresh start after fork.

Every emitter registers itself with :func:`watch` (``Emitter``, ``AsyncEmitter``,
``ProcessEmitter``, ``RedisEmitter``, ``CeleryEmitter``). One ``atexit`` handler then delivers
what every live emitter holds, each within its own ``shutdown_timeout``; one
``os.register_at_fork`` hook gives each emitter of the parent a fresh start in the child (new
locks, buffers, threads and connections). Both hooks are installed on the first :func:`watch`,
never at import.

The registry holds emitters weakly: an emitter that is garbage is forgotten.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from typing import List, Protocol

from .._logging import logger


class Lifecycle(Protocol):
    """What the registry needs of an emitter."""

    _where: str  # the emitter's name in log lines
    shutdown_timeout: float  # seconds given to :meth:`_shutdown` at exit

    @property
    def _pid(self) -> int:
        """The process that owns the emitter's buffers."""

    def _begin_exit(self) -> None:
        """Start delivering (without waiting), before any emitter's shutdown is waited on."""

    def _shutdown(self, timeout: float, when: str) -> bool:
        """Deliver what is held within ``timeout`` seconds; report the rest as dropped."""

    def _rebuild_in_child(self) -> None:
        """In a forked child: start afresh, empty, with objects of this process."""


_live: weakref.WeakSet[Lifecycle] = weakref.WeakSet()
_live_lock = threading.Lock()
_hooks_installed = False


def watch(emitter: Lifecycle) -> None:
    """Remember ``emitter`` (weakly) for the exit handler and the fork hook.

    Args:
        emitter: An emitter with ``_pid``, ``_where``, ``shutdown_timeout``, ``_begin_exit``,
            ``_shutdown`` and ``_rebuild_in_child``.
    """
    global _hooks_installed
    with _live_lock:
        _live.add(emitter)
        if not _hooks_installed:
            _hooks_installed = True
            atexit.register(close_all_at_exit)
            os.register_at_fork(after_in_child=rebuild_all_in_child)


def close_all_at_exit() -> None:
    """At interpreter exit: deliver what every live emitter of this process holds.

    Bounded: each emitter gets its ``shutdown_timeout`` from the start of the handler (plus
    the requests in progress); what is not sent by then is dropped and reported.
    """
    pid = os.getpid()
    with _live_lock:
        emitters = [e for e in _live if e._pid == pid]
    start = time.monotonic()
    for emitter in emitters:  # start every emitter's sending before waiting on any
        try:
            emitter._begin_exit()
        except Exception:
            logger.exception("%s: error while delivering at exit", emitter._where)
    for emitter in emitters:
        try:
            emitter._shutdown(start + emitter.shutdown_timeout - time.monotonic(), "exit")
        except Exception:
            logger.exception("%s: error while delivering at exit", emitter._where)


def rebuild_all_in_child() -> None:
    """``os.fork()`` hook, in the child: every live emitter of the parent starts afresh."""
    global _live_lock
    _live_lock = threading.Lock()  # another thread may have held it at the fork
    pid = os.getpid()
    emitters: List[Lifecycle] = list(_live)
    for emitter in emitters:
        if emitter._pid != pid:
            try:
                emitter._rebuild_in_child()
            except Exception:
                logger.exception("%s: error while rebuilding after fork", emitter._where)
