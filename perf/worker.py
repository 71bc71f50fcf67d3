"""One tracker variant running one scenario, in a process of its own.

This script is run by :mod:`perf.runner` as ``python perf/worker.py '<json spec>'``. It must
work with this project's ``snowplow_tracker`` *and* with the published ``snowplow-tracker==1.1.0``
(run from the anchor virtualenv with ``python -I``, so that the repository is not on
``sys.path``). It therefore imports nothing from ``perf`` and uses only the API the two share:
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
  the latency sink records when each arrives (the runner computes the percentiles).
"""

from __future__ import annotations

import gc
import http.client
import inspect
import json
import os
import resource
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Optional

CONTEXT_SCHEMA = "iglu:com.acme/perf_context/jsonschema/1-0-0"
RESULT_PREFIX = "PERF_RESULT "


# ------------------------------------------------------------------------------ collector


class CollectorClient:
    """Reads the counts of a collector (``GET /_stats``) over one keep-alive connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._conn: Optional[http.client.HTTPConnection] = None

    def stats(self) -> Dict[str, Any]:
        """The collector's ``/_stats`` JSON."""
        for attempt in range(3):
            try:
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                self._conn.request("GET", "/_stats")
                response = self._conn.getresponse()
                data: Dict[str, Any] = json.loads(response.read())
                return data
            except (OSError, http.client.HTTPException):
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def wait_for(self, events: int, timeout: float, interval: float = 0.01) -> Dict[str, Any]:
        """Poll every ``interval`` seconds until ``events`` were counted, or ``timeout`` passed.

        Returns:
            The last stats read, with ``reached_at`` (``perf_counter``) or None.
        """
        deadline = time.perf_counter() + timeout
        while True:
            stats = self.stats()
            now = time.perf_counter()
            if stats["events"] >= events:
                stats["reached_at"] = now
                return stats
            if now > deadline:
                stats["reached_at"] = None
                return stats
            time.sleep(interval)


# ------------------------------------------------------------------------------ tracker


class Target:
    """A tracker, its emitter and how to flush and close it, for either library."""

    def __init__(self, spec: Dict[str, Any]) -> None:
        import snowplow_tracker as sp

        self.spec = spec
        self.lib = spec["lib"]
        self.library_file = sp.__file__
        self.library_version = getattr(sp, "__version__", "?")
        kind = spec["kind"]
        opts: Dict[str, Any] = dict(spec.get("options") or {})
        host, port = spec["collector_host"], spec["collector_port"]
        self.emitter = self._build_emitter(sp, kind, host, port, opts)
        # Submodules: both libraries have them, whatever the package root exports.
        from snowplow_tracker.self_describing_json import SelfDescribingJson
        from snowplow_tracker.subject import Subject
        from snowplow_tracker.tracker import Tracker

        subject = Subject().set_user_id("perf-user-42").set_platform("srv")
        params = inspect.signature(Tracker.__init__).parameters
        if list(params)[1] == "namespace":  # 1.x: Tracker(namespace, emitters, ...)
            self.tracker = Tracker(
                namespace="perf", emitters=self.emitter, subject=subject, app_id="perf-app"
            )
        else:
            self.tracker = Tracker(
                self.emitter, subject=subject, namespace="perf", app_id="perf-app"
            )
        self.context = [
            SelfDescribingJson(
                CONTEXT_SCHEMA, {"suite": "perf", "variant": spec["variant"], "shard": 7}
            )
        ]

    def _build_emitter(self, sp: Any, kind: str, host: str, port: int, opts: Dict[str, Any]) -> Any:
        method = opts.pop("method", "post")
        buffer_size = opts.pop("buffer_size", None)
        if self.lib == "anchor":
            # 1.1.0: batch_size instead of buffer_size; endpoint and port apart.
            from snowplow_tracker.emitters import AsyncEmitter as AnchorAsync
            from snowplow_tracker.emitters import Emitter as AnchorEmitter

            cls = AnchorAsync if kind == "async" else AnchorEmitter
            return cls(
                host, protocol="http", port=port, method=method, batch_size=buffer_size, **opts
            )
        from snowplow_tracker.emitters import AsyncEmitter, Emitter

        if kind == "emitter":
            return Emitter(host, protocol="http", port=port, method=method, buffer_size=buffer_size)
        if kind == "async":
            return AsyncEmitter(
                host, protocol="http", port=port, method=method, buffer_size=buffer_size, **opts
            )
        if kind == "process":
            from snowplow_tracker.process_emitter import ProcessEmitter

            return ProcessEmitter(
                host, protocol="http", port=port, method=method, buffer_size=buffer_size, **opts
            )
        if kind == "redis":
            import redis

            from snowplow_tracker.redis_emitter import RedisEmitter

            rdb = redis.Redis(host="127.0.0.1", port=int(opts.pop("redis_port")))
            return RedisEmitter(rdb, opts.pop("key"), buffer_size=buffer_size or 1, **opts)
        if kind == "celery":
            from snowplow_tracker.celery_emitter import CeleryEmitter

            return CeleryEmitter(host, protocol="http", port=port, buffer_size=buffer_size, **opts)
        raise ValueError(f"unknown emitter kind {kind!r}")

    def track(self, label: str) -> None:
        """Track the suite's event: a structured event with a subject and one context."""
        self.tracker.track_struct_event("perf", "track", label, "prop", 1.5, self.context)

    def flush_async(self) -> None:
        """Ask the emitter to send what it buffers, without waiting where it can."""
        emitter = self.emitter
        flush = emitter.flush
        try:
            accepts = "is_async" in inspect.signature(flush).parameters
        except (TypeError, ValueError):
            accepts = False
        if self.lib != "anchor" and accepts:
            flush(is_async=True)
        else:
            flush()

    def flush_sync(self, timeout: float = 120.0) -> None:
        """Wait until the emitter has handed every event to its destination."""
        emitter = self.emitter
        if self.lib == "anchor":
            if hasattr(emitter, "sync_flush"):
                emitter.sync_flush()
            else:
                emitter.flush()
            return
        try:
            emitter.flush(timeout=timeout)
        except TypeError:
            emitter.flush()

    def close(self) -> None:
        """Stop the emitter's threads or processes (this project only)."""
        close = getattr(self.emitter, "close", None)
        if self.lib != "anchor" and close is not None:
            close()


