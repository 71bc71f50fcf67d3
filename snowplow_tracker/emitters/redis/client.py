"""Redis clients for the Redis emitter and worker: building them with bounded timeouts,
checking the arguments that name them, and describing them without their credentials."""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Tuple

from ... import arguments as _args
from ..._logging import logger
from ...errors import ConfigurationError
from ...protocol.credentials import (
    ENCODED_CREDENTIALS,
    mask_url,
    unencoded_credentials,
)

#: Schemes that ``redis.Redis.from_url`` understands.
REDIS_URL_SCHEMES = ("redis://", "rediss://", "unix://")
#: Default socket timeouts of the clients this module creates: a dead Redis never hangs a thread.
DEFAULT_SOCKET_TIMEOUT = 5.0
DEFAULT_CONNECT_TIMEOUT = 2.0


def _is_redis_url(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(REDIS_URL_SCHEMES)


#: The rules of this package's arguments that :mod:`snowplow_tracker.arguments` has no word for.
redis_url = _args.Rule(
    "a Redis URL such as 'redis://localhost:6379/0' (schemes redis://, rediss://, unix://)",
    _is_redis_url,
)
redis_client_or_none = _args.Rule(
    "a redis.Redis client", lambda v: callable(getattr(v, "pipeline", None))
).or_none()


def check_redis_url(url: Any, where: str) -> str:
    """Return ``url`` if it looks like a Redis URL, else raise :class:`ConfigurationError`.

    The value is shown in the message with its password masked. A password holding a
    character that ends a URL's authority (``/``, ``?``, ``#``, ``@``, ``\\``) or a space must be
    percent-encoded: the Redis client would misread the URL otherwise.

    Args:
        url: What the user passed.
        where: The qualified name of the caller, for the error message.
    """
    shown = repr(mask_url(url)) if isinstance(url, str) else None
    if not redis_url.ok(url):
        _args.fail(where, "url", redis_url.expected, url, shown=shown)
    text = str(url).strip()
    if unencoded_credentials(text):
        _args.fail(where, "url", f"a Redis URL with {ENCODED_CREDENTIALS}", url, shown=shown)
    return text


def check_redis_client(rdb: Any, url: Any, where: str) -> None:
    """Check the ``rdb`` argument (a ``redis.Redis`` client or None; not with ``url``).

    A wrong value is shown by its type: a client's ``repr`` may carry its connection details.

    Args:
        rdb: What the user passed as ``rdb``.
        url: What the user passed as ``url``.
        where: The qualified name of the caller, for the error message.
    """
    if not (rdb is None or redis_client_or_none.ok(rdb)):
        _args.fail(where, "rdb", redis_client_or_none.expected, rdb, shown=type(rdb).__name__)
    if rdb is not None and url is not None:
        _args.refuse(where, "pass either 'rdb' or 'url', not both")


def redis_client(
    url: Optional[str] = None,
    *,
    socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
    socket_connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Any:
    """Build a ``redis.Redis`` client (importing ``redis`` now) with bounded socket timeouts.

    Args:
        url: A Redis URL; None for ``localhost:6379``, database 0.
        socket_timeout: Seconds a command may wait for its answer.
        socket_connect_timeout: Seconds a connection attempt may take.

    Raises:
        ConfigurationError: The ``redis`` package is not installed.
    """
    try:
        import redis
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            "the redis package is needed: pip install 'snowplow-multiprocess-tracker[redis]'"
        ) from None
    timeouts: Dict[str, Any] = dict(
        socket_timeout=socket_timeout, socket_connect_timeout=socket_connect_timeout
    )
    return redis.Redis(**timeouts) if url is None else redis.Redis.from_url(url, **timeouts)


def bounded_client(client: Any, timeout: float) -> Any:
    """A client on the same server as ``client``, with ``timeout`` as its socket timeouts and no
    retries; None when ``client`` is not a plain ``redis.Redis`` (e.g. a cluster client).

    Args:
        client: A ``redis.Redis`` client.
        timeout: Seconds a command (or a connection attempt) may take.
    """
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        pool = client.connection_pool
        kwargs = dict(pool.connection_kwargs)
        for name in ("orig_socket_timeout", "orig_socket_connect_timeout"):
            kwargs.pop(name, None)  # redis-py's own bookkeeping, set again by the new pool
        connect = kwargs.get("socket_connect_timeout")
        kwargs.update(
            socket_timeout=timeout,
            socket_connect_timeout=timeout if connect is None else min(connect, timeout),
            retry=Retry(NoBackoff(), 0),
        )
        bounded_pool = pool.__class__(connection_class=pool.connection_class, **kwargs)
        return redis.Redis(connection_pool=bounded_pool)
    except Exception:
        logger.debug("RedisEmitter: no bounded copy of %s", type(client).__name__, exc_info=True)
        return None


def describe_client(client: Any) -> str:
    """A short, password-free description of a ``redis.Redis`` client, for logs and reprs."""
    try:
        kwargs = client.connection_pool.connection_kwargs
        if "path" in kwargs:
            return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
    except Exception:  # noqa: BLE001 - any client-like object will do
        return type(client).__name__


def blocking_socket_timeout(block_timeout: float) -> float:
    """The socket timeout of a client whose commands block up to ``block_timeout`` seconds."""
    return max(DEFAULT_SOCKET_TIMEOUT, block_timeout + 5.0)


class LazyClient:
    """The Redis client of an emitter or a worker: the one given, or one created on first use
    (from ``url``, else for ``localhost:6379`` database 0) by :func:`redis_client`.

    Args:
        rdb: A ``redis.Redis`` client, or None.
        url: The URL of the client to create, or None.
        socket_timeout: The socket timeout of the client created.
    """

    def __init__(
        self, rdb: Any, url: Optional[str], socket_timeout: float = DEFAULT_SOCKET_TIMEOUT
    ) -> None:
        self.client = rdb
        self.url = url
        self.socket_timeout = socket_timeout
        self.lock = threading.Lock()

    def get(self) -> Any:
        """The client, created now if there is none yet."""
        if self.client is None:
            with self.lock:
                if self.client is None:
                    self.client = redis_client(self.url, socket_timeout=self.socket_timeout)
        return self.client

    @property
    def secrets(self) -> List[str]:
        """The URLs whose passwords no message may show."""
        return [] if self.url is None else [self.url]

    def describe(self) -> str:
        """Where the client points, for ``repr`` and logs, without credentials."""
        if self.url is not None:
            return mask_url(self.url)
        return "localhost:6379/0" if self.client is None else describe_client(self.client)


class RedisUser:
    """Base of ``RedisEmitter`` and ``RedisWorker``: their Redis client, and a ``repr`` of the
    attributes named in ``_shown`` (``redis``: where the client points, without credentials)."""

    _where: str
    _redis: LazyClient
    _shown: Tuple[str, ...]

    @property
    def client(self) -> Any:
        """The Redis client, created on first use when none was given."""
        return self._redis.get()

    def __repr__(self) -> str:
        values = (self._redis.describe() if n == "redis" else getattr(self, n) for n in self._shown)
        return f"{self._where}({', '.join(f'{n}={v!r}' for n, v in zip(self._shown, values))})"


def is_redis_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from talking to Redis (the client's errors or the socket's)."""
    if isinstance(exc, (OSError, TimeoutError, ConnectionError)):
        return True
    return any(cls.__name__ == "RedisError" for cls in type(exc).__mro__)
