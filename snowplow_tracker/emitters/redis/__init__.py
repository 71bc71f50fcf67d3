"""Redis: ``RedisEmitter`` stores encoded events in a Redis list (:mod:`.emitter`) and
``RedisWorker`` drains that list into a collector (:mod:`.worker`, command line in :mod:`.cli`).
The ``redis`` library is imported on first use."""

from .emitter import RedisEmitter

__all__ = ["RedisEmitter"]
