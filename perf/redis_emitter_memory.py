"""Host memory and drops of ``RedisEmitter`` for a burst tracked as fast as one thread can.

Starts a redis-server on a free port, tracks N ``track_struct_event`` calls (a subject and one
context, about 0.7 KB encoded) with ``RedisEmitter(buffer_size=100)``, samples the host's RSS
every 5 ms, flushes, and prints the peak and after-flush RSS growth, what was sent and what was
dropped. ``--frozen`` freezes Redis (SIGSTOP) during the burst and thaws it before the flush::

    python perf/redis_emitter_memory.py --events 200000
    python perf/redis_emitter_memory.py --events 200000 --frozen

A benchmark, not a test: figures on a shared machine are rough guides.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from snowplow_tracker import SelfDescribingJson, Subject, Tracker
from snowplow_tracker.emitters.redis.emitter import RedisEmitter
from snowplow_tracker.testing import RedisServer

MIB = 1 << 20


def run(events: int, frozen: bool) -> str:
    """One burst; returns the result line."""
    process = psutil.Process()
    with RedisServer() as server:
        assert server.process is not None
        emitter = RedisEmitter(url=server.url, buffer_size=100)
        tracker = Tracker(emitter, subject=Subject().set_user_id("u1"))
        context = [SelfDescribingJson("iglu:com.acme/ctx/jsonschema/1-0-0", {"k": "v" * 300})]
        tracker.track_struct_event("warm", "up", context=context)
        emitter.flush()
        base = process.memory_info().rss
        peak: List[int] = [base]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.005):
                peak[0] = max(peak[0], process.memory_info().rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        if frozen:
            server.process.send_signal(signal.SIGSTOP)
        for _ in range(events):
            tracker.track_struct_event("category", "action", context=context)
        if frozen:
            server.process.send_signal(signal.SIGCONT)
        flushed = emitter.flush(timeout=120)
        time.sleep(1.0)
        after = process.memory_info().rss
        done.set()
        sampler.join()
        stats = emitter.stats()
        emitter.close()
    return (
        f"RedisEmitter(buffer_size=100), {events} events, Redis {'frozen' if frozen else 'up'}: "
        f"peak RSS +{(peak[0] - base) / MIB:.0f} MiB, after flush +{(after - base) / MIB:.0f} "
        f"MiB; flushed {flushed}, sent {stats.sent - 1}, dropped {stats.dropped}"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the options and print one line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--frozen", action="store_true", help="SIGSTOP Redis during the burst")
    args = parser.parse_args(argv)
    print(run(args.events, args.frozen), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
