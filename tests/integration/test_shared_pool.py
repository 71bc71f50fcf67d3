"""ProcessEmitter(shared_pool=True): host processes share one set of sender processes.

Real host processes (fresh interpreters), real shared senders started by them, a real collector,
real signals. Each test has its own pool folder (``XDG_RUNTIME_DIR``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from typing import Any, Dict, Iterator, List

import psutil
import pytest

from snowplow_tracker.emitters.process.emitter import ProcessEmitter
from snowplow_tracker.emitters.process.server import IDLE_TIMEOUT
from snowplow_tracker.testing import Collector
from tests.payloads import make_payload as event
from tests.scripts import run_script
from tests.waiting import wait_until

HOST = """
import json, os, sys, time, uuid
from snowplow_tracker.delivery.retry import RetryPolicy
from snowplow_tracker.emitters.process.emitter import ProcessEmitter

endpoint, count, senders, pause, how, hold = sys.argv[1:7]
if how == "env":
    os.environ["SNOWPLOW_TRACKER_SHARED_POOL"] = "1"
e = ProcessEmitter(endpoint, buffer_size=20, process_count=int(senders),
                   shared_pool=True if how == "kw" else None,
                   retry_policy=RetryPolicy(base_delay=0.05, max_delay=0.2, deadline=60))
for i in range(int(count)):
    e.input({"e": "se", "se_ca": "c", "se_ac": "a", "eid": str(uuid.uuid4()), "tv": "t",
             "p": "srv"})
    if i % 100 == 99:
        time.sleep(float(pause))
ok = e.flush(timeout=60)
s = e.stats()
print(json.dumps({"ok": ok, "pids": e.sender_pids(), "sent": s.sent, "shared": e.shared_pool,
                  "redelivered": s.redelivered, "restarts": s.restarts}), flush=True)
if hold == "hold":
    sys.stdin.read()  # connected until the test closes standard input
"""


@pytest.fixture
def pool_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh ``XDG_RUNTIME_DIR`` for this process and the hosts it starts (short: socket paths
    are limited); its senders are killed and it is removed after the test."""
    runtime = tempfile.mkdtemp(prefix="sp-", dir="/tmp")
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    monkeypatch.delenv("SNOWPLOW_TRACKER_SHARED_POOL", raising=False)
    try:
        yield runtime
    finally:
        for proc in senders_of(runtime):
            proc.kill()
        shutil.rmtree(runtime, ignore_errors=True)


def senders_of(runtime: str) -> List[psutil.Process]:
    """The shared senders listening in ``runtime``'s pool folder."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if cmdline.startswith("snowplow-sender[shared ") and runtime + "/" in cmdline:
            found.append(proc)
    return found


def run_hosts(endpoint: str, hosts: int, count: int, **kw: Any) -> List[Any]:
    """Start ``hosts`` host processes tracking ``count`` events each (the first one turns the
    shared pool on by the environment variable, the others by the argument)."""
    senders, pause, how = kw.get("senders", 2), kw.get("pause", 0.0), kw.get("how", "kw")
    args = (endpoint, str(count), str(senders), str(pause))
    hold = kw.get("hold", False)
    return [
        run_script(HOST, *args, how if i else "env", "hold" if hold else "-", stdin=subprocess.PIPE)
        for i in range(hosts)
    ]


def results(procs: List[Any]) -> List[Dict[str, Any]]:
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def test_hosts_share_one_set_of_senders_that_does_not_grow(
    counting_collector: Collector, pool_dir: str
) -> None:
    """2 hosts, then 8 more while they stay connected: every event once, through the same 2
    sender processes."""
    holders = run_hosts(counting_collector.endpoint, 2, 1500, hold=True)
    first = [json.loads(p.stdout.readline()) for p in holders]
    pids = {pid for r in first for pid in r["pids"]}
    assert all(r["ok"] and r["shared"] and r["sent"] == 1500 for r in first)
    assert len(pids) == 2
    assert {p.pid for p in senders_of(pool_dir)} == pids  # still running, idle
    procs = run_hosts(counting_collector.endpoint, 8, 1000)
    seen = set()
    while any(p.poll() is None for p in procs):
        seen.update(p.pid for p in senders_of(pool_dir))
        assert len(seen) <= 2
    second = results(procs)
    for holder in holders:
        assert holder.communicate(timeout=60)[0] == "" and holder.returncode == 0
    assert {pid for r in second for pid in r["pids"]} == pids
    assert all(r["ok"] and r["sent"] == 1000 and not r["restarts"] for r in second)
    stats = counting_collector.stats()
    assert stats["unique_eids"] == stats["events"] == 2 * 1500 + 8 * 1000
    mode = os.stat(os.path.join(pool_dir, "snowplow-tracker")).st_mode
    assert mode & 0o777 == 0o700


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_shared_sender_killed_or_stopped_mid_stream_loses_nothing(
    collector: Collector, pool_dir: str, signum: int
) -> None:
    """The hosts hold every micro-batch until its acknowledgement: they send again what the
    killed (or stopped) sender did not acknowledge, through the other sender or its
    replacement; only those events can arrive twice."""
    collector.set_delay(0.05)
    procs = run_hosts(collector.endpoint, 3, 3000, pause=0.1)
    assert wait_until(lambda: len(senders_of(pool_dir)) == 2 and collector.stats()["events"] > 0)
    victim = senders_of(pool_dir)[0]
    victim.send_signal(signum)
    assert wait_until(lambda: not victim.is_running(), 10)
    out = results(procs)
    assert all(r["ok"] for r in out)
    assert sum(r["restarts"] for r in out) >= 1
    assert all(victim.pid not in r["pids"] for r in out)
    eids = collector.eids()
    assert len(set(eids)) == 3 * 3000
    assert len(eids) - len(set(eids)) <= sum(r["redelivered"] for r in out)


def test_the_pool_goes_away_once_idle(counting_collector: Collector, pool_dir: str) -> None:
    """The hosts exit; the senders exit after IDLE_TIMEOUT and remove their sockets."""
    out = results(run_hosts(counting_collector.endpoint, 2, 200))
    assert all(r["ok"] for r in out)
    folder = os.path.join(pool_dir, "snowplow-tracker")
    assert len(senders_of(pool_dir)) == 2
    assert len([n for n in os.listdir(folder) if n.endswith(".sock")]) == 2
    assert wait_until(lambda: not senders_of(pool_dir), IDLE_TIMEOUT + 10)
    assert not [n for n in os.listdir(folder) if n.endswith(".sock")]


FORKS = """
import json, os, sys, uuid
from snowplow_tracker.emitters.process.emitter import ProcessEmitter

