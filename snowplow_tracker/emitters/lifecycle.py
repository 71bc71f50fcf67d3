"""The one lifecycle registry of the emitters: delivery at exit, a fresh start after fork.

Every emitter registers itself with :func:`watch` (``Emitter``, ``AsyncEmitter``,
``ProcessEmitter``, ``RedisEmitter``, ``CeleryEmitter``). One ``atexit`` handler then delivers
what every live emitter holds, each within its own ``shutdown_timeout``; one
``os.register_at_fork`` hook gives each emitter of the parent a fresh start in the child (new
locks, buffers, threads and connections). Both hooks are installed on the first :func:`watch`,
never at import.

The registry holds an emitter weakly until its first event, and strongly from then until its
``close()`` (:func:`keep`, :func:`release`): an emitter whose owner dropped it with events held
(a tracker built in a ``main()`` that returned) still delivers them at exit; one never used is
forgotten when it is garbage. The synchronous ``Emitter`` is released again whenever a flush
leaves it holding nothing, so that emitters built and dropped one per request do not pile up.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from typing import List, Protocol, Set

from .._logging import logger


class Lifecycle(Protocol):
    """What the registry needs of an emitter."""

    _where: str  # the emitter's name in log lines
    _kept: bool  # held strongly by the registry (see keep())
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
_kept: Set[Lifecycle] = set()
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
            _register_exit_handler()
            os.register_at_fork(after_in_child=rebuild_all_in_child)


def keep(emitter: Lifecycle) -> None:
    """Hold ``emitter`` strongly until :func:`release`: called at its first event, so that what
    it holds is delivered at exit even when nothing else refers to it any more.

    Args:
        emitter: An emitter given to :func:`watch`.
    """
    with _live_lock:
        _kept.add(emitter)
        emitter._kept = True


def release(emitter: Lifecycle) -> None:
    """Hold ``emitter`` weakly again (it was closed: it holds nothing).

    Args:
        emitter: An emitter given to :func:`watch`.
    """
    with _live_lock:
        _kept.discard(emitter)
        emitter._kept = False


class _Anchor:
    """A throwaway object to create a ``weakref.finalize`` on."""


def _register_exit_handler() -> None:
    """Register :func:`close_all_at_exit` so that it runs before the exit hooks of the parts it
    sends through (``atexit`` runs hooks last registered first).

    * ``weakref.finalize`` registers one ``atexit`` hook, when the first finalizer is created;
      at exit it runs every finalizer, and urllib3 (2.x) has one per connection pool that
      empties the pool. Delivering after it would wait for a pooled connection that never
      comes back. Creating a finalizer first registers that hook before ours.
    * ``multiprocessing`` registers its hook (which joins child processes) at import.
    * ``logging`` registers ``logging.shutdown`` at import (``_logging`` imported it).
    """
    import multiprocessing.util  # noqa: F401 - imported for its atexit hook

    weakref.finalize(_Anchor(), _noop)  # the anchor dies at once: only the hook remains
    atexit.register(close_all_at_exit)


def _noop() -> None:
    pass


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
