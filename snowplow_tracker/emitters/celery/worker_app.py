"""The Celery application a worker loads to run the tasks of :class:`CeleryEmitter`.

Importing this module imports Celery and creates the default app (see
:func:`snowplow_tracker.emitters.celery.emitter.default_app`): it is meant for the worker command
only::

    SNOWPLOW_CELERY_BROKER_URL=redis://localhost:6379/0 \\
    SNOWPLOW_CELERY_ALLOWED_ENDPOINTS=https://collector.example.com \\
        celery -A snowplow_tracker.emitters.celery.worker_app worker --loglevel=info

The app is configured from a module named ``snowplow_celery_config`` if one is importable,
otherwise from the environment variable ``SNOWPLOW_CELERY_BROKER_URL`` (default
``redis://localhost:6379/0``); it accepts JSON messages only. Its workers consume the queue
``snowplow``. They send only to the collectors listed in ``snowplow_allowed_endpoints`` in the
configuration module or in ``SNOWPLOW_CELERY_ALLOWED_ENDPOINTS``; with neither, they send nothing
and dead-letter every task (see :mod:`snowplow_tracker.emitters.celery.sending`).
"""

from __future__ import annotations

from typing import Any

from .emitter import default_app

__all__ = ["app"]

#: The default app, with the ``snowplow_tracker.send_events`` task registered.
app: Any = default_app()
