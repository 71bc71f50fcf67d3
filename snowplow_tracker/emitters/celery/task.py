"""Add the ``CeleryEmitter`` task to any Celery app in one line: list this module in ``include``.

::

    app = Celery("yourproject", include=["snowplow_tracker.emitters.celery.task"])
    # or, for an app built elsewhere:
    app.conf.include = [*app.conf.include, "snowplow_tracker.emitters.celery.task"]

A worker of that app (``celery -A yourproject worker``) imports this module at start: the task
``snowplow_tracker.send_events`` is then registered on the app (a Celery *shared task*, added to
every app of the process), and the worker consumes the queue ``snowplow`` where
:class:`~snowplow_tracker.emitters.celery.emitter.CeleryEmitter` publishes. Importing this module
imports Celery; nothing else starts.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .sending import TASK_OPTIONS, connect_worker_signals
from .sending import send_events as _send_events

__all__ = ["send_events"]

#: The sending task, shared by every Celery app of the process.
send_events: Any = shared_task(**TASK_OPTIONS)(_send_events)
connect_worker_signals()
