"""Runs the suite: each variant and scenario in a process of its own, against a local collector.

Order of events: (1) the anchor virtualenv is created or reused when anchor variants are
selected; (2) the project's collector starts in count mode; (3) ``redis-server`` starts when a
Redis or Celery variant is selected; (4) for every variant and scenario, the services the
variant needs start (a RedisWorker or Celery worker pointed at the right collector),
``perf/worker.py`` runs the scenario and prints its measurements, and a sampler thread here
records the resident memory of the worker process and of every sender process; (5) the report
is written. Everything started is stopped in ``finally`` blocks (and by ``atexit``).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, TypeVar

import psutil

from snowplow_tracker.testing.redis_server import free_port

from . import report
from .anchor import ANCHOR_VERSION, clean_env, ensure_anchor_venv
from .collector import ROOT, CollectorProcess, LatencySink, repo_env
from .services import CeleryWorkerProcess, RedisServer, RedisWorkerProcess, workdir
from .summary import one_line, summarise
from .variants import ANCHOR_REFERENCE, DELAYS, LEGACY, MEMORY, Variant

WORKER = ROOT / "perf" / "worker.py"
RESULT_PREFIX = "PERF_RESULT "
#: ``fleet`` is not run per variant: :mod:`perf.fleet` runs servers of its own after the rest.
ALL_SCENARIOS = LEGACY + MEMORY + DELAYS + ("kinds", "fleet")
#: Scenarios whose memory timeline is kept (sampled every 5 ms), for peaks between phases.
TIMELINE_SCENARIOS = MEMORY


@dataclass
class Settings:
    """What to run and how much of it.

    Attributes:
        mode: ``smoke``, ``quick`` or ``full`` (names the defaults of the counts below).
        scenarios: Scenarios to run, in order.
        variants: The variants to run, in order.
        caller_events: Events per repetition of the caller-cost scenario.
        throughput_events: Events per repetition of the throughput scenario.
        slowdown_seconds: Seconds of workload per timed loop of the slowdown scenario.
        slowdown_rate: Events per second during the slowdown workload.
        latency_events: Events tracked in the latency scenario.
        latency_rate: Events per second in the latency scenario.
        repeats: Repetitions of each scenario (the report shows their median and spread).
        warmup: Events tracked (and delivered) before measuring.
        out: Output folder.
        burst_events: Events of the memory burst (200,000 in the full run).
        outage_events: Events tracked while the collector is down (300,000 in the full run).
        settle_seconds: Idle seconds after the burst's flush before the "after" RSS reading.
        recover_seconds: At most this long for the outage's events to be delivered or counted.
        delay_seconds: Steady-state seconds measured per collector-delay scenario.
        ramp_seconds: Ramp-up seconds before them.
        kinds_events: Calls per event kind and repetition in the ``kinds`` scenario.
        plan: Per variant, the scenarios to run (``--smoke``); None: every scenario it has.
    """

    mode: str
    scenarios: List[str]
    variants: List[Variant]
    caller_events: int
    throughput_events: int
    slowdown_seconds: float
    slowdown_rate: float
    latency_events: int
    latency_rate: float
    repeats: int
    warmup: int
    out: Path
    burst_events: int = 200_000
    outage_events: int = 300_000
    settle_seconds: float = 5.0
    recover_seconds: float = 20.0
    delay_seconds: float = 3.0
    ramp_seconds: float = 1.0
    kinds_events: int = 3000
    plan: Optional[Dict[str, Optional[Sequence[str]]]] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    def scenarios_for(self, variant: Variant) -> List[str]:
        """The selected scenarios that ``variant`` runs, in order."""
        chosen = (self.plan or {}).get(variant.name) or variant.scenarios
        return [s for s in self.scenarios if s in variant.scenarios and s in chosen]


# ------------------------------------------------------------------------------ progress


class Progress:
    """One line per step on stderr: step number, elapsed time, what runs, how it went."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.start = time.monotonic()

    def _prefix(self) -> str:
        elapsed = int(time.monotonic() - self.start)
        return f"[{self.done + 1:>2}/{self.total} {elapsed // 60:d}:{elapsed % 60:02d}]"

    def note(self, text: str) -> None:
        """A line about the suite itself (setup, services)."""
        elapsed = int(time.monotonic() - self.start)
        print(f"[perf {elapsed // 60:d}:{elapsed % 60:02d}] {text}", file=sys.stderr, flush=True)

    def begin(self, text: str) -> float:
        """A step starts; returns its start time."""
        print(f"{self._prefix()} {text} ...", file=sys.stderr, flush=True)
        return time.monotonic()

    def end(self, started: float, text: str) -> None:
        """The step ended."""
        took = time.monotonic() - started
        print(f"{self._prefix()}   -> {text} ({took:.1f} s)", file=sys.stderr, flush=True)
        self.done += 1


