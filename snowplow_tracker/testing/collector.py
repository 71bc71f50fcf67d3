"""An embedded local Snowplow collector, for the tests, the demo and the performance suite.

:class:`Collector` is a real HTTP/1.1 server on the loopback interface (keep-alive, every answer
carries a ``Content-Length``) that speaks the collector side of the tracker protocol:

- ``GET /i?<querystring>``: one event, the decoded querystring;
- ``POST /com.snowplowanalytics.snowplow/tp2`` with a ``payload_data`` self-describing JSON body:
  a batch of events;
- any other path answers 404; a POST body that is not a valid ``payload_data`` envelope whose
  events are objects of strings answers 400 (both are counted in ``bad_requests``).

In ``"record"`` mode every event is decoded and kept; in ``"count"`` mode (for benchmarks) only
events and event ids are counted, with a regex over the raw body. Its answers can be scripted
(status codes, delays, connection faults) to test how emitters handle failures, in-process or,
when it runs as a command, over HTTP (``GET /_stats``, ``POST /_reset``, ``POST /_control``).

Example:
    In a test::

        from snowplow_tracker.testing import Collector

        with Collector() as collector:
            emitter = Emitter(collector.endpoint, protocol="http")
            ...  # track events, flush
            assert collector.wait_for_events(3)
            assert [e["e"] for e in collector.events] == ["pv", "se", "ue"]
            collector.script([503, 200])  # the next request fails, the one after succeeds
            collector.set_fault("reset")  # every request is reset until set_fault(None)

    As a command (prints ``listening on http://127.0.0.1:PORT``, then one JSON line per event in
    record mode, and the final stats as one JSON line on SIGTERM or SIGINT)::

        python -m snowplow_tracker.testing.collector --port 9090 --mode count
        curl -s localhost:9090/_stats
        curl -s -X POST -d '{"script": [503, 200]}' localhost:9090/_control
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import (
    Any,
    BinaryIO,
    Callable,
    Deque,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Type,
    TypedDict,
    Union,
)
from urllib.parse import parse_qsl, unquote_plus

import orjson

try:
    import resource
except ImportError:  # pragma: no cover - not on POSIX
    resource = None  # type: ignore[assignment]

__all__ = [
    "FAULTS",
    "GET_PATH",
    "MODES",
    "PAYLOAD_DATA_SCHEMA",
    "POST_PATH",
    "Collector",
    "CollectorStats",
    "Event",
    "RecordedRequest",
    "main",
]

logger = logging.getLogger("snowplow_tracker.testing")

#: An event as it travels on the wire: a flat mapping of protocol field to string value.
Event = Dict[str, str]
#: A scripted answer: an HTTP status (200 to 599) or the name of a fault (see :data:`FAULTS`).
Answer = Union[int, str]

GET_PATH = "/i"
POST_PATH = "/com.snowplowanalytics.snowplow/tp2"
PAYLOAD_DATA_SCHEMA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
#: Like Snowplow Enrich, any payload_data 1-0-* envelope is accepted.
_PAYLOAD_DATA_PREFIX = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-"
_PAYLOAD_DATA_MARKER = _PAYLOAD_DATA_PREFIX.encode("ascii")
MODES = ("record", "count")
FAULTS = ("reset", "garbage", "hang")

#: Where a 3xx answer points by default: a control path that answers 200 and records nothing.
_REDIRECT_TARGET = "/_redirected"
_STATS_PATH = "/_stats"
_RESET_PATH = "/_reset"
_CONTROL_PATH = "/_control"
_EVENTS_PATH = "/_events"
_MAX_BODY = 64 * 1024 * 1024
_GARBAGE = b"\x00\x17\xffNOT-HTTP garbage from the test collector\r\n\r\n"
_EID_POST_RE = re.compile(rb'"eid":\s*"([^"]+)"')
_EID_GET_RE = re.compile(r"(?:^|&)eid=([^&]*)")
_E_KEY = b'"e":'
_STATUS_REASONS = {int(s): s.phrase for s in HTTPStatus}
_CONTROL_KEYS = frozenset({"status", "location", "delay", "script", "fault"})


class _StatsBase(TypedDict):
    requests: int
    events: int
    rejected_events: int
    unique_eids: int
    duplicates: int
    bad_requests: int
    cpu_seconds: float
    wall_seconds: float
    in_flight: int
    max_in_flight: int


class CollectorStats(_StatsBase, total=False):
    """What :meth:`Collector.stats` returns.

    Attributes:
        requests: Requests received on non-control paths, whatever was answered.
        events: Events of the requests answered 2xx or 3xx (accepted).
        rejected_events: Events of requests answered another status or with a fault.
        unique_eids: Distinct ``eid`` values among the accepted events.
        duplicates: Accepted events whose ``eid`` had already been accepted.
        bad_requests: Requests answered 400 (malformed), 404 (unknown path), 405 or 413.
        cpu_seconds: CPU time of the whole process since ``start()`` or the last clear.
        wall_seconds: Wall-clock time since ``start()`` or the last clear.
        in_flight: Tracker requests open now: received and not yet answered (held, delayed,
            hanging or being answered).
        max_in_flight: The most tracker requests open at once since ``start()`` or the last
            clear.
        ru_utime_seconds: User CPU time of the process since it started (``getrusage``).
        ru_stime_seconds: System CPU time of the process since it started (``getrusage``).
        ru_maxrss_kb: Peak resident set size of the process, in KiB (``getrusage``).
    """

    ru_utime_seconds: float
    ru_stime_seconds: float
    ru_maxrss_kb: int


@dataclass(frozen=True)
class RecordedRequest:
    """One request received by the collector (record mode only; control paths excluded).

    Attributes:
        method: The HTTP method, e.g. ``"POST"``.
        path: The path without the querystring.
        query: The raw querystring (without ``?``), ``""`` if none.
        headers: The request headers (on a repeated header the last value wins).
        body: The raw request body.
        status: The status answered, or 0 when a fault answered (reset, garbage, hang) or the
            collector stopped before answering.
        received_at: ``time.time()`` when the request was read.
        events: The events decoded from the request, whether they were accepted or not.
    """

    method: str
    path: str
    query: str
    headers: Dict[str, str]
    body: bytes
    status: int
    received_at: float
    events: Tuple[Event, ...] = field(default=())

    @property
    def accepted(self) -> bool:
        """Whether the answer was a 2xx or 3xx, i.e. the collector accepted the events."""
        return _is_accepted(self.status)


def _is_accepted(status: int) -> bool:
    return 200 <= status < 400


class _BadRequest(Exception):
    """A tracker request that cannot be decoded; answered 400."""


@dataclass
class _Decoded:
    events: List[Event]
    count: int
    eids: List[Any]  # str in record mode, bytes in count mode


def _check_status(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 599:
        raise ValueError(f"{where}: a status must be an int from 200 to 599, got {value!r}")
    return value


def _check_fault(value: object, where: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or value not in FAULTS:
        raise ValueError(f"{where}: a fault must be one of {FAULTS} or None, got {value!r}")
    return value


def _check_answer(value: object, where: str) -> Answer:
    if isinstance(value, str):
        fault = _check_fault(value, where)
        assert fault is not None
        return fault
    return _check_status(value, where)


def _check_delay(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{where}: a delay must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _check_host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        packed = socket.inet_aton(host)
    except (OSError, TypeError):
        packed = b""
    if len(packed) != 4 or packed[0] != 127 or host.count(".") != 3:
        raise ValueError(f"Collector: 'host' must be an IPv4 loopback address, got {host!r}")
    return host


class Collector:
    """A local Snowplow collector serving on a background thread of this process.

    Args:
        host: The IPv4 loopback address to listen on (``"localhost"`` means ``127.0.0.1``).
        port: The TCP port; 0 picks a free one (read it from :attr:`port` after :meth:`start`).
        mode: ``"record"`` decodes and keeps every request and event; ``"count"`` only counts
            requests, events and event ids (cheap, for benchmarks): :attr:`events` and
            :attr:`requests` then stay empty.
        on_event: Called with each accepted event (record mode only), on a server thread,
            after the event was recorded. Exceptions it raises are logged and ignored.

    Raises:
        ValueError: ``host`` is not a loopback address, or ``mode`` is unknown.

    Scripted answers (:meth:`respond_with`, :meth:`script`, :meth:`set_delay`,
    :meth:`set_fault`) apply to the two tracker endpoints only, never to the control paths.
    For each tracker request the collector reads the body, answers 400 if it is malformed,
    otherwise waits for the delay, then answers with the fault if one is set, else with the next
    scripted answer if any, else with the default status.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        mode: str = "record",
        *,
        on_event: Optional[Callable[[Event], None]] = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"Collector: 'mode' must be one of {MODES}, got {mode!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
            raise ValueError(f"Collector: 'port' must be an int from 0 to 65535, got {port!r}")
        self._host = _check_host(host)
        self._requested_port = port
        self._port = port
        self._mode = mode
        self._record = mode == "record"
        self._on_event = on_event
        self._lifecycle = threading.Lock()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        # Scripted behaviour.
        self._status = 200
        self._location = _REDIRECT_TARGET
        self._script: Deque[Answer] = deque()
        self._delay = 0.0
        self._fault: Optional[str] = None
        self._max_body_bytes: Optional[int] = None
        self._max_url_bytes: Optional[int] = None
        # Requests open at once, and the gate that holds them (see hold()).
        self._open = 0
        self._max_open = 0
        self._gate = threading.Event()
        self._gate.set()
        # Recorded data.
        self._events: List[Event] = []
        self._requests: List[RecordedRequest] = []
        self._seen: Set[Any] = set()
        self._eid_log: List[str] = []
        self._request_count = 0
        self._event_count = 0
        self._rejected_events = 0
        self._duplicates = 0
        self._bad_requests = 0
        self._cpu_start = time.process_time()
        self._wall_start = time.monotonic()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Collector:
        """Bind the socket and serve on a background daemon thread.

        Returns:
            The collector itself, so that ``collector = Collector().start()`` works.

        Raises:
            RuntimeError: The collector is already running.
            OSError: The address cannot be bound.
        """
        with self._lifecycle:
            if self._server is not None:
                raise RuntimeError("Collector.start: the collector is already running")
            server = _Server((self._host, self._requested_port), self)
            self._port = server.server_address[1]
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"snowplow-collector-{self._port}",
                daemon=True,
            )
            with self._lock:
                self._cpu_start = time.process_time()
                self._wall_start = time.monotonic()
            self._server, self._thread = server, thread
            thread.start()
        logger.debug("collector listening on %s (%s mode)", self.url, self._mode)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: close the listening socket and every open connection, join the threads.

        Requests in progress (delayed or hanging) are abandoned without an answer. Calling it
        again, or on a collector never started, does nothing.

        Args:
            timeout: Seconds to wait for each connection thread to end.
        """
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None or thread is None:
            return
        server.stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections(timeout)
        thread.join(timeout)
        with self._cond:
            self._cond.notify_all()
        logger.debug("collector on port %d stopped", self._port)

    @property
    def running(self) -> bool:
        """Whether the collector is serving."""
        return self._server is not None

    def __enter__(self) -> Collector:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Collector {self._host}:{self._port} mode={self._mode} {state}>"

    # -- addresses ---------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """``"record"`` or ``"count"``."""
        return self._mode

    @property
    def host(self) -> str:
        """The address listened on, e.g. ``"127.0.0.1"``."""
        return self._host

    @property
    def port(self) -> int:
        """The port listened on (the real one once started, even if 0 was asked for).

        Raises:
            RuntimeError: Port 0 was asked for and the collector was never started.
        """
        if self._port == 0:
            raise RuntimeError("Collector.port: start() the collector first")
        return self._port

    @property
    def endpoint(self) -> str:
        """``"127.0.0.1:PORT"``, as an emitter's ``endpoint`` argument."""
        return f"{self._host}:{self.port}"

    @property
    def url(self) -> str:
        """``"http://127.0.0.1:PORT"``."""
        return f"http://{self.endpoint}"

    # -- scripted answers --------------------------------------------------------------------

    def respond_with(self, status: int, location: Optional[str] = None) -> None:
        """Set the status answered when no fault is set and the script is empty (default 200).

        Args:
            status: An HTTP status from 200 to 599. 2xx and 3xx accept the events.
            location: The ``Location`` header of a 3xx answer; by default a control path that
                answers 200 and records nothing, so that a client following the redirect ends
                well.

        Raises:
            ValueError: The status is out of range.
        """
        checked = _check_status(status, "Collector.respond_with")
        with self._lock:
            self._status = checked
            self._location = location if location is not None else _REDIRECT_TARGET

    def script(self, answers: Iterable[Answer]) -> None:
        """Replace the script: the answers of the next tracker requests, one per request.

        Once the script is used up the default status (:meth:`respond_with`) applies again.

        Args:
            answers: HTTP statuses (200 to 599) or fault names (``"reset"``, ``"garbage"``,
                ``"hang"``), e.g. ``[503, "reset", 200]``.

        Raises:
            ValueError: An answer is neither a valid status nor a fault name.
        """
        checked = [_check_answer(a, "Collector.script") for a in answers]
        with self._lock:
            self._script = deque(checked)

    def set_delay(self, seconds: float) -> None:
        """Wait this long before answering each tracker request (0 for no delay).

        Args:
            seconds: The delay, >= 0.

        Raises:
            ValueError: The delay is negative or not a number.
        """
        checked = _check_delay(seconds, "Collector.set_delay")
        with self._lock:
            self._delay = checked

    def set_fault(self, fault: Optional[str]) -> None:
        """Answer every tracker request with a fault until ``set_fault(None)``.

        A fault wins over the script, which is kept for later.

        Args:
            fault: ``"reset"`` (close the connection with a TCP RST, no answer), ``"garbage"``
                (write bytes that are not HTTP, then close), ``"hang"`` (never answer; the
                connection is closed by :meth:`stop` or when the client gives up), or None.

        Raises:
            ValueError: Unknown fault.
        """
        checked = _check_fault(fault, "Collector.set_fault")
        with self._lock:
            self._fault = checked

    def set_size_limits(
        self, body_bytes: Optional[int] = None, url_bytes: Optional[int] = None
    ) -> None:
        """Refuse tracker requests that are too large, as real collectors and proxies do.

        A request whose body is longer than ``body_bytes`` is answered 413, one whose target
        (path and querystring) is longer than ``url_bytes`` is answered 414; its events count as
        rejected. The limits apply before the scripted answers (a refused request does not use
        one up).

        Args:
            body_bytes: Most body bytes accepted, or None for no limit.
            url_bytes: Most request-target bytes accepted, or None for no limit.

        Raises:
            ValueError: A limit is not a non-negative integer or None.
        """
        for name, value in (("body_bytes", body_bytes), ("url_bytes", url_bytes)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ValueError(
                    f"Collector.set_size_limits: {name!r} must be an int >= 0 or None, "
                    f"got {value!r}"
                )
        with self._lock:
            self._max_body_bytes, self._max_url_bytes = body_bytes, url_bytes

    def _size_refusal(self, body: bytes, target: str) -> Optional[int]:
        """413 or 414 when the request passes a limit of :meth:`set_size_limits`, else None."""
        with self._lock:
            max_body, max_url = self._max_body_bytes, self._max_url_bytes
        if max_url is not None and len(target.encode("latin-1", "replace")) > max_url:
            return 414
        if max_body is not None and len(body) > max_body:
            return 413
        return None

    def control(self) -> Dict[str, Any]:
        """The current scripted behaviour, as ``/_control`` shows it.

        Returns:
            ``{"status", "location", "delay", "script", "fault"}``.
        """
        with self._lock:
            return {
                "status": self._status,
                "location": self._location,
                "delay": self._delay,
                "script": list(self._script),
                "fault": self._fault,
            }

    # -- holding requests (to pin concurrency in tests) ----------------------------------------

    def hold(self) -> None:
        """Hold every tracker request from now on: none is answered until :meth:`release`.

        Each held request is answered as scripted when it arrived (answers are taken from the
        script in arrival order).

        Held requests count in ``in_flight``; with them, a test sees how many requests a client
        keeps open at once without any timing (:meth:`wait_for_in_flight`, ``max_in_flight``).
        """
        self._gate.clear()

    def release(self) -> None:
        """Answer the held requests (each as scripted) and stop holding new ones."""
        self._gate.set()

    def wait_for_in_flight(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least ``n`` tracker requests are open at once, or timeout.

        Args:
            n: How many open requests to wait for.
            timeout: Seconds to wait at most.

        Returns:
            Whether ``n`` requests were open at once in time.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._open >= n or self._server is None, timeout=timeout)
            return self._open >= n

    def _opened(self) -> None:
        with self._cond:
            self._open += 1
            if self._open > self._max_open:
                self._max_open = self._open
            self._cond.notify_all()

    def _closed(self) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify_all()

    def _wait_at_gate(self, stopping: threading.Event) -> bool:
        """Wait while requests are held; False when the collector stops first."""
        gate = self._gate
        while not gate.wait(0.05):
            if stopping.is_set():
                return False
        return True

    # -- recorded data -----------------------------------------------------------------------

    @property
    def events(self) -> List[Event]:
        """Accepted events (answered 2xx or 3xx) in arrival order, as copies. Record mode."""
        with self._lock:
            return [dict(e) for e in self._events]

    @property
    def requests(self) -> List[RecordedRequest]:
        """Every non-control request received, in arrival order. Record mode."""
        with self._lock:
            return list(self._requests)

    @property
    def bad_requests(self) -> int:
        """Requests answered 400 (malformed body), 404 (unknown path), 405 or 413."""
        with self._lock:
            return self._bad_requests

    def eids(self) -> List[str]:
        """Event ids of the accepted events.

        Returns:
            In record mode, the ``eid`` of each accepted event in arrival order (repeated if an
            event arrived twice). In count mode, each distinct ``eid`` once, in no order.
        """
        with self._lock:
            if self._record:
                return list(self._eid_log)
            return [e.decode("utf-8", "replace") for e in self._seen]

    def clear(self) -> None:
        """Forget every recorded request, event and counter; keep the scripted behaviour."""
        with self._lock:
            self._events = []
            self._requests = []
            self._seen = set()
            self._eid_log = []
            self._request_count = 0
            self._event_count = 0
            self._rejected_events = 0
            self._duplicates = 0
            self._bad_requests = 0
            self._max_open = self._open
            self._cpu_start = time.process_time()
            self._wall_start = time.monotonic()

    def reset(self) -> None:
        """:meth:`clear`, and restore the default behaviour: 200, no delay, script or fault.

        Held requests are released.
        """
        self._gate.set()
        with self._lock:
            self._status = 200
            self._location = _REDIRECT_TARGET
            self._script = deque()
            self._delay = 0.0
            self._fault = None
        self.clear()

    def stats(self) -> CollectorStats:
        """Counters, in either mode.

        Returns:
            A :class:`CollectorStats` dict: ``requests``, ``events``, ``rejected_events``,
            ``unique_eids``, ``duplicates``, ``bad_requests``, ``cpu_seconds``, ``wall_seconds``
            and, where available, the ``getrusage`` figures of the whole process.
        """
        with self._lock:
            stats = CollectorStats(
                requests=self._request_count,
                events=self._event_count,
                rejected_events=self._rejected_events,
                unique_eids=len(self._seen),
                duplicates=self._duplicates,
                bad_requests=self._bad_requests,
                cpu_seconds=round(time.process_time() - self._cpu_start, 6),
                wall_seconds=round(time.monotonic() - self._wall_start, 6),
                in_flight=self._open,
                max_in_flight=self._max_open,
            )
        if resource is not None:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            stats["ru_utime_seconds"] = round(usage.ru_utime, 6)
            stats["ru_stime_seconds"] = round(usage.ru_stime, 6)
            stats["ru_maxrss_kb"] = int(usage.ru_maxrss)
        return stats

    def wait_for_events(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least ``n`` events were accepted (since the last clear), or timeout.

        Args:
            n: How many accepted events to wait for.
            timeout: Seconds to wait at most.

        Returns:
            Whether ``n`` events were accepted in time (False as well if the collector stops).
        """
        with self._cond:
            self._cond.wait_for(
                lambda: self._event_count >= n or self._server is None, timeout=timeout
            )
            return self._event_count >= n

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least ``n`` non-control requests were received, whatever the answer.

        Args:
            n: How many requests to wait for.
            timeout: Seconds to wait at most.

        Returns:
            Whether ``n`` requests were received in time.
        """
        with self._cond:
            self._cond.wait_for(
                lambda: self._request_count >= n or self._server is None, timeout=timeout
            )
            return self._request_count >= n

    # -- request processing (called by the handler threads) ----------------------------------

    def _decode_get(self, query: str) -> _Decoded:
        if not query:
            raise _BadRequest("a GET to /i needs a querystring")
        if self._record:
            event = dict(parse_qsl(query, keep_blank_values=True))
            eid = event.get("eid")
            return _Decoded([event], 1, [eid] if eid is not None else [])
        match = _EID_GET_RE.search(query)
        eids = [unquote_plus(match.group(1)).encode("utf-8")] if match else []
        return _Decoded([], 1, eids)

    def _decode_post(self, query: str, body: bytes) -> _Decoded:
        if not self._record:
            if _PAYLOAD_DATA_MARKER not in body:
                raise _BadRequest("the body is not a payload_data 1-0-* envelope")
            found = _EID_POST_RE.findall(body)
            count = max(body.count(_E_KEY), len(found))
            if not count:
                raise _BadRequest("the body holds no event")
            return _Decoded([], count, found)
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _BadRequest(f"the body is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise _BadRequest("the body is not a JSON object")
        schema = doc.get("schema")
        if not isinstance(schema, str) or not schema.startswith(_PAYLOAD_DATA_PREFIX):
            raise _BadRequest(f"'schema' must be {PAYLOAD_DATA_SCHEMA!r}")
        data = doc.get("data")
        if not isinstance(data, list) or not data:
            raise _BadRequest("'data' must be a non-empty array of events")
        extra = dict(parse_qsl(query, keep_blank_values=True)) if query else None
        eids: List[Any] = []
        for i, event in enumerate(data):
            if not isinstance(event, dict):
                raise _BadRequest(f"data[{i}] is not an object")
            for key, value in event.items():
                if not isinstance(value, str):
                    raise _BadRequest(f"data[{i}][{key!r}] is not a string")
            if extra:  # as Enrich does: querystring parameters are merged into every event
                event.update(extra)
            eid = event.get("eid")
            if eid is not None:
                eids.append(eid)
        return _Decoded(data, len(data), eids)

    def _next_answer(self) -> Tuple[Answer, float, str]:
        with self._lock:
            if self._fault is not None:
                answer: Answer = self._fault
            elif self._script:
                answer = self._script.popleft()
            else:
                answer = self._status
            return answer, self._delay, self._location

    def _record_request(
        self,
        method: str,
        path: str,
        query: str,
        headers: Callable[[], Dict[str, str]],
        body: bytes,
        status: int,
        received_at: float,
        decoded: Optional[_Decoded],
        bad: bool = False,
    ) -> None:
        accepted = decoded is not None and _is_accepted(status)
        recorded = None
        if self._record:
            recorded = RecordedRequest(
                method=method,
                path=path,
                query=query,
                headers=headers(),
                body=body,
                status=status,
                received_at=received_at,
                events=tuple(decoded.events) if decoded is not None else (),
            )
        with self._cond:
            self._request_count += 1
            if recorded is not None:
                self._requests.append(recorded)
            if bad:
                self._bad_requests += 1
            if decoded is not None:
                if accepted:
                    self._event_count += decoded.count
                    if self._record:
                        self._events.extend(decoded.events)
                        self._eid_log.extend(decoded.eids)
                    seen = self._seen
                    before = len(seen)
                    seen.update(decoded.eids)
                    self._duplicates += len(decoded.eids) - (len(seen) - before)
                else:
                    self._rejected_events += decoded.count
            self._cond.notify_all()
        if accepted and self._on_event is not None and decoded is not None:
            for event in decoded.events:
                try:
                    self._on_event(dict(event))
                except Exception:
                    logger.warning("Collector: the on_event callback raised", exc_info=True)

    def _apply_control(self, doc: object) -> None:
        if not isinstance(doc, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(doc) - _CONTROL_KEYS
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}, expected {sorted(_CONTROL_KEYS)}")
        where = "/_control"
        status = _check_status(doc["status"], where) if "status" in doc else None
        location = doc.get("location")
        if location is not None and not isinstance(location, str):
            raise ValueError(f"{where}: 'location' must be a string, got {location!r}")
        delay = _check_delay(doc["delay"], where) if "delay" in doc else None
        script = None
        if "script" in doc:
            if not isinstance(doc["script"], list):
                raise ValueError(f"{where}: 'script' must be an array, got {doc['script']!r}")
            script = [_check_answer(a, where) for a in doc["script"]]
        fault = _check_fault(doc["fault"], where) if "fault" in doc else None
        with self._lock:
            if status is not None:
                self._status = status
                self._location = location if location is not None else _REDIRECT_TARGET
            elif location is not None:
                self._location = location
            if delay is not None:
                self._delay = delay
            if script is not None:
                self._script = deque(script)
            if "fault" in doc:
                self._fault = fault


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks its connections so that stop() can close them all."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: Tuple[str, int], collector: Collector) -> None:
        self.collector = collector
        self.stopping = threading.Event()
        self._conn_lock = threading.Lock()
        self._connections: Set[socket.socket] = set()
        self._aborted: Set[socket.socket] = set()
        self._handler_threads: Set[threading.Thread] = set()
        self._ids = itertools.count(1)
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup: skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"snowplow-collector-{self.server_port}-conn-{next(self._ids)}",
            daemon=True,
        )
        with self._conn_lock:
            self._connections.add(request)
            self._handler_threads.add(thread)
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._handler_threads.discard(threading.current_thread())

    def mark_aborted(self, sock: socket.socket) -> None:
        """Have :meth:`shutdown_request` close ``sock`` without a FIN first."""
        with self._conn_lock:
            self._aborted.add(sock)

    def shutdown_request(self, request: Any) -> None:
        # Under the lock, so that close_connections() never shuts down a reused descriptor.
        with self._conn_lock:
            self._connections.discard(request)
            if request in self._aborted:
                self._aborted.discard(request)
            else:
                with contextlib.suppress(OSError):
                    request.shutdown(socket.SHUT_WR)
            request.close()

    def close_connections(self, timeout: float) -> None:
        """Shut every open connection down (unblocking its thread) and join the threads."""
        with self._conn_lock:
            for sock in self._connections:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            threads = list(self._handler_threads)
        for thread in threads:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("Collector: connection thread %s did not end", thread.name)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            logger.debug("collector connection error: %r", exc)
        else:
            logger.warning("Collector: error while handling a request", exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP layer: reads a request, lets the Collector decide, writes one answer."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no per-request logging to stderr

    def log_error(self, format: str, *args: Any) -> None:
        logger.debug("collector: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    # -- plumbing ----------------------------------------------------------------------------

    def _read_body(self) -> Optional[bytes]:
        """The body, or None when it cannot be read (then an answer was sent)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            try:
                return self._read_chunked()
            except ValueError as exc:
                self._unreadable(400, f"bad chunked body: {exc}")
                return None
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError(length_header)
        except ValueError:
            self._unreadable(400, "bad Content-Length")
            return None
        if length > _MAX_BODY:
            self._unreadable(413, "body too large")
            return None
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _unreadable(self, status: int, reason: str) -> None:
        """Count a request whose body cannot be read as bad, answer and close the connection."""
        path, _, query = self.path.partition("?")
        self.server.collector._record_request(
            self.command, path, query, self._headers_dict, b"", status, time.time(), None, True
        )
        self._send(status, f"{reason}\n".encode(), close=True)

    def _read_chunked(self) -> bytes:
        parts: List[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise ValueError("truncated")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > _MAX_BODY:
                raise ValueError("too large")
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise ValueError("truncated")
            parts.append(chunk)
            self.rfile.readline(3)

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "text/plain; charset=utf-8",
        location: Optional[str] = None,
        close: bool = False,
    ) -> None:
        """Write the whole answer with a single write (no Nagle/delayed-ACK stall)."""
        if close:
            self.close_connection = True
        head = [f"HTTP/1.1 {status} {_STATUS_REASONS.get(status, 'Unknown')}"]
        head.append(f"Content-Length: {len(body)}")
        if body:
            head.append(f"Content-Type: {content_type}")
        if location is not None:
            head.append(f"Location: {location}")
        if self.close_connection:
            head.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            head.append("Connection: keep-alive")
        head.append("\r\n")
        self.wfile.write("\r\n".join(head).encode("latin-1") + body)

    def _headers_dict(self) -> Dict[str, str]:
        return dict(self.headers.items())

    def _abort(self, reset: bool) -> None:
        """Close the connection once this request returns, without answering.

        Args:
            reset: Close with a TCP RST (``SO_LINGER`` 0) instead of a FIN.
        """
        self.close_connection = True
        if reset:
            with contextlib.suppress(OSError):
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            self.server.mark_aborted(self.connection)

    def _hang(self) -> None:
        """Never answer: wait until the collector stops or the client goes away."""
        sock = self.connection
        while not self.server.stopping.wait(0.05):
            try:
                if not sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                    break  # the client closed its side
            except BlockingIOError:
                continue  # nothing to read: the client is still waiting
            except OSError:
                break
        self._abort(reset=False)

    # -- routing -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        received_at = time.time()
        body = self._read_body()
        if body is None:
            return
        method = self.command
        path, _, query = self.path.partition("?")
        if path.startswith("/_") and self._control(method, path, body):
            return
        if path in (GET_PATH, POST_PATH):
            expected = "GET" if path == GET_PATH else "POST"
            if method != expected:
                self._reject(405, method, path, query, body, received_at)
                return
            self._tracker(method, path, query, body, received_at)
            return
        logger.debug("collector: %s to unknown path %s", method, path)
        self._reject(404, method, path, query, body, received_at)

    def _reject(
        self, status: int, method: str, path: str, query: str, body: bytes, received_at: float
    ) -> None:
        self.server.collector._record_request(
            method, path, query, self._headers_dict, body, status, received_at, None, bad=True
        )
        self._send(status, f"{HTTPStatus(status).phrase}\n".encode())

    def _tracker(self, method: str, path: str, query: str, body: bytes, received_at: float) -> None:
        collector = self.server.collector
        try:
            if method == "GET":
                decoded = collector._decode_get(query)
            else:
                decoded = collector._decode_post(query, body)
        except _BadRequest as exc:
            logger.debug("collector: bad %s request: %s", method, exc)
            collector._record_request(
                method, path, query, self._headers_dict, body, 400, received_at, None, bad=True
            )
            self._send(400, f"bad request: {exc}\n".encode())
            return
        refusal = collector._size_refusal(body, self.path)
        if refusal is not None:
            collector._record_request(
                method, path, query, self._headers_dict, body, refusal, received_at, decoded
            )
            self._send(refusal, f"{_STATUS_REASONS[refusal]} (size limit)\n".encode())
            return
        open_request = [True]

        def answered() -> None:
            if open_request:
                open_request.pop()
                collector._closed()

        collector._opened()
        try:
            self._answer(method, path, query, body, received_at, decoded, answered)
        finally:
            answered()

    def _answer(
        self,
        method: str,
        path: str,
        query: str,
        body: bytes,
        received_at: float,
        decoded: _Decoded,
        answered: Callable[[], None],
    ) -> None:
        """Wait at the gate and for the delay, then answer as scripted.

        ``answered`` ends the request's count in ``in_flight``: before it is recorded (so that
        whoever sees its events also sees it closed), or after a hang.
        """
        collector = self.server.collector
        stopping = self.server.stopping
        answer, delay, location = collector._next_answer()
        if not collector._wait_at_gate(stopping) or (delay > 0 and stopping.wait(delay)):
            answer = "stopped"
        if answer != "hang":
            answered()
        status = answer if isinstance(answer, int) else 0
        collector._record_request(
            method, path, query, self._headers_dict, body, status, received_at, decoded
        )
        if answer == "stopped" or answer == "reset":
            self._abort(reset=True)
        elif answer == "garbage":
            self.close_connection = True
            self.wfile.write(_GARBAGE)
        elif answer == "hang":
            self._hang()
        elif 300 <= status < 400:
            self._send(status, location=location)
        elif _is_accepted(status) or status in (204, 304):
            self._send(status)
        else:
            self._send(status, f"{_STATUS_REASONS.get(status, 'Error')} (scripted)\n".encode())

    def _control(self, method: str, path: str, body: bytes) -> bool:
        """Answer a control path; False if ``path`` is not one (then it is a normal 404)."""
        collector = self.server.collector
        if path == _REDIRECT_TARGET:
            self._send(200)
        elif path == _STATS_PATH and method == "GET":
            self._send_json(collector.stats())
        elif path == _EVENTS_PATH and method == "GET":
            self._send_json(collector.events)
        elif path == _RESET_PATH and method == "POST":
            collector.reset()
            self._send_json({"ok": True})
        elif path == _CONTROL_PATH and method in ("GET", "POST"):
            if method == "POST":
                try:
                    collector._apply_control(orjson.loads(body) if body.strip() else {})
                except (orjson.JSONDecodeError, ValueError) as exc:
                    self._send(400, f"bad control request: {exc}\n".encode())
                    return True
            self._send_json(collector.control())
        else:
            return False
        return True

    def _send_json(self, value: Any) -> None:
        self._send(200, orjson.dumps(value) + b"\n", content_type="application/json")


# -- command -----------------------------------------------------------------------------------


class _LineWriter:
    """Writes whole lines to a binary stream and flushes them, from any thread."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._broken = False

    def write(self, line: bytes) -> None:
        with self._lock:
            if self._broken:
                return
            try:
                self._stream.write(line + b"\n")
                self._stream.flush()
            except (OSError, ValueError):
                self._broken = True


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m snowplow_tracker.testing.collector",
        description="A local Snowplow collector for tests, demos and benchmarks. Prints "
        "'listening on URL', then (record mode, unless --quiet) one JSON line per accepted "
        "event, and on SIGTERM or SIGINT the final stats as one JSON line.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port, 0 for a free one (0)")
    parser.add_argument("--mode", choices=MODES, default="record", help="record or count")
    parser.add_argument("--status", type=int, default=200, help="status answered (200)")
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="do not print the events (use it when nobody reads stdout: a full pipe blocks)",
    )
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run a collector until SIGTERM or SIGINT (the ``python -m`` entry point).

    Args:
        argv: The command-line arguments without the program name; ``sys.argv[1:]`` if None.

    Returns:
        The exit status: 0, or 1 if the address cannot be bound, 2 on a bad argument.
    """
    args = _parse_args(argv)
    sys.stdout.flush()
    out = _LineWriter(sys.stdout.buffer)
    on_event: Optional[Callable[[Event], None]] = None
    if args.mode == "record" and not args.quiet:

        def on_event(event: Event) -> None:
            out.write(orjson.dumps(event))

    try:
        collector = Collector(args.host, args.port, args.mode, on_event=on_event)
        collector.respond_with(args.status)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()

    def on_signal(signum: int, frame: Optional[FrameType]) -> None:
        done.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            collector.start()
        except OSError as exc:
            print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        out.write(f"listening on {collector.url}".encode())
        while not done.wait(0.5):
            pass
    finally:
        collector.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.write(orjson.dumps(collector.stats()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
