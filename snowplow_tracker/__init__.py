"""Snowplow event tracker for Python, with a multiprocess sender pool.

Example:
    >>> from snowplow_tracker import ProcessEmitter, Subject, Tracker
    >>> emitter = ProcessEmitter("collector.example.com", method="post", buffer_size=100)
    >>> tracker = Tracker(emitter, namespace="api", app_id="shop",
    ...                   subject=Subject().set_user_id("user-42"))
    >>> tracker.track_struct_event("shop", "add-to-basket", "sku-1", "pcs", 2)  # doctest: +SKIP

Importing this package starts nothing: no thread, no process, no Celery app, no Redis
connection. Each exported name's module is imported when the name is first used (so a sender
process, which imports a few delivery modules, does not import the tracker); the ``celery`` and
``redis`` modules are imported only when their emitters are used, ``prometheus_client`` only by
:func:`register_metrics`.
"""

from typing import TYPE_CHECKING

from ._lazy import exports as _exports
from ._logging import logger
from ._version import VERSION

if TYPE_CHECKING:
    from .delivery.event_store import EventStore, InMemoryEventStore
    from .delivery.retry import RetryPolicy
    from .delivery.stats import EmitterStats
    from .emitter_configuration import EmitterConfiguration
    from .emitters.celery import CeleryEmitter
    from .emitters.process.emitter import ProcessEmitter
    from .emitters.redis import RedisEmitter
    from .emitters.redis.worker import RedisWorker
    from .emitters.sync import Emitter
    from .emitters.threads import AsyncEmitter
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

__version__ = VERSION

#: Each exported name and the module that defines it, imported when the name is first used: a
#: submodule (a sender process's) does not import the rest of the package.
_EXPORTS = {
    "AsyncEmitter": ".emitters.threads",
    "CeleryEmitter": ".emitters.celery",
    "ConfigurationError": ".errors",
    "Emitter": ".emitters.sync",
    "EmitterConfiguration": ".emitter_configuration",
    "EmitterStats": ".delivery.stats",
    "EncodingError": ".errors",
    "Event": ".events",
    "EventStore": ".delivery.event_store",
    "InMemoryEventStore": ".delivery.event_store",
    "PagePing": ".events",
    "PageView": ".events",
    "ProcessEmitter": ".emitters.process.emitter",
    "RedisEmitter": ".emitters.redis",
    "RedisWorker": ".emitters.redis.worker",
    "RetryPolicy": ".delivery.retry",
    "ScreenView": ".events",
    "SelfDescribing": ".events",
    "SelfDescribingJson": ".protocol.self_describing_json",
    "SenderStartError": ".errors",
    "Snowplow": ".snowplow",
    "SnowplowError": ".errors",
    "StructuredEvent": ".events",
    "Subject": ".subject",
    "Tracker": ".tracker",
    "TrackerConfiguration": ".tracker_configuration",
    "ValidationError": ".errors",
    "disable_contracts": ".protocol.contracts",
    "enable_contracts": ".protocol.contracts",
    "register_metrics": ".metrics",
}

__getattr__, __dir__ = _exports(__name__, _EXPORTS)


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
