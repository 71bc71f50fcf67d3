"""One lone ``ProcessEmitter`` sender, measured: ``python perf/fleet_sender_probe.py H P OUT``.

Run by ``python -m perf.fleet --sender-memory`` as a script, so that it is the ``__main__`` of
the host. The sender is started with ``spawn`` (the default), whose child imports the host's
main script as ``__mp_main__`` before it unpickles the sender: this file then starts a daemon
thread in the sender that, a moment later, writes the sender's ``sys.modules`` (name, file) to
``OUT.modules-PID.json``. The host (``__main__``) builds the emitter with its defaults and
``process_count=1``, tracks one event, flushes, and writes ``OUT`` (JSON): RSS, USS and PSS of
each child process (the sender, the ``multiprocessing`` resource tracker), with its command
line. The module imports nothing but the standard library at the top, so that the sender's
list is the sender's own.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any, Dict, List

MODULES_DELAY_S = 1.5


def _dump_modules(out: str) -> None:
    time.sleep(MODULES_DELAY_S)
    modules = [
        [name, getattr(module, "__file__", None) or ""]
        for name, module in sorted(sys.modules.items())
        if module is not None
    ]
    with open(f"{out}.modules-{os.getpid()}.json", "w") as fh:
        json.dump(modules, fh)


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
elif __name__ == "__mp_main__":  # a spawned child of the host: the sender
    _out = os.environ.get("FLEET_PROBE_OUT")
    if _out:
        threading.Thread(target=_dump_modules, args=(_out,), daemon=True).start()