# ------------------------------------------------------------------------------ memory


class _Sampler:
    """A daemon thread that runs :meth:`_run` between ``__enter__`` and ``__exit__``."""

    name = "perf-sampler"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=self.name)

    def __enter__(self: _T) -> _T:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        raise NotImplementedError


_T = TypeVar("_T", bound=_Sampler)


class MemorySampler(_Sampler):
    """Samples, every ``interval`` seconds, the RSS of a host process and of its senders.

    Senders are the host's descendants plus the ``extra`` processes (a Redis or Celery worker)
    and their descendants. Peaks of the host, of the senders together, and of both at once.
    """

    name = "perf-memory"

    def __init__(
        self,
        host_pid: int,
        extra_pids: Sequence[int],
        interval: float = 0.05,
        timeline: bool = False,
        senders_every: int = 1,
    ) -> None:
        super().__init__(interval)
        self.host_pid = host_pid
        self.extra_pids = list(extra_pids)
        self.senders_every = senders_every
        self.peak_host = 0
        self.peak_senders = 0
        self.peak_total = 0
        self.max_senders_seen = 0
        #: ``(time.time(), host RSS)`` per sample when ``timeline`` is set.
        self.timeline: Optional[List[Tuple[float, int]]] = [] if timeline else None

    @staticmethod
    def _rss(proc: psutil.Process) -> int:
        try:
            return int(proc.memory_info().rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return 0

    def _run(self) -> None:
        try:
            host = psutil.Process(self.host_pid)
        except psutil.NoSuchProcess:
            return
        extras = []
        for pid in self.extra_pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                extras.append(psutil.Process(pid))
        senders: List[psutil.Process] = []
        sample = 0
        while not self._stop.is_set():
            host_rss = self._rss(host)
            if self.timeline is not None:
                self.timeline.append((time.time(), host_rss))
            if sample % self.senders_every == 0:  # listing children scans /proc: less often
                senders = []
                for root in [host, *extras]:
                    with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
                        senders.extend(root.children(recursive=True))
                senders.extend(extras)
            sample += 1
            sender_rss = sum(self._rss(p) for p in senders)
            self.peak_host = max(self.peak_host, host_rss)
            self.peak_senders = max(self.peak_senders, sender_rss)
            self.peak_total = max(self.peak_total, host_rss + sender_rss)
            self.max_senders_seen = max(self.max_senders_seen, len(senders))
            self._stop.wait(self.interval)

    def peak_between(self, start: float, end: float) -> Optional[int]:
        """The highest host RSS sampled from ``start`` to ``end`` (``time.time()``)."""
        if not self.timeline:
            return None
        values = [rss for t, rss in self.timeline if start <= t <= end]
        return max(values) if values else None


class ConnectionSampler(_Sampler):
    """The most TCP connections seen open at once on a collector's port (every 20 ms).

    A fallback for the requests in flight when the collector's ``/_stats`` does not report
    them: an open connection carries at most one request, so this is an upper bound, and close
    to the figure when every connection of the emitter waits on a delayed answer.
    """

    name = "perf-connections"

    def __init__(self, pid: int, port: int, interval: float = 0.02) -> None:
        super().__init__(interval)
        self.pid = pid
        self.port = port
        self.max_open = 0

    def _run(self) -> None:
        try:
            proc = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        connections = getattr(proc, "net_connections", None) or proc.connections
        while not self._stop.is_set():
            try:
                conns = connections(kind="tcp")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                return
            open_now = sum(
                1
                for c in conns
                if c.laddr and c.laddr.port == self.port and c.status == psutil.CONN_ESTABLISHED
            )
            self.max_open = max(self.max_open, open_now)
            self._stop.wait(self.interval)


def in_flight_keys(stats: Dict[str, Any]) -> Dict[str, Any]:
    """The collector's in-flight figures, whatever their names (``max_in_flight``, ...)."""
    return {k: v for k, v in stats.items() if "flight" in k}


# ------------------------------------------------------------------------------ one step


def _percentile(values: List[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Suite:
    """The running suite: the collector, the services, the anchor python."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.workdir = workdir()
        self.collector: Optional[CollectorProcess] = None
        self.redis: Optional[RedisServer] = None
        self.anchor_python: Optional[Path] = None
        self.progress = Progress(sum(len(settings.scenarios_for(v)) for v in settings.variants))
        self.errors: List[str] = []

    # -- services ---------------------------------------------------------------------------

    def _setup(self) -> None:
        variants = self.settings.variants
        if any(v.lib == "anchor" for v in variants):
            self.progress.note(f"anchor: snowplow-tracker=={ANCHOR_VERSION} in perf/.venv-anchor")
            self.anchor_python = ensure_anchor_venv(log=self.progress.note)
        self.collector = CollectorProcess().start()
        self.progress.note(
            f"collector (count mode) on {self.collector.url}, pid {self.collector.pid}"
        )
        if any("redis" in v.needs for v in variants):
            self.redis = RedisServer(self.workdir).start()
            self.progress.note(f"redis-server on port {self.redis.port}")

    def _teardown(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        if self.collector is not None:
            self.collector.stop()

    def _start_variant_services(
        self, variant: Variant, host: str, port: int, spec: Dict[str, Any]
    ) -> List[Any]:
        """Start the workers a variant needs, pointed at ``host:port``; fill ``spec``."""
        started: List[Any] = []
        if variant.kind == "redis":
            assert self.redis is not None
            key = f"perf-{uuid.uuid4().hex[:8]}"
            spec["options"]["redis_port"] = self.redis.port
            spec["options"]["key"] = key
            started.append(
                RedisWorkerProcess(self.redis.url, key, host, port, self.workdir).start()
            )
        elif variant.kind == "celery":
            assert self.redis is not None
            worker = CeleryWorkerProcess(self.redis.url, self.workdir, f"{host}:{port}")
            started.append(worker.start())
            spec["env"] = {"SNOWPLOW_CELERY_BROKER_URL": self.redis.url}
        return started

    # -- one variant x scenario --------------------------------------------------------------

    def _spec(self, variant: Variant, scenario: str, host: str, port: int) -> Dict[str, Any]:
        s = self.settings
        scale = variant.scale_for(scenario)
        delay_ms = int(scenario[len("delay") :]) if scenario in DELAYS else None
        events = {
            "caller": max(50, int(s.caller_events * scale)),
            "throughput": max(100, int(s.throughput_events * scale)),
            "latency": s.latency_events,
            "slowdown": 0,
            "burst": max(100, int(s.burst_events * scale)),
            "outage": max(100, int(s.outage_events * scale)),
            "kinds": max(20, int(s.kinds_events * scale)),
        }.get(scenario, 0)
        single = scenario == "latency" or scenario in MEMORY or scenario in DELAYS
        spec: Dict[str, Any] = {
            "lib": variant.lib,
            "variant": variant.name,
            "kind": variant.kind,
            "options": variant.emitter_options(),
            "scenario": scenario,
            "collector_host": host,
            "collector_port": port,
            "events": events,
            "repeats": 1 if single else s.repeats,
            "warmup": max(20, int(s.warmup * scale)),  # sync GET at 200 ms: 5 events/s
            "rate": s.slowdown_rate if scenario == "slowdown" else s.latency_rate,
            "seconds": s.slowdown_seconds * (0.25 if scale < 0.5 else 1.0),
            "timeout": 600.0,
            # Memory scenarios.
            "settle_s": s.settle_seconds,
            "recover_s": s.recover_seconds,
            "track_limit_s": 60.0,
            "flush_timeout": 2.0,
        }
        if delay_ms is not None:
            spec.update(delay_ms=delay_ms, seconds=s.delay_seconds, ramp_s=s.ramp_seconds)
            spec["timeout"] = 60.0
        if scenario in MEMORY:
            spec["timeout"] = 120.0  # the wait for delivery after the burst
        if scenario == "outage":
            spec["own_collector"] = {
                "argv": [*list(CollectorProcess().argv[:-1]), str(port)],
                "env": {"PYTHONPATH": str(ROOT)},
                "port": port,
            }
        return spec

    def _worker_command(
        self, variant: Variant, spec: Dict[str, Any]
    ) -> Tuple[List[str], Dict[str, str], str]:
        if variant.lib == "anchor":
            assert self.anchor_python is not None
            cwd = tempfile.mkdtemp(prefix="perf-anchor-", dir=str(self.workdir))
            return [str(self.anchor_python), "-I", str(WORKER), json.dumps(spec)], clean_env(), cwd
        env = repo_env()
        env.update(spec.pop("env", {}))
        return [sys.executable, str(WORKER), json.dumps(spec)], env, str(ROOT)

    def run_step(self, variant: Variant, scenario: str) -> Dict[str, Any]:
        """Run one scenario of one variant; the worker's result plus memory and latency."""
        assert self.collector is not None
        sink: Optional[Any] = None
        services: List[Any] = []
        try:
            delayed: Optional[CollectorProcess] = None
            if scenario == "latency":
                sink = LatencySink(self.workdir / f"latency-{variant.name}.json").start()
                host, port = sink.host, sink.port
            elif scenario in DELAYS:
                # A collector of its own, answering late, whose connections are counted.
                delayed = CollectorProcess().start()  # the worker sets the delay
                sink = delayed
                host, port = delayed.host, delayed.port
            elif scenario == "outage":  # the worker runs (stops, restarts) this collector
                host, port = "127.0.0.1", free_port()
            else:
                host, port = self.collector.host, self.collector.port
            spec = self._spec(variant, scenario, host, port)
            services = self._start_variant_services(variant, host, port, spec)
            extra = [svc.proc.pid for svc in services if getattr(svc, "proc", None) is not None]
            spec["sender_pids"] = extra
            argv, env, cwd = self._worker_command(variant, spec)
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=cwd,
                start_new_session=True,  # its senders and collectors: one group to clean up
            )
            timeline = scenario in TIMELINE_SCENARIOS
            fast = timeline or scenario == "throughput"  # peaks of issue 9: every 5 ms
            conns = ConnectionSampler(delayed.pid, delayed.port) if delayed else None
            with (
                MemorySampler(
                    proc.pid,
                    extra,
                    interval=0.005 if fast else 0.05,
                    timeline=timeline,
                    senders_every=10 if fast else 1,
                ) as memory,
                conns or contextlib.nullcontext(),
            ):
                try:
                    out, err = proc.communicate(timeout=spec["timeout"] + 120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    out, err = proc.communicate(timeout=10)
                finally:
                    with contextlib.suppress(OSError):
                        os.killpg(proc.pid, signal.SIGKILL)  # whatever it left running
            result = self._parse(out, err, proc.returncode, variant, scenario)
            result["memory"] = {
                "host_peak_mb": memory.peak_host / 2**20,
                "senders_peak_mb": memory.peak_senders / 2**20,
                "total_peak_mb": memory.peak_total / 2**20,
                "sender_processes": memory.max_senders_seen,
            }
            for rep in result.get("reps") or []:
                phases = rep.get("phases") or {}
                if phases:
                    peak = memory.peak_between(phases["start"], max(phases.values()))
                    if peak is not None:
                        rep["peak_growth_mb"] = peak / 2**20 - rep["rss_base_mb"]
            if delayed is not None and conns is not None:
                result["in_flight"] = {
                    "max_open_connections": conns.max_open,
                    **in_flight_keys(delayed.stats()),
                }
            result["spec"] = {
                k: v
                for k, v in spec.items()
                if k not in ("collector_host", "collector_port", "own_collector")
            }
            if scenario == "latency" and sink is not None:
                result["latency"] = self._latency(sink, spec["events"])
                sink = None
            return result
        finally:
            for svc in services:
                svc.stop()
            if sink is not None:
                sink.stop()

    @staticmethod
    def _latency(sink: LatencySink, expected: int) -> Dict[str, Any]:
        pairs = sink.arrivals()
        delays = [(received - sent) / 1e6 for sent, received in pairs]
        return {
            "received": len(pairs),
            "expected": expected,
            "p50_ms": _percentile(delays, 0.50),
            "p99_ms": _percentile(delays, 0.99),
            "max_ms": max(delays) if delays else float("nan"),
        }

    def _parse(
        self, out: bytes, err: bytes, status: Optional[int], variant: Variant, scenario: str
    ) -> Dict[str, Any]:
        for line in out.decode(errors="replace").splitlines():
            if line.startswith(RESULT_PREFIX):
                result: Dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
                if "error" in result:
                    self.errors.append(f"{variant.name}/{scenario}: {result['error']}")
                    result["stderr"] = err.decode(errors="replace")[-3000:]
                return result
        message = f"{variant.name}/{scenario}: worker exited {status} without a result"
        self.errors.append(message)
        return {
            "variant": variant.name,
            "scenario": scenario,
            "error": message,
            "stderr": err.decode(errors="replace")[-3000:],
        }

    # -- the whole run -----------------------------------------------------------------------

    def run(self) -> Dict[str, Any]:
        """Run every selected variant and scenario; returns the raw results."""
        s = self.settings
        started = time.time()
        raw: Dict[str, Dict[str, Any]] = {}
        try:
            self._setup()
            for variant in s.variants:
                raw[variant.name] = {}
                for scenario in s.scenarios_for(variant):
                    t0 = self.progress.begin(f"{variant.name:<20} {scenario}")
                    try:
                        result = self.run_step(variant, scenario)
                    except Exception as exc:  # noqa: BLE001 - record the failure, go on
                        result = {
                            "variant": variant.name,
                            "scenario": scenario,
                            "error": f"{type(exc).__name__}: {exc}",
                        }
                        self.errors.append(f"{variant.name}/{scenario}: {result['error']}")
                    raw[variant.name][scenario] = result
                    self.progress.end(t0, one_line(result))
        finally:
            self._teardown()
        return {
            "settings": _settings_dict(s),
            "machine": _machine(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
            "duration_s": time.time() - started,
            "variants": {
                v.name: {
                    "lib": v.lib,
                    "kind": v.kind,
                    "description": v.description,
                    "options": v.emitter_options(),
                    "scenarios": s.scenarios_for(v),
                }
                for v in s.variants
            },
            "raw": raw,
            "summary": summarise(raw),
            "reference": ANCHOR_REFERENCE,
            "errors": self.errors,
        }


def _settings_dict(s: Settings) -> Dict[str, Any]:
    data = asdict(s)
    data["variants"] = [v.name for v in s.variants]
    data["out"] = str(s.out)
    return data


def _machine() -> Dict[str, Any]:
    freq = psutil.cpu_freq()
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "logical_cpus": psutil.cpu_count(logical=True),
        "cpu_mhz": freq.current if freq else None,
        "memory_gb": psutil.virtual_memory().total / 2**30,
        "load_avg": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def run(settings: Settings) -> Tuple[Dict[str, Any], Path]:
    """Run the suite and write its report; returns the results and the output folder."""
    suite = Suite(settings)
    results = suite.run()
    if "fleet" in settings.scenarios:
        from . import fleet

        started = time.time()
        no_anchor = not any(v.lib == "anchor" for v in settings.variants)
        rows = fleet.run_for_suite(settings.mode, no_anchor, suite.progress.note)
        results["fleet"] = rows
        results["errors"] += fleet.problems(rows)
        results["duration_s"] += time.time() - started
    settings.out.mkdir(parents=True, exist_ok=True)
    report.write_all(results, settings.out)
    suite.progress.note(f"report written to {settings.out}")
    return results, settings.out
