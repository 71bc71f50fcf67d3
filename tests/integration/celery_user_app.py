"""A user's project with its own Celery app, as the Celery integration tests run it.

:func:`write_user_module` writes the module that a user would write (Celery app and Snowplow
tracker built at import time) into a folder; the test process imports it as the producer and a
real worker loads it with ``celery -A <module> worker``. :func:`wait_for_labels` waits until the
collector has seen every tracked event (duplicates allowed, counted).
"""

from __future__ import annotations

import importlib
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Iterable, Iterator, Set

from snowplow_tracker.testing import Collector
from tests.waiting import wait_until

#: The module a user writes: it builds the Celery app and the emitter when it is imported.
USER_MODULE = '''\
"""shop: a user's project module (Celery app and Snowplow tracker built at import)."""
import os

from celery import Celery

from snowplow_tracker import CeleryEmitter, Tracker
from snowplow_tracker.delivery.retry import RetryPolicy

app = Celery("shop", broker=os.environ["SHOP_BROKER_URL"])
app.conf.update(
    broker_connection_retry_on_startup=True,
    # Unacknowledged tasks of a killed worker come back after 3 s (not 1 h).
    broker_transport_options={
        "visibility_timeout": 3,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    },
    snowplow_allowed_endpoints=[os.environ["SHOP_COLLECTOR"]],
)
emitter = CeleryEmitter(
    os.environ["SHOP_COLLECTOR"],
    buffer_size=50,
    celery_app=app,
    retry_policy=RetryPolicy(max_attempts=60, deadline=60, base_delay=0.05, max_delay=0.4),
)
tracker = Tracker(emitter, namespace="shop", app_id="shop")
'''


def write_user_module(folder: Path, name: str = "shop", source: str = USER_MODULE) -> str:
    """Write the user's module ``name`` into ``folder``; returns the module name."""
    (folder / f"{name}.py").write_text(source)
    return name


def import_user_module(folder: Path, name: str) -> Iterator[ModuleType]:
    """Import the module from ``folder`` (as the producer); forget it and close its app after."""
    sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(name)
        try:
            yield module
        finally:
            module.app.close()
    finally:
        sys.modules.pop(name, None)
        sys.path.remove(str(folder))


def track_labelled(tracker: object, labels: Iterable[str]) -> None:
    """Track one structured event per label (``se_la``) with the user's tracker."""
    for label in labels:
        tracker.track_struct_event("shop", "buy", label=label)  # type: ignore[attr-defined]


def labels_seen(collector: Collector) -> Counter[str]:
    """How many times each label reached the collector."""
    return Counter(e.get("se_la", "") for e in collector.events)


def wait_for_labels(collector: Collector, labels: Set[str], timeout: float) -> bool:
    """Wait until every label reached the collector at least once."""
    return wait_until(lambda: labels <= set(labels_seen(collector)), timeout, step=0.1)
