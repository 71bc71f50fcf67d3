"""Celery: ``CeleryEmitter`` publishes batches as tasks (:mod:`.emitter`).

The worker side is the task (:mod:`.task`, with its checks and dead letters in :mod:`.sending`)
and a ready-made worker app (:mod:`.worker_app`), which ``celery -A snowplow_tracker.emitters``
finds. The ``celery`` library is imported on first use.
"""

from typing import Any

from .emitter import CeleryEmitter

__all__ = ["CeleryEmitter"]


def __getattr__(name: str) -> Any:
    # ``celery -A snowplow_tracker.emitters worker`` (the command of the 0.4 to 0.7 docs) finds
    # the default app here: Celery looks for ``app`` in the package, then in its ``celery``
    # subpackage. Created on first access only; importing the package creates no app.
    if name == "app":
        from .worker_app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
