"""One lone ``ProcessEmitter`` sender, measured: ``python perf/fleet_sender_probe.py H P OUT``.

Run by ``python -m perf.fleet --sender-memory`` as a script. The sender is its own interpreter
(``python -m snowplow_tracker.emitters.process.sender_process``): a ``sitecustomize`` module that
``perf.fleet`` puts on its ``PYTHONPATH`` (:data:`perf.fleet.SENDER_HOOK`) starts a daemon thread
in it that, a moment later, writes the sender's ``sys.modules`` (name, file) to
``OUT.modules-PID.json``. The host builds the emitter with its defaults and ``process_count=1``,
tracks one event, flushes, and writes ``OUT`` (JSON): RSS, USS and PSS of each child process
(the sender, and a ``multiprocessing`` resource tracker if one runs), with its command line.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Dict, List

MODULES_DELAY_S = 1.5


def _host(host: str, port: int, out: str) -> None:
    import psutil

    from snowplow_tracker import ProcessEmitter, Tracker

    emitter = ProcessEmitter(host, protocol="http", port=port, process_count=1)
    tracker = Tracker(emitter, namespace="perf", app_id="perf-app")
    tracker.track_struct_event("perf", "track", "probe", "prop", 1.5)
    emitter.flush(timeout=30)
    time.sleep(MODULES_DELAY_S + 1.0)  # the sender wrote its module list; memory settled
    children: List[Dict[str, Any]] = []
    for child in psutil.Process().children(recursive=True):
        try:
            mem = child.memory_full_info()
            children.append(
                {
                    "pid": child.pid,
                    "cmdline": " ".join(child.cmdline()),
                    "threads": child.num_threads(),
                    "rss": mem.rss,
                    "uss": mem.uss,
                    "pss": getattr(mem, "pss", None),
                }
            )
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    me = psutil.Process().memory_full_info()
    with open(out, "w") as fh:
        json.dump({"children": children, "host": {"rss": me.rss, "uss": me.uss}}, fh)
    emitter.close()


if __name__ == "__main__":
    _host(sys.argv[1], int(sys.argv[2]), sys.argv[3])
