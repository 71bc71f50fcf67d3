"""The fleet scenario (issue 19): what the emitter costs a host that runs a server of workers.

``python -m perf.fleet --workers 4 8 --requests 4000`` serves :mod:`perf.fleet_app` (one
``track_struct_event`` per request, tracker and emitter built at import with their defaults)
with gunicorn (sync workers, with and without ``--preload``) on a free loopback port, drives it
with a bounded client load, then sends SIGTERM to the master, and measures the whole server as
one host:

- processes and threads of the server's process tree (the most seen), by role (master, workers,
  senders, ``multiprocessing`` resource trackers, other);
- PSS and USS summed over the tree (``psutil`` ``memory_full_info``; the highest sum seen,
  sampled every second during the load and once after it);
- TCP connections to the collector: the most open at once and the total opened, counted by the
  collector's server (:mod:`perf.fleet_collector`);
- requests answered, events delivered (distinct ``eid``), lost (answered requests minus
  delivered) and duplicated, at the collector, after the server exited;
- seconds from SIGTERM to the last process of the server gone, and what still ran 5 s after it.

Rows: ``noop`` (the app with an emitter whose ``input`` does nothing: the app's own cost), this
project's ``ProcessEmitter`` (``process``; ``process-shared``: the same app with
``SNOWPLOW_TRACKER_SHARED_POOL=1``, one set of senders for every worker) and ``AsyncEmitter``, and
the published 1.1.0 ``AsyncEmitter`` (gunicorn from the anchor virtualenv of :mod:`perf.anchor`,
``python -I``).

``python -m perf.fleet --sender-memory`` measures where a lone sender's memory goes: RSS, USS and
PSS of a sender (and of any other process the emitter started), the sender's modules by
top-level package, and the USS each import step adds in a fresh interpreter. ``--overhead`` runs
the suite's ``kinds`` and ``slowdown`` scenarios (:mod:`perf.runner`) for ``ProcessEmitter`` with
its defaults and for the no-op emitter in the same run: the caller overhead and the slowdown, each
beside the no-op row.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import psutil

from snowplow_tracker.testing.redis_server import free_port

from .anchor import clean_env, ensure_anchor_venv
from .collector import ROOT, _ServerProcess, repo_env

PERF_DIR = ROOT / "perf"
MB = 2**20
#: What still runs this long after SIGTERM is reported (the targets' "nothing left running").
LEFT_AFTER_S = 5.0
#: After this long the server's session is killed.
KILL_AFTER_S = 15.0


@dataclass(frozen=True)
class FleetVariant:
    """One row of the fleet table.

    Attributes:
        name: Row name.
        lib: ``ours`` (this repository) or ``anchor`` (``snowplow-tracker==1.1.0``).
        kind: ``FLEET_KIND`` of :mod:`perf.fleet_app`: ``noop``, ``process`` or ``async``.
        description: The settings, as written in the report.
        shared: The server runs with ``SNOWPLOW_TRACKER_SHARED_POOL=1`` (and a pool folder of
            its own): its workers' ``ProcessEmitter`` share one set of senders, which are
            measured with the server's tree.
    """

    name: str
    lib: str
    kind: str
    description: str
    shared: bool = False


VARIANTS = [
    FleetVariant("noop", "ours", "noop", "the app with an emitter whose input() does nothing"),
    FleetVariant("process", "ours", "process", "ProcessEmitter(host, port=p): defaults"),
    FleetVariant(
        "process-shared",
        "ours",
        "process",
        "the same, with SNOWPLOW_TRACKER_SHARED_POOL=1: one set of senders for the workers",
        shared=True,
    ),
    FleetVariant("async", "ours", "async", "AsyncEmitter(host, port=p): defaults"),
    FleetVariant(
        "anchor-async", "anchor", "async", "snowplow-tracker 1.1.0 AsyncEmitter: defaults"
    ),
]


# ------------------------------------------------------------------------------ pure helpers


def role_of(proc_info: Dict[str, Any], master_pid: int) -> str:
    """The role of a process of the server's tree, from its parent and command line.

    Args:
        proc_info: ``pid``, ``ppid`` and ``cmdline`` (a string) of the process.
        master_pid: The gunicorn master's pid.

    Returns:
        ``master``, ``resource tracker``, ``sender``, ``worker`` or ``other``.
    """
    cmdline = proc_info.get("cmdline") or ""
    if proc_info["pid"] == master_pid:
        return "master"
    if "resource_tracker" in cmdline:
        return "resource tracker"
    if "snowplow-sender" in cmdline or "sender_process" in cmdline:
        return "sender"
    if "multiprocessing" in cmdline or "spawn_main" in cmdline or "forkserver" in cmdline:
        return "sender"
    if proc_info.get("ppid") == master_pid:
        return "worker"
    return "other"


def role_counts(infos: Sequence[Dict[str, Any]], master_pid: int) -> Dict[str, int]:
    """How many processes of each role (roles in a fixed order, absent ones left out)."""
    order = ["master", "worker", "sender", "resource tracker", "other"]
    counts = {role: 0 for role in order}
    for info in infos:
        counts[role_of(info, master_pid)] += 1
    return {role: n for role, n in counts.items() if n}


def role_totals(roles: Iterable[str]) -> Dict[str, int]:
    """How many of each role, in the fixed order of :func:`role_counts`."""
    order = ["master", "worker", "sender", "resource tracker", "other"]
    found = list(roles)
    return {role: found.count(role) for role in order if role in found}


def last_gone_by_role(roles: Dict[int, str], gone_at: Dict[int, float]) -> Dict[str, float]:
    """Per role, the seconds after SIGTERM when its last process was gone (if all were)."""
    out: Dict[str, float] = {}
    for role in role_totals(roles.values()):
        pids = [pid for pid, r in roles.items() if r == role]
        if all(pid in gone_at for pid in pids):
            out[role] = max(gone_at[pid] for pid in pids)
    return out


def describe_roles(counts: Dict[str, int]) -> str:
    """``1 master, 4 workers, 4 senders, 4 resource trackers``."""
    return ", ".join(f"{n} {role}{'s' if n > 1 else ''}" for role, n in counts.items())


def top_packages(
    modules: Sequence[Tuple[str, str]], stdlib: str = "", top: int = 8
) -> List[Dict[str, Any]]:
    """Modules grouped by package, the largest (bytes on disk) first.

    A file imported under several names (``requests.packages.urllib3`` is ``urllib3``) counts
    once, under its shortest name. Modules of the standard library (files under ``stdlib``)
    form two groups, pure Python and extension modules; built-in modules (no file) one more.

    Args:
        modules: ``(module name, file)`` pairs (``file`` empty for built-in modules).
        stdlib: The standard library's folder (``sysconfig.get_paths()["stdlib"]``).
        top: How many packages to return; the rest are summed in one ``(others)`` entry.

    Returns:
        ``{"package", "modules", "bytes"}`` per package, where ``bytes`` is the size on disk
        of the compiled module (``.pyc`` in ``__pycache__`` when present, else the file).
    """
    by_file: Dict[str, str] = {}
    builtins = 0
    for name, file in modules:
        if not file:
            builtins += 1
        elif file not in by_file or len(name) < len(by_file[file]):
            by_file[file] = name
    groups: Dict[str, Dict[str, Any]] = {}
    if builtins:
        groups["(built-in)"] = {"package": "(built-in, no file)", "modules": builtins, "bytes": 0}
    for file, name in by_file.items():
        if stdlib and file.startswith(stdlib.rstrip("/") + "/") and "site-packages" not in file:
            package = "(stdlib, extensions)" if file.endswith(".so") else "(stdlib)"
        else:
            package = name.split(".", 1)[0]
        group = groups.setdefault(package, {"package": package, "modules": 0, "bytes": 0})
        group["modules"] += 1
        group["bytes"] += _compiled_size(file)
    ordered = sorted(groups.values(), key=lambda g: (-g["bytes"], -g["modules"], g["package"]))
    head, rest = ordered[:top], ordered[top:]
    if rest:
        head.append(
            {
                "package": f"(others: {len(rest)} packages)",
                "modules": sum(g["modules"] for g in rest),
                "bytes": sum(g["bytes"] for g in rest),
            }
        )
    return head


def _compiled_size(file: str) -> int:
    if not file:
        return 0
    if file.endswith(".py"):
        import importlib.util

        with contextlib.suppress(ValueError, NotImplementedError):
            cached = importlib.util.cache_from_source(file)
            if os.path.exists(cached):
                return os.path.getsize(cached)
    try:
        return os.path.getsize(file)
    except OSError:
        return 0


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ the server


class CountingCollector(_ServerProcess):
    """:mod:`perf.fleet_collector` in a subprocess: count mode plus TCP connection counts.

    Its own reads (``/_stats``, ``/_control``) go over one keep-alive connection, whose opens
    are counted, so that :meth:`connections` gives the server's connections alone.
    """

    name = "fleet-collector"

    def __init__(self) -> None:
        super().__init__([sys.executable, "-m", "perf.fleet_collector"])
        self._conn: Optional[http.client.HTTPConnection] = None
        self.own_opened = 0

    def _request(self, method: str, path: str, body: Optional[bytes] = None) -> Any:
        for attempt in range(3):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                self._conn.connect()
                self.own_opened += 1
            try:
                self._conn.request(method, path, body=body)
                response = self._conn.getresponse()
                data = response.read()
                if response.status != 200:
                    raise RuntimeError(f"{method} {path}: HTTP {response.status}")
                return json.loads(data) if data else None
            except (OSError, http.client.HTTPException):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def stats(self) -> Dict[str, Any]:
        """``GET /_stats``."""
        data: Dict[str, Any] = self._request("GET", "/_stats")
        return data

    def set_delay(self, seconds: float) -> None:
        """``POST /_control {"delay": seconds}``: answer every tracker request late."""
        self._request("POST", "/_control", json.dumps({"delay": seconds}).encode())

    def connections(self, timeout: float = 10.0) -> Dict[str, Optional[int]]:
        """Stop the collector; the connections the server opened and the most open at once.

        This client's connection (open throughout) is taken off both figures.
        """
        own = self.own_opened
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.stop(timeout)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            for line in list(self._lines):
                text = line.decode(errors="replace")
                if text.startswith("FLEET_CONNECTIONS "):
                    counts: Dict[str, Optional[int]] = json.loads(text.split(" ", 1)[1])
                    opened, max_open = counts.get("opened"), counts.get("max_open")
                    return {
                        "opened": opened - own if opened is not None else None,
                        "max_open": max(0, max_open - 1) if max_open is not None else None,
                    }
            time.sleep(0.05)
        return {"opened": None, "max_open": None}


def _tree(master: psutil.Process, pool_dir: str = "") -> List[psutil.Process]:
    procs = [master]
    with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
        procs += master.children(recursive=True)
    return procs + (shared_senders(pool_dir) if pool_dir else [])


def shared_senders(pool_dir: str) -> List[psutil.Process]:
    """The shared senders whose sockets are in ``pool_dir`` (outside the server's tree: they
    run in a session of their own)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if cmdline.startswith("snowplow-sender[shared " + pool_dir + "/"):
            found.append(proc)
    return found


