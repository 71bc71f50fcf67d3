"""``Emitter`` and ``AsyncEmitter`` across ``os.fork()`` and interpreter exit, in real processes."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import pytest
import redis

from snowplow_tracker.testing import Collector
from tests.fixtures.redis_server import RedisServer
from tests.scripts import ROOT, run_script, run_to_end

PRELUDE = """
import logging, os, sys, threading, time, uuid
from snowplow_tracker import AsyncEmitter, Emitter

def ev(tag):
    return {"e": "se", "se_ca": tag, "se_ac": "a", "eid": str(uuid.uuid4()), "tv": "t",
            "p": "srv"}
"""

ASYNC_FORK = (
    PRELUDE
    + """
e = AsyncEmitter(sys.argv[1], method="post", buffer_size=10, thread_count=2)
for i in range(20):
    e.input(ev("parent-before"))   # two full batches: the sending threads are running
assert e.flush(timeout=10)
for i in range(3):
    e.input(ev("parent-buffered"))  # still buffered in the parent at the fork
pid = os.fork()
if pid == 0:
    for i in range(25):
        e.input(ev("child"))
    ok = e.flush(timeout=3)
    print("child-flush", ok, e.stats().sent, flush=True)
    os._exit(0)
for i in range(5):
    e.input(ev("parent-after"))
_, status = os.waitpid(pid, 0)
print("parent-flush", e.flush(timeout=10), flush=True)
"""
)


def tags(collector: Collector) -> Counter[str]:
    return Counter(ev["se_ca"] for ev in collector.events)


def test_async_emitter_rebuilds_itself_in_a_forked_child(collector: Collector) -> None:
    """The child's flush(timeout=3) is True and its events arrive; nothing is sent twice."""
    out = run_to_end(ASYNC_FORK, collector.endpoint)
    assert "child-flush True 25" in out
    assert "parent-flush True" in out
    assert tags(collector) == {
        "parent-before": 20,
        "parent-buffered": 3,
        "child": 25,
        "parent-after": 5,
    }
    eids = collector.eids()
    assert len(eids) == len(set(eids))


ASYNC_FORK_SESSION = (
    PRELUDE
    + """
import requests
session = requests.Session()
session.headers["X-Snowplow-Test"] = "forked"
adapter = session.get_adapter("http://x")
e = AsyncEmitter(sys.argv[1], method="post", buffer_size=5, session=session)
for i in range(5):
    e.input(ev("parent-before"))
assert e.flush(timeout=10)
print("parent-pools", len(adapter.poolmanager.pools), flush=True)
pid = os.fork()
if pid == 0:
    print("child-pools", len(adapter.poolmanager.pools), flush=True)
    for i in range(5):
        e.input(ev("child"))
    print("child-flush", e.flush(timeout=3), flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
for i in range(5):
    e.input(ev("parent-after"))
print("parent-flush", e.flush(timeout=10), flush=True)
"""
)


def test_a_users_session_crossing_a_fork_gets_fresh_connection_pools_in_the_child(
    collector: Collector,
) -> None:
    """The child never writes into the parent's pooled keep-alive connection."""
    out = run_to_end(ASYNC_FORK_SESSION, collector.endpoint)
    assert "parent-pools 1" in out
    assert "child-pools 0" in out
    assert "child-flush True" in out and "parent-flush True" in out
    assert tags(collector) == {"parent-before": 5, "child": 5, "parent-after": 5}
    assert {r.headers.get("X-Snowplow-Test") for r in collector.requests} == {"forked"}


SYNC_FORK_TIMER = (
    PRELUDE
    + """
e = Emitter(sys.argv[1], method="post", buffer_size=100)
e.set_flush_timer(0.05)
pid = os.fork()
if pid == 0:
    for i in range(3):
        e.input(ev("child"))
    deadline = time.monotonic() + 10
    while e.stats().sent < 3 and time.monotonic() < deadline:  # only the timer can send them
        time.sleep(0.01)
    timers = [t for t in threading.enumerate() if t.name == "snowplow-flush-timer"]
    print("child-sent", e.stats().sent, "timers", len(timers), flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
e.cancel_flush_timer()
"""
)


def test_emitter_flush_timer_runs_again_in_a_forked_child(collector: Collector) -> None:
    """The child gets its own flush timer thread, which sends its partial buffer."""
    out = run_to_end(SYNC_FORK_TIMER, collector.endpoint)
    assert "child-sent 3 timers 1" in out
    assert tags(collector) == {"child": 3}


