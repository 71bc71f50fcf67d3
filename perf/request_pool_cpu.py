"""CPU per request of the sender's request pool alone: ``python -m perf.request_pool_cpu``.

Submits ``--requests`` requests to a :class:`~snowplow_tracker.emitters.process.sender.RequestPool`
of ``--size`` threads whose transport only waits ``--wait`` seconds (a collector's answer, no
CPU), and prints this process's CPU time per request: what the pool itself costs (threads,
hand-over, wait for idle), without HTTP.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from typing import Any, List, Optional, Sequence

from snowplow_tracker.delivery.retry import RetryPolicy
from snowplow_tracker.delivery.throttle import Throttle
from snowplow_tracker.delivery.transport import DeliveryResult, SendResult
from snowplow_tracker.emitters.process.sender import Request, RequestPool


class _WaitingTransport:
    """Answers every request with success after ``wait`` seconds."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self.throttle = Throttle()
        self.retry_policy = RetryPolicy()

    def send(self, events: List[bytes]) -> SendResult:
        time.sleep(self.wait)
        return SendResult(sent=list(events))

    def close(self) -> None:
        pass


def _round(requests: int, size: int, wait: float) -> float:
    done = [0]
    lock = threading.Lock()

    def on_done(request: Request, result: DeliveryResult) -> None:
        with lock:
            done[0] += len(result.sent)

    transport: Any = _WaitingTransport(wait)
    pool = RequestPool(size, lambda: transport, RetryPolicy(), on_done, threading.Event())
    start = time.process_time()
    for i in range(requests):
        pool.submit(Request([b'{"e":"pv"}'], [(i, 0)]))
    if not pool.wait_idle(120):
        raise RuntimeError("the pool did not become idle")
    cpu = time.process_time() - start
    pool.close()
    if done[0] != requests:
        raise RuntimeError(f"{done[0]} of {requests} requests done")
    return cpu / requests


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the measurement and print the median CPU per request.

    Args:
        argv: Command-line arguments (``--requests``, ``--size``, ``--wait``, ``--rounds``).
    """
    parser = argparse.ArgumentParser(prog="python -m perf.request_pool_cpu")
    parser.add_argument("--requests", type=int, default=20_000, help="requests per round")
    parser.add_argument("--size", type=int, default=64, help="threads (max_in_flight)")
    parser.add_argument("--wait", type=float, default=0.002, help="seconds per answer")
    parser.add_argument("--rounds", type=int, default=5, help="rounds")
    args = parser.parse_args(argv)
    values = [_round(args.requests, args.size, args.wait) for _ in range(args.rounds)]
    rounds = ", ".join(f"{v * 1e6:.1f}" for v in values)
    print(f"pool CPU median {statistics.median(values) * 1e6:.1f} us/request ({rounds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
