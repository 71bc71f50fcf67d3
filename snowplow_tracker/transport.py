"""HTTP sending shared by every emitter: one keep-alive session, timeouts, retries.

:class:`HttpTransport` turns a batch of encoded events into requests (built by
:mod:`snowplow_tracker.wire`) and reports which events the collector accepted. :func:`deliver`
adds the retry loop of a :class:`~snowplow_tracker.retry.RetryPolicy` around it.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple, Union
from urllib.parse import urlsplit

import requests

from ._logging import ThrottledLog, logger
from .connections import ConnectionPool, RequestFailed
from .errors import ConfigurationError
from .retry import RetryPolicy, is_success
from .wire import POST_CONTENT_TYPE, collector_urls, get_query, post_body, sent_timestamp

Timeout = Union[float, Tuple[float, float]]
#: Default ``(connect, read)`` timeout in seconds: a silent collector never hangs a sender.
DEFAULT_TIMEOUT: Tuple[float, float] = (5.0, 10.0)

_failure_log = ThrottledLog()


def check_timeout(value: Optional[Timeout], where: str) -> Tuple[float, float]:
    """Validate ``request_timeout`` (float or ``(connect, read)`` tuple); None means the default.

    Args:
        value: What the user passed.
        where: The qualified name of the caller, for error messages.
    """
    if value is None:
        return DEFAULT_TIMEOUT
    pair = value if isinstance(value, tuple) else (value, value)
    if len(pair) != 2 or any(
        isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf for v in pair
    ):
        raise ConfigurationError(
            f"{where}: argument 'request_timeout' must be a positive number of seconds or a "
            f"(connect, read) tuple of them, got {value!r}"
        )
    return (float(pair[0]), float(pair[1]))


def _new_session(url: str) -> requests.Session:
    """A session whose environment settings are read once, not on every request.

    requests re-reads proxy and CA-bundle variables from the environment for each request
    (about a tenth of a sender's time); the collector URL is fixed, so read them here once.
    TLS verification stays on.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    return session


@dataclass
class SendResult:
    """What one attempt at sending a batch gave.

    Attributes:
        sent: Events the collector accepted (2xx or 3xx).
        retry: Events whose request failed in a way that may succeed later.
        rejected: Events whose request failed for good (a status in ``no_retry_statuses``).
        status: The last HTTP status seen, or None after a network error.
        error: A short description of the last failure, or None.
    """

    sent: List[bytes] = field(default_factory=list)
    retry: List[bytes] = field(default_factory=list)
    rejected: List[bytes] = field(default_factory=list)
    status: Optional[int] = None
    error: Optional[str] = None


@dataclass
class DeliveryResult:
    """The outcome of :func:`deliver`: every event is in exactly one of ``sent`` and ``failed``.

    Attributes:
        sent: Events the collector accepted.
        failed: Events given up on (rejected, retry budget spent, or stopped).
        attempts: Requests rounds made.
        retried: Events sent again after a failed attempt (counted once per retry).
    """

    sent: List[bytes] = field(default_factory=list)
    failed: List[bytes] = field(default_factory=list)
    attempts: int = 0
    retried: int = 0


class HttpTransport:
    """Sends batches of encoded events to a collector over keep-alive connections.

    Requests go over a :class:`~snowplow_tracker.connections.ConnectionPool` (``http.client``),
    or over a ``requests.Session`` when the environment configures a proxy for the collector.
    Connections are made on first use in each process, so a transport that crossed a fork
    never shares one with its parent. TLS certificates are always verified.

    Args:
        endpoint: Collector host, optionally with a scheme (which wins over ``protocol``),
            port and path.
        method: ``"get"`` (one request per event to ``/i``) or ``"post"`` (one request per
            batch to ``/com.snowplowanalytics.snowplow/tp2``).
        protocol: ``"http"`` or ``"https"``.
        port: Port, or None for the scheme's default or the one in ``endpoint``.
        request_timeout: Seconds, or a ``(connect, read)`` tuple; default ``(5, 10)``.
        retry_policy: Decides which statuses are retryable.
        session: A ``requests.Session`` of the user's (proxies, adapters, certificates, mocks);
            when given, every request goes through it, and :meth:`close` leaves it open.
        where: The qualified name of the owner, for error messages.
    """

    def __init__(
        self,
        endpoint: str,
        method: str = "post",
        protocol: str = "http",
        port: Optional[int] = None,
        request_timeout: Optional[Timeout] = None,
        retry_policy: Optional[RetryPolicy] = None,
        *,
        session: Optional[requests.Session] = None,
        where: str = "Emitter",
    ) -> None:
        self.get_url, self.post_url = collector_urls(endpoint, protocol, port, where=where)
        self.method = method
        self.timeout = check_timeout(request_timeout, where)
        self.retry_policy = retry_policy or RetryPolicy()
        self._session: Optional[requests.Session] = None
        self._pid = 0
        self._session_lock = threading.Lock()
        self._pool = ConnectionPool(self.url, self.timeout)
        self._get_target = urlsplit(self.get_url).path
        self._post_target = urlsplit(self.post_url).path
        self._proxied: Optional[bool] = None  # whether the environment sets a proxy
        self._user_session = session
        if session is not None:
            self._session, self._pid, self._proxied = session, os.getpid(), True

    @property
    def url(self) -> str:
        """The URL requests go to (the GET one without its querystring)."""
        return self.post_url if self.method == "post" else self.get_url

    def _get_session(self) -> requests.Session:
        if self._user_session is not None:
            return self._user_session
        pid = os.getpid()
        session = self._session
        if session is None or self._pid != pid:
            # Locked: threads sending at once must share one session, not each leak their own.
            with self._session_lock:
                if self._session is None or self._pid != pid:
                    self._session = _new_session(self.url)
                    self._pid = pid
                session = self._session
        return session

    def close(self) -> None:
        """Close the keep-alive connections of this process."""
        self._pool.close()
        if self._user_session is not None:
            return
        if self._session is not None and self._pid == os.getpid():
            self._session.close()
        self._session = None

    def _request(self, events: List[bytes], stm: int) -> Tuple[Optional[int], Optional[str]]:
        if self._proxied is None:
            self._proxied = bool(requests.utils.get_environ_proxies(self.url))
        if self._proxied:
            return self._request_via_requests(events, stm)
        try:
            if self.method == "post":
                return self._pool.request(
                    "POST",
                    self._post_target,
                    post_body(events, stm),
                    {"Content-Type": POST_CONTENT_TYPE},
                ), None
            return self._pool.request(
                "GET", self._get_target + "?" + get_query(events[0], stm), None, {}
            ), None
        except RequestFailed as exc:
            return None, exc.name
        except Exception as exc:  # noqa: BLE001 - nothing a collector answers may crash a sender
            return None, f"{type(exc).__name__}: {exc}"

    def _request_via_requests(
        self, events: List[bytes], stm: int
    ) -> Tuple[Optional[int], Optional[str]]:
        session = self._get_session()
        try:
            if self.method == "post":
                response = session.post(
                    self.post_url,
                    data=post_body(events, stm),
                    headers={"Content-Type": POST_CONTENT_TYPE},
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            else:
                response = session.get(
                    self.get_url + "?" + get_query(events[0], stm),
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            response.close()
            return response.status_code, None
        except requests.RequestException as exc:
            # The connection may be in any state now; start the next request on a fresh one.
            session.close()
            return None, type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - nothing a collector answers may crash a sender
            session.close()
            return None, f"{type(exc).__name__}: {exc}"

    def send(self, events: List[bytes]) -> SendResult:
        """Make one attempt at sending ``events``; never raises for network or HTTP errors.

        Args:
            events: Encoded events (for this transport's method).
        """
        result = SendResult()
        if not events:
            return result
        stm = sent_timestamp()
        batches = [events] if self.method == "post" else [[e] for e in events]
        for batch in batches:
            status, error = self._request(batch, stm)
            result.status, result.error = status, error
            if status is not None and is_success(status):
                result.sent.extend(batch)
                logger.debug("sent %d event(s) to %s: HTTP %d", len(batch), self.url, status)
                continue
            if status is not None and not self.retry_policy.is_retryable(status):
                result.rejected.extend(batch)
            else:
                result.retry.extend(batch)
            result.error = error or f"HTTP {status}"
            _failure_log.log("request to %s failed: %s", self.url, result.error)
        return result


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def deliver(
    transport: HttpTransport,
    events: List[bytes],
    policy: Optional[RetryPolicy] = None,
    wait: Callable[[float], bool] = _sleep,
) -> DeliveryResult:
    """Send ``events`` with retries until each is accepted or given up on.

    Args:
        transport: Where to send.
        events: Encoded events.
        policy: Retry policy; defaults to the transport's.
        wait: Sleeps for the given seconds between attempts; returns True to stop retrying at
            once (the remaining events are then reported as failed). Pass an
            ``threading.Event().wait``-style callable to make shutdown interrupt backoff.
    """
    policy = policy or transport.retry_policy
    outcome = DeliveryResult()
    pending = events
    started = time.monotonic()
    while pending:
        outcome.attempts += 1
        result = transport.send(pending)
        outcome.sent.extend(result.sent)
        outcome.failed.extend(result.rejected)
        pending = result.retry
        if not pending:
            break
        delay = policy.delay(outcome.attempts)
        if not policy.may_retry(outcome.attempts, time.monotonic() - started, delay):
            break
        if wait(delay):
            break
        outcome.retried += len(pending)
    outcome.failed.extend(pending)
    return outcome
