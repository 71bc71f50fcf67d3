"""Testing helpers for code that uses ``snowplow_tracker``: a local collector, a Redis server.

Example:
    ::

        from snowplow_tracker.testing import Collector

        with Collector() as collector:
            ...  # point an emitter at collector.endpoint, track, flush
            assert collector.wait_for_events(1)
            print(collector.events[0]["e"])

Run ``python -m snowplow_tracker.testing.collector --help`` for the command-line collector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List

if TYPE_CHECKING:
    from .collector import Collector, RecordedRequest
    from .redis_server import RedisServer

__all__ = ["Collector", "RecordedRequest", "RedisServer"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that ``python -m snowplow_tracker.testing.collector`` does not find the
    # module already imported by its package (runpy would warn).
    if name == "RedisServer":
        from .redis_server import RedisServer

        return RedisServer
    if name in __all__:
        from . import collector

        return getattr(collector, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted([*globals(), *__all__])