SYNC_EXIT = (
    PRELUDE
    + """
e = Emitter(sys.argv[1], method="post", buffer_size=10)
for i in range(5):
    e.input(ev("exit"))
print("tracked", e.stats().sent, flush=True)
"""
)

ASYNC_EXIT = (
    PRELUDE
    + """
e = AsyncEmitter(sys.argv[1], method=sys.argv[2], buffer_size=int(sys.argv[3]))
for i in range(25):
    e.input(ev("exit"))
print("tracked", flush=True)
"""
)


def test_emitter_sends_its_buffer_at_interpreter_exit(collector: Collector) -> None:
    """5 events buffered (buffer_size=10) when the script ends normally: all 5 arrive."""
    out = run_to_end(SYNC_EXIT, collector.endpoint)
    assert "tracked 0" in out
    assert tags(collector) == {"exit": 5}


@pytest.mark.parametrize(("method", "buffer_size"), [("get", "1"), ("post", "10"), ("post", "7")])
def test_async_emitter_delivers_queued_and_buffered_events_at_exit(
    collector: Collector, method: str, buffer_size: str
) -> None:
    """25 events tracked just before a normal exit: every one arrives (threads are daemons)."""
    collector.set_delay(0.02)  # the threads are still busy when the main thread ends
    out = run_to_end(ASYNC_EXIT, collector.endpoint, method, buffer_size)
    assert "tracked" in out
    assert tags(collector) == {"exit": 25}


EXIT_COLLECTOR_HANGS = (
    PRELUDE
    + """
import atexit
logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="LOG %(message)s")
failed = []
# Registered before the emitter exists, so it runs after the emitter's own exit handler.
atexit.register(lambda: print("on_failure-total", len(failed), flush=True))
cls = AsyncEmitter if sys.argv[2] == "AsyncEmitter" else Emitter
e = cls(sys.argv[1], method="get", buffer_size=int(sys.argv[3]), request_timeout=0.5,
        shutdown_timeout=1.0, on_failure=lambda n, events: failed.extend(events))
for i in range(25):
    e.input(ev("exit"))
print("tracked", flush=True)
"""
)


@pytest.mark.parametrize(("cls", "buffer_size"), [("AsyncEmitter", "1"), ("Emitter", "30")])
def test_exit_reports_what_could_not_be_sent_within_the_deadline(
    collector: Collector, cls: str, buffer_size: str
) -> None:
    """A hanging collector: exit ends after the deadline; every event reaches on_failure."""
    collector.set_fault("hang")
    out = run_to_end(EXIT_COLLECTOR_HANGS, collector.endpoint, cls, buffer_size)
    assert "on_failure-total 25" in out
    exit_logs = [line for line in out.splitlines() if line.startswith("LOG") and "exit" in line]
    assert len(exit_logs) == 1, out


# -- exit without flush() or close(): every emitter x method x requests sent before the exit ----

#: The script of the matrix: a file with its entry point guarded (as the ``spawn`` senders of
#: ``ProcessEmitter`` need). It tracks ``n`` events with ``buffer_size=10`` (5: no request before
#: the exit; 15: one; 25: two) and ends without ``flush()`` or ``close()``. With ``log`` it
#: configures logging itself, under the guard. An ``atexit`` hook registered before the library is
#: imported runs after the library's exit handler: it prints how long the exit took.
MATRIX_SCRIPT = """
import atexit, logging, sys, time

_ended = []
atexit.register(
    lambda: _ended and print("exit-took", round(time.monotonic() - _ended[0], 3), flush=True)
)

import snowplow_tracker as sp

SHUTDOWN_TIMEOUT = float(sys.argv[8])
REQUEST_TIMEOUT = (float(sys.argv[9]), float(sys.argv[10]))


PROCESS_OPTIONS = {"process": {"process_count": 1},
                   "shared": {"process_count": 1, "shared_pool": True}}


def build(kind, method, via, target, tag):
    timing = {"shutdown_timeout": SHUTDOWN_TIMEOUT}
    if via == "1x":
        config = sp.EmitterConfiguration(
            batch_size=10, request_timeout=REQUEST_TIMEOUT,
            options={**timing, **PROCESS_OPTIONS.get(kind, {})},
            emitter=kind if kind != "shared" else "process",
        )
        return sp.Snowplow.create_tracker(tag, target, method=method, emitter_config=config)
    if kind == "sync":
        e = sp.Emitter(target, method=method, buffer_size=10, request_timeout=REQUEST_TIMEOUT,
                       **timing)
    elif kind == "async":
        e = sp.AsyncEmitter(target, method=method, buffer_size=10,
                            request_timeout=REQUEST_TIMEOUT, **timing)
    elif kind in PROCESS_OPTIONS:
        e = sp.ProcessEmitter(target, method=method, buffer_size=10,
                              request_timeout=REQUEST_TIMEOUT, **PROCESS_OPTIONS[kind], **timing)
    elif kind == "redis":
        e = sp.RedisEmitter(url=target, key=tag, buffer_size=10, max_batch_age=None, **timing)
    else:
        import celery

        app = celery.Celery("lifecycle-" + tag, broker=target)
        app.conf.update(accept_content=["json"], task_serializer="json")
        e = sp.CeleryEmitter("collector.example.com", method=method, buffer_size=10,
                             celery_app=app, queue=tag)
    return sp.Tracker(e, namespace=tag)


def main():
    kind, method, via, n, target, tag, log = sys.argv[1:8]
    if log == "log":
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="LOG %(levelname)s %(name)s: %(message)s")
    tracker = build(kind, method, via, target, tag)
    for i in range(int(n)):
        tracker.track_struct_event(tag, "exit", label=str(i))
    print("tracked", n, flush=True)
    _ended.append(time.monotonic())


if __name__ == "__main__":
    main()
"""

