"""The tracker variants the suite compares, and how each is configured: a table, as data.

Every variant tracks the same event (a structured event with a subject and one custom
context) against the same collector; only the emitter differs. The settings are stated in the
report. Batches are 100 events everywhere a batch size applies, like the anchor's
``AsyncEmitter`` POST with batches of 100, except ``process-default`` (all defaults).

Options are keyword arguments of the emitter's constructor. One that the library under test
does not accept (an option a newer version adds, such as ``max_queue_bytes`` or
``max_in_flight``) is left out by the worker and listed in the report, so the table can name
options before the library has them. :data:`EXTRA_OPTIONS` adds options to every variant of a
kind in one place, to switch a new setting on for a whole family of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

#: The variant every ratio is taken against.
ANCHOR_REFERENCE = "anchor-async-post"
#: The anchor with 4 sending threads (the collector-latency scenarios compare with it too).
ANCHOR_REFERENCE_4 = "anchor-async-post-4"
#: The Tracker alone (an emitter whose ``input`` does nothing): the "emitter overhead" base.
NOOP = "noop"

BATCH = 100

#: Scenario groups, by name (see ``perf/runner.py`` for what each scenario does).
LEGACY = ("caller", "throughput", "slowdown", "latency")
MEMORY = ("burst", "outage")
DELAYS = ("delay20", "delay50", "delay200")

#: Options added to every variant of a kind (``process``, ``async``, ...), after its own.
#: E.g. ``{"process": {"max_in_flight": 8}}``; unknown options are ignored and reported.
EXTRA_OPTIONS: Dict[str, Dict[str, Any]] = {}


@dataclass(frozen=True)
class Variant:
    """One tracker configuration.

    Attributes:
        name: Row name in the report.
        lib: ``"ours"`` (this repository) or ``"anchor"`` (``snowplow-tracker==1.1.0``).
        kind: ``noop``, ``emitter``, ``async``, ``process``, ``redis`` or ``celery``.
        options: Keyword arguments of the emitter (``method``, ``buffer_size``, ...).
        description: The settings, as written in the report.
        scenarios: The scenarios this variant runs (a selection of ``--scenarios`` applies on
            top); the report shows "-" for the others.
        scale: Factor on the event counts for slow variants (synchronous GET), so that a run
            stays within its time budget; rates are rates whatever the count.
        scales: Per-scenario factors, over ``scale`` (e.g. the anchor's memory scenarios).
        needs: Services the variant needs besides the collector (``redis``, ``celery``).
    """

    name: str
    lib: str
    kind: str
    options: Mapping[str, Any]
    description: str
    scenarios: Sequence[str] = LEGACY + MEMORY + DELAYS
    scale: float = 1.0
    scales: Mapping[str, float] = field(default_factory=dict)
    needs: Sequence[str] = field(default_factory=tuple)

    @property
    def group(self) -> str:
        """``redis`` / ``celery`` for the variants that need a Redis server, else ``core``."""
        if "celery" in self.needs:
            return "celery"
        if "redis" in self.needs:
            return "redis"
        return "core"

    def scale_for(self, scenario: str) -> float:
        """The factor on this scenario's event count."""
        return self.scale * self.scales.get(scenario, 1.0)

    def emitter_options(self) -> Dict[str, Any]:
        """``options`` plus :data:`EXTRA_OPTIONS` for the kind."""
        return {**self.options, **EXTRA_OPTIONS.get(self.kind, {})}


def all_variants(process_counts: Sequence[int] = (1, 2, 4)) -> List[Variant]:
    """Every variant, in report order, with ``ProcessEmitter`` for each process count."""
    # The anchor AsyncEmitter tracks at ~25k events/s: a tenth of the outage's events (its
    # buffer_capacity bounds it at 10,000 anyway) and half the burst keep it within budget.
    anchor_scales = {"burst": 0.5, "outage": 0.1}
    variants = [
        Variant(
            ANCHOR_REFERENCE,
            "anchor",
            "async",
            {"method": "post", "buffer_size": BATCH, "thread_count": 1},
            "snowplow-tracker 1.1.0 AsyncEmitter, POST, batch_size=100, thread_count=1",
            scales=anchor_scales,
        ),
        Variant(
            ANCHOR_REFERENCE_4,
            "anchor",
            "async",
            {"method": "post", "buffer_size": BATCH, "thread_count": 4},
            "snowplow-tracker 1.1.0 AsyncEmitter, POST, batch_size=100, thread_count=4",
            scenarios=("throughput", *DELAYS),
        ),
        Variant(
            "anchor-emitter-post",
            "anchor",
            "emitter",
            {"method": "post", "buffer_size": BATCH},
            "snowplow-tracker 1.1.0 Emitter (synchronous), POST, batch_size=100",
            scenarios=LEGACY,
        ),
        Variant(
            NOOP,
            "ours",
            "noop",
            {},
            "Tracker with an emitter whose input() does nothing (the Tracker's own cost)",
            scenarios=("caller", "slowdown", "kinds"),
        ),
        Variant(
            "emitter-get",
            "ours",
            "emitter",
            {"method": "get", "buffer_size": 1},
            "Emitter (synchronous), GET, one request per event",
            scenarios=LEGACY + MEMORY + ("delay50",),
            scale=0.1,
        ),
        Variant(
            "emitter-post",
            "ours",
            "emitter",
            {"method": "post", "buffer_size": BATCH},
            "Emitter (synchronous), POST, buffer_size=100",
            scenarios=(*LEGACY, *MEMORY, "delay50"),
        ),
        Variant(
            "async-post",
            "ours",
            "async",
            {"method": "post", "buffer_size": BATCH, "thread_count": 1},
            "AsyncEmitter, POST, buffer_size=100, thread_count=1, other settings default",
            scenarios=(*LEGACY, *MEMORY, "delay50"),
        ),
        Variant(
            "async-post-4",
            "ours",
            "async",
            {"method": "post", "buffer_size": BATCH, "thread_count": 4},
            "AsyncEmitter, POST, buffer_size=100, thread_count=4, other settings default",
            scenarios=("throughput", *DELAYS),
        ),
    ]
    for count in process_counts:
        variants.append(
            Variant(
                f"process-{count}",
                "ours",
                "process",
                {"method": "post", "buffer_size": BATCH, "process_count": count},
                f"ProcessEmitter, POST, buffer_size=100, process_count={count}, "
                "start_method=spawn, other settings default",
                scenarios=LEGACY + MEMORY + DELAYS + ("kinds",),
            )
        )
    variants += [
        Variant(
            "process-default",
            "ours",
            "process",
            {"method": "post"},
            'ProcessEmitter(endpoint, method="post"): every other setting at its default',
            scenarios=("caller", "throughput", "slowdown", *MEMORY, *DELAYS, "kinds"),
        ),
        Variant(
            "redis",
            "ours",
            "redis",
            {"buffer_size": BATCH},
            "RedisEmitter (buffer_size=100) -> Redis list -> one RedisWorker process "
            "(its default emitter) -> collector",
            scenarios=(*LEGACY, "burst", "delay50"),
            needs=("redis",),
        ),
        Variant(
            "celery",
            "ours",
            "celery",
            {"method": "post", "buffer_size": BATCH},
            "CeleryEmitter (POST, buffer_size=100) -> Redis broker -> one Celery worker "
            "(prefork, concurrency 2) -> collector",
            scenarios=(*LEGACY, "burst", "delay50"),
            needs=("redis", "celery"),
        ),
    ]
    return variants


#: ``--smoke`` (CI): the variants it runs and, for each, its scenarios (None: all it has).
SMOKE_PLAN: Dict[str, Optional[Sequence[str]]] = {
    NOOP: None,
    "emitter-get": LEGACY,
    "emitter-post": LEGACY,
    "async-post": (*LEGACY, "burst"),
    "process-1": LEGACY + MEMORY + ("delay50", "kinds"),
    "process-2": ("caller", "throughput"),
}
