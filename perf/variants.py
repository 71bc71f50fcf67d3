"""The tracker variants the suite compares, and how each is configured.

Every variant tracks the same event (a structured event with a subject and one custom
context) against the same collector; only the emitter differs. The settings are stated in the
report. Batches are 100 events everywhere a batch size applies, like the anchor's
``AsyncEmitter`` POST with batches of 100.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence

#: The variant every ratio is taken against.
ANCHOR_REFERENCE = "anchor-async-post"

BATCH = 100


@dataclass(frozen=True)
class Variant:
    """One tracker configuration.

    Attributes:
        name: Row name in the report.
        lib: ``"ours"`` (this repository) or ``"anchor"`` (``snowplow-tracker==1.1.0``).
        kind: ``emitter``, ``async``, ``process``, ``redis`` or ``celery``.
        options: Keyword arguments of the emitter (``method``, ``buffer_size``, ...).
        description: The settings, as written in the report.
        scale: Factor on the event counts for slow variants (synchronous GET), so that a run
            stays within its time budget; rates are rates whatever the count.
        needs: Services the variant needs besides the collector (``redis``, ``celery``).
    """

    name: str
    lib: str
    kind: str
    options: Dict[str, Any]
    description: str
    scale: float = 1.0
    needs: Sequence[str] = field(default_factory=tuple)

    @property
    def group(self) -> str:
        """``redis`` / ``celery`` for the variants that need a Redis server, else ``core``."""
        if "celery" in self.needs:
            return "celery"
        if "redis" in self.needs:
            return "redis"
        return "core"


def all_variants(process_counts: Sequence[int] = (1, 2, 4)) -> List[Variant]:
    """Every variant, in report order, with ``ProcessEmitter`` for each process count."""
    variants = [
        Variant(
            "anchor-async-post",
            "anchor",
            "async",
            {"method": "post", "buffer_size": BATCH, "thread_count": 1},
            "snowplow-tracker 1.1.0 AsyncEmitter, POST, batch_size=100, thread_count=1",
        ),
        Variant(
            "anchor-emitter-post",
            "anchor",
            "emitter",
            {"method": "post", "buffer_size": BATCH},
            "snowplow-tracker 1.1.0 Emitter (synchronous), POST, batch_size=100",
        ),
        Variant(
            "emitter-get",
            "ours",
            "emitter",
            {"method": "get", "buffer_size": 1},
            "Emitter (synchronous), GET, one request per event",
            scale=0.1,
        ),
        Variant(
            "emitter-post",
            "ours",
            "emitter",
            {"method": "post", "buffer_size": BATCH},
            "Emitter (synchronous), POST, buffer_size=100",
        ),
        Variant(
            "async-post",
            "ours",
            "async",
            {
                "method": "post",
                "buffer_size": BATCH,
                "thread_count": 1,
                "max_queued_batches": 100_000,
            },
            "AsyncEmitter, POST, buffer_size=100, thread_count=1, max_queued_batches=100000",
        ),
    ]
    for count in process_counts:
        variants.append(
            Variant(
                f"process-{count}",
                "ours",
                "process",
                {
                    "method": "post",
                    "buffer_size": BATCH,
                    "process_count": count,
                    "max_queue_size": 1_000_000,
                },
                f"ProcessEmitter, POST, buffer_size=100, process_count={count}, "
                "max_queue_size=1000000, start_method=spawn, other settings default",
            )
        )
    variants += [
        Variant(
            "redis",
            "ours",
            "redis",
            {"buffer_size": BATCH},
            "RedisEmitter (buffer_size=100) -> Redis list -> one RedisWorker process "
            "(its default emitter) -> collector",
            needs=("redis",),
        ),
        Variant(
            "celery",
            "ours",
            "celery",
            {"method": "post", "buffer_size": BATCH},
            "CeleryEmitter (POST, buffer_size=100) -> Redis broker -> one Celery worker "
            "(prefork, concurrency 2) -> collector",
            needs=("redis", "celery"),
        ),
    ]
    return variants


SMOKE_VARIANTS = ("emitter-get", "emitter-post", "async-post", "process-1", "process-2")