#: ``shutdown_timeout`` and ``(connect, read)`` request timeout given to every emitter: the
#: exit must take at most their sum (plus what an emitter documents, e.g. stopping senders).
MATRIX_SHUTDOWN_TIMEOUT = 5.0
MATRIX_REQUEST_TIMEOUT = (2.0, 3.0)
#: ``ProcessEmitter.close`` documents up to 2 s more: SIGTERM, then SIGKILL, to its senders.
EXIT_SLACK = {"process": 2.0, "shared": 2.0}
#: Events tracked: 5, 15 and 25 with ``buffer_size=10`` are 0, 1 and 2 requests (GET: 0, 10
#: and 20) sent before the exit.
MATRIX_EVENTS = (5, 15, 25)
#: Scripts running at once (two cores: more only slows each down).
MATRIX_CONCURRENCY = 8


@dataclass(frozen=True)
class Case:
    """One script of the matrix."""

    kind: str  # sync, async, process, shared (a ProcessEmitter with shared_pool=True: every
    # such script of the matrix shares one pool; HTTP to the collector), redis, celery (to the
    # broker)
    method: str
    via: str  # "tracker": Tracker(emitter); "1x": Snowplow.create_tracker(...)
    n: int

    @property
    def tag(self) -> str:
        return f"{self.kind}-{self.method}-{self.via}-{self.n}"

    @property
    def logs(self) -> bool:
        """Whether the script configures logging itself (under its ``__main__`` guard)."""
        return self.via == "tracker"


MATRIX = [
    Case(kind, method, via, n)
    for kind in ("sync", "async", "process", "shared", "redis", "celery")
    for method in (("post",) if kind == "redis" else ("get", "post"))
    for via in (("tracker", "1x") if kind not in ("redis", "celery") else ("tracker",))
    for n in MATRIX_EVENTS
]


@dataclass
class Outcome:
    returncode: Optional[int]
    out: str
    err: str


