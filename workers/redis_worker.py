#!/usr/bin/env python3
"""Run a Snowplow Redis worker: send the events a ``RedisEmitter`` stored in Redis to a collector.

A thin launcher for operators; the logic is :func:`snowplow_tracker.emitters.redis.cli.main`, the
same program as the installed ``snowplow-redis-worker`` console script. Every option can also be set
with an environment variable (see ``--help`` and ``workers/README.md``)::

    SNOWPLOW_REDIS_URL=redis://:PASSWORD@redis.internal:6379/0 \\
    SNOWPLOW_COLLECTOR=collector.example.com \\
        python workers/redis_worker.py --protocol https --process-count 2

Stop it with SIGTERM or Ctrl-C: it stops taking events, delivers the batch it holds and exits.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import snowplow_tracker  # noqa: F401 - installed (pip install snowplow-multiprocess-tracker[redis])
except ImportError:  # run from a checkout: use the library next to this folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from snowplow_tracker.redis_worker import main

if __name__ == "__main__":
    sys.exit(main())
