"""CPU per request of each HTTP client a transport can use: ``python -m perf.http_client_cpu``.

Sends ``--requests`` POSTs of ``--events`` events each through ``HttpTransport(client=...)`` to
the embedded collector running in another process (count mode), and prints the CPU time of
this process per request, for ``requests`` and ``urllib3``, in alternating rounds so that
both see the same machine load. The figure decides which client sender processes use.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Dict, List, Optional, Sequence

from perf.collector import CollectorProcess
from snowplow_tracker.delivery.http_client import CLIENTS
from snowplow_tracker.delivery.transport import HttpTransport
from snowplow_tracker.protocol.wire import encode_event


def _events(n: int) -> List[bytes]:
    payload = {
        "e": "se",
        "se_ca": "shop",
        "se_ac": "add-to-basket",
        "se_la": "item 1234",
        "tv": "py-perf",
        "p": "srv",
        "aid": "perf",
        "dtm": "1700000000000",
    }
    return [
        encode_event({**payload, "eid": f"00000000-0000-4000-8000-{i:012d}"}, "post")
        for i in range(n)
    ]


def _cpu_per_request(transport: HttpTransport, events: List[bytes], requests: int) -> float:
    for _ in range(min(50, requests)):  # warm the connection and caches
        transport.send(events)
    start = time.process_time()
    for _ in range(requests):
        if len(transport.send(events).sent) != len(events):
            raise RuntimeError("the collector did not accept a request")
    return (time.process_time() - start) / requests


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the measurement and print one line per client.

    Args:
        argv: Command-line arguments (``--requests``, ``--events``, ``--rounds``).
    """
    parser = argparse.ArgumentParser(prog="python -m perf.http_client_cpu")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round (2000)")
    parser.add_argument("--events", type=int, default=100, help="events per request (100)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per client (3)")
    args = parser.parse_args(argv)
    collector = CollectorProcess().start()
    try:
        url = collector.url
        events = _events(args.events)
        results: Dict[str, List[float]] = {client: [] for client in CLIENTS}
        for _ in range(args.rounds):
            for client in CLIENTS:
                transport = HttpTransport(url, "post", client=client)
                try:
                    results[client].append(_cpu_per_request(transport, events, args.requests))
                finally:
                    transport.close()
    finally:
        collector.stop()
    print(f"{args.events}-event POST, {args.requests} requests x {args.rounds} rounds:")
    for client, values in results.items():
        rounds = ", ".join(f"{v * 1e6:.0f}" for v in values)
        print(
            f"  {client:8} median {statistics.median(values) * 1e6:5.0f} us CPU/request  ({rounds})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
