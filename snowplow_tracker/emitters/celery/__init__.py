"""Celery: ``CeleryEmitter`` publishes batches as tasks (:mod:`.emitter`); the worker side is
the task (:mod:`.task`, with its checks and dead letters in :mod:`.sending`) and a ready-made
worker app (:mod:`.app`). The ``celery`` library is imported on first use."""

from .emitter import CeleryEmitter

__all__ = ["CeleryEmitter"]