def _info(proc: psutil.Process) -> Optional[Dict[str, Any]]:
    try:
        with proc.oneshot():
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return {
                "pid": proc.pid,
                "ppid": proc.ppid(),
                "cmdline": " ".join(proc.cmdline()),
                "threads": proc.num_threads(),
            }
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _memory(proc: psutil.Process) -> Optional[Tuple[int, int, int]]:
    try:
        mem = proc.memory_full_info()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return int(mem.rss), int(mem.uss), int(getattr(mem, "pss", 0))


class TreeSampler(threading.Thread):
    """Samples the server's tree: processes and threads every 0.1 s, memory every 1 s."""

    def __init__(self, master_pid: int, pool_dir: str = "") -> None:
        super().__init__(daemon=True, name="fleet-sampler")
        self.master = psutil.Process(master_pid)
        self.pool_dir = pool_dir  # shared senders' folder, sampled with the tree
        self.master_pid = master_pid
        self.stop_event = threading.Event()
        self.max_processes = 0
        self.max_threads = 0
        self.roles: Dict[str, int] = {}
        self.peak: Dict[str, Any] = {"pss": 0, "uss": 0, "rss": 0, "by_role": {}}
        self.seen: Dict[int, psutil.Process] = {}

    def counts(self) -> List[Dict[str, Any]]:
        """One count sample; returns the infos."""
        procs = _tree(self.master, self.pool_dir)
        for proc in procs:
            self.seen.setdefault(proc.pid, proc)
        infos = [i for i in (_info(p) for p in procs) if i is not None]
        if len(infos) >= self.max_processes:
            self.max_processes = len(infos)
            self.roles = role_counts(infos, self.master_pid)
        self.max_threads = max(self.max_threads, sum(i["threads"] for i in infos))
        return infos

    def memory(self) -> None:
        """One memory sample of the whole tree (the highest PSS sum is kept)."""
        infos = self.counts()
        total = {"pss": 0, "uss": 0, "rss": 0}
        by_role: Dict[str, float] = {}
        for info in infos:
            mem = _memory(self.seen[info["pid"]])
            if mem is None:
                continue
            rss, uss, pss = mem
            total["rss"] += rss
            total["uss"] += uss
            total["pss"] += pss
            role = role_of(info, self.master_pid)
            by_role[role] = by_role.get(role, 0.0) + pss / MB
        if total["pss"] > self.peak["pss"]:
            self.peak = {**total, "by_role": by_role}

    def run(self) -> None:
        last_memory = 0.0
        while not self.stop_event.is_set():
            now = time.monotonic()
            if now - last_memory >= 1.0:
                self.memory()
                last_memory = time.monotonic()
            else:
                self.counts()
            self.stop_event.wait(0.1)

    def stop(self) -> None:
        """End the sampling thread."""
        self.stop_event.set()
        self.join(10)


