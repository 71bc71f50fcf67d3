"""What every scenario of :mod:`perf.worker` uses: the collector client, the tracker target.

Like ``worker.py``, this module runs under this project's ``snowplow_tracker`` *and* under the
published ``snowplow-tracker==1.1.0`` (anchor virtualenv, ``python -I``). It is imported as a
top-level module (``worker.py`` puts its own folder on ``sys.path``), so it imports nothing from
the ``perf`` package: only the standard library, ``psutil`` and the tracker under test.
"""

from __future__ import annotations

import http.client
import inspect
import json
import os
import signal
import subprocess
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import psutil

CONTEXT_SCHEMA = "iglu:com.acme/perf_context/jsonschema/1-0-0"


# ------------------------------------------------------------------------------ collector


class CollectorClient:
    """Reads the counts of a collector (``GET /_stats``) over one keep-alive connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._conn: Optional[http.client.HTTPConnection] = None
        self._lock = threading.Lock()

    def stats(self) -> Dict[str, Any]:
        """The collector's ``/_stats`` JSON (thread-safe)."""
        with self._lock:
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

    def control(self, doc: Dict[str, Any]) -> None:
        """``POST /_control`` (e.g. ``{"delay": 0.05}``: answer every tracker request late)."""
        with self._lock:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                conn.request("POST", "/_control", body=json.dumps(doc).encode())
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"POST /_control {doc}: HTTP {response.status}")
            finally:
                conn.close()

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


def delivered_since(before: Dict[str, Any], after: Dict[str, Any], tracked: int) -> Dict[str, int]:
    """Delivered (new distinct ``eid``), lost and duplicated events between two stats reads."""
    delivered = int(after["unique_eids"]) - int(before["unique_eids"])
    return {
        "delivered": delivered,
        "lost": tracked - delivered,
        "duplicates": int(after["duplicates"]) - int(before["duplicates"]),
    }


