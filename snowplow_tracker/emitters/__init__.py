"""The emitters. Each is a buffer (:class:`~snowplow_tracker.delivery.batching.Batcher`), a
dispatcher and a transport (:mod:`snowplow_tracker.delivery`); they differ in the dispatcher:

* :mod:`.sync`: ``Emitter`` sends inline, in the thread that tracks;
* :mod:`.threads`: ``AsyncEmitter`` sends from a pool of threads;
* :mod:`.process`: ``ProcessEmitter`` sends from a pool of sender processes;
* :mod:`.redis`: ``RedisEmitter`` stores in Redis for a ``RedisWorker`` to send;
* :mod:`.celery`: ``CeleryEmitter`` publishes Celery tasks that a worker sends.

:mod:`.base` holds the configuration and callbacks they share, :mod:`.lifecycle` the exit and
fork hooks. ``from snowplow_tracker.emitters import Emitter, AsyncEmitter`` (the 0.10 and 1.x
path) keeps working; each name's module is imported when the name is first used.
"""

from typing import TYPE_CHECKING

from .._lazy import exports as _exports

if TYPE_CHECKING:
    from ..compat import DEFAULT_MAX_LENGTH
    from .base import BaseEmitter, FailureCallback, SuccessCallback
    from .celery import CeleryEmitter
    from .process.emitter import ProcessEmitter
    from .redis import RedisEmitter
    from .sync import Emitter
    from .threads import AsyncEmitter

#: Each exported name and the module that defines it, imported on first use.
_EXPORTS = {
    "DEFAULT_MAX_LENGTH": "..compat",
    "AsyncEmitter": ".threads",
    "BaseEmitter": ".base",
    "CeleryEmitter": ".celery",
    "Emitter": ".sync",
    "FailureCallback": ".base",
    "ProcessEmitter": ".process.emitter",
    "RedisEmitter": ".redis",
    "SuccessCallback": ".base",
}

__getattr__, __dir__ = _exports(__name__, _EXPORTS)


__all__ = [
    "DEFAULT_MAX_LENGTH",
    "AsyncEmitter",
    "BaseEmitter",
    "CeleryEmitter",
    "Emitter",
    "FailureCallback",
    "ProcessEmitter",
    "RedisEmitter",
    "SuccessCallback",
]
