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
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import psutil

from . import report
from .anchor import ANCHOR_VERSION, clean_env, ensure_anchor_venv
from .collector import ROOT, CollectorProcess, LatencySink, repo_env
from .services import CeleryWorkerProcess, RedisServer, RedisWorkerProcess, workdir
from .variants import ANCHOR_REFERENCE, Variant

WORKER = ROOT / "perf" / "worker.py"
RESULT_PREFIX = "PERF_RESULT "
ALL_SCENARIOS = ("caller", "throughput", "slowdown", "latency")


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
    extra: Dict[str, Any] = field(default_factory=dict)


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


class MemorySampler:
    """Samples, every ``interval`` seconds, the RSS of a host process and of its senders.

    Senders are the host's descendants plus the ``extra`` processes (a Redis or Celery worker)
    and their descendants. Peaks of the host, of the senders together, and of both at once.
    """

    def __init__(self, host_pid: int, extra_pids: Sequence[int], interval: float = 0.05) -> None:
        self.host_pid = host_pid
        self.extra_pids = list(extra_pids)
        self.interval = interval
        self.peak_host = 0
        self.peak_senders = 0
        self.peak_total = 0
        self.max_senders_seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="perf-memory")

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

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
        while not self._stop.is_set():
            host_rss = self._rss(host)
            senders: List[psutil.Process] = []
            for root in [host, *extras]:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
                    senders.extend(root.children(recursive=True))
            senders.extend(extras)
            sender_rss = sum(self._rss(p) for p in senders)
            self.peak_host = max(self.peak_host, host_rss)
            self.peak_senders = max(self.peak_senders, sender_rss)
            self.peak_total = max(self.peak_total, host_rss + sender_rss)
            self.max_senders_seen = max(self.max_senders_seen, len(senders))
            self._stop.wait(self.interval)


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
        self.progress = Progress(len(settings.variants) * len(settings.scenarios))
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
            worker = CeleryWorkerProcess(self.redis.url, self.workdir)
            started.append(worker.start())
            spec["env"] = {"SNOWPLOW_CELERY_BROKER_URL": self.redis.url}
        return started

    # -- one variant x scenario --------------------------------------------------------------

    def _spec(self, variant: Variant, scenario: str, host: str, port: int) -> Dict[str, Any]:
        s = self.settings
        scale = variant.scale
        events = {
            "caller": max(50, int(s.caller_events * scale)),
            "throughput": max(100, int(s.throughput_events * scale)),
            "latency": s.latency_events,
            "slowdown": 0,
        }[scenario]
        return {
            "lib": variant.lib,
            "variant": variant.name,
            "kind": variant.kind,
            "options": dict(variant.options),
            "scenario": scenario,
            "collector_host": host,
            "collector_port": port,
            "events": events,
            "repeats": s.repeats if scenario != "latency" else 1,
            "warmup": s.warmup,
            "rate": s.slowdown_rate if scenario == "slowdown" else s.latency_rate,
            "seconds": s.slowdown_seconds * (0.25 if scale < 0.5 else 1.0),
            "timeout": 600.0,
        }

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
        sink: Optional[LatencySink] = None
        services: List[Any] = []
        try:
            if scenario == "latency":
                sink = LatencySink(self.workdir / f"latency-{variant.name}.json").start()
                host, port = sink.host, sink.port
            else:
                host, port = self.collector.host, self.collector.port
            spec = self._spec(variant, scenario, host, port)
            services = self._start_variant_services(variant, host, port, spec)
            argv, env, cwd = self._worker_command(variant, spec)
            proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd
            )
            extra = [svc.proc.pid for svc in services if getattr(svc, "proc", None) is not None]
            with MemorySampler(proc.pid, extra) as memory:
                try:
                    out, err = proc.communicate(timeout=spec["timeout"] + 120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    out, err = proc.communicate(timeout=10)
            result = self._parse(out, err, proc.returncode, variant, scenario)
            result["memory"] = {
                "host_peak_mb": memory.peak_host / 2**20,
                "senders_peak_mb": memory.peak_senders / 2**20,
                "total_peak_mb": memory.peak_total / 2**20,
                "sender_processes": memory.max_senders_seen,
            }
            result["spec"] = {
                k: v for k, v in spec.items() if k not in ("collector_host", "collector_port")
            }
            if sink is not None:
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
                for scenario in s.scenarios:
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
                    self.progress.end(t0, _one_line(result))
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
                    "options": v.options,
                }
                for v in s.variants
            },
            "raw": raw,
            "summary": summarise(raw),
            "reference": ANCHOR_REFERENCE,
            "errors": self.errors,
        }


