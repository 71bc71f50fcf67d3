"""Calls of the emitters' constructors as a type checker sees them (``.ci/run`` runs
``mypy --strict`` on this file; it is not a test module and nothing here runs).

Each wrong call carries the ``type: ignore`` of the error mypy must report: under ``--strict``
an ignore that silences nothing is an error itself, so a constructor whose signature mypy could
not see (``*args: Any, **kwargs: Any``) fails the check.
"""

from __future__ import annotations

from snowplow_tracker import AsyncEmitter, Emitter, ProcessEmitter, RetryPolicy
from snowplow_tracker.emitters.celery.emitter import CeleryEmitter


def calls() -> None:
    """Right and wrong calls of each emitter's constructor."""
    Emitter("h", "https", 8080, "post", 10, None, None, 1000, (1, 2), retry_policy=RetryPolicy())
    AsyncEmitter("h", "http", None, "post", 5, None, None, 3, 900, max_queue_bytes=1 << 20)
    ProcessEmitter("h", process_count=2, shared_pool=False, max_batch_age=0.5)
    CeleryEmitter("h", max_pending=10, queue=None)

    AsyncEmitter("h", thread_count="x")  # type: ignore[arg-type]
    AsyncEmitter("h", max_queue_size=1)  # type: ignore[call-arg]
    AsyncEmitter("h", max_queue_bytes=None)  # type: ignore[arg-type]
    Emitter("h", event_store=3)  # type: ignore[arg-type]
    Emitter()  # type: ignore[call-arg]
    Emitter("h", "http", None, "get", None, None, None, None, None, True)  # type: ignore[misc]
    ProcessEmitter("h", session=None)  # type: ignore[call-arg]
    ProcessEmitter("h", shared_pool="yes")  # type: ignore[arg-type]
    CeleryEmitter("h", max_pending=None)  # type: ignore[arg-type]
    CeleryEmitter("h", shutdown_timeout=1.0)  # type: ignore[call-arg]
