"""A collector a network away (issue 10): every answer is delayed by 20, 50 or 200 ms.

Imported by ``worker.py`` as a top-level module (see :mod:`harness`). The runner starts a
collector of its own for the step; after the warm-up, the worker sets its delay
(``POST /_control``). The worker tracks as fast as it can but keeps at most a window of events
outstanding (tracked, not yet counted by the collector), so that no emitter is pushed into its
queue bounds: the scenario measures the delivery rate, not how fast a queue fills. Every
0.25 s the window becomes three times the events delivered in the last half second per second
(at least ``min_window`` events, at most ``max_window``): it grows quickly for fast emitters
and stays small, so that the final drain is short, for slow ones.

The rate is the collector's count over ``seconds`` of steady state, after ``ramp_s`` seconds
of ramp-up. Then tracking stops, the emitter is flushed and the worker waits (bounded) for
every event: lost = tracked - delivered.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Tuple

from harness import CollectorClient, Target, deliver, delivered_since


class _Poller:
    """Reads the collector's event count every ``interval`` seconds on a thread."""

    def __init__(self, client: CollectorClient, interval: float = 0.02) -> None:
        self.client = client
        self.interval = interval
        self.samples: List[Tuple[float, int]] = []
        self.latest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="perf-poller")

    def _run(self) -> None:
        while not self._stop.is_set():
            events = int(self.client.stats()["events"])
            self.latest = events
            self.samples.append((time.perf_counter(), events))
            self._stop.wait(self.interval)

    def __enter__(self) -> _Poller:
        self.latest = int(self.client.stats()["events"])
        self.samples.append((time.perf_counter(), self.latest))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def count_at(self, when: float) -> Tuple[float, int]:
        """The first sample taken at or after ``when`` (the last one if none)."""
        for sample in self.samples:
            if sample[0] >= when:
                return sample
        return self.samples[-1]


def scenario_delay(
    target: Target, client: CollectorClient, spec: Dict[str, Any]
) -> List[Dict[str, Any]]:
    """Delivery rate through a collector that answers after ``delay_ms``."""
    ramp = float(spec.get("ramp_s", 1.0))
    seconds = float(spec.get("seconds", 3.0))
    min_window = int(spec.get("min_window", 300))
    max_window = int(spec.get("max_window", 50_000))
    client.control({"delay": float(spec["delay_ms"]) / 1000.0})
    before = client.stats()
    track = target.track
    clock = time.perf_counter
    tracked = 0
    with _Poller(client) as poller:
        base = poller.latest
        t0 = clock()
        ramp_end, end = t0 + ramp, t0 + ramp + seconds
        window = min_window
        next_window = t0 + 0.25
        now = t0
        while now < end:
            if tracked - (poller.latest - base) < window:
                track("label")
                tracked += 1
            else:
                time.sleep(0.001)
            now = clock()
            if now >= next_window:  # three seconds of the recent rate
                then, count = poller.count_at(now - 0.5)
                rate = (poller.latest - count) / max(0.05, now - then)
                window = max(min_window, min(max_window, int(3 * rate)))
                next_window = now + 0.25
        # Wait for the sample that closes the window before stopping the poller.
        while poller.samples[-1][0] < end:
            time.sleep(0.005)
    (t1, n1), (t2, n2) = poller.count_at(ramp_end), poller.count_at(end)
    after = deliver(target, client, before["events"] + tracked, float(spec.get("timeout", 60)))
    counts = delivered_since(before, after, tracked)
    return [
        {
            "delay_ms": spec.get("delay_ms"),
            "events_per_s": (n2 - n1) / (t2 - t1) if t2 > t1 else 0.0,
            "tracked": tracked,
            "final_window": window,
            "lost": counts["lost"],
            "duplicates": counts["duplicates"],
            "drained": after["reached_at"] is not None,
            "collector": {k: v for k, v in after.items() if "flight" in k},
        }
    ]


SCENARIOS = {f"delay{ms}": scenario_delay for ms in (20, 50, 200)}
