"""One tracker variant running one scenario, in a process of its own.

This script is run by :mod:`perf.runner` as ``python perf/worker.py '<json spec>'``. It must
work with this project's ``snowplow_tracker`` *and* with the published ``snowplow-tracker==1.1.0``
(run from the anchor virtualenv with ``python -I``, so that the repository is not on
``sys.path``). It therefore imports nothing from the ``perf`` package, only its sibling modules
as top-level modules (``harness``, ``scenarios_memory``, ``scenarios_delay``, ``scenarios_kinds``:
this folder is put first on ``sys.path``), and uses only the API the two libraries share:
``Tracker``, ``Subject``, ``SelfDescribingJson``, ``Emitter``, ``AsyncEmitter``; plus, for this
project only, ``ProcessEmitter``, ``RedisEmitter`` and ``CeleryEmitter``.

It prints exactly one line starting with ``PERF_RESULT `` followed by a JSON object: the
per-repetition measurements of the scenario (the runner takes medians and spreads).

Scenarios (see ``perf/README.md`` for the method):

- ``caller``: CPU microseconds per ``track_*`` call on the calling thread (``thread_time``),
  and wall time per call (p50, p99);
- ``throughput``: N events tracked as fast as possible; seconds until the collector counted N;
  lost and duplicated events (by ``eid``, from the collector's counts);
- ``slowdown``: a pure-Python CPU loop, with one event every K iterations (about 10,000 events
  per second), timed against the same loop without tracking (alternating repetitions);
- ``latency``: events at a moderate rate whose label carries ``time.time_ns()`` at the call;
  the latency sink records when each arrives (the runner computes the percentiles);
- ``burst`` and ``outage`` (host memory, :mod:`scenarios_memory`), ``delay20`` / ``delay50`` /
  ``delay200`` (a collector that answers late, :mod:`scenarios_delay`) and ``kinds`` (the cost
  of every ``track_*`` method, :mod:`scenarios_kinds`).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
import traceback
from typing import Any, Callable, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (
    CollectorClient,
    OwnCollector,
    SenderCpu,
    Target,
    deliver,
    delivered_since,
    percentile,
    warm_up,
)
from scenarios_delay import SCENARIOS as DELAY_SCENARIOS
from scenarios_kinds import SCENARIOS as KINDS_SCENARIOS
from scenarios_memory import SCENARIOS as MEMORY_SCENARIOS

RESULT_PREFIX = "PERF_RESULT "


# ------------------------------------------------------------------------------ scenarios


def scenario_caller(
    target: Target, client: CollectorClient, spec: Dict[str, Any]
) -> List[Dict[str, Any]]:
    """CPU and wall time per ``track_*`` call on the calling thread."""
    n = int(spec["events"])
    reps = []
    track = target.track
    clock = time.perf_counter_ns
    thread_time = time.thread_time
    for _ in range(int(spec["repeats"])):
        before = client.stats()
        samples = [0] * n
        gc.collect()
        cpu0 = thread_time()
        wall0 = clock()
        for i in range(n):
            t0 = clock()
            track("label")
            samples[i] = clock() - t0
        wall = clock() - wall0
        cpu = thread_time() - cpu0
        counts = {"lost": 0, "duplicates": 0}
        if target.delivers:
            after = deliver(target, client, before["events"] + n, 120.0)
            counts = delivered_since(before, after, n)
        samples.sort()
        reps.append(
            {
                "cpu_us": cpu * 1e6 / n,
                "wall_us": wall / 1e3 / n,
                "wall_p50_us": percentile(samples, 0.50) / 1e3,
                "wall_p99_us": percentile(samples, 0.99) / 1e3,
                "lost": counts["lost"],
                "duplicates": counts["duplicates"],
            }
        )
    return reps


def scenario_throughput(
    target: Target, client: CollectorClient, spec: Dict[str, Any]
) -> List[Dict[str, Any]]:
    """N events as fast as possible; time until the collector counted them all."""
    n = int(spec["events"])
    timeout = float(spec.get("timeout", 300.0))
    reps = []
    track = target.track
    senders = SenderCpu(spec.get("sender_pids") or [])
    for _ in range(int(spec["repeats"])):
        before = client.stats()
        gc.collect()
        senders.start()
        t0 = time.perf_counter()
        cpu0 = time.thread_time()
        host0 = time.process_time()
        for _ in range(n):
            track("label")
        tracked = time.perf_counter()
        caller_cpu = time.thread_time() - cpu0
        after = deliver(target, client, before["events"] + n, timeout)
        host_cpu = time.process_time() - host0
        sender_cpu = senders.seconds()
        reached = after["reached_at"]
        seconds = (reached if reached is not None else time.perf_counter()) - t0
        collector_cpu = after["cpu_seconds"] - before["cpu_seconds"]
        counts = delivered_since(before, after, n)
        per_event = 1e6 / max(1, counts["delivered"])
        reps.append(
            {
                "seconds": seconds,
                "events_per_s": n / seconds,
                "track_seconds": tracked - t0,
                "caller_cpu_us": caller_cpu * 1e6 / n,
                "host_cpu_us_per_event": host_cpu * per_event,
                "sender_cpu_us_per_event": sender_cpu * per_event,
                "lost": counts["lost"],
                "duplicates": counts["duplicates"],
                "complete": reached is not None,
                "collector_cpu_s": collector_cpu,
                "collector_cpu_share": collector_cpu / seconds,
            }
        )
    return reps


def _workload(iterations: int, every: int, track: Callable[[str], None]) -> float:
    """The host's CPU work: an LCG and a little arithmetic; tracks every ``every`` iterations."""
    x = 12345
    acc = 0
    t0 = time.perf_counter()
    for i in range(iterations):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc += x % 7
        if i % every == 0:
            track("label")
    return time.perf_counter() - t0


