"""Kept import path (tracker 0.10): ``from snowplow_tracker.redis_worker import RedisWorker`` and
``python -m snowplow_tracker.redis_worker``. The modules are
:mod:`snowplow_tracker.emitters.redis.worker` and :mod:`snowplow_tracker.emitters.redis.cli`."""

import sys

from .emitters.redis.cli import main
from .emitters.redis.worker import RedisWorker, WorkerStats

__all__ = ["RedisWorker", "WorkerStats", "main"]

if __name__ == "__main__":
    sys.exit(main())
