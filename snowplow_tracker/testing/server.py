"""The embedded collector's HTTP server: :class:`Collector`, a real HTTP/1.1 server on loopback.

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

        python -m snowplow_tracker.testing --port 9090 --mode count
        curl -s localhost:9090/_stats
        curl -s -X POST -d '{"script": [503, 200]}' localhost:9090/_control
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import socket
import socketserver
import struct
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import (
    Any,
    Callable,
    Dict,
    Optional,
    Set,
    Tuple,
    Type,
)

import orjson

from .state import (
    GET_PATH,
    POST_PATH,
    REDIRECT_PATH,
    BadRequest,
    CollectorState,
    Decoded,
    Event,
    check_host,
    is_accepted,
)

logger = logging.getLogger("snowplow_tracker.testing")

#: Default cap on the bytes a request body may take on the wire (chunk framing included).
MAX_BODY = 64 * 1024 * 1024
#: Default seconds a connection has to deliver each whole request (see :class:`Collector`).
REQUEST_TIMEOUT = 60.0
_CHUNK_LINE_MAX = 1024  # a chunk-size line: hex digits, optional extensions, CRLF
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_STATUS_REASONS = {int(s): s.phrase for s in HTTPStatus}
_GARBAGE = b"\x00\x17\xffNOT-HTTP garbage from the test collector\r\n\r\n"
_STATS_PATH = "/_stats"
_EVENTS_PATH = "/_events"
_RESET_PATH = "/_reset"
_CONTROL_PATH = "/_control"


class Collector(CollectorState):
    """A local Snowplow collector serving on a background thread of this process.

    Args:
        host: The IPv4 loopback address to listen on (``"localhost"`` means ``127.0.0.1``).
        port: The TCP port; 0 picks a free one (read it from :attr:`port` after :meth:`start`).
        mode: ``"record"`` decodes and keeps every request and event; ``"count"`` only counts
            requests, events and event ids (cheap, for benchmarks): :attr:`events` and
            :attr:`requests` then stay empty.
        on_event: Called with each accepted event (record mode only), on a server thread,
            after the event was recorded. Exceptions it raises are logged and ignored.
        timeout: Seconds a connection has to deliver each whole request (request line, headers
            and body), counted from its connection or from the previous answer; a connection
            idle or slower than that is closed without an answer. Writes of an answer are
            bounded by the same number of seconds.
        max_body: The most bytes a request body may take on the wire, chunk framing included
            (what the collector reads, and so its memory, per request); a larger one is answered
            413 and its connection closed. To script a collector's size limits, see
            :meth:`set_size_limits`.

    Raises:
        ValueError: ``host`` is not a loopback address, ``mode`` is unknown, or ``port``,
            ``timeout`` or ``max_body`` is out of range.

    Scripted answers (:meth:`respond_with`, :meth:`script`, :meth:`set_delay`,
    :meth:`set_fault`, :meth:`set_retry_after`) apply to the two tracker endpoints only, never
    to the control paths.
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
        timeout: float = REQUEST_TIMEOUT,
        max_body: int = MAX_BODY,
    ) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
            raise ValueError(f"Collector: 'port' must be an int from 0 to 65535, got {port!r}")
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not 0 < timeout <= 86400
        ):
            raise ValueError(
                f"Collector: 'timeout' must be a number of seconds above 0 and at most 86400, "
                f"got {timeout!r}"
            )
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
            raise ValueError(f"Collector: 'max_body' must be an int >= 1, got {max_body!r}")
        self.timeout = float(timeout)
        self.max_body = max_body
        self._host = check_host(host)
        super().__init__(mode, on_event=on_event)
        self._requested_port = port
        self._port = port
        self._lifecycle = threading.Lock()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

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
                self._serving = True
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
            self._serving = False
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


class _TooLarge(Exception):
    """A request body takes more bytes on the wire than the collector's ``max_body``."""


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