def _workload_plain_with_check(iterations: int, every: int) -> float:
    """The loop with the same ``i % every`` test but no call: the fair baseline."""
    x = 12345
    acc = 0
    hits = 0
    t0 = time.perf_counter()
    for i in range(iterations):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc += x % 7
        if i % every == 0:
            hits += 1
    return time.perf_counter() - t0


def scenario_slowdown(
    target: Target, client: CollectorClient, spec: Dict[str, Any]
) -> List[Dict[str, Any]]:
    """Workload time with tracking at ~``rate`` events/s over the time without tracking."""
    rate = float(spec.get("rate", 10_000))
    seconds = float(spec.get("seconds", 1.0))
    # Calibrate: iterations per second of the baseline loop (median of a few short runs).
    probe = 200_000
    per_s = sorted(probe / _workload_plain_with_check(probe, 10**9) for _ in range(5))[2]
    every = max(1, round(per_s / rate))
    iterations = int(per_s * seconds)
    chunk = max(every, iterations // 4)
    events_per_chunk = len(range(0, chunk, every))
    reps = []
    for _ in range(int(spec["repeats"])):
        before = client.stats()
        gc.collect()
        # Four short pairs, alternating which comes first, cancel slow drifts of the machine.
        base = tracked = 0.0
        for pair in range(4):
            if pair % 2 == 0:
                base += _workload_plain_with_check(chunk, every)
                tracked += _workload(chunk, every, target.track)
            else:
                tracked += _workload(chunk, every, target.track)
                base += _workload_plain_with_check(chunk, every)
        events = 4 * events_per_chunk
        # The no-op emitter delivers nothing: its counts stay those of before.
        after = (
            deliver(target, client, before["events"] + events, 120.0) if target.delivers else None
        )
        lost = events - (after["unique_eids"] - before["unique_eids"]) if after else 0
        reps.append(
            {
                "ratio": tracked / base,
                "base_s": base,
                "tracked_s": tracked,
                "events": events,
                "events_per_s": events / tracked,
                "every": every,
                "lost": lost,
                "duplicates": after["duplicates"] - before["duplicates"] if after else 0,
            }
        )
    return reps


def scenario_latency(
    target: Target, client: CollectorClient, spec: Dict[str, Any]
) -> List[Dict[str, Any]]:
    """Events at ``rate`` per second; the label carries the call's ``time.time_ns()``."""
    n = int(spec["events"])
    rate = float(spec.get("rate", 1000))
    interval = 1.0 / rate
    before = client.stats()
    start = time.perf_counter()
    late = 0
    for i in range(n):
        due = start + i * interval
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        elif now - due > 0.01:
            late += 1
        target.track(str(time.time_ns()))
    elapsed = time.perf_counter() - start
    after = deliver(target, client, before["events"] + n, 120.0)
    return [
        {
            "events": n,
            "achieved_rate": n / elapsed,
            "late": late,
            "lost": n - (after["unique_eids"] - before["unique_eids"]),
            "duplicates": after["duplicates"] - before["duplicates"],
        }
    ]


SCENARIOS: Dict[str, Callable[[Target, CollectorClient, Dict[str, Any]], List[Dict[str, Any]]]] = {
    "caller": scenario_caller,
    "throughput": scenario_throughput,
    "slowdown": scenario_slowdown,
    "latency": scenario_latency,
    **MEMORY_SCENARIOS,
    **DELAY_SCENARIOS,
    **KINDS_SCENARIOS,
}


def run(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Build the variant, warm it up, run the scenario; the result object to print."""
    own = OwnCollector(spec["own_collector"]) if spec.get("own_collector") else None
    if own is not None:  # the outage scenario stops and restarts its collector itself
        own.start()
        spec["collector_host"], spec["collector_port"] = own.host, own.port
    client = CollectorClient(spec["collector_host"], int(spec["collector_port"]))
    target = Target(spec)
    spec["_own_collector"] = own
    result: Dict[str, Any] = {
        "variant": spec["variant"],
        "scenario": spec["scenario"],
        "library": target.library_file,
        "library_version": target.library_version,
        "python": sys.version.split()[0],
        "pid": os.getpid(),
        "ignored_options": target.ignored_options,
    }
    try:
        if spec["kind"] != "noop":
            warm = warm_up(target, client, int(spec.get("warmup", 200)))
            result["warmup_complete"] = warm["reached_at"] is not None
        result["reps"] = SCENARIOS[spec["scenario"]](target, client, spec)
    finally:
        try:
            target.close()
        finally:
            if own is not None:
                own.stop()
    result["host_maxrss_mb"] = _maxrss_mb()
    return result


def _maxrss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024.0 if sys.platform != "darwin" else rss / 1024.0 / 1024.0


def main(argv: List[str]) -> int:
    """Entry point: ``worker.py '<json spec>'``; prints one ``PERF_RESULT`` line."""
    spec: Dict[str, Any] = json.loads(argv[1])
    try:
        result = run(spec)
        status = 0
    except Exception as exc:  # noqa: BLE001 - reported as the result
        result = {
            "variant": spec.get("variant"),
            "scenario": spec.get("scenario"),
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
        status = 1
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
