"""The HTTP clients a transport sends through: ``requests`` or ``urllib3``, never hand-written HTTP.

Both clients open up to ``pool_size`` keep-alive connections to the collector as needed, are
safe to use from several threads at once (a thread beyond ``pool_size`` waits for a connection,
at most :func:`pool_wait` seconds),
verify TLS certificates as ``verify`` says (``requests``' convention: True for the
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` bundle when set, else certifi's; a path to a CA bundle
file or directory; False for no verification), read the proxy settings of the environment once,
and never follow redirects. A request answers its status and its ``Retry-After`` header.

* :class:`RequestsClient` sends through a ``requests.Session``: the one the user gave (then used
  as it is: proxies, adapters, client certificates, mocks), or one of its own.
* :class:`Urllib3Client` sends through a ``urllib3`` pool directly. It costs less than half the
  CPU per request of ``requests`` (``python -m perf.http_client_cpu``), which matters in sender
  processes that do nothing else.

A failed request raises; :func:`error_name` names the failure with the vocabulary of
``requests`` (``ConnectTimeout``, ``ReadTimeout``, ``SSLError``, ``ProxyError``,
``ConnectionError``) whatever the client, and :func:`certificate_failure` tells a certificate
that could not be verified from a network failure.
"""

from __future__ import annotations

import os
import ssl
import sys
from base64 import b64encode
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Set, Tuple, Type, Union
from urllib.parse import unquote, urlsplit

import certifi
import urllib3
import urllib3.exceptions
from urllib3.util import make_headers

from .._version import VERSION
from ..protocol.credentials import mask_credentials

if TYPE_CHECKING:
    import requests

#: The clients a transport can send through.
CLIENTS = ("requests", "urllib3")
USER_AGENT = f"snowplow-python-tracker/{VERSION}"

#: How a failed request is named, first match wins: (exception class, name). ``requests`` wraps
#: the ``urllib3`` errors in its own classes (checked first, see :func:`error_names`); ``urllib3``
#: (``retries=False``) raises them as they are. urllib3's NewConnectionError is a subclass of
#: ConnectTimeoutError, so it comes first.
URLLIB3_ERROR_NAMES: Tuple[Tuple[Type[BaseException], str], ...] = (
    (urllib3.exceptions.ProxyError, "ProxyError"),
    (urllib3.exceptions.SSLError, "SSLError"),
    (urllib3.exceptions.NewConnectionError, "ConnectionError"),
    (urllib3.exceptions.ConnectTimeoutError, "ConnectTimeout"),
    (urllib3.exceptions.ReadTimeoutError, "ReadTimeout"),
    (urllib3.exceptions.HTTPError, "ConnectionError"),
    (OSError, "ConnectionError"),
)
_error_names_with_requests: Optional[Tuple[Tuple[Type[BaseException], str], ...]] = None


def error_names() -> Tuple[Tuple[Type[BaseException], str], ...]:
    """The table :func:`error_name` reads: ``requests``' exceptions first, each before the
    ``urllib3`` one it wraps, when ``requests`` is imported (only it raises them: a process that
    sends through ``urllib3`` alone never imports it), then :data:`URLLIB3_ERROR_NAMES`."""
    global _error_names_with_requests
    if "requests" not in sys.modules:
        return URLLIB3_ERROR_NAMES
    if _error_names_with_requests is None:
        import requests

        x = requests.exceptions
        _error_names_with_requests = (
            (x.ProxyError, "ProxyError"),
            (x.SSLError, "SSLError"),
            (x.ConnectTimeout, "ConnectTimeout"),
            (x.ReadTimeout, "ReadTimeout"),
            (x.ConnectionError, "ConnectionError"),
            *URLLIB3_ERROR_NAMES,
        )
    return _error_names_with_requests


def error_name(exc: BaseException) -> str:
    """The name of a failed request (see :func:`error_names`); any other exception is named by
    its class and message, with credentials masked.

    Args:
        exc: What the client raised.
    """
    for kind, name in error_names():
        if isinstance(exc, kind):
            return name
    return mask_credentials(f"{type(exc).__name__}: {exc}")


