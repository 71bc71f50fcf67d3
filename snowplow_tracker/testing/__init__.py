"""Testing helpers for code that uses ``snowplow_tracker``: a local collector, a Redis server.

Example:
    ::

        from snowplow_tracker.testing import Collector

        with Collector() as collector:
            ...  # point an emitter at collector.endpoint, track, flush
            assert collector.wait_for_events(1)
            print(collector.events[0]["e"])

Run ``python -m snowplow_tracker.testing --help`` for the command-line collector.

The modules: :mod:`.state` (what the collector records and how it answers, no sockets),
:mod:`.server` (``Collector``, the HTTP server), :mod:`.cli` (the command),
:mod:`.redis_server` (a throwaway ``redis-server`` on a free port).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List

if TYPE_CHECKING:
    from .redis_server import RedisServer
    from .server import Collector
    from .state import RecordedRequest

__all__ = ["Collector", "RecordedRequest", "RedisServer"]


def __getattr__(name: str) -> Any:
    # Imported lazily: importing the package (as ``python -m snowplow_tracker.testing`` does)
    # starts nothing and imports no server code.
    if name == "RedisServer":
        from .redis_server import RedisServer

        return RedisServer
    if name == "Collector":
        from .server import Collector

        return Collector
    if name == "RecordedRequest":
        from .state import RecordedRequest

        return RecordedRequest
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted([*globals(), *__all__])
