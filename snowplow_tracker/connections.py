"""Keep-alive HTTP connections to one collector, on the standard library's ``http.client``.

A request through ``requests`` costs about three times the CPU of the same request on a plain
``http.client`` connection (``python /tmp/httpbench.py``-style measurement in the perf notes),
and senders spend nearly all their time sending. :class:`ConnectionPool` keeps one connection
per concurrently sending thread, verifies TLS certificates (the ``REQUESTS_CA_BUNDLE`` /
``CURL_CA_BUNDLE`` bundle when set, else certifi's, as ``requests`` does) and checks host names.
Proxies are not handled here: :class:`~snowplow_tracker.transport.HttpTransport` falls back to
``requests`` when the environment configures one.
"""

from __future__ import annotations

import http.client
import os
import ssl
import threading
import weakref
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from ._version import VERSION

#: Most bytes of a response body read; a longer body closes the connection instead.
MAX_RESPONSE_BODY = 64 * 1024
USER_AGENT = f"snowplow-python-tracker/{VERSION}"


class RequestFailed(Exception):
    """A request got no HTTP answer; ``name`` classifies why, as ``requests`` names it:
    ``ConnectTimeout``, ``ReadTimeout``, ``SSLError`` or ``ConnectionError``."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.name = name


def _classify(exc: BaseException, connecting: bool) -> str:
    if isinstance(exc, ssl.SSLError):
        return "SSLError"
    if isinstance(exc, TimeoutError):
        return "ConnectTimeout" if connecting else "ReadTimeout"
    return "ConnectionError"


def _close_all(connections: List[http.client.HTTPConnection]) -> None:
    while connections:
        connections.pop().close()


def ca_bundle() -> Optional[str]:
    """The CA bundle to verify collectors with: the environment's, else certifi's, else None
    (the system's default store)."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        return bundle
    try:
        import certifi
    except ImportError:  # pragma: no cover - requests depends on certifi
        return None
    return str(certifi.where())


class ConnectionPool:
    """Keep-alive connections to the host of ``url``; safe to use from several threads.

    Args:
        url: Any URL on the collector (only scheme, host and port are used).
        timeout: ``(connect, read)`` seconds.
    """

    def __init__(self, url: str, timeout: Tuple[float, float]) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.timeout = timeout
        self._idle: List[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._context: Optional[ssl.SSLContext] = None
        # Closes idle connections when the pool is collected or at exit (no unclosed sockets).
        weakref.finalize(self, _close_all, self._idle)

    def _new(self) -> http.client.HTTPConnection:
        connect_timeout = self.timeout[0]
        if self.https:
            if self._context is None:
                self._context = ssl.create_default_context(cafile=ca_bundle())
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=connect_timeout, context=self._context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=connect_timeout)

    def _acquire(self) -> http.client.HTTPConnection:
        with self._lock:
            if self._pid != os.getpid():  # crossed a fork: never share the parent's sockets
                _close_all(self._idle)  # this process's copies only; the parent's stay open
                self._pid = os.getpid()
            if self._idle:
                return self._idle.pop()
        return self._new()

    def _release(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._idle.append(conn)
                return
        conn.close()

    def request(
        self, method: str, target: str, body: Optional[bytes], headers: Dict[str, str]
    ) -> int:
        """Send one request and return the response status; the body is read and discarded.

        Args:
            method: ``"GET"`` or ``"POST"``.
            target: Path and querystring.
            body: Request body, or None.
            headers: Extra headers (Host and Content-Length are set by ``http.client``).

        Raises:
            RequestFailed: Refused, reset, timed out, TLS failure, or not an HTTP answer.
        """
        conn = self._acquire()
        connecting = conn.sock is None
        try:
            if connecting:
                conn.connect()
                assert conn.sock is not None
                conn.sock.settimeout(self.timeout[1])
                connecting = False
            conn.request(method, target, body=body, headers={"User-Agent": USER_AGENT, **headers})
            response = conn.getresponse()
            response.read(MAX_RESPONSE_BODY)
            status = response.status
            reusable = response.isclosed() and not response.will_close
        except (OSError, http.client.HTTPException) as exc:
            conn.close()  # the connection may be in any state now
            raise RequestFailed(_classify(exc, connecting), str(exc)) from exc
        except BaseException:
            conn.close()
            raise
        if reusable:
            self._release(conn)
        else:
            conn.close()
        return status

    def close(self) -> None:
        """Close the idle connections of this process."""
        with self._lock:
            _close_all(self._idle)
