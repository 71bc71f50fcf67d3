"""CPU of a ``ProcessEmitter``'s sender per event: ``python -m perf.sender_cpu``.

Sends ``--events`` events through a ``ProcessEmitter`` with one sender process to the embedded
collector running in another process (count mode), and prints the sender's CPU time (user +
system, read with psutil before the sender stops) per event and per request, for each round.
Small requests (``--buffer-size``) make the request pool's cost per request visible.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import List, Optional, Sequence

import psutil

from perf.collector import CollectorProcess
from snowplow_tracker import ProcessEmitter


def _round(url: str, events: int, buffer_size: int, in_flight: int) -> float:
    emitter = ProcessEmitter(
        url, process_count=1, buffer_size=buffer_size, byte_limit=None, max_in_flight=in_flight
    )
    payload = {"e": "se", "se_ca": "shop", "se_ac": "add", "tv": "py-perf", "p": "srv"}
    try:
        emitter.input(payload)  # starts the sender
        if not emitter.flush(timeout=30):
            raise RuntimeError("the first event was not delivered")
        me = psutil.Process()
        senders = [
            c for c in me.children() if "snowplow_tracker.testing" not in " ".join(c.cmdline())
        ]
        before = sum(sum(p.cpu_times()[:2]) for p in senders)
        for i in range(events):
            emitter.input({**payload, "se_la": str(i)})
            if i % 5000 == 4999:
                time.sleep(0.01)  # let the sender keep up; the queue bound is not measured here
        if not emitter.flush(timeout=120):
            raise RuntimeError("the events were not delivered")
        after = sum(sum(p.cpu_times()[:2]) for p in senders)
        if emitter.stats().sent != events + 1:
            raise RuntimeError(f"sent {emitter.stats().sent} of {events + 1}")
        return (after - before) / events
    finally:
        emitter.close(timeout=10)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the measurement and print one line per round and the median.

    Args:
        argv: Command-line arguments (``--events``, ``--buffer-size``, ``--rounds``,
            ``--in-flight``).
    """
    parser = argparse.ArgumentParser(prog="python -m perf.sender_cpu")
    parser.add_argument("--events", type=int, default=50_000, help="events per round (50000)")
    parser.add_argument("--buffer-size", type=int, default=10, help="events per request (10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument("--in-flight", type=int, default=64, help="max_in_flight (64)")
    args = parser.parse_args(argv)
    collector = CollectorProcess().start()
    try:
        url = collector.url
        values: List[float] = [
            _round(url, args.events, args.buffer_size, args.in_flight) for _ in range(args.rounds)
        ]
    finally:
        collector.stop()
    rounds = ", ".join(f"{v * 1e6:.1f}" for v in values)
    median = statistics.median(values)
    print(
        f"{args.events} events, {args.buffer_size} per request: sender CPU median "
        f"{median * 1e6:.1f} us/event, {median * args.buffer_size * 1e6:.0f} us/request "
        f"({rounds})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