class OwnCollector:
    """A collector process this worker starts, stops and starts again on the same port.

    The outage scenario needs a collector that refuses connections (nothing listens), then
    comes back. ``config`` comes from the runner: ``argv`` (the project's collector command,
    with ``--port``), ``env`` (added to this process's environment) and ``port``.
    """

    def __init__(self, config: Dict[str, Any]) -> None:
        self.argv: List[str] = list(config["argv"])
        self.env = dict(os.environ, **config.get("env", {}))
        self.host = "127.0.0.1"
        self.port = int(config["port"])
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self, timeout: float = 30.0) -> None:
        """Start it and wait (bounded) for its ``listening on`` line."""
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env
        )
        assert self.proc.stdout is not None
        ready = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                if line.startswith(b"listening on "):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"the outage collector did not start on port {self.port}")

    def stop(self) -> None:
        """SIGTERM, bounded wait, SIGKILL: afterwards the port refuses connections."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# ------------------------------------------------------------------------------ process figures


def rss_bytes(proc: Optional[psutil.Process] = None) -> int:
    """Resident set size of a process (default: this one)."""
    return int((proc or psutil.Process()).memory_info().rss)


def cpu_seconds(procs: List[psutil.Process]) -> float:
    """User + system CPU seconds of the processes (those gone count 0)."""
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        total += times.user + times.system
    return total


class SenderCpu:
    """CPU used by the processes that send for the host: its descendants and ``extra_pids``.

    A process first seen after :meth:`start` counts from 0; one that ended is counted with its
    last reading.
    """

    def __init__(self, extra_pids: List[int]) -> None:
        self.extra_pids = list(extra_pids)
        self._start: Dict[int, float] = {}
        self._last: Dict[int, float] = {}

    def _read(self) -> Dict[int, float]:
        procs: List[psutil.Process] = []
        for pid in [psutil.Process().pid, *self.extra_pids]:
            try:
                root = psutil.Process(pid)
                procs.extend(root.children(recursive=True))
                if pid != psutil.Process().pid:
                    procs.append(root)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return {p.pid: cpu_seconds([p]) for p in procs}

    def start(self) -> None:
        """Take the starting readings."""
        self._start = self._read()
        self._last = dict(self._start)

    def seconds(self) -> float:
        """CPU seconds used by the senders since :meth:`start`."""
        self._last.update(self._read())
        return sum(cpu - self._start.get(pid, 0.0) for pid, cpu in self._last.items())


# ------------------------------------------------------------------------------ tracker


def accepted_keywords(cls: Any) -> Optional[Set[str]]:
    """The keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up the MRO.

    Returns:
        The names, or None when some ``__init__`` takes ``**kwargs`` that lead nowhere known
        (then every keyword is passed on).
    """
    names: Set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        names.update(p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names
    return None


def construct(cls: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Tuple[Any, List[str]]:
    """``cls(*args, **kwargs)`` without the keywords ``cls`` does not accept.

    The variant table may name options that only a newer library has (``max_queue_bytes``,
    ``max_in_flight``): they are left out, and listed, instead of failing the run.

    Returns:
        The instance and the names of the keywords left out.
    """
    accepted = accepted_keywords(cls)
    ignored = [] if accepted is None else sorted(k for k in kwargs if k not in accepted)
    used = {k: v for k, v in kwargs.items() if k not in ignored}
    return cls(*args, **used), ignored


class NoopEmitter:
    """An emitter whose ``input`` does nothing but count: the Tracker's cost alone."""

    def __init__(self) -> None:
        self.count = 0

    def input(self, payload: Dict[str, Any]) -> None:
        """Count the event and forget it."""
        self.count += 1

    def flush(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to send."""


class FailureCounter:
    """An ``on_failure(sent_count, unsent_events)`` callback that counts the unsent events."""

    def __init__(self) -> None:
        self.events = 0
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, sent: int, unsent: List[Any]) -> None:
        with self._lock:
            self.events += len(unsent)
            self.calls += 1


class Target:
    """A tracker, its emitter and how to flush and close it, for either library."""

    def __init__(self, spec: Dict[str, Any]) -> None:
        import snowplow_tracker as sp

        self.spec = spec
        self.lib = spec["lib"]
        self.library_file = sp.__file__
        self.library_version = getattr(sp, "__version__", "?")
        self.failures = FailureCounter()
        self.ignored_options: List[str] = []
        kind = spec["kind"]
        #: False for the no-op emitter: nothing reaches a collector.
        self.delivers = kind != "noop"
        opts: Dict[str, Any] = dict(spec.get("options") or {})
        host, port = spec["collector_host"], spec["collector_port"]
        self.emitter = self._build_emitter(kind, host, port, opts)
        # Submodules: both libraries have them, whatever the package root exports.
        from snowplow_tracker.self_describing_json import SelfDescribingJson

        self.tracker = self.make_tracker(self.emitter)
        self.context = [
            SelfDescribingJson(
                CONTEXT_SCHEMA, {"suite": "perf", "variant": spec["variant"], "shard": 7}
            )
        ]

    @staticmethod
    def make_tracker(emitter: Any) -> Any:
        """The suite's tracker (subject, namespace, app id) around ``emitter``."""
        from snowplow_tracker.subject import Subject
        from snowplow_tracker.tracker import Tracker

        subject = Subject().set_user_id("perf-user-42").set_platform("srv")
        params = inspect.signature(Tracker.__init__).parameters
        if list(params)[1] == "namespace":  # 1.x: Tracker(namespace, emitters, ...)
            return Tracker(namespace="perf", emitters=emitter, subject=subject, app_id="perf-app")
        return Tracker(emitter, subject=subject, namespace="perf", app_id="perf-app")

    def _build_emitter(self, kind: str, host: str, port: int, opts: Dict[str, Any]) -> Any:
        method = opts.pop("method", "post")
        buffer_size = opts.pop("buffer_size", None)
        if kind == "noop":
            return NoopEmitter()
        common = {"protocol": "http", "port": port, "method": method, "on_failure": self.failures}
        if self.lib == "anchor":
            # 1.1.0: batch_size instead of buffer_size; endpoint and port apart.
            from snowplow_tracker.emitters import AsyncEmitter as AnchorAsync
            from snowplow_tracker.emitters import Emitter as AnchorEmitter

            cls = AnchorAsync if kind == "async" else AnchorEmitter
            return self._construct(cls, host, dict(common, batch_size=buffer_size, **opts))
        # This project: the package root's names (the public API, whatever the module layout).
        import snowplow_tracker as sp

        if kind == "redis":
            import redis

            rdb = redis.Redis(host="127.0.0.1", port=int(opts.pop("redis_port")))
            key = opts.pop("key")
            kwargs = dict(opts, buffer_size=buffer_size or 1, on_failure=self.failures)
            return self._construct(sp.RedisEmitter, rdb, kwargs, key)
        classes = {
            "emitter": sp.Emitter,
            "async": sp.AsyncEmitter,
            "process": sp.ProcessEmitter,
            "celery": sp.CeleryEmitter,
        }
        if kind == "celery":  # its callbacks would run in the Celery worker: refused
            common.pop("method")
            common.pop("on_failure")
        if kind in classes:
            return self._construct(
                classes[kind], host, dict(common, buffer_size=buffer_size, **opts)
            )
        raise ValueError(f"unknown emitter kind {kind!r}")

    def _construct(self, cls: Any, first: Any, kwargs: Dict[str, Any], *more: Any) -> Any:
        instance, self.ignored_options = construct(cls, (first, *more), kwargs)
        return instance

    def track(self, label: str) -> None:
        """Track the suite's event: a structured event with a subject and one context."""
        self.tracker.track_struct_event("perf", "track", label, "prop", 1.5, self.context)

    def stats(self) -> Dict[str, Any]:
        """The emitter's ``stats()`` as a dict (this project), or ``{}``."""
        stats = getattr(self.emitter, "stats", None)
        if self.lib == "anchor" or not callable(stats):
            return {}
        value = stats()
        as_dict: Optional[Callable[[], Dict[str, Any]]] = getattr(value, "as_dict", None)
        if as_dict is not None:
            return dict(as_dict())
        return dict(vars(value)) if hasattr(value, "__dict__") else {}

    def flush_async(self) -> None:
        """Ask the emitter to send what it buffers, without waiting where it can."""
        flush = self.emitter.flush
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


def percentile(sorted_values: List[float], q: float) -> float:
    """The ``q`` quantile of already sorted values (nearest rank)."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def deliver(
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
    return deliver(target, client, before["events"] + events, 60.0)
