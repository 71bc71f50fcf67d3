"""Host memory scenarios (issue 9): a burst with the collector up, and a collector outage.

Imported by ``worker.py`` as a top-level module (see :mod:`harness`). The worker reads its own
RSS at each phase and stamps each phase with ``time.time()``; the runner samples the worker's
RSS every 5 ms from outside and takes the peak between the phases (``phases`` in each result).

- ``burst``: ``events`` tracked as fast as one thread can (bounded by ``track_limit_s``) with
  the collector up; then flush and wait for the collector to count them; then ``settle_s``
  seconds idle. Reports the RSS at the start, at the end of tracking, after the flush and
  after settling, the events still queued when tracking ended (tracked minus delivered by
  then) and the emitter's counts (dropped, failed) where it has ``stats()``.
- ``outage``: the worker's own collector is stopped (connections refused), ``events`` are
  tracked, the collector comes back on the same port, ``flush(timeout=2)`` is timed, then the
  worker waits (at most ``recover_s``) until every event is delivered or counted as dropped or
  failed, closes the emitter and does the accounting: delivered + dropped + failed = tracked.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any, Dict, List, Tuple

from harness import CollectorClient, Target, deliver, delivered_since, rss_bytes


def _track_bounded(target: Target, n: int, limit_s: float) -> int:
    """Track up to ``n`` events as fast as possible, for at most ``limit_s`` seconds."""
    track = target.track
    clock = time.perf_counter
    deadline = clock() + limit_s
    for i in range(n):
        track("label")
        if not i & 1023 and clock() > deadline:
            return i + 1
    return n


def _settle() -> int:
    gc.collect()
    time.sleep(0.2)
    return rss_bytes()


def _tracking_phase(
    target: Target, spec: Dict[str, Any]
) -> Tuple[int, Dict[str, Any], Dict[str, float], int, float, int]:
    """Settle, then track ``spec["events"]`` (bounded in time).

    Returns:
        The RSS before, the emitter's stats before, the phases (``start``, ``tracked``), the
        events tracked, the seconds it took, the RSS right after.
    """
    base = _settle()
    stats0 = target.stats()
    phases = {"start": time.time()}
    t0 = time.perf_counter()
    tracked = _track_bounded(target, int(spec["events"]), float(spec.get("track_limit_s", 60.0)))
    track_s = time.perf_counter() - t0
    phases["tracked"] = time.time()
    return base, stats0, phases, tracked, track_s, rss_bytes()


def _given_up(stats: Dict[str, Any], start: Dict[str, Any]) -> int:
    """Events the emitter counted as dropped or failed since ``start`` (0 without stats)."""
    return sum(int(stats.get(k, 0)) - int(start.get(k, 0)) for k in ("dropped", "failed"))


def scenario_burst(
    target: Target, client: CollectorClient, spec: Dict[str, Any]
) -> List[Dict[str, Any]]:
    """``events`` as fast as one thread can, collector up: peak, after-flush and settled RSS."""
    n = int(spec["events"])
    before = client.stats()
    base, stats0, phases, tracked, track_s, rss_tracked = _tracking_phase(target, spec)
    mid = client.stats()
    queued_stats = target.stats()
    queued_at_end = tracked - (int(mid["unique_eids"]) - int(before["unique_eids"]))
    after = deliver(target, client, before["events"] + tracked, float(spec.get("timeout", 120)))
    phases["flushed"] = time.time()
    rss_flushed = rss_bytes()
    time.sleep(float(spec.get("settle_s", 5.0)))
    phases["settled"] = time.time()
    rss_settled = rss_bytes()
    stats1 = target.stats()
    counts = delivered_since(before, after, tracked)
    given_up = _given_up(stats1, stats0)
    rep: Dict[str, Any] = {
        "tracked": tracked,
        "requested": n,
        "track_seconds": track_s,
        "track_rate": tracked / track_s if track_s else None,
        "rss_base_mb": base / 2**20,
        "growth_tracked_mb": (rss_tracked - base) / 2**20,
        "growth_flushed_mb": (rss_flushed - base) / 2**20,
        "growth_settled_mb": (rss_settled - base) / 2**20,
        "queued_at_end": queued_at_end,
        "bytes_per_queued_event": (rss_tracked - base) / queued_at_end if queued_at_end else None,
        "queued_bytes": queued_stats.get("queued_bytes"),
        "queued_events_stats": queued_stats.get("queued"),
        "dropped": given_up,
        "delivered": counts["delivered"],
        # Lost: neither delivered nor counted by the emitter as dropped or failed.
        "lost": counts["lost"] - given_up,
        "duplicates": counts["duplicates"],
        "failures_reported": target.failures.events,
        "phases": phases,
    }
    return [rep]


def _flush_bounded(target: Target, timeout: float, limit: float) -> float:
    """Seconds ``flush(timeout=timeout)`` took (1.1.0 has no timeout: ``limit`` bounds it)."""
    emitter = target.emitter
    done = threading.Event()

    def flush() -> None:
        try:
            if target.lib == "anchor":
                emitter.flush()
            else:
                try:
                    emitter.flush(timeout=timeout)
                except TypeError:
                    emitter.flush()
        finally:
            done.set()

    t0 = time.perf_counter()
    threading.Thread(target=flush, daemon=True, name="perf-flush").start()
    done.wait(limit)
    return time.perf_counter() - t0


def scenario_outage(
    target: Target, client: CollectorClient, spec: Dict[str, Any]
) -> List[Dict[str, Any]]:
    """``events`` tracked while the collector refuses connections, then it comes back."""
    own = spec["_own_collector"]
    n = int(spec["events"])
    flush_timeout = float(spec.get("flush_timeout", 2.0))
    own.stop()
    failures0 = target.failures.events
    base, stats0, phases, tracked, track_s, rss_tracked = _tracking_phase(target, spec)
    stats_down = target.stats()
    own.start()  # a new process: its counts start at 0, so every eid it sees is ours
    phases["back"] = time.time()
    flush_s = _flush_bounded(target, flush_timeout, float(spec.get("flush_limit_s", 10.0)))
    phases["flushed"] = time.time()
    deadline = time.perf_counter() + float(spec.get("recover_s", 20.0))
    delivered = 0
    while time.perf_counter() < deadline:
        delivered = int(client.stats()["unique_eids"])
        if delivered + _given_up(target.stats(), stats0) >= tracked:
            break
        time.sleep(0.05)
    phases["recovered"] = time.time()
    if target.lib != "anchor":  # close: what is still undelivered is dropped and counted
        try:
            target.emitter.close(timeout=5.0)
        except TypeError:
            target.close()
    final = client.stats()
    stats1 = target.stats()
    given_up = _given_up(stats1, stats0)
    delivered = int(final["unique_eids"])
    rep: Dict[str, Any] = {
        "tracked": tracked,
        "requested": n,
        "track_seconds": track_s,
        "rss_base_mb": base / 2**20,
        "growth_tracked_mb": (rss_tracked - base) / 2**20,
        "flush_seconds": flush_s,
        "flush_timeout": flush_timeout,
        "delivered": delivered,
        "dropped": given_up,
        "dropped_while_down": _given_up(stats_down, stats0),
        "failures_reported": target.failures.events - failures0,
        "has_stats": bool(stats1),
        "pending_at_end": int(stats1.get("queued", 0)) + int(stats1.get("in_flight", 0)),
        # Lost: neither delivered nor counted (for 1.1.0, which counts nothing: not delivered).
        "lost": tracked - delivered - given_up,
        "duplicates": int(final["duplicates"]),
        "phases": phases,
    }
    return [rep]


SCENARIOS = {"burst": scenario_burst, "outage": scenario_outage}
