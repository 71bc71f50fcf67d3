"""Snowplow event tracker for Python, with a multiprocess sender pool.

Example:
    >>> from snowplow_tracker import ProcessEmitter, Subject, Tracker
    >>> emitter = ProcessEmitter("collector.example.com", method="post", buffer_size=100)
    >>> tracker = Tracker(emitter, namespace="api", app_id="shop",
    ...                   subject=Subject().set_user_id("user-42"))
    >>> tracker.track_struct_event("shop", "add-to-basket", "sku-1", "pcs", 2)  # doctest: +SKIP

Importing this package starts nothing: no thread, no process, no Celery app, no Redis
connection. The ``celery`` and ``redis`` modules are imported only when their emitters are used,
``prometheus_client`` only by :func:`register_metrics`.
"""

from typing import TYPE_CHECKING, Any

from ._logging import logger
from ._version import VERSION
from .delivery.event_store import EventStore, InMemoryEventStore
from .delivery.retry import RetryPolicy
from .delivery.stats import EmitterStats
from .emitter_configuration import EmitterConfiguration
from .emitters import AsyncEmitter, CeleryEmitter, Emitter, ProcessEmitter, RedisEmitter
from .errors import (
    ConfigurationError,
    EncodingError,
    SenderStartError,
    SnowplowError,
    ValidationError,
)
from .events import Event, PagePing, PageView, ScreenView, SelfDescribing, StructuredEvent
from .metrics import register_metrics
from .protocol.contracts import disable_contracts, enable_contracts
from .protocol.self_describing_json import SelfDescribingJson
from .snowplow import Snowplow
from .subject import Subject
from .tracker import Tracker
from .tracker_configuration import TrackerConfiguration

if TYPE_CHECKING:
    from .emitters.redis.worker import RedisWorker

__version__ = VERSION


def __getattr__(name: str) -> Any:
    # RedisWorker is loaded on first access, so that ``python -m snowplow_tracker.redis_worker``
    # does not find its own module already imported by the package.
    if name == "RedisWorker":
        from .emitters.redis.worker import RedisWorker

        return RedisWorker
    raise AttributeError(f"module 'snowplow_tracker' has no attribute {name!r}")


__all__ = [
    "AsyncEmitter",
    "CeleryEmitter",
    "ConfigurationError",
    "Emitter",
    "EmitterConfiguration",
    "EmitterStats",
    "EncodingError",
    "Event",
    "EventStore",
    "InMemoryEventStore",
    "PagePing",
    "PageView",
    "ProcessEmitter",
    "RedisEmitter",
    "RedisWorker",
    "RetryPolicy",
    "ScreenView",
    "SelfDescribing",
    "SelfDescribingJson",
    "SenderStartError",
    "Snowplow",
    "SnowplowError",
    "StructuredEvent",
    "Subject",
    "Tracker",
    "TrackerConfiguration",
    "ValidationError",
    "__version__",
    "disable_contracts",
    "enable_contracts",
    "logger",
    "register_metrics",
]