def certificate_failure(exc: BaseException) -> Optional[str]:
    """Why the collector's TLS certificate could not be verified (unknown CA, expired, wrong
    host name), or None when ``exc`` is another failure. Retrying cannot fix such a failure.

    Args:
        exc: What the client raised.
    """
    seen: Set[int] = set()
    todo = [exc]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            return str(item.verify_message or "certificate verify failed")
        if "CERTIFICATE_VERIFY_FAILED" in str(item):
            return "certificate verify failed"
        # requests and urllib3 wrap the ssl error: in args, in .reason, or as the cause.
        nested = [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
        todo.extend(x for x in nested if isinstance(x, BaseException))
    return None


#: How TLS certificates are verified (``requests``' convention): True (the default bundle),
#: False (not at all), or the path of a CA bundle file or directory.
Verify = Union[bool, str]


def ca_bundle() -> str:
    """The CA bundle collectors are verified with: the environment's, else certifi's."""
    return (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    )


def environ_proxy(url: str) -> Optional[str]:
    """The proxy the environment sets for ``url`` (``HTTP(S)_PROXY``, ``NO_PROXY``), or None.

    ``requests`` reads the proxy settings; where they come from the environment alone (not
    macOS, not Windows), it is imported only when a proxy variable is set.
    """
    if (
        sys.platform != "darwin"
        and os.name != "nt"
        and not any(k.lower().endswith("_proxy") and k.lower() != "no_proxy" for k in os.environ)
    ):
        return None
    import requests.utils

    return requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))


def basic_auth_header(credentials: Optional[str]) -> Dict[str, str]:
    """``{"authorization": "Basic ..."}`` for ``"user:password"``, or ``{}`` for None.

    The credentials are encoded as UTF-8 (RFC 7617's ``charset="UTF-8"``), so that any
    character may be in a password.
    """
    if not credentials:
        return {}
    return {"authorization": "Basic " + b64encode(credentials.encode("utf-8")).decode("ascii")}


Timeout = Tuple[float, float]
Body = Optional[bytes]
#: What a request answers: the HTTP status and the ``Retry-After`` header (None if absent).
Answer = Tuple[int, Optional[str]]

#: A request waits for a free pooled connection at most this many times its own
#: ``connect + read`` timeout (each holder gives its connection back within one request), and at
#: least :data:`POOL_WAIT_MIN` seconds; then it fails (``EmptyPoolError``, named
#: ``ConnectionError``). Never for ever: a pool emptied by another library's exit hook must not
#: hang the process.
POOL_WAIT_REQUESTS = 3
#: The least seconds a request waits for a free pooled connection (see :data:`POOL_WAIT_REQUESTS`).
POOL_WAIT_MIN = 30.0


def pool_wait(timeout: Timeout) -> float:
    """Seconds a request with ``(connect, read)`` timeout waits at most for a pooled connection."""
    return max(POOL_WAIT_MIN, POOL_WAIT_REQUESTS * (timeout[0] + timeout[1]))