# ------------------------------------------------------------------------------ scenarios


def _percentile(sorted_values: List[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _deliver(
    target: Target, client: CollectorClient, expected: int, timeout: float
) -> Dict[str, Any]:
    """Flush, wait until ``expected`` events were counted, then read the final counts."""
    target.flush_async()
    stats = client.wait_for(expected, timeout)
    target.flush_sync()
    final = client.stats()
    final["reached_at"] = stats["reached_at"]
    return final


def warm_up(target: Target, client: CollectorClient, events: int) -> Dict[str, Any]:
    """Track a few events and wait for them, so that startup costs are not measured."""
    before = client.stats()
    for _ in range(events):
        target.track("warm-up")
    return _deliver(target, client, before["events"] + events, 60.0)


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
        after = _deliver(target, client, before["events"] + n, 120.0)
        samples.sort()
        reps.append(
            {
                "cpu_us": cpu * 1e6 / n,
                "wall_us": wall / 1e3 / n,
                "wall_p50_us": _percentile(samples, 0.50) / 1e3,
                "wall_p99_us": _percentile(samples, 0.99) / 1e3,
                "lost": n - (after["unique_eids"] - before["unique_eids"]),
                "duplicates": after["duplicates"] - before["duplicates"],
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
    for _ in range(int(spec["repeats"])):
        before = client.stats()
        gc.collect()
        t0 = time.perf_counter()
        cpu0 = time.thread_time()
        for _ in range(n):
            track("label")
        tracked = time.perf_counter()
        caller_cpu = time.thread_time() - cpu0
        after = _deliver(target, client, before["events"] + n, timeout)
        reached = after["reached_at"]
        seconds = (reached if reached is not None else time.perf_counter()) - t0
        collector_cpu = after["cpu_seconds"] - before["cpu_seconds"]
        reps.append(
            {
                "seconds": seconds,
                "events_per_s": n / seconds,
                "track_seconds": tracked - t0,
                "caller_cpu_us": caller_cpu * 1e6 / n,
                "lost": n - (after["unique_eids"] - before["unique_eids"]),
                "duplicates": after["duplicates"] - before["duplicates"],
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
        after = _deliver(target, client, before["events"] + events, 120.0)
        reps.append(
            {
                "ratio": tracked / base,
                "base_s": base,
                "tracked_s": tracked,
                "events": events,
                "events_per_s": events / tracked,
                "every": every,
                "lost": events - (after["unique_eids"] - before["unique_eids"]),
                "duplicates": after["duplicates"] - before["duplicates"],
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
    after = _deliver(target, client, before["events"] + n, 120.0)
    return [
        {
            "events": n,
            "achieved_rate": n / elapsed,
            "late": late,
            "lost": n - (after["unique_eids"] - before["unique_eids"]),
            "duplicates": after["duplicates"] - before["duplicates"],
        }
    ]


SCENARIOS = {
    "caller": scenario_caller,
    "throughput": scenario_throughput,
    "slowdown": scenario_slowdown,
    "latency": scenario_latency,
}


def run(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Build the variant, warm it up, run the scenario; the result object to print."""
    client = CollectorClient(spec["collector_host"], int(spec["collector_port"]))
    target = Target(spec)
    result: Dict[str, Any] = {
        "variant": spec["variant"],
        "scenario": spec["scenario"],
        "library": target.library_file,
        "library_version": target.library_version,
        "python": sys.version.split()[0],
        "pid": os.getpid(),
    }
    try:
        warm = warm_up(target, client, int(spec.get("warmup", 200)))
        result["warmup_complete"] = warm["reached_at"] is not None
        result["reps"] = SCENARIOS[spec["scenario"]](target, client, spec)
    finally:
        target.close()
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
