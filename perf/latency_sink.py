"""A collector that notes when each event arrives: ``python -m perf.latency_sink --out FILE``.

It is the project's embedded collector in record mode (so ``GET /_stats`` works as usual)
with an ``on_event`` callback that stores ``(se_la, time.time_ns())`` per event. The suite puts
the ``time.time_ns()`` of the ``track_*`` call in ``se_la``. On SIGTERM it writes the pairs
``[[sent_ns, received_ns], ...]`` as JSON to ``FILE`` and exits.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from types import FrameType
from typing import List, Optional, Sequence

from snowplow_tracker.testing import Collector
from snowplow_tracker.testing.state import Event


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Serve until SIGTERM/SIGINT, then write the arrival times."""
    parser = argparse.ArgumentParser(prog="python -m perf.latency_sink")
    parser.add_argument("--out", required=True, help="JSON file written on exit")
    args = parser.parse_args(argv)
    pairs: List[List[int]] = []
    lock = threading.Lock()

    def on_event(event: Event) -> None:
        received = time.time_ns()
        label = event.get("se_la", "")
        if label.isdigit():
            with lock:
                pairs.append([int(label), received])

    done = threading.Event()

    def on_signal(signum: int, frame: Optional[FrameType]) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    collector = Collector(mode="record", on_event=on_event).start()
    print(f"listening on {collector.url}", flush=True)
    while not done.wait(0.2):
        pass
    collector.stop()
    with lock, open(args.out, "w") as fh:
        json.dump(pairs, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
