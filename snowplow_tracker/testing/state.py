"""The embedded collector's state, without sockets: what it recorded, and how it answers.

:class:`CollectorState` decodes tracker requests (GET querystrings, POST ``payload_data``
bodies), records the events or only counts them, and decides each answer (status, scripted
answers, delay, fault, size limits, the ``hold()`` gate). :class:`~.server.Collector` serves it
over HTTP; the methods under "the server's side" are what the server calls for each request.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    Iterable,
    List,
    Optional,
    Set,
    Tuple,
    TypedDict,
    Union,
)
from urllib.parse import parse_qsl, unquote_plus

import orjson

try:
    import resource
except ImportError:  # pragma: no cover - not on POSIX
    resource = None  # type: ignore[assignment]


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
REDIRECT_PATH = "/_redirected"
_EID_POST_RE = re.compile(rb'"eid":\s*"([^"]+)"')
_EID_GET_RE = re.compile(r"(?:^|&)eid=([^&]*)")
_E_KEY = b'"e":'
_CONTROL_KEYS = frozenset(
    {"status", "location", "delay", "script", "fault", "retry_after", "retry_after_date"}
)
#: The longest delay that can be scripted, in seconds (one hour).
MAX_DELAY = 3600.0
#: The most answers a script may hold.
MAX_SCRIPT = 100_000
_MAX_LOCATION = 2048
#: The answers that carry the ``Retry-After`` header of :meth:`CollectorState.set_retry_after`.
RETRY_AFTER_STATUSES = (429, 503)


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
        return is_accepted(self.status)


def is_accepted(status: int) -> bool:
    return 200 <= status < 400


class BadRequest(Exception):
    """A tracker request that cannot be decoded; answered 400."""


@dataclass
class Decoded:
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


def _check_retry_after(value: object, where: str) -> Union[int, str, None]:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"{where}: a Retry-After must be an int of seconds >= 0, a string or None, "
            f"got {value!r}"
        )
    return value


def _check_delay(value: object, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 <= value <= MAX_DELAY  # also refuses NaN
    ):
        raise ValueError(
            f"{where}: a delay must be a number of seconds from 0 to {MAX_DELAY:g}, got {value!r}"
        )
    return float(value)


def _check_location(value: object, where: str) -> Optional[str]:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= _MAX_LOCATION
        or not value.isprintable()
        or not value.isascii()
    ):
        raise ValueError(
            f"{where}: a location must be a printable ASCII string of 1 to {_MAX_LOCATION} "
            f"characters, got {value!r:.100}"
        )
    return value


def _check_script(answers: Iterable[object], where: str) -> List[Answer]:
    checked: List[Answer] = []
    for answer in answers:
        if len(checked) == MAX_SCRIPT:
            raise ValueError(f"{where}: a script holds at most {MAX_SCRIPT} answers")
        checked.append(_check_answer(answer, where))
    return checked


def check_host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        packed = socket.inet_aton(host)
    except (OSError, TypeError):
        packed = b""
    if len(packed) != 4 or packed[0] != 127 or host.count(".") != 3:
        raise ValueError(f"Collector: 'host' must be an IPv4 loopback address, got {host!r}")
    return host


class CollectorState:
    """What a collector recorded and how it answers; no sockets (see :class:`~.server.Collector`).

    Args:
        mode: ``"record"`` decodes and keeps every request and event; ``"count"`` only counts
            requests, events and event ids (cheap, for benchmarks).
        on_event: Called with each accepted event (record mode only), on a server thread,
            after the event was recorded. Exceptions it raises are logged and ignored.

    Raises:
        ValueError: ``mode`` is unknown.
    """

    def __init__(
        self, mode: str = "record", *, on_event: Optional[Callable[[Event], None]] = None
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"Collector: 'mode' must be one of {MODES}, got {mode!r}")
        self._mode = mode
        self._record = mode == "record"
        self._on_event = on_event
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._serving = False  # set by the server: waits end when it stops
        # Scripted behaviour.
        self._status = 200
        self._location = REDIRECT_PATH
        self._script: Deque[Answer] = deque()
        self._delay = 0.0
        self._fault: Optional[str] = None
        self._max_body_bytes: Optional[int] = None
        self._max_url_bytes: Optional[int] = None
        self._retry_after: Union[int, str, None] = None
        self._retry_after_date = False
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

    # -- scripted answers --------------------------------------------------------------------

    def respond_with(self, status: int, location: Optional[str] = None) -> None:
        """Set the status answered when no fault is set and the script is empty (default 200).

        Args:
            status: An HTTP status from 200 to 599. 2xx and 3xx accept the events.
            location: The ``Location`` header of a 3xx answer; by default a control path that
                answers 200 and records nothing, so that a client following the redirect ends
                well.

        Raises:
            ValueError: The status is out of range, or the location is not a printable ASCII
                string of at most 2048 characters.
        """
        checked = _check_status(status, "Collector.respond_with")
        location = _check_location(location, "Collector.respond_with")
        with self._lock:
            self._status = checked
            self._location = location if location is not None else REDIRECT_PATH

    def script(self, answers: Iterable[Answer]) -> None:
        """Replace the script: the answers of the next tracker requests, one per request.

        Once the script is used up the default status (:meth:`respond_with`) applies again.

        Args:
            answers: HTTP statuses (200 to 599) or fault names (``"reset"``, ``"garbage"``,
                ``"hang"``), e.g. ``[503, "reset", 200]``.

        Raises:
            ValueError: An answer is neither a valid status nor a fault name, or there are more
                than 100,000 answers.
        """
        checked = _check_script(answers, "Collector.script")
        with self._lock:
            self._script = deque(checked)

    def set_delay(self, seconds: float) -> None:
        """Wait this long before answering each tracker request (0 for no delay).

        Args:
            seconds: The delay, from 0 to 3600.

        Raises:
            ValueError: The delay is not a number from 0 to 3600.
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

    def set_retry_after(self, value: Union[int, str, None], as_date: bool = False) -> None:
        """Send a ``Retry-After`` header with every 429 and 503 answer (None: no header).

        Args:
            value: Seconds (an int >= 0), sent as delta-seconds, or as the HTTP-date that many
                seconds after each answer with ``as_date``; or a string sent as it is (e.g. an
                unparsable value); or None.
            as_date: Send an int ``value`` as an HTTP-date (whole seconds, so the date is up to
                a second earlier than ``value`` seconds after the answer).

        Raises:
            ValueError: ``value`` is none of these.
        """
        checked = _check_retry_after(value, "Collector.set_retry_after")
        with self._lock:
            self._retry_after, self._retry_after_date = checked, bool(as_date)

    def retry_after_header(self, status: int) -> Optional[str]:
        """The ``Retry-After`` header of an answer with ``status`` now, or None."""
        with self._lock:
            value, as_date = self._retry_after, self._retry_after_date
        if value is None or status not in RETRY_AFTER_STATUSES:
            return None
        if isinstance(value, str):
            return value
        return formatdate(time.time() + value, usegmt=True) if as_date else str(value)

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

    def size_refusal(self, body: bytes, target: str) -> Optional[int]:
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
            ``{"status", "location", "delay", "script", "fault", "retry_after",
            "retry_after_date"}``.
        """
        with self._lock:
            return {
                "status": self._status,
                "location": self._location,
                "delay": self._delay,
                "script": list(self._script),
                "fault": self._fault,
                "retry_after": self._retry_after,
                "retry_after_date": self._retry_after_date,
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
            self._cond.wait_for(lambda: self._open >= n or not self._serving, timeout=timeout)
            return self._open >= n

    def request_opened(self) -> None:
        with self._cond:
            self._open += 1
            if self._open > self._max_open:
                self._max_open = self._open
            self._cond.notify_all()

    def request_closed(self) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify_all()

    def wait_at_gate(self, stopping: threading.Event) -> bool:
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
            self._location = REDIRECT_PATH
            self._script = deque()
            self._delay = 0.0
            self._fault = None
            self._retry_after, self._retry_after_date = None, False
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
                lambda: self._event_count >= n or not self._serving, timeout=timeout
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
                lambda: self._request_count >= n or not self._serving, timeout=timeout
            )
            return self._request_count >= n

    # -- request processing (called by the handler threads) ----------------------------------

    def decode_get(self, query: str) -> Decoded:
        if not query:
            raise BadRequest("a GET to /i needs a querystring")
        if self._record:
            event = dict(parse_qsl(query, keep_blank_values=True))
            eid = event.get("eid")
            return Decoded([event], 1, [eid] if eid is not None else [])
        match = _EID_GET_RE.search(query)
        eids = [unquote_plus(match.group(1)).encode("utf-8")] if match else []
        return Decoded([], 1, eids)

    def decode_post(self, query: str, body: bytes) -> Decoded:
        if not self._record:
            if _PAYLOAD_DATA_MARKER not in body:
                raise BadRequest("the body is not a payload_data 1-0-* envelope")
            found = _EID_POST_RE.findall(body)
            count = max(body.count(_E_KEY), len(found))
            if not count:
                raise BadRequest("the body holds no event")
            return Decoded([], count, found)
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise BadRequest("the body is not a JSON object")
        schema = doc.get("schema")
        if not isinstance(schema, str) or not schema.startswith(_PAYLOAD_DATA_PREFIX):
            raise BadRequest(f"'schema' must be {PAYLOAD_DATA_SCHEMA!r}")
        data = doc.get("data")
        if not isinstance(data, list) or not data:
            raise BadRequest("'data' must be a non-empty array of events")
        extra = dict(parse_qsl(query, keep_blank_values=True)) if query else None
        eids: List[Any] = []
        for i, event in enumerate(data):
            if not isinstance(event, dict):
                raise BadRequest(f"data[{i}] is not an object")
            for key, value in event.items():
                if not isinstance(value, str):
                    raise BadRequest(f"data[{i}][{key!r}] is not a string")
            if extra:  # as Enrich does: querystring parameters are merged into every event
                event.update(extra)
            eid = event.get("eid")
            if eid is not None:
                eids.append(eid)
        return Decoded(data, len(data), eids)

    def next_answer(self) -> Tuple[Answer, float, str]:
        with self._lock:
            if self._fault is not None:
                answer: Answer = self._fault
            elif self._script:
                answer = self._script.popleft()
            else:
                answer = self._status
            return answer, self._delay, self._location

    def record_request(
        self,
        method: str,
        path: str,
        query: str,
        headers: Callable[[], Dict[str, str]],
        body: bytes,
        status: int,
        received_at: float,
        decoded: Optional[Decoded],
        bad: bool = False,
    ) -> None:
        accepted = decoded is not None and is_accepted(status)
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

    def apply_control(self, doc: object) -> None:
        if not isinstance(doc, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(doc) - _CONTROL_KEYS
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}, expected {sorted(_CONTROL_KEYS)}")
        where = "/_control"
        status = _check_status(doc["status"], where) if "status" in doc else None
        location = _check_location(doc.get("location"), where)
        delay = _check_delay(doc["delay"], where) if "delay" in doc else None
        script = None
        if "script" in doc:
            if not isinstance(doc["script"], list):
                raise ValueError(f"{where}: 'script' must be an array, got {doc['script']!r}")
            script = _check_script(doc["script"], where)
        fault = _check_fault(doc["fault"], where) if "fault" in doc else None
        retry_after = _check_retry_after(doc.get("retry_after"), where)
        retry_after_date = doc.get("retry_after_date", False)
        if not isinstance(retry_after_date, bool):
            raise ValueError(
                f"{where}: 'retry_after_date' must be a boolean, got {retry_after_date!r}"
            )
        with self._lock:
            if "retry_after" in doc or "retry_after_date" in doc:
                self._retry_after = retry_after if "retry_after" in doc else self._retry_after
                self._retry_after_date = retry_after_date
            if status is not None:
                self._status = status
                self._location = location if location is not None else REDIRECT_PATH
            elif location is not None:
                self._location = location
            if delay is not None:
                self._delay = delay
            if script is not None:
                self._script = deque(script)
            if "fault" in doc:
                self._fault = fault
