"""HTTP sending shared by every emitter: keep-alive connections, timeouts, retries.

:class:`HttpTransport` turns a batch of encoded events into requests (built by
:mod:`snowplow_tracker.protocol.wire`) and reports which events the collector accepted.
:func:`deliver` adds the retry loop of a :class:`~snowplow_tracker.delivery.retry.RetryPolicy`
around it, and waits out the transport's :class:`~snowplow_tracker.delivery.throttle.Throttle`
(a collector's ``Retry-After``) before each attempt.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, List, NamedTuple, Optional, Tuple, Union

from .. import arguments as _args
from .._logging import ThrottledLog, logger
from ..protocol.wire import (
    POST_CONTENT_TYPE,
    check_method,
    collector_credentials,
    collector_urls,
    get_query,
    post_body,
    sent_timestamp,
)
from .http_client import (
    CLIENTS,
    Client,
    RequestsClient,
    Urllib3Client,
    Verify,
    basic_auth_header,
    certificate_failure,
    error_name,
)
from .retry import RetryPolicy, is_success, should_split
from .throttle import Throttle

if TYPE_CHECKING:
    import requests

Timeout = Union[float, Tuple[float, float]]
#: Default ``(connect, read)`` timeout in seconds: a silent collector never hangs a sender.
DEFAULT_TIMEOUT: Tuple[float, float] = (5.0, 10.0)

#: Default most connections per transport (``requests``' own default): threads sending at once
#: beyond it wait for a free connection.
DEFAULT_POOL_SIZE = 10

_failure_log = ThrottledLog()


def _log_certificate_failure(log: ThrottledLog, url: str, reason: str) -> None:
    log.log(
        "certificate verify failed for %s (%s): its events are not retried (reported as "
        "failed); to trust a private CA pass verify='/path/to/ca.pem' to the emitter "
        "(snowplow-redis-worker: --verify /path/to/ca.pem), or fix the collector's certificate",
        url,
        reason,
    )


class Reply(NamedTuple):
    """What one request gave.

    Attributes:
        status: The HTTP status, or None when the request failed without one.
        error: A short description of a failed request (None when the collector answered).
        retry_after: The answer's ``Retry-After`` header, or None.
        final: The failure cannot be fixed by retrying (the collector's certificate could not
            be verified): its events are rejected.
    """

    status: Optional[int]
    error: Optional[str] = None
    retry_after: Optional[str] = None
    final: bool = False


def check_timeout(value: Optional[Timeout], where: str) -> Tuple[float, float]:
    """Validate ``request_timeout`` (float or ``(connect, read)`` tuple); None means the default.

    Args:
        value: What the user passed.
        where: The qualified name of the caller, for error messages.
    """
    if value is None:
        return DEFAULT_TIMEOUT
    pair = value if isinstance(value, tuple) else (value, value)
    if len(pair) != 2 or not all(_args.is_positive_finite(v) for v in pair):
        expected = "a positive number of seconds or a (connect, read) tuple of them"
        _args.fail(where, "request_timeout", expected, value)
    return (float(pair[0]), float(pair[1]))


@dataclass
class SendResult:
    """What one attempt at sending a batch gave.

    Attributes:
        sent: Events the collector accepted (2xx or 3xx).
        retry: Events whose request failed in a way that may succeed later.
        rejected: Events whose request failed for good (a status in ``no_retry_statuses``, or
            a certificate that could not be verified).
        deferred: Events not tried in this attempt because a ``Retry-After`` answer to an
            earlier request of it holds the transport (GET, or the halves of a split batch).
        status: The last HTTP status seen, or None after a network error.
        error: A short description of the last failed request, or None if none failed.
        throttled: Answers whose ``Retry-After`` the transport now holds its requests for.
    """

    sent: List[bytes] = field(default_factory=list)
    retry: List[bytes] = field(default_factory=list)
    rejected: List[bytes] = field(default_factory=list)
    deferred: List[bytes] = field(default_factory=list)
    status: Optional[int] = None
    error: Optional[str] = None
    throttled: int = 0


@dataclass
class DeliveryResult:
    """The outcome of :func:`deliver`: every event is in exactly one of ``sent`` and ``failed``.

    Attributes:
        sent: Events the collector accepted.
        failed: Events given up on (rejected, retry budget spent, or stopped).
        attempts: Requests rounds made.
        retried: Events sent again after a failed attempt (counted once per retry).
        unfinished: Those of ``failed`` that were still retryable when the retry budget ran
            out or waiting stopped (the others were rejected for good).
        throttled: Answers with a ``Retry-After`` that was obeyed (see
            :meth:`RetryPolicy.hold <snowplow_tracker.delivery.retry.RetryPolicy.hold>`).
    """

    sent: List[bytes] = field(default_factory=list)
    failed: List[bytes] = field(default_factory=list)
    attempts: int = 0
    retried: int = 0
    unfinished: List[bytes] = field(default_factory=list)
    throttled: int = 0


class HttpTransport:
    """Sends batches of encoded events to a collector over keep-alive connections.

    Safe to call from several threads at once: each request takes one of ``pool_size`` kept-alive
    connections (a thread beyond that waits for one). Connections are made on first use in each
    process, so a transport that crossed a fork never shares one with its parent. TLS
    certificates are verified as ``verify`` says; a certificate that cannot be verified is
    logged at ERROR (once a minute per throttle, i.e. per sender) and its events are rejected,
    not retried.
    Redirects are not followed (a 3xx counts as sent). A 429 or 503 with a ``Retry-After``
    holds every request of the transport's :class:`~snowplow_tracker.delivery.throttle.Throttle`
    until then (capped by the retry policy's ``max_retry_after``).
    Credentials in the endpoint (``https://user:password@host``) are sent as HTTP basic auth and
    never appear in URLs, logs or error messages.

    Args:
        endpoint: Collector host, optionally with a scheme (which wins over ``protocol``),
            credentials, port and path.
        method: ``"get"`` (one request per event to ``/i``) or ``"post"`` (one request per
            batch to ``/com.snowplowanalytics.snowplow/tp2``).
        protocol: ``"http"`` or ``"https"``.
        port: Port, or None for the scheme's default or the one in ``endpoint``.
        request_timeout: Seconds, or a ``(connect, read)`` tuple; default ``(5, 10)``.
        retry_policy: Decides which statuses are retryable.
        session: A ``requests.Session`` of the user's (proxies, adapters, certificates, mocks);
            when given, every request goes through it, and :meth:`close` leaves it open.
        client: Without a session, ``"requests"`` (default: a ``requests.Session``, proxy and CA
            bundle read from the environment once) or ``"urllib3"`` (a ``urllib3`` pool, the
            same settings, less CPU per request: for sender processes).
        pool_size: Most connections open at once, each kept alive, opened as needed: as many
            requests can be in flight (default 10, as ``requests``; a sender that keeps N
            requests in flight passes N).
        verify: TLS certificate verification, as ``requests``: True (default: the
            ``REQUESTS_CA_BUNDLE`` bundle when set, else certifi's), False (none), or the path of
            a CA bundle file or directory (a private CA). With a session, True keeps the
            session's own setting.
        throttle: The "not before" time this transport's requests respect, shared by every
            transport of one sender; default: one of its own.
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
        client: str = "requests",
        pool_size: int = DEFAULT_POOL_SIZE,
        verify: Verify = True,
        throttle: Optional[Throttle] = None,
        where: str = "Emitter",
    ) -> None:
        self.get_url, self.post_url = collector_urls(endpoint, protocol, port, where=where)
        self.method = check_method(method, where)
        self.timeout = check_timeout(request_timeout, where)
        self.retry_policy = retry_policy or RetryPolicy()
        if client not in CLIENTS:
            _args.fail(where, "client", f"one of {CLIENTS}", client)
        if session is not None and client != "requests":
            _args.refuse(
                where,
                f"argument 'session' is a requests.Session: it needs client='requests', "
                f"got {client!r}",
            )
        _args.positive_integer(where, "pool_size", pool_size)
        self.verify = _args.tls_verify(where, "verify", verify)
        self.throttle = throttle if throttle is not None else Throttle()
        self.client_name = client
        self.pool_size = pool_size
        auth = basic_auth_header(collector_credentials(endpoint, protocol))
        self._headers = {
            "post": {"Content-Type": POST_CONTENT_TYPE, **auth},
            "get": auth,
        }[self.method]
        self._lock = threading.Lock()
        self._client: Optional[Client] = None  # ours, made on first use in each process
        self._pid = 0
        self._user_client = (
            None
            if session is None
            else RequestsClient(self.url, self.timeout, session=session, verify=self.verify)
        )

    @property
    def url(self) -> str:
        """The URL requests go to (the GET one without its querystring; never credentials)."""
        return self.post_url if self.method == "post" else self.get_url

    def _get_client(self) -> Client:
        if self._user_client is not None:
            return self._user_client
        client = self._client
        if client is not None and self._pid == os.getpid():
            return client
        # Locked: threads sending at once must share one pool, not each make their own.
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                if self.client_name == "urllib3":
                    self._client = Urllib3Client(
                        self.url, self.timeout, self.pool_size, verify=self.verify
                    )
                else:
                    self._client = RequestsClient(
                        self.url, self.timeout, self.pool_size, verify=self.verify
                    )
                self._pid = os.getpid()
            return self._client

    def close(self) -> None:
        """Close the keep-alive connections of this process (a user's session stays open)."""
        with self._lock:
            client, self._client = self._client, None
            if client is not None and self._pid == os.getpid():
                client.close()  # a copy from before a fork is the parent's: left alone

    def _request(self, events: List[bytes], stm: int) -> Reply:
        client = self._get_client()
        try:
            if self.method == "post":
                status, retry_after = client.request(
                    "POST", self.post_url, post_body(events, stm), self._headers
                )
            else:
                url = self.get_url + "?" + get_query(events[0], stm)
                status, retry_after = client.request("GET", url, None, self._headers)
        except Exception as exc:  # noqa: BLE001 - nothing a collector answers may crash a sender
            reason = certificate_failure(exc)
            if reason is not None:
                _log_certificate_failure(self.throttle.certificate_log, self.url, reason)
                return Reply(None, f"{error_name(exc)} ({reason})", final=True)
            return Reply(None, error_name(exc))
        return Reply(status, None, retry_after)

    def send(self, events: List[bytes]) -> SendResult:
        """Make one attempt at sending ``events``; never raises for network or HTTP errors.

        A POST batch answered 413 (too large) is split in halves, recursively, and the halves
        sent one after the other in this same attempt; an event too large on its own is
        rejected at once, as is a GET answered 414 (and a POST answered 414: its URL does not
        depend on the events). Once the transport's throttle holds (a ``Retry-After``), the
        requests of this attempt not yet made are ``deferred``. So every event ends up in
        exactly one of the result's lists.

        Args:
            events: Encoded events (for this transport's method).
        """
        result = SendResult()
        if not events:
            return result
        stm = sent_timestamp()
        pending = deque([events] if self.method == "post" else [[e] for e in events])
        first = True
        while pending:
            if not first and self.throttle.remaining() > 0:
                for batch in pending:
                    result.deferred.extend(batch)
                break
            first = False
            batch = pending.popleft()
            reply = self._request(batch, stm)
            status = result.status = reply.status
            if status is not None and is_success(status):
                result.sent.extend(batch)
                logger.debug("sent %d event(s) to %s: HTTP %d", len(batch), self.url, status)
                continue
            result.error = reply.error or f"HTTP {status}"
            if status is not None and should_split(status, len(batch)):
                half = len(batch) // 2
                pending.extendleft((batch[half:], batch[:half]))
                logger.debug("%s answered %d to %d events: split", self.url, status, len(batch))
                continue
            if not reply.final and self.retry_policy.is_retryable(status):
                result.retry.extend(batch)
                hold = self.retry_policy.hold(status, reply.retry_after)
                if hold is not None:
                    self.throttle.hold(hold)
                    result.throttled += 1
                    result.error += f" (Retry-After: {hold:g} s)"
            else:
                result.rejected.extend(batch)
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
        wait: Sleeps for the given seconds between attempts (the longer of the backoff and the
            transport's ``Retry-After`` hold), and before a first attempt while that hold lasts;
            returns True to stop retrying at once (the remaining events are then reported as
            failed). Pass an
            ``threading.Event().wait``-style callable to make shutdown interrupt backoff.
    """
    policy = policy or transport.retry_policy
    outcome = DeliveryResult()
    pending = events
    started = time.monotonic()
    throttle = transport.throttle
    while pending:
        # A Retry-After holds every request of the transport, first attempts included.
        hold = throttle.remaining() if policy.retries else 0.0
        if hold > 0 and wait(hold):
            break
        outcome.attempts += 1
        result = transport.send(pending)
        outcome.sent.extend(result.sent)
        outcome.failed.extend(result.rejected)
        outcome.throttled += result.throttled
        pending = result.retry + result.deferred
        if not pending:
            break
        delay = max(policy.delay(outcome.attempts), throttle.remaining())
        if not policy.may_retry(outcome.attempts, time.monotonic() - started, delay):
            break
        if wait(delay):
            break
        outcome.retried += len(result.retry)
    outcome.failed.extend(pending)
    outcome.unfinished = list(pending)
    return outcome