def _session_processes(sid: int) -> List[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getsid(proc.pid) == sid and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (OSError, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def _alive(procs: Sequence[psutil.Process]) -> List[psutil.Process]:
    alive = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return alive


def _get(port: int, path: str, timeout: float = 10.0) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return int(response.status)
    finally:
        conn.close()


def _wait_ready(port: int, master: psutil.Process, workers: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            children = master.children()
            if len(children) >= workers and _get(port, "/health", 2.0) == 200:
                # Every worker answers once it imported the app: a few rounds of health checks.
                for _ in range(workers * 3):
                    _get(port, "/health", 5.0)
                return
        if not master.is_running():
            break
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer on port {port} within {timeout} s")


def drive(port: int, requests: int, concurrency: int) -> Dict[str, Any]:
    """``requests`` GET /track from ``concurrency`` threads; a connection per request."""
    lock = threading.Lock()
    state = {"next": 0, "ok": 0, "failed": 0}

    def client() -> None:
        while True:
            with lock:
                if state["next"] >= requests:
                    return
                state["next"] += 1
            try:
                status = _get(port, "/track", 30.0)
            except (OSError, http.client.HTTPException):
                status = 0
            with lock:
                state["ok" if status == 200 else "failed"] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    seconds = time.monotonic() - started
    return {"ok": state["ok"], "failed": state["failed"], "seconds": seconds}


def _settle(collector: CountingCollector, timeout: float = 5.0) -> Dict[str, Any]:
    """The collector's stats once its event count stopped moving for 0.5 s (bounded)."""
    deadline = time.monotonic() + timeout
    stats = collector.stats()
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = collector.stats()
        if now["events"] != stats["events"]:
            stats, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= 0.5:
            return now
    return collector.stats()


@contextlib.contextmanager
def _gunicorn(
    variant: FleetVariant,
    workers: int,
    preload: bool,
    collector: CountingCollector,
    anchor_python: Optional[Path],
    log_dir: Path,
) -> Iterator[Tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    if variant.lib == "anchor":
        assert anchor_python is not None
        python, isolated, env = str(anchor_python), ["-I"], clean_env()
        cwd = tempfile.mkdtemp(prefix="fleet-anchor-", dir=str(log_dir))
    else:
        python, isolated, env, cwd = sys.executable, [], repo_env(), str(ROOT)
    env.update(FLEET_KIND=variant.kind, FLEET_COLLECTOR=f"{collector.host}:{collector.port}")
    env.pop("SNOWPLOW_TRACKER_SHARED_POOL", None)
    if variant.shared:
        env.update(SNOWPLOW_TRACKER_SHARED_POOL="1", XDG_RUNTIME_DIR=str(log_dir))
    argv = [
        python,
        *isolated,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--pythonpath",
        str(PERF_DIR),
        "--log-level",
        "warning",
        *(["--preload"] if preload else []),
        "fleet_app:app",
    ]
    log = open(log_dir / f"gunicorn-{variant.name}-{workers}-{int(preload)}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
    )
    try:
        yield proc, port
    finally:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        for sender in shared_senders(pool_dir(log_dir)) if variant.shared else []:
            with contextlib.suppress(psutil.NoSuchProcess):
                sender.kill()
        log.close()


def pool_dir(log_dir: Path) -> str:
    """The shared senders' folder of a server run with ``XDG_RUNTIME_DIR=log_dir``."""
    return str(log_dir / "snowplow-tracker")


def run_one(
    variant: FleetVariant,
    workers: int,
    preload: bool,
    requests: int,
    anchor_python: Optional[Path],
    log_dir: Path,
    delay_ms: int = 0,
) -> Dict[str, Any]:
    """One server: start, load, SIGTERM; the figures of one row of the fleet table."""
    row: Dict[str, Any] = {
        "variant": variant.name,
        "lib": variant.lib,
        "workers": workers,
        "preload": preload,
        "requests": requests,
    }
    collector = CountingCollector().start()
    try:
        if delay_ms:
            collector.set_delay(delay_ms / 1000.0)
        with _gunicorn(variant, workers, preload, collector, anchor_python, log_dir) as (
            proc,
            port,
        ):
            master = psutil.Process(proc.pid)
            _wait_ready(port, master, workers, 60.0)
            collector.stats()  # its keep-alive connection is open during the load
            sampler = TreeSampler(proc.pid, pool_dir(log_dir) if variant.shared else "")
            sampler.start()
            load = drive(port, requests, concurrency=min(16, 2 * workers))
            sampler.stop()
            sampler.memory()  # the end of the load: everything alive, queues draining
            by_pid = {p.pid: p for p in [*sampler.seen.values(), *_session_processes(proc.pid)]}
            known = list(by_pid.values())
            roles = {
                info["pid"]: role_of(info, proc.pid)
                for info in (_info(p) for p in known)
                if info is not None
            }
            sigterm = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            gone_after: Optional[float] = None
            gone_at: Dict[int, float] = {}  # pid: seconds after SIGTERM when first seen gone
            left: Dict[str, int] = {}
            checked_left = False
            while time.monotonic() - sigterm < KILL_AFTER_S:
                proc.poll()
                alive = _alive(known)
                now = time.monotonic() - sigterm
                alive_pids = {p.pid for p in alive}
                for pid in by_pid:
                    if pid not in alive_pids:
                        gone_at.setdefault(pid, now)
                if not alive:
                    gone_after = now
                    break
                if not checked_left and now >= LEFT_AFTER_S:
                    checked_left = True
                    left = role_totals(roles.get(p.pid, "other") for p in alive)
                time.sleep(0.02)
            if gone_after is None:  # SIGKILL what is left, the session and strays
                for stray in _alive(known):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        stray.kill()
        stats = _settle(collector)
        connections = collector.connections()
    finally:
        collector.stop()
    delivered = int(stats["unique_eids"])
    row.update(
        processes=sampler.max_processes,
        roles=sampler.roles,
        threads=sampler.max_threads,
        pss_mb=sampler.peak["pss"] / MB,
        uss_mb=sampler.peak["uss"] / MB,
        rss_mb=sampler.peak["rss"] / MB,
        pss_by_role_mb=sampler.peak["by_role"],
        tcp_opened=connections.get("opened"),
        tcp_max_open=connections.get("max_open"),
        answered=load["ok"],
        failed_requests=load["failed"],
        load_s=load["seconds"],
        delivered=delivered,
        lost=load["ok"] - delivered if variant.kind != "noop" else None,
        duplicated=int(stats["duplicates"]),
        exit_s=gone_after,
        exit_by_role_s=last_gone_by_role(roles, gone_at),
        left_after_5s=left,
    )
    return row


def run_fleet(
    workers: Sequence[int],
    requests: int,
    variants: Sequence[FleetVariant],
    preload: str = "first",
    delay_ms: int = 0,
    log: Any = print,
) -> List[Dict[str, Any]]:
    """Every variant x worker count x preload; a row each (an ``error`` key if it failed).

    ``preload``: ``no``, ``yes``, ``both``, or ``first`` (both for the first worker count,
    without for the others), as :func:`preload_plan` reads it.
    """
    anchor_python = None
    if any(v.lib == "anchor" for v in variants):
        anchor_python = ensure_anchor_venv(log=log)
        ensure_gunicorn(anchor_python)
    rows = []
    with tempfile.TemporaryDirectory(prefix="perf-fleet-") as tmp:
        for count, pre in preload_plan(workers, preload):
            for variant in variants:
                t0 = time.monotonic()
                try:
                    row = run_one(variant, count, pre, requests, anchor_python, Path(tmp), delay_ms)
                except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                    log_file = Path(tmp) / f"gunicorn-{variant.name}-{count}-{int(pre)}.log"
                    tail = log_file.read_text(errors="replace")[-1500:] if log_file.exists() else ""
                    row = {
                        "variant": variant.name,
                        "lib": variant.lib,
                        "workers": count,
                        "preload": pre,
                        "error": f"{type(exc).__name__}: {exc}\n{tail}",
                    }
                log(
                    f"fleet {variant.name} workers={count} preload={pre}: {_one_line(row)} "
                    f"({time.monotonic() - t0:.1f} s)"
                )
                rows.append(row)
    return rows


def preload_plan(workers: Sequence[int], preload: str) -> List[Tuple[int, bool]]:
    """The servers to run, ``(workers, --preload or not)``, in order.

    Args:
        workers: The worker counts.
        preload: ``no``, ``yes``, ``both``, or ``first`` (without and with ``--preload`` for
            the first worker count, without for the others).

    Raises:
        ValueError: ``preload`` is none of these.
    """
    choices = {"no": [False], "yes": [True], "both": [False, True]}
    if preload == "first":
        return [
            (n, pre)
            for i, n in enumerate(workers)
            for pre in ([False, True] if i == 0 else [False])
        ]
    if preload not in choices:
        raise ValueError(f"preload_plan: preload must be no, yes, both or first, got {preload!r}")
    return [(n, pre) for n in workers for pre in choices[preload]]


def ensure_gunicorn(python: Path) -> None:
    """Install gunicorn into the anchor virtualenv when it lacks it."""
    env = clean_env()
    check = [str(python), "-I", "-c", "import gunicorn"]
    if subprocess.run(check, capture_output=True, env=env, timeout=60).returncode == 0:
        return
    install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    proc = subprocess.run(
        [*install, "gunicorn"], capture_output=True, text=True, env=env, timeout=300
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pip install gunicorn (anchor venv) failed:\n{proc.stderr[-2000:]}")


def _one_line(row: Dict[str, Any]) -> str:
    if "error" in row:
        return "ERROR " + str(row["error"]).splitlines()[0]
    return (
        f"{row['processes']} processes, {row['threads']} threads, PSS {row['pss_mb']:.0f} MB, "
        f"TCP {row['tcp_opened']} opened, lost {row['lost']}, dup {row['duplicated']}, "
        f"exit {_seconds(row['exit_s'])}"
    )


def _exit(row: Dict[str, Any]) -> str:
    """``1.59 s (workers 1.2, senders 1.5)``: the whole tree, then per role."""
    by_role = row.get("exit_by_role_s") or {}
    parts = [f"{role}s {by_role[role]:.1f}" for role in ("worker", "sender") if role in by_role]
    return _seconds(row["exit_s"]) + (f" ({', '.join(parts)})" if parts else "")


def _seconds(value: Optional[float]) -> str:
    return f"{value:.2f} s" if value is not None else f"> {KILL_AFTER_S:.0f} s"


def _by_role(by_role: Dict[str, float]) -> str:
    """``master 20, workers 150, senders 90, resource trackers 25`` (MB)."""
    order = ["master", "worker", "sender", "resource tracker", "other"]
    plural = {"master": "master", "other": "other"}
    return ", ".join(
        f"{plural.get(role, role + 's')} {by_role[role]:.0f}"
        for role in order
        if by_role.get(role, 0.0) >= 0.5
    )


def fleet_markdown(rows: Sequence[Dict[str, Any]]) -> str:
    """The fleet table: one row per server, PSS also as a multiple of the 1.1.0 server's."""
    anchor = {
        (r["workers"], r["preload"]): r["pss_mb"]
        for r in rows
        if r.get("lib") == "anchor" and "error" not in r
    }
    noop = {
        (r["workers"], r["preload"]): r["pss_mb"]
        for r in rows
        if r.get("variant") == "noop" and "error" not in r
    }
    headers = [
        "variant",
        "workers",
        "preload",
        "processes",
        "threads",
        "PSS MB",
        "PSS by role MB",
        "x 1.1.0",
        "+ over no-op MB",
        "USS MB",
        "TCP max open / opened",
        "answered",
        "delivered",
        "lost",
        "dup",
        "load s",
        "SIGTERM -> exit",
        "left at 5 s",
    ]
    table = []
    for r in rows:
        key = (r["workers"], r["preload"])
        if "error" in r:
            table.append(
                [r["variant"], r["workers"], "yes" if r["preload"] else "no"]
                + ["error: " + r["error"].splitlines()[0]]
                + [""] * (len(headers) - 4)
            )
            continue
        ref = anchor.get(key)
        base = noop.get(key)
        table.append(
            [
                r["variant"],
                r["workers"],
                "yes" if r["preload"] else "no",
                f"{r['processes']}: {describe_roles(r['roles'])}",
                r["threads"],
                f"{r['pss_mb']:.0f}",
                _by_role(r["pss_by_role_mb"]),
                f"{r['pss_mb'] / ref:.2f}" if ref else "-",
                f"{r['pss_mb'] - base:+.0f}" if base is not None else "-",
                f"{r['uss_mb']:.0f}",
                f"{r['tcp_max_open']} / {r['tcp_opened']}",
                r["answered"]
                if not r["failed_requests"]
                else f"{r['answered']} ({r['failed_requests']} failed)",
                r["delivered"],
                r["lost"] if r["lost"] is not None else "-",
                r["duplicated"],
                f"{r['load_s']:.1f}",
                _exit(r),
                describe_roles(r["left_after_5s"]) or "nothing",
            ]
        )
    return markdown_table(headers, table)


def _ok(
    rows: Sequence[Dict[str, Any]], name: str, workers: int, preload: bool
) -> Optional[Dict[str, Any]]:
    for r in rows:
        if (
            r.get("variant") == name
            and r.get("workers") == workers
            and r.get("preload") == preload
            and "error" not in r
        ):
            return r
    return None


def fleet_targets(rows: Sequence[Dict[str, Any]], variant: str = "process") -> List[List[Any]]:
    """Issue 19's targets for the ``variant`` rows: ``[target, server, figure, goal, met]``.

    PSS of the whole server <= 1.5x the 1.1.0 server's (4 workers); at most one process added
    per worker (over the ``noop`` server); 0 lost, 0 duplicated; nothing running 5 s after
    SIGTERM; with 8 workers, no more added processes than with 4 (a pool that does not grow
    with the workers).
    """
    out: List[List[Any]] = []
    keys = sorted({(r["workers"], r["preload"]) for r in rows})

    def add(
        text: str, key: Tuple[int, bool], figure: Optional[float], goal: str, met: bool
    ) -> None:
        server = f"{key[0]} workers{', --preload' if key[1] else ''}"
        shown = "-" if figure is None else (f"{figure:.2f}" if figure % 1 else f"{figure:.0f}")
        out.append([text, server, shown, goal, "yes" if met else "**no**"])

    for key in keys:
        mine = _ok(rows, variant, *key)
        if mine is None:
            continue
        anchor, noop = _ok(rows, "anchor-async", *key), _ok(rows, "noop", *key)
        if anchor is not None and key[0] == 4:
            ratio = mine["pss_mb"] / anchor["pss_mb"]
            add("PSS of the server / 1.1.0's", key, ratio, "<= 1.5", ratio <= 1.5)
        if noop is not None:
            per_worker = (mine["processes"] - noop["processes"]) / key[0]
            add("processes added per worker", key, per_worker, "<= 1", per_worker <= 1)
        add("lost", key, mine["lost"], "0", mine["lost"] == 0)
        add("duplicated", key, mine["duplicated"], "0", mine["duplicated"] == 0)
        left = sum(mine["left_after_5s"].values())
        add("processes left 5 s after SIGTERM", key, left, "0", not left)
    for key in keys:
        if key[0] <= 4:
            continue
        small = [k for k in keys if k[1] == key[1] and k[0] < key[0]]
        if not small:
            continue
        base = small[-1]
        big_p, big_n = _ok(rows, variant, *key), _ok(rows, "noop", *key)
        small_p, small_n = _ok(rows, variant, *base), _ok(rows, "noop", *base)
        if None in (big_p, big_n, small_p, small_n):
            continue
        assert big_p and big_n and small_p and small_n
        grown = (big_p["processes"] - big_n["processes"]) - (
            small_p["processes"] - small_n["processes"]
        )
        add(
            f"processes added going from {base[0]} to {key[0]} workers", key, grown, "0", grown <= 0
        )
    return out


def fleet_section(rows: Sequence[Dict[str, Any]]) -> str:
    """The fleet table, its targets and how it was measured (Markdown)."""
    text = fleet_markdown(rows) + "\n\n" + FLEET_NOTE
    for variant in ("process", "process-shared"):
        targets = fleet_targets(rows, variant)
        if targets:
            text += f"\n\nTargets of issue 19 (the `{variant}` rows):\n\n" + markdown_table(
                ["target", "server", "figure", "goal", "met"], targets
            )
    return text


FLEET_NOTE = (
    "gunicorn, sync workers, on loopback; the app builds `Tracker` + emitter at import "
    "(`perf/fleet_app.py`, emitter defaults) and tracks one `track_struct_event` per request; "
    "the load: GET requests from 2 x workers client threads (at most 16), a connection each; "
    "then SIGTERM to the master. *processes*, *threads*: the most seen in the server's process "
    "tree (every 0.1 s), with the shared senders of `process-shared` (started by the first "
    "worker, in a session of their own); *PSS*, *USS*: sums over the tree, the highest seen "
    "(every 1 s during the load and once after it); *x 1.1.0*: PSS / the 1.1.0 server's PSS; "
    "*+ over no-op*: PSS "
    "minus the `noop` server's (the app without an emitter); *PSS by role*: the same sum per "
    "role. *TCP*: connections to the "
    "collector, the most open at once / the total opened, counted by the collector's server. "
    "*delivered*: distinct event ids at the collector once the server is gone; *lost*: "
    "answered requests minus delivered. *SIGTERM -> exit*: until the last process of the tree "
    "is gone (shared senders: their idle timeout after the last worker left); *left at 5 s*: "
    "what still ran 5 s after SIGTERM (killed after "
    f"{KILL_AFTER_S:.0f} s)."
)


# ------------------------------------------------------------------------------ sender memory

#: Import steps of a fresh interpreter, measured one after the other (USS after each): what a
#: sender process imports, in order of dependency.
IMPORT_STEPS = [
    (
        "threads, sockets, multiprocessing.connection (the channel to the host)",
        "import threading, socket, multiprocessing.connection",
    ),
    ("stdlib HTTP (http.client, ssl, urllib.parse)", "import http.client, ssl, urllib.parse"),
    ("orjson", "import orjson"),
    ("urllib3, certifi", "import urllib3, certifi"),
    (
        "snowplow_tracker's sender modules",
        "import snowplow_tracker.emitters.process.sender_process",
    ),
]

#: A ``sitecustomize`` module put on a probed sender's ``PYTHONPATH``: in the sender (its title
#: is in ``sys.argv``), a daemon thread writes ``sys.modules`` to ``OUT.modules-PID.json`` a
#: moment after it started. It imports what a sender imports anyway.
SENDER_HOOK = r"""
import os, sys
_out = os.environ.get("FLEET_PROBE_OUT")
if _out and any(a.startswith("snowplow-sender[") for a in sys.argv):
    import json, threading, time

    def _dump_modules():
        time.sleep(1.5)
        modules = [
            [name, getattr(module, "__file__", None) or ""]
            for name, module in sorted(sys.modules.items())
            if module is not None
        ]
        with open(f"{_out}.modules-{os.getpid()}.json", "w") as fh:
            json.dump(modules, fh)

    threading.Thread(target=_dump_modules, daemon=True).start()
"""

_STEPS_SCRIPT = r"""
import gc, json, sys
def rollup():
    out = {}
    with open("/proc/self/smaps_rollup") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return {"rss": out.get("Rss", 0), "pss": out.get("Pss", 0),
            "uss": out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)}
steps = json.loads(sys.argv[1])
result = [{"step": "python -c (bare)", "modules": len(sys.modules), **rollup()}]
for name, code in steps:
    exec(code)
    gc.collect()
    result.append({"step": name, "modules": len(sys.modules), **rollup()})
print(json.dumps(result))
"""


def import_steps() -> List[Dict[str, Any]]:
    """USS, PSS and module count after each of :data:`IMPORT_STEPS` in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", _STEPS_SCRIPT, json.dumps(IMPORT_STEPS)],
        capture_output=True,
        text=True,
        env=repo_env(),
        cwd=str(ROOT),
        timeout=120,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"import steps failed: {proc.stderr[-2000:]}")
    steps: List[Dict[str, Any]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return steps


def sender_memory() -> Dict[str, Any]:
    """A lone sender (``process_count=1``): its processes' memory and its modules."""
    collector = CountingCollector().start()
    try:
        with tempfile.TemporaryDirectory(prefix="perf-sender-") as tmp:
            out = Path(tmp) / "probe.json"
            (Path(tmp) / "sitecustomize.py").write_text(SENDER_HOOK)
            env = repo_env()
            env["FLEET_PROBE_OUT"] = str(out)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (tmp, env.get("PYTHONPATH")) if p)
            proc = subprocess.run(
                [
                    sys.executable,
                    str(PERF_DIR / "fleet_sender_probe.py"),
                    collector.host,
                    str(collector.port),
                    str(out),
                ],
                capture_output=True,
                text=True,
                env=env,
                cwd=str(ROOT),
                timeout=120,
            )
            if proc.returncode != 0 or not out.exists():
                raise RuntimeError(f"sender probe failed: {proc.stderr[-2000:]}")
            probe: Dict[str, Any] = json.loads(out.read_text())
            module_files = sorted(Path(tmp).glob("probe.json.modules-*.json"))
            modules: List[Tuple[str, str]] = []
            if module_files:
                modules = [(m[0], m[1]) for m in json.loads(module_files[0].read_text())]
    finally:
        collector.stop()
    processes = []
    for child in probe["children"]:
        info = {"pid": child["pid"], "ppid": -1, "cmdline": child["cmdline"]}
        processes.append({**child, "role": role_of(info, -1)})
    return {
        "processes": processes,
        "host": probe["host"],
        "modules": len(modules),
        "packages": top_packages(modules, sysconfig.get_paths()["stdlib"]),
        "import_steps": import_steps(),
    }


def sender_markdown(data: Dict[str, Any]) -> str:
    """The sender memory tables: processes, import steps, packages."""
    procs = markdown_table(
        ["process", "threads", "RSS MB", "USS MB", "PSS MB"],
        [
            [
                p["role"],
                p["threads"],
                f"{p['rss'] / MB:.1f}",
                f"{p['uss'] / MB:.1f}",
                f"{p['pss'] / MB:.1f}" if p["pss"] is not None else "-",
            ]
            for p in data["processes"]
        ],
    )
    steps = data["import_steps"]
    step_rows = []
    for prev, step in zip([None, *steps[:-1]], steps):
        added = (step["uss"] - prev["uss"]) / MB if prev else step["uss"] / MB
        new_modules = step["modules"] - prev["modules"] if prev else step["modules"]
        step_rows.append(
            [
                step["step"],
                f"+{new_modules}",
                f"{added:+.1f}",
                f"{step['uss'] / MB:.1f}",
                f"{step['pss'] / MB:.1f}",
            ]
        )
    steps_table = markdown_table(
        ["import step (fresh interpreter)", "modules", "USS added MB", "USS MB", "PSS MB"],
        step_rows,
    )
    packages = markdown_table(
        ["package", "modules", "compiled KB on disk"],
        [[p["package"], p["modules"], f"{p['bytes'] / 1024:.0f}"] for p in data["packages"]],
    )
    return (
        "Every process a lone sender's emitter (`ProcessEmitter(process_count=1)`) started:\n\n"
        f"{procs}\n\nThe sender's `sys.modules`: {data['modules']} modules, by top-level package "
        f"(the largest first):\n\n{packages}\n\nWhat each import adds, one after the other:\n\n"
        f"{steps_table}\n"
    )


# ------------------------------------------------------------------------------ caller overhead


def caller_overhead(calls: int = 2000, repeats: int = 3, seconds: float = 0.5) -> Dict[str, Any]:
    """The suite's ``kinds`` and ``slowdown`` scenarios: ``ProcessEmitter`` defaults vs no-op.

    Both rows run in the same suite run, against the suite's collector; ``kinds`` times
    ``track_struct_event`` with ``ProcessEmitter`` and with a no-op emitter interleaved in one
    process (the overhead ratio of issue 11 and 19); ``slowdown`` runs for each row apart.
    """
    from .runner import Settings, Suite
    from .summary import summarise
    from .variants import NOOP, Variant

    process = Variant(
        "process-default",
        "ours",
        "process",
        {"method": "post"},
        "ProcessEmitter(endpoint): every setting at its default",
        scenarios=("kinds", "slowdown"),
    )
    noop = Variant(NOOP, "ours", "noop", {}, "an emitter whose input() does nothing")
    with tempfile.TemporaryDirectory(prefix="perf-overhead-") as tmp:
        settings = Settings(
            mode="quick",
            scenarios=["kinds", "slowdown"],
            variants=[process, noop],
            caller_events=calls,
            throughput_events=1000,
            slowdown_seconds=seconds,
            slowdown_rate=10_000.0,
            latency_events=100,
            latency_rate=1000.0,
            repeats=repeats,
            warmup=200,
            out=Path(tmp),
            kinds_events=calls,
        )
        suite = Suite(settings)
        raw: Dict[str, Dict[str, Any]] = {process.name: {}, noop.name: {}}
        try:
            suite._setup()
            raw[process.name]["kinds"] = suite.run_step(process, "kinds")
            for variant in (process, noop):
                raw[variant.name]["slowdown"] = suite.run_step(variant, "slowdown")
        finally:
            suite._teardown()
    summary = summarise(raw)
    row, base = summary[process.name], summary[noop.name]
    mine = (row.get("kinds") or {}).get("struct_event")
    theirs = (row.get("kinds_noop") or {}).get("struct_event")
    return {
        "struct_event_us": mine,
        "struct_event_noop_us": theirs,
        "overhead": mine / theirs if mine and theirs else None,
        "slowdown": (row.get("slowdown") or {}).get("median"),
        "slowdown_noop": (base.get("slowdown") or {}).get("median"),
        "errors": suite.errors,
        "calls": calls,
        "repeats": repeats,
    }


def overhead_markdown(data: Dict[str, Any]) -> str:
    """The overhead rows, each beside the no-op row of the same run."""

    def fmt(value: Optional[float], pattern: str) -> str:
        return pattern.format(value) if value is not None else "-"

    rows = [
        [
            "`track_struct_event` CPU µs per call (kinds scenario, interleaved)",
            fmt(data["struct_event_us"], "{:.2f}"),
            fmt(data["struct_event_noop_us"], "{:.2f}"),
            fmt(data["overhead"], "x{:.2f}"),
            "<= x1.3",
        ],
        [
            "host slowdown (CPU loop, ~10,000 events/s)",
            fmt(data["slowdown"], "x{:.3f}"),
            fmt(data["slowdown_noop"], "x{:.3f}"),
            fmt(
                data["slowdown"] / data["slowdown_noop"]
                if data["slowdown"] and data["slowdown_noop"]
                else None,
                "x{:.3f}",
            ),
            "-",
        ],
    ]
    table = markdown_table(
        ["figure", "ProcessEmitter (defaults)", "no-op emitter", "ratio", "target"], rows
    )
    return (
        "The caller's cost, `ProcessEmitter` with its defaults beside a no-op emitter, in one "
        f"run (the suite's `kinds` scenario, {data['calls']} calls per kind and repetition, "
        f"{data['repeats']} repetitions, both trackers interleaved in one process; and its "
        "`slowdown` scenario for each):\n\n" + table
    )


# ------------------------------------------------------------------------------ command


#: The fleet's counts in ``python -m perf`` runs, per mode: worker counts, requests per server,
#: ``--preload`` settings, rows (None: all; the smoke runs without the anchor venv).
MODES: Dict[str, Dict[str, Any]] = {
    "smoke": {"workers": [2], "requests": 200, "preload": "no", "variants": ["process"]},
    "quick": {"workers": [4], "requests": 2000, "preload": "no", "variants": None},
    "full": {"workers": [4, 8], "requests": 4000, "preload": "first", "variants": None},
}


def run_for_suite(mode: str, no_anchor: bool, log: Any) -> List[Dict[str, Any]]:
    """The fleet rows of a ``python -m perf`` run in ``mode`` (see :data:`MODES`)."""
    counts = MODES[mode]
    names = counts["variants"]
    variants = [
        v
        for v in VARIANTS
        if (names is None or v.name in names) and not (no_anchor and v.lib == "anchor")
    ]
    return run_fleet(counts["workers"], counts["requests"], variants, counts["preload"], 0, log)


def problems(rows: Sequence[Dict[str, Any]]) -> List[str]:
    """Failed servers, and events the ``process`` rows lost or duplicated."""
    found = []
    for r in rows:
        where = f"fleet {r['variant']} workers={r['workers']} preload={r['preload']}"
        if "error" in r:
            found.append(f"{where}: {r['error'].splitlines()[0]}")
        elif r["variant"].startswith("process") and (r["lost"] or r["duplicated"]):
            found.append(f"{where}: {r['lost']} lost, {r['duplicated']} duplicated")
    return found


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m perf.fleet",
        description="The fleet scenario: a gunicorn server tracking one event per request, "
        "measured as one host (processes, threads, PSS, TCP connections, lost events, exit). "
        "Prints Markdown tables.",
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[4, 8], help="(4 8)")
    parser.add_argument("--requests", type=int, default=4000, help="requests per server (4000)")
    parser.add_argument(
        "--preload",
        choices=["no", "yes", "both", "first"],
        default="first",
        help="gunicorn --preload: without, with, both, or both for the first --workers count "
        "and without for the others (first)",
    )
    parser.add_argument(
        "--variants",
        default=",".join(v.name for v in VARIANTS),
        help=f"comma-separated, from {','.join(v.name for v in VARIANTS)} (all)",
    )
    parser.add_argument("--no-anchor", action="store_true", help="skip the 1.1.0 row")
    parser.add_argument(
        "--delay-ms", type=int, default=0, help="the collector answers this late (0)"
    )
    parser.add_argument(
        "--sender-memory",
        action="store_true",
        help="the lone sender's memory tables instead of the fleet",
    )
    parser.add_argument(
        "--overhead",
        action="store_true",
        help="the caller overhead and slowdown rows (ProcessEmitter vs no-op) instead",
    )
    parser.add_argument("--all", action="store_true", help="the fleet, sender memory, overhead")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="also write the tables into perf/RESULTS.md (between <!-- fleet --> markers)",
    )
    return parser


def published_section(argv: Sequence[str], seconds: float, parts: Sequence[str]) -> str:
    """The RESULTS.md section: the command, when, how long, on what, then the tables."""
    import platform

    from .kinds_compare import machine

    command = " ".join(["python -m perf.fleet", *argv])
    return (
        "## The server as one host (issue 19)\n\n"
        f"`{command}`, run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in "
        f"{seconds / 60:.1f} min ({machine()}, {platform.platform()}; load average "
        f"{os.getloadavg()[0]:.1f} at the end: the machine was shared).\n\n"
        + "\n\n".join(part.strip() for part in parts)
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the selected parts; print the tables (Markdown). Exit status 1 if a step failed."""
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    def log(text: str) -> None:
        print(f"[fleet] {text}", file=sys.stderr, flush=True)

    started = time.monotonic()
    results: Dict[str, Any] = {"argv": sys.argv[1:] if argv is None else list(argv)}
    parts: List[str] = []  # Markdown, each under a heading of its own
    found: List[str] = []
    if args.all or not (args.sender_memory or args.overhead):
        by_name = {v.name: v for v in VARIANTS}
        names = [n.strip() for n in args.variants.split(",") if n.strip()]
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise SystemExit(f"--variants: unknown {unknown}; known: {', '.join(by_name)}")
        variants = [
            by_name[n] for n in names if not (args.no_anchor and by_name[n].lib == "anchor")
        ]
        rows = run_fleet(args.workers, args.requests, variants, args.preload, args.delay_ms, log)
        results["fleet"] = rows
        found += problems(rows)
        parts.append("### gunicorn servers\n\n" + fleet_section(rows))
    if args.all or args.sender_memory:
        data = sender_memory()
        results["sender_memory"] = data
        parts.append("### A lone sender's memory\n\n" + sender_markdown(data))
    if args.all or args.overhead:
        data = caller_overhead()
        results["overhead"] = data
        found += data["errors"]
        parts.append("### Caller overhead\n\n" + overhead_markdown(data))
    results["seconds"] = time.monotonic() - started
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print("\n\n".join(part.strip() for part in parts))
    log(f"done in {results['seconds']:.0f} s")
    if args.publish:
        from .kinds_compare import publish

        section = published_section(results["argv"], results["seconds"], parts)
        publish(section, PERF_DIR / "RESULTS.md", "<!-- fleet -->", "<!-- /fleet -->")
    if found:
        print("perf.fleet: FAILED:\n  " + "\n  ".join(found), file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