def _one_line(result: Dict[str, Any]) -> str:
    if "error" in result:
        return "ERROR " + str(result["error"])[:200]
    reps = result.get("reps") or [{}]
    scenario = result.get("scenario")
    lost = sum(int(r.get("lost", 0)) for r in reps)
    if scenario == "caller":
        text = f"{statistics.median(r['cpu_us'] for r in reps):.1f} us CPU/call"
    elif scenario == "throughput":
        text = f"{statistics.median(r['events_per_s'] for r in reps):,.0f} events/s"
    elif scenario == "slowdown":
        text = f"slowdown x{statistics.median(r['ratio'] for r in reps):.3f}"
    elif scenario == "latency":
        lat = result.get("latency", {})
        p50, p99 = lat.get("p50_ms", float("nan")), lat.get("p99_ms", float("nan"))
        text = f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    else:
        text = "done"
    return f"{text}, lost {lost}"


def _stat(values: List[float]) -> Optional[Dict[str, float]]:
    values = [v for v in values if v is not None and v == v]
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def summarise(raw: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Medians and spreads per variant, and ratios to the reference variant."""
    summary: Dict[str, Dict[str, Any]] = {}
    for name, scenarios in raw.items():
        row: Dict[str, Any] = {"lost": 0, "duplicates": 0, "errors": []}
        for scenario, result in scenarios.items():
            if "error" in result:
                row["errors"].append(f"{scenario}: {result['error']}")
                continue
            reps = result.get("reps", [])
            row["lost"] += sum(int(r.get("lost", 0)) for r in reps)
            row["duplicates"] += sum(int(r.get("duplicates", 0)) for r in reps)
            if scenario == "caller":
                row["caller_cpu_us"] = _stat([r["cpu_us"] for r in reps])
                row["caller_wall_p50_us"] = _stat([r["wall_p50_us"] for r in reps])
                row["caller_wall_p99_us"] = _stat([r["wall_p99_us"] for r in reps])
            elif scenario == "throughput":
                row["throughput_eps"] = _stat([r["events_per_s"] for r in reps])
                row["throughput_lost"] = sum(int(r["lost"]) for r in reps)
                row["throughput_events"] = result.get("spec", {}).get("events")
                row["collector_cpu_share"] = _stat([r["collector_cpu_share"] for r in reps])
                mem = result.get("memory", {})
                row["mem_host_mb"] = mem.get("host_peak_mb")
                row["mem_senders_mb"] = mem.get("senders_peak_mb")
                row["sender_processes"] = mem.get("sender_processes")
            elif scenario == "slowdown":
                row["slowdown"] = _stat([r["ratio"] for r in reps])
                row["slowdown_rate"] = _stat([r["events_per_s"] for r in reps])
            elif scenario == "latency":
                lat = result.get("latency", {})
                row["latency_p50_ms"] = lat.get("p50_ms")
                row["latency_p99_ms"] = lat.get("p99_ms")
                row["latency_received"] = lat.get("received")
                row["latency_expected"] = lat.get("expected")
        summary[name] = row
    ref = summary.get(ANCHOR_REFERENCE)
    for row in summary.values():
        ratios: Dict[str, Optional[float]] = {}
        for key in ("caller_cpu_us", "throughput_eps", "slowdown"):
            mine, theirs = row.get(key), (ref or {}).get(key)
            ratios[key] = (
                mine["median"] / theirs["median"] if mine and theirs and theirs["median"] else None
            )
        for key in ("mem_host_mb", "mem_senders_mb", "latency_p50_ms", "latency_p99_ms"):
            mine, theirs = row.get(key), (ref or {}).get(key)
            ratios[key] = mine / theirs if mine is not None and theirs else None
        row["ratios"] = ratios
    return summary


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
    settings.out.mkdir(parents=True, exist_ok=True)
    report.write_all(results, settings.out)
    suite.progress.note(f"report written to {settings.out}")
    return results, settings.out