class _BoundedPoolWait:
    """A ``urllib3`` connection pool whose requests wait a bounded time for a free connection.

    ``requests`` never passes ``pool_timeout``: with ``pool_block=True`` a request would wait
    for ever for a connection that never comes back. This sets it from the request's own
    timeout (:func:`pool_wait`).
    """

    def urlopen(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("pool_timeout") is None and not args:
            timeout = kwargs.get("timeout")
            if isinstance(timeout, urllib3.Timeout):
                connect, read = timeout.connect_timeout, timeout.read_timeout
                if isinstance(connect, (int, float)) and isinstance(read, (int, float)):
                    kwargs["pool_timeout"] = pool_wait((connect, read))
        return super().urlopen(method, url, *args, **kwargs)  # type: ignore[misc]


class _BoundedHTTPConnectionPool(_BoundedPoolWait, urllib3.HTTPConnectionPool):
    pass


class _BoundedHTTPSConnectionPool(_BoundedPoolWait, urllib3.HTTPSConnectionPool):
    pass


_BOUNDED_POOLS = {"http": _BoundedHTTPConnectionPool, "https": _BoundedHTTPSConnectionPool}


_bounded_adapter: Optional[Type[Any]] = None


def bounded_adapter() -> Type[Any]:
    """``requests``' adapter class whose pools (direct and through a proxy) bound the wait for a
    free connection (:class:`_BoundedPoolWait`); defined on first use, as ``requests`` is
    imported only by what sends through it."""
    global _bounded_adapter
    if _bounded_adapter is None:
        import requests.adapters

        class _BoundedAdapter(requests.adapters.HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                super().init_poolmanager(*args, **kwargs)
                self.poolmanager.pool_classes_by_scheme = dict(_BOUNDED_POOLS)

            def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> urllib3.PoolManager:
                manager: urllib3.PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
                manager.pool_classes_by_scheme = dict(_BOUNDED_POOLS)
                return manager

        _bounded_adapter = _BoundedAdapter
    return _bounded_adapter


class RequestsClient:
    """Sends through a ``requests.Session``.

    Args:
        url: Any URL on the collector (selects the proxy from the environment).
        timeout: ``(connect, read)`` seconds.
        pool_size: Most connections open at once (ignored with a user's session).
        session: A user's session, used as it is and never closed here; None for one of ours:
            environment settings read once (proxy, CA bundle), TLS verified, no cookies kept.
        verify: How certificates are verified (see :data:`Verify`); with a user's session,
            True keeps the session's own ``verify`` and another value is passed with each
            request (where ``requests`` lets it win over the session's).
    """

    def __init__(
        self,
        url: str,
        timeout: Timeout,
        pool_size: int = 1,
        session: Optional[requests.Session] = None,
        verify: Verify = True,
    ) -> None:
        self.timeout = timeout
        self.owned = session is None
        self.verify: Optional[Verify] = None if verify is True else verify
        if session is None:
            from http.cookiejar import DefaultCookiePolicy

            import requests
            import requests.utils

            session = requests.Session()
            adapter = bounded_adapter()(pool_connections=1, pool_maxsize=pool_size, pool_block=True)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            # requests reads these from the environment on every request (about a tenth of a
            # sender's time); the collector is fixed, so read them once.
            session.proxies.update(requests.utils.get_environ_proxies(url))
            session.verify = ca_bundle() if verify is True else verify
            self.verify = None
            session.trust_env = False
            # A collector's cookie (network_userid) must not stick to every later event.
            session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
            session.headers["User-Agent"] = USER_AGENT
        self.session = session

    def request(self, method: str, url: str, body: Body, headers: Mapping[str, str]) -> Answer:
        """Send one request; return its status and ``Retry-After``. Raises what ``requests``
        raises."""
        response = self.session.request(
            method,
            url,
            data=body,
            headers=headers,
            timeout=self.timeout,
            allow_redirects=False,
            verify=self.verify,
        )
        response.close()
        return response.status_code, response.headers.get("Retry-After")

    def close(self) -> None:
        """Close the session's connections, unless it is the user's."""
        if self.owned:
            self.session.close()


class Urllib3Client:
    """Sends through a ``urllib3`` connection pool (a ``ProxyManager`` when the environment sets
    a proxy for the collector); no retries, no redirects.

    Args:
        url: Any URL on the collector.
        timeout: ``(connect, read)`` seconds.
        pool_size: Most connections open at once.
        verify: How certificates are verified (see :data:`Verify`).
    """

    def __init__(
        self, url: str, timeout: Timeout, pool_size: int = 1, verify: Verify = True
    ) -> None:
        self.headers = {"User-Agent": USER_AGENT}
        proxy = environ_proxy(url)
        make: Callable[..., urllib3.PoolManager] = urllib3.PoolManager
        if proxy:
            parts = urlsplit(proxy)
            auth = None
            if parts.username or parts.password:
                auth = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            make = partial(
                urllib3.ProxyManager, proxy, proxy_headers=make_headers(proxy_basic_auth=auth)
            )
        tls: Dict[str, object] = {"cert_reqs": "CERT_REQUIRED", "ca_certs": ca_bundle()}
        if verify is False:
            tls = {"cert_reqs": "CERT_NONE"}
        elif isinstance(verify, str) and os.path.isdir(verify):
            tls = {"cert_reqs": "CERT_REQUIRED", "ca_cert_dir": verify}
        elif isinstance(verify, str):
            tls["ca_certs"] = verify
        self.manager = make(
            num_pools=1,
            maxsize=pool_size,
            block=True,
            retries=False,
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            **tls,
        )
        # Without a proxy, requests go straight to the pool: no per-request pool lookup.
        self.pool: Optional[urllib3.HTTPConnectionPool] = (
            None if proxy else self.manager.connection_from_url(url)
        )
        self.pool_timeout = pool_wait(timeout)

    def request(self, method: str, url: str, body: Body, headers: Mapping[str, str]) -> Answer:
        """Send one request; return its status and ``Retry-After``. Raises what ``urllib3``
        raises."""
        options: Dict[str, Any] = {
            "body": body,
            "headers": {**self.headers, **headers},
            "redirect": False,
            "pool_timeout": self.pool_timeout,
        }
        if self.pool is None:  # through the proxy: the manager builds the request for it
            response = self.manager.urlopen(method, url, **options)
        else:
            parts = urlsplit(url)
            target = f"{parts.path}?{parts.query}" if parts.query else parts.path
            response = self.pool.urlopen(method, target, retries=False, **options)
        return int(response.status), response.headers.get("Retry-After")

    def close(self) -> None:
        """Close every connection."""
        self.manager.clear()


Client = Union[RequestsClient, Urllib3Client]
