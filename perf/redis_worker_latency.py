"""Events/s through ``snowplow-redis-worker`` to a collector that answers after a delay.

Starts a redis-server on a free port and the embedded collector (count mode) delaying every
answer, stores N events with ``RedisEmitter``, then runs the worker program as operators do
(``python -m snowplow_tracker.emitters.redis.cli``, its default emitter and options plus the ones
given after ``--``) and reports how fast the collector counted the N events::

    python perf/redis_worker_latency.py --events 20000 --delay 0.05 -- --process-count 1

A benchmark, not a test: timings on a shared machine are rough guides.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from snowplow_tracker.emitters.redis.emitter import RedisEmitter  # noqa: E402
from snowplow_tracker.testing import Collector, RedisServer  # noqa: E402


def run(events: int, delay: float, worker_args: List[str]) -> float:
    """Return the events/s of one run (from the first to the last event counted)."""
    with RedisServer() as server, Collector(mode="count") as collector:
        emitter = RedisEmitter(url=server.url, buffer_size=1000, max_batch_age=None)
        for i in range(events):
            emitter.input({"e": "pv", "eid": f"bench-{i:08d}", "url": f"https://e.x/{i}"})
        if not emitter.close(timeout=60):
            raise SystemExit("could not store the events in Redis")
        collector.set_delay(delay)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        command = [
            sys.executable, "-m", "snowplow_tracker.emitters.redis.cli",
            "--redis-url", server.url, "--endpoint", collector.endpoint,
            "--log-level", "WARNING", *worker_args,
        ]  # fmt: skip
        worker = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
        try:
            # Timed from the first event counted (the program's start-up is not measured).
            if not collector.wait_for_events(1, timeout=60):
                raise SystemExit("the worker sent nothing")
            started = time.perf_counter()
            first = collector.stats()["events"]
            if not collector.wait_for_events(events, timeout=600):
                raise SystemExit(f"only {collector.stats()['events']} of {events} arrived")
            elapsed = time.perf_counter() - started
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        return (events - first) / elapsed


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the options, run, print one line per repetition."""
    argv = list(sys.argv[1:] if argv is None else argv)
    worker_args: List[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, worker_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--delay", type=float, default=0.05, help="collector delay, seconds")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    for _ in range(args.repeat):
        rate = run(args.events, args.delay, worker_args)
        print(
            f"redis worker, collector delay {args.delay * 1000:.0f} ms, {args.events} events, "
            f"options {' '.join(worker_args) or '(defaults)'}: {rate:,.0f} events/s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
