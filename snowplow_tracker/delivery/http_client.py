"""The HTTP clients a transport sends through: ``requests`` or ``urllib3``, never hand-written HTTP.

Both clients open up to ``pool_size`` keep-alive connections to the collector as needed, are
safe to use from several threads at once (a thread beyond ``pool_size`` waits for a connection),
verify TLS certificates (the ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` bundle when set, else
certifi's, as ``requests`` does), read the proxy settings of the environment once, and never
follow redirects.

* :class:`RequestsClient` sends through a ``requests.Session``: the one the user gave (then used
  as it is: proxies, adapters, client certificates, mocks), or one of its own.
* :class:`Urllib3Client` sends through a ``urllib3`` pool directly. It costs less than half the
  CPU per request of ``requests`` (``python -m perf.http_client_cpu``), which matters in sender
  processes that do nothing else.

A failed request raises; :func:`error_name` names the failure with the vocabulary of
``requests`` (``ConnectTimeout``, ``ReadTimeout``, ``SSLError``, ``ProxyError``,
``ConnectionError``) whatever the client.
"""

from __future__ import annotations

import os
from base64 import b64encode
from functools import partial
from http.cookiejar import DefaultCookiePolicy
from typing import Callable, Dict, Mapping, Optional, Tuple, Type, Union
from urllib.parse import unquote, urlsplit

import certifi
import requests
import requests.adapters
import urllib3
import urllib3.exceptions
from urllib3.util import make_headers

from .._version import VERSION
from .credentials import mask_credentials

#: The clients a transport can send through.
CLIENTS = ("requests", "urllib3")
USER_AGENT = f"snowplow-python-tracker/{VERSION}"

#: How a failed request is named, first match wins: (exception class, name). ``requests`` wraps
#: the ``urllib3`` errors in its own classes; ``urllib3`` (``retries=False``) raises them as they
#: are. urllib3's NewConnectionError is a subclass of ConnectTimeoutError, so it comes first.
ERROR_NAMES: Tuple[Tuple[Type[BaseException], str], ...] = (
    (requests.exceptions.ProxyError, "ProxyError"),
    (urllib3.exceptions.ProxyError, "ProxyError"),
    (requests.exceptions.SSLError, "SSLError"),
    (urllib3.exceptions.SSLError, "SSLError"),
    (requests.exceptions.ConnectTimeout, "ConnectTimeout"),
    (requests.exceptions.ReadTimeout, "ReadTimeout"),
    (urllib3.exceptions.NewConnectionError, "ConnectionError"),
    (urllib3.exceptions.ConnectTimeoutError, "ConnectTimeout"),
    (urllib3.exceptions.ReadTimeoutError, "ReadTimeout"),
    (requests.exceptions.ConnectionError, "ConnectionError"),
    (urllib3.exceptions.HTTPError, "ConnectionError"),
    (OSError, "ConnectionError"),
)


def error_name(exc: BaseException) -> str:
    """The name of a failed request (see :data:`ERROR_NAMES`); any other exception is named by
    its class and message, with credentials masked.

    Args:
        exc: What the client raised.
    """
    for kind, name in ERROR_NAMES:
        if isinstance(exc, kind):
            return name
    return mask_credentials(f"{type(exc).__name__}: {exc}")


def ca_bundle() -> str:
    """The CA bundle collectors are verified with: the environment's, else certifi's."""
    return (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    )


def environ_proxy(url: str) -> Optional[str]:
    """The proxy the environment sets for ``url`` (``HTTP(S)_PROXY``, ``NO_PROXY``), or None."""
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


class RequestsClient:
    """Sends through a ``requests.Session``.

    Args:
        url: Any URL on the collector (selects the proxy from the environment).
        timeout: ``(connect, read)`` seconds.
        pool_size: Most connections open at once (ignored with a user's session).
        session: A user's session, used as it is and never closed here; None for one of ours:
            environment settings read once (proxy, CA bundle), TLS verified, no cookies kept.
    """

    def __init__(
        self,
        url: str,
        timeout: Timeout,
        pool_size: int = 1,
        session: Optional[requests.Session] = None,
    ) -> None:
        self.timeout = timeout
        self.owned = session is None
        if session is None:
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(
                pool_connections=1, pool_maxsize=pool_size, pool_block=True
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            # requests reads these from the environment on every request (about a tenth of a
            # sender's time); the collector is fixed, so read them once.
            session.proxies.update(requests.utils.get_environ_proxies(url))
            session.verify = ca_bundle()
            session.trust_env = False
            # A collector's cookie (network_userid) must not stick to every later event.
            session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
            session.headers["User-Agent"] = USER_AGENT
        self.session = session

    def request(self, method: str, url: str, body: Body, headers: Mapping[str, str]) -> int:
        """Send one request; return the status. Raises what ``requests`` raises."""
        response = self.session.request(
            method, url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
        )
        response.close()
        return response.status_code

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
    """

    def __init__(self, url: str, timeout: Timeout, pool_size: int = 1) -> None:
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
        self.manager = make(
            num_pools=1,
            maxsize=pool_size,
            block=True,
            retries=False,
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_bundle(),
        )
        # Without a proxy, requests go straight to the pool: no per-request pool lookup.
        self.pool: Optional[urllib3.HTTPConnectionPool] = (
            None if proxy else self.manager.connection_from_url(url)
        )

    def request(self, method: str, url: str, body: Body, headers: Mapping[str, str]) -> int:
        """Send one request; return the status. Raises what ``urllib3`` raises."""
        if self.pool is None:  # through the proxy: the manager builds the request for it
            response = self.manager.urlopen(
                method, url, body=body, headers={**self.headers, **headers}, redirect=False
            )
        else:
            parts = urlsplit(url)
            target = f"{parts.path}?{parts.query}" if parts.query else parts.path
            response = self.pool.urlopen(
                method,
                target,
                body=body,
                headers={**self.headers, **headers},
                redirect=False,
                retries=False,
            )
        return int(response.status)

    def close(self) -> None:
        """Close every connection."""
        self.manager.clear()


Client = Union[RequestsClient, Urllib3Client]