def run_matrix(script: Path, collector: Collector, redis_url: str) -> Dict[Case, Outcome]:
    """Run every case of :data:`MATRIX`, :data:`MATRIX_CONCURRENCY` at a time; a script still
    running 60 s after its start is killed (its returncode is then None)."""
    timing = [str(MATRIX_SHUTDOWN_TIMEOUT), *map(str, MATRIX_REQUEST_TIMEOUT)]
    waiting = list(MATRIX)
    running: Dict[Case, Tuple[subprocess.Popen[str], float]] = {}
    outcomes: Dict[Case, Outcome] = {}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PYTHONWARNINGS", None)
    while waiting or running:
        while waiting and len(running) < MATRIX_CONCURRENCY:
            case = waiting.pop(0)
            target = redis_url if case.kind in ("redis", "celery") else collector.url
            args = [case.kind, case.method, case.via, str(case.n), target, case.tag]
            args += ["log" if case.logs else "-", *timing]
            proc = subprocess.Popen(
                [sys.executable, str(script), *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            running[case] = (proc, time.monotonic())
        for case, (proc, started) in list(running.items()):
            hung = time.monotonic() - started > 60
            if proc.poll() is None and not hung:
                continue
            if hung:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate(timeout=10)
            outcomes[case] = Outcome(None if hung else proc.returncode, out, err)
            del running[case]
        time.sleep(0.02)
    return outcomes


@pytest.fixture(scope="module")
def matrix_results(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[Tuple[Dict[Case, Outcome], Counter[str], Dict[str, int]]]:
    """Every case run once (concurrently), against one collector and the test Redis; returns
    the outcomes, the events that reached the collector by tag, and the events that reached
    Redis (the list or the Celery queue) by tag."""
    script = tmp_path_factory.mktemp("lifecycle") / "exit_matrix.py"
    script.write_text(MATRIX_SCRIPT)
    client = redis.Redis.from_url(redis_server.url)
    try:
        with Collector(mode="record") as collector:
            outcomes = run_matrix(script, collector, redis_server.url)
            arrived = Counter(ev["se_ca"] for ev in collector.events)
            assert collector.stats()["duplicates"] == 0
        stored: Dict[str, int] = {}
        for case in MATRIX:
            if case.kind == "redis":
                stored[case.tag] = int(client.llen(case.tag))
            elif case.kind == "celery":
                stored[case.tag] = sum(
                    len(json.loads(base64.b64decode(json.loads(m)["body"]))[0][0])
                    for m in client.lrange(case.tag, 0, -1)
                )
            client.delete(case.tag)
        yield outcomes, arrived, stored
    finally:
        client.close()


@pytest.mark.parametrize("case", MATRIX, ids=lambda c: c.tag)
def test_a_script_that_ends_without_flush_exits_in_time_and_delivers_everything(
    case: Case, matrix_results: Tuple[Dict[Case, Outcome], Counter[str], Dict[str, int]]
) -> None:
    """The script ends by itself, within ``shutdown_timeout`` plus one request timeout of its
    last line, without an error, and every event it tracked reached the collector (Redis, the
    Celery broker), once."""
    outcomes, arrived, stored = matrix_results
    outcome = outcomes[case]
    assert outcome.returncode == 0, f"hung or failed:\n{outcome.out}\n{outcome.err}"
    assert f"tracked {case.n}" in outcome.out
    [took] = [float(line.split()[1]) for line in outcome.out.splitlines() if "exit-took" in line]
    bound = MATRIX_SHUTDOWN_TIMEOUT + sum(MATRIX_REQUEST_TIMEOUT) + EXIT_SLACK.get(case.kind, 0)
    assert took <= bound, outcome.err
    delivered = stored[case.tag] if case.kind in ("redis", "celery") else arrived[case.tag]
    assert delivered == case.n, outcome.err
    errors = [
        line
        for line in outcome.err.splitlines()
        if "Traceback" in line or line.startswith(("LOG WARNING", "LOG ERROR", "LOG CRITICAL"))
    ]
    assert errors == [], outcome.err


# -- the README quick start, as a script -------------------------------------------------------


def quick_start(collector: Collector) -> str:
    """The README's quick start, sending to ``collector`` (plain HTTP) instead of its example."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert 'if __name__ == "__main__":' in block
    code = block.replace('"collector.example.com", protocol="https"', repr(collector.endpoint))
    assert code != block
    return code


def unguarded(code: str, start_method: str) -> str:
    """``code`` with the body of its ``main()`` at module level, without the guard."""
    head, body = code.split("def main():\n", 1)
    body = body.split('\n\nif __name__ == "__main__":', 1)[0]
    lines = [line[4:] if line.startswith("    ") else line for line in body.splitlines()]
    script = head + "\n".join(lines) + "\n"
    return script.replace("process_count=2", f"process_count=2, start_method={start_method!r}")


def test_the_readme_quick_start_runs_as_a_script(collector: Collector, tmp_path: Path) -> None:
    """Saved as a file and run, the quick start delivers its three events and ends."""
    script = tmp_path / "quick_start.py"
    script.write_text(quick_start(collector))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert sorted(ev["e"] for ev in collector.events) == ["pv", "se", "ue"]


def test_an_unguarded_script_delivers_and_ends(collector: Collector, tmp_path: Path) -> None:
    """The quick start without its ``__main__`` guard, with each start method: senders are
    fresh interpreters that never run the script again, so it delivers its three events and
    ends by itself, without an error."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = {}
    for method in ("spawn", "forkserver", "fork"):
        script = tmp_path / f"unguarded_{method}.py"
        script.write_text(unguarded(quick_start(collector), method))
        procs[method] = subprocess.Popen(
            [sys.executable, str(script)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    try:
        for method, proc in procs.items():
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, (method, err)
            assert "Traceback" not in err, (method, err)
    finally:
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert sorted(ev["e"] for ev in collector.events) == sorted(["pv", "se", "ue"] * 3)


# -- events dropped at exit are counted, reported to on_failure, and logged with what to raise --

#: ``AsyncEmitter`` with its defaults (GET: one event per request; one thread) but a short
#: ``shutdown_timeout``, 25 events tracked against a slow collector, then a normal exit: most
#: are dropped at the exit deadline. ``logs`` is the logging the program configured: ``none``;
#: ``gunicorn`` (as a gunicorn worker has it: a handler on ``gunicorn.error`` only, at ``info``);
#: ``root`` (``basicConfig``). An ``atexit`` hook registered before the emitter exists runs after
#: the library's exit handler: it prints the stats and what reached ``on_failure``.
EXIT_DROPS_LOGGED = """
import atexit, logging, sys, uuid
from snowplow_tracker import AsyncEmitter

logs = sys.argv[2]
if logs == "gunicorn":
    error_log = logging.getLogger("gunicorn.error")
    error_log.setLevel(logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("GUNICORN %(levelname)s %(message)s"))
    error_log.addHandler(handler)
elif logs == "root":
    logging.basicConfig(stream=sys.stderr, format="ROOT %(levelname)s %(message)s")
failed = []
atexit.register(lambda: print("stats", e.stats(), "on_failure", len(failed), flush=True))
e = AsyncEmitter(sys.argv[1], shutdown_timeout=0.5, on_failure=lambda n, evs: failed.extend(evs))
for i in range(25):
    e.input({"e": "se", "se_ca": "exit", "se_ac": "a", "eid": str(uuid.uuid4()), "p": "srv"})
"""


@pytest.mark.parametrize("logs", ["none", "gunicorn", "root"])
def test_events_dropped_at_exit_are_counted_reported_and_logged_once(
    collector: Collector, logs: str
) -> None:
    """Each dropped event is counted (the stats identity holds) and passed to on_failure; where
    the application's logging receives the package's records, one WARNING names the settings
    to raise. The library configures no logging: without such a handler it prints nothing."""
    collector.set_delay(0.1)  # 25 GET requests one at a time: about 5 within 0.5 s
    proc = run_script(EXIT_DROPS_LOGGED, collector.endpoint, logs)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    stats = re.search(
        r"accepted=(\d+), sent=(\d+), failed=(\d+), .*dropped=(\d+), queued=(\d+)", out
    )
    in_flight = re.search(r"in_flight=(\d+)", out)
    assert stats and in_flight, out
    accepted, sent, failed, dropped, queued = map(int, stats.groups())
    assert accepted == 25 and dropped > 0
    assert accepted == sent + failed + dropped + queued + int(in_flight.group(1))
    assert f"on_failure {dropped}" in out
    lines = [line for line in err.splitlines() if "dropped" in line]
    if logs != "root":  # no handler receives the package's records: nothing printed
        assert lines == [], err
        return
    assert len(lines) == 1, err
    assert f"AsyncEmitter: {dropped} event(s)" in lines[0]
    assert "WARNING" in lines[0]
    assert "shutdown_timeout" in lines[0] and "method='post'" in lines[0]
    assert "thread_count" in lines[0]
    assert lines[0].startswith("ROOT")


#: 50 emitters built and dropped one per "request", each sending its one full batch inline.
EMITTER_PER_REQUEST = """
import gc, sys, weakref
from snowplow_tracker import Emitter, Tracker
refs = []
for i in range(50):
    emitter = Emitter(sys.argv[1], method="post", buffer_size=5)
    tracker = Tracker(emitter)
    for _ in range(5):
        tracker.track_page_view("https://example.com/")
    refs.append(weakref.ref(emitter))
del emitter, tracker
gc.collect()
print(sum(ref() is not None for ref in refs))
"""


def test_emitters_dropped_with_nothing_held_are_not_kept_alive(collector: Collector) -> None:
    """The registry keeps a sync Emitter alive only while it holds events: one built per
    request and dropped after its batch was sent is garbage, not a leak until exit."""
    out = run_to_end(EMITTER_PER_REQUEST, collector.endpoint)
    assert out.strip() == "0"
    assert collector.wait_for_events(250)