e = ProcessEmitter(sys.argv[1], shared_pool=True, process_count=1, buffer_size=20)
def track(n):
    for _ in range(n):
        e.input({"e": "se", "se_ca": "c", "se_ac": "a", "eid": str(uuid.uuid4()), "tv": "t",
                 "p": "srv"})
track(300 if sys.argv[2] == "yes" else 0)  # the parent uses it before it forks, or not
assert e.flush(timeout=30)
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        track(500)
        os._exit(0 if e.close(timeout=30) else 1)
    children.append(pid)
track(100)
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
print(json.dumps({"codes": codes, "ok": e.flush(timeout=30), "pids": e.sender_pids()}))
"""


@pytest.mark.parametrize("used_before_fork", ["yes", "no"])
def test_forked_hosts_connect_anew(
    counting_collector: Collector, pool_dir: str, used_before_fork: str
) -> None:
    """As gunicorn --preload: the children of a host that holds a connection (or none yet) each
    connect for themselves; every event arrives once, through one sender."""
    proc = run_script(FORKS, counting_collector.endpoint, used_before_fork)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["codes"] == [0, 0, 0] and result["ok"]
    expected = 3 * 500 + 100 + (300 if used_before_fork == "yes" else 0)
    stats = counting_collector.stats()
    assert stats["unique_eids"] == stats["events"] == expected
    assert [p.pid for p in senders_of(pool_dir)] == result["pids"]


@pytest.mark.parametrize("problem", ["other user", "open to others"])
def test_a_pool_folder_that_is_not_private_is_not_used(
    collector: Collector,
    pool_dir: str,
    problem: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A folder of another user, or one others can enter: the emitter starts its own senders."""
    folder = os.path.join(pool_dir, "snowplow-tracker")
    os.mkdir(folder, 0o700)
    if problem == "other user":
        if os.getuid() == 0:
            os.chown(folder, 65534, 65534)
        else:  # a link to root's folder
            os.rmdir(folder)
            os.symlink("/", folder)
    else:
        os.chmod(folder, 0o755)
    with caplog.at_level(logging.WARNING, logger="snowplow_tracker"):
        emitter = ProcessEmitter(collector.endpoint, shared_pool=True, process_count=1)
    try:
        assert not emitter.shared_pool
        assert "starting this emitter's own senders" in caplog.text
        emitter.input(event())
        assert emitter.flush(timeout=30)
        assert collector.wait_for_events(1)
        assert emitter.sender_pids() and not senders_of(pool_dir)
        assert not [n for n in os.listdir(folder) if n.endswith(".sock")]
    finally:
        emitter.close(timeout=10)
