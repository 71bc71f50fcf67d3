"""A count-mode collector that also counts TCP connections: ``python -m perf.fleet_collector``.

The project's embedded collector (``snowplow_tracker.testing.Collector``, count mode: events,
distinct ``eid`` values, duplicates, ``GET /_stats``, ``POST /_control`` for a delay) whose
server counts the connections it accepts: how many were opened in all, and the most open at
once. An emitter that opens a connection per request and one that keeps a few alive differ
there, and a sampler would miss short-lived connections. Prints ``listening on URL``; on
SIGTERM or SIGINT prints one line ``FLEET_CONNECTIONS {"opened": N, "max_open": M}`` and exits.
When the collector's server is not reachable (its internals changed), the counts are ``null``.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from types import FrameType
from typing import Any, Dict, Optional

from snowplow_tracker.testing import Collector

PREFIX = "FLEET_CONNECTIONS "


class ConnectionCounts:
    """Connections opened and open, updated from the server's threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.opened = 0
        self.open = 0
        self.max_open = 0

    def hook(self, server: Any) -> bool:
        """Wrap ``server``'s ``process_request`` and ``shutdown_request``; False if absent."""
        process = getattr(server, "process_request", None)
        shutdown = getattr(server, "shutdown_request", None)
        if process is None or shutdown is None:
            return False

        def counted_process(request: Any, client_address: Any) -> None:
            with self.lock:
                self.opened += 1
                self.open += 1
                self.max_open = max(self.max_open, self.open)
            process(request, client_address)

        def counted_shutdown(request: Any) -> None:
            with self.lock:
                self.open -= 1
            shutdown(request)

        server.process_request = counted_process
        server.shutdown_request = counted_shutdown
        return True

    def as_dict(self) -> Dict[str, int]:
        """``opened`` and ``max_open``."""
        with self.lock:
            return {"opened": self.opened, "max_open": self.max_open}


def main() -> int:
    """Serve until SIGTERM/SIGINT, then print the connection counts."""
    done = threading.Event()

    def on_signal(signum: int, frame: Optional[FrameType]) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    collector = Collector(mode="count").start()
    counts = ConnectionCounts()
    hooked = counts.hook(getattr(collector, "_server", None))
    print(f"listening on {collector.url}", flush=True)
    while not done.wait(0.2):
        pass
    collector.stop()
    result: Dict[str, Optional[int]] = (
        dict(counts.as_dict()) if hooked else {"opened": None, "max_open": None}
    )
    print(PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