class _DeadlineReader(io.RawIOBase):
    """The reading side of a connection, where every read ends by one deadline.

    Each ``recv`` waits at most until :attr:`deadline`; once it has passed, a read raises
    ``TimeoutError``. A client that trickles bytes therefore cannot keep a request open longer
    than the deadline, however often it sends.
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self.deadline = time.monotonic()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the client did not deliver its request in time")
        self._sock.settimeout(left)
        return self._sock.recv_into(buffer)


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP layer: reads a request, lets the Collector decide, writes one answer."""

    protocol_version = "HTTP/1.1"
    server: _Server
    _reader: _DeadlineReader

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the socket's own file: an open one would keep the socket open
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader, 65536)

    def handle_one_request(self) -> None:
        # The deadline of the next request runs from the previous answer (or the connection).
        self._reader.deadline = time.monotonic() + self.server.collector.timeout
        super().handle_one_request()

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
            except _TooLarge:
                self._unreadable(413, "body too large")
                return None
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
        if length > self.server.collector.max_body:
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
        self.server.collector.record_request(
            self.command, path, query, self._headers_dict, b"", status, time.time(), None, True
        )
        self._send(status, f"{reason}\n".encode(), close=True)

    def _read_chunked(self) -> bytes:
        """Read a chunked body into one buffer, counting every wire byte against ``max_body``.

        Chunk-size lines, extensions, CRLFs and trailers count too, so that many tiny chunks
        cannot cost more memory or work than one body of the same size on the wire.

        Raises:
            ValueError: The framing is malformed or truncated.
            _TooLarge: The body takes more than ``max_body`` bytes on the wire.
        """
        cap = self.server.collector.max_body
        body = bytearray()
        wire = 0

        def line() -> bytes:
            nonlocal wire
            text = self.rfile.readline(_CHUNK_LINE_MAX + 1)
            wire += len(text)
            if wire > cap:
                raise _TooLarge()
            if not text.endswith(b"\n"):
                raise ValueError("truncated" if len(text) <= _CHUNK_LINE_MAX else "line too long")
            return text

        while True:
            digits = line().split(b";", 1)[0].strip()
            if not digits or len(digits) > 16 or not _HEX_DIGITS.issuperset(digits):
                raise ValueError(f"bad chunk size {digits[:32]!r}")
            size = int(digits, 16)
            if size == 0:
                while line() not in (b"\r\n", b"\n"):
                    pass  # trailer fields: read and ignored
                return bytes(body)
            wire += size + 2
            if wire > cap:
                raise _TooLarge()
            start = len(body)
            body.extend(self.rfile.read(size))
            if len(body) - start < size:
                raise ValueError("truncated")
            if self.rfile.read(2) != b"\r\n":
                raise ValueError("a chunk does not end with CRLF")

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "text/plain; charset=utf-8",
        location: Optional[str] = None,
        close: bool = False,
        retry_after: Optional[str] = None,
    ) -> None:
        """Write the whole answer with a single write (no Nagle/delayed-ACK stall)."""
        if close:
            self.close_connection = True
        self.connection.settimeout(self.server.collector.timeout)
        head = [f"HTTP/1.1 {status} {_STATUS_REASONS.get(status, 'Unknown')}"]
        head.append(f"Content-Length: {len(body)}")
        if body:
            head.append(f"Content-Type: {content_type}")
        if location is not None:
            head.append(f"Location: {location}")
        if retry_after is not None:
            head.append(f"Retry-After: {retry_after}")
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
        self.server.collector.record_request(
            method, path, query, self._headers_dict, body, status, received_at, None, bad=True
        )
        self._send(status, f"{HTTPStatus(status).phrase}\n".encode())

    def _tracker(self, method: str, path: str, query: str, body: bytes, received_at: float) -> None:
        collector = self.server.collector
        try:
            if method == "GET":
                decoded = collector.decode_get(query)
            else:
                decoded = collector.decode_post(query, body)
        except BadRequest as exc:
            logger.debug("collector: bad %s request: %s", method, exc)
            collector.record_request(
                method, path, query, self._headers_dict, body, 400, received_at, None, bad=True
            )
            self._send(400, f"bad request: {exc}\n".encode())
            return
        refusal = collector.size_refusal(body, self.path)
        if refusal is not None:
            collector.record_request(
                method, path, query, self._headers_dict, body, refusal, received_at, decoded
            )
            self._send(refusal, f"{_STATUS_REASONS[refusal]} (size limit)\n".encode())
            return
        open_request = [True]

        def answered() -> None:
            if open_request:
                open_request.pop()
                collector.request_closed()

        collector.request_opened()
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
        decoded: Decoded,
        answered: Callable[[], None],
    ) -> None:
        """Wait at the gate and for the delay, then answer as scripted.

        ``answered`` ends the request's count in ``in_flight``: before it is recorded (so that
        whoever sees its events also sees it closed), or after a hang.
        """
        collector = self.server.collector
        stopping = self.server.stopping
        answer, delay, location = collector.next_answer()
        if not collector.wait_at_gate(stopping) or (delay > 0 and stopping.wait(delay)):
            answer = "stopped"
        if answer != "hang":
            answered()
        status = answer if isinstance(answer, int) else 0
        collector.record_request(
            method, path, query, self._headers_dict, body, status, received_at, decoded
        )
        if answer == "stopped" or answer == "reset":
            self._abort(reset=True)
        elif answer == "garbage":
            self.close_connection = True
            self.connection.settimeout(collector.timeout)
            self.wfile.write(_GARBAGE)
        elif answer == "hang":
            self._hang()
        elif 300 <= status < 400:
            self._send(status, location=location)
        elif is_accepted(status) or status in (204, 304):
            self._send(status)
        else:
            self._send(
                status,
                f"{_STATUS_REASONS.get(status, 'Error')} (scripted)\n".encode(),
                retry_after=collector.retry_after_header(status),
            )

    def _control(self, method: str, path: str, body: bytes) -> bool:
        """Answer a control path; False if ``path`` is not one (then it is a normal 404)."""
        collector = self.server.collector
        if path == REDIRECT_PATH:
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
                    collector.apply_control(orjson.loads(body) if body.strip() else {})
                except (orjson.JSONDecodeError, ValueError) as exc:
                    self._send(400, f"bad control request: {exc}\n".encode())
                    return True
            self._send_json(collector.control())
        else:
            return False
        return True

    def _send_json(self, value: Any) -> None:
        self._send(200, orjson.dumps(value) + b"\n", content_type="application/json")
