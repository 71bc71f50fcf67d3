"""The ``snowplow-redis-worker`` command: a ``RedisWorker`` draining Redis into a collector.

Run as ``snowplow-redis-worker --help`` (the console script), ``python -m
snowplow_tracker.emitters.redis.cli`` or the 0.10 path ``python -m snowplow_tracker.redis_worker``.
Every option can also be read from an environment variable (``SNOWPLOW_REDIS_URL`` ...).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple, Type, Union

from ..._logging import logger
from ...errors import ConfigurationError
from ...protocol.credentials import mask_credentials, mask_url
from .client import blocking_socket_timeout, check_redis_url, redis_client
from .worker import RedisWorker

__all__ = ["build_emitter", "build_parser", "main", "parse_args", "verify_option"]

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
#: The options passed on to :class:`RedisWorker` as keyword arguments.
_WORKER_OPTIONS = ("batch_size", "block_timeout", "worker_id", "heartbeat_ttl", "shutdown_timeout")


def _env(name: str, default: Optional[str] = None) -> Optional[str]:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Option:
    """One command-line option, as data: its flag, the default when neither it nor its
    environment variable is given, how the value is read, and its help.

    Attributes:
        flag: The option, e.g. ``"--buffer-size"`` (its value is ``args.buffer_size``).
        default: The default when the variable is unset (a string, converted like the option),
            or None.
        kind: ``str``, ``int`` (positive) or ``float`` (positive).
        help: What the option does; "(env VAR; default ...)" is appended.
        default_text: How the help states the default (default: ``"default <default>"``).
        choices: The allowed values, if limited.
        variable: The environment variable read for the default, if not ``SNOWPLOW_`` and the
            option's name (``SNOWPLOW_BUFFER_SIZE``).
    """

    flag: str
    default: Optional[str]
    kind: Type[Any]
    help: str
    default_text: Optional[str] = None
    choices: Optional[Tuple[str, ...]] = None
    variable: Optional[str] = None

    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")

    @property
    def env(self) -> str:
        """The environment variable read for the default."""
        return self.variable or "SNOWPLOW_" + self.dest.upper()

    @property
    def help_text(self) -> str:
        said = self.default_text if self.default_text is not None else f"default {self.default}"
        return f"{self.help} (env {self.env}{'; ' + said if said else ''})"


_EMITTERS = "default: the ProcessEmitter's"

#: Every option of ``snowplow-redis-worker`` but ``--endpoint`` (required unless its variable is
#: set) and ``--log-level`` (case-insensitive).
OPTIONS = (
    Option(
        "--redis-url",
        "redis://localhost:6379/0",
        str,
        "Redis URL, e.g. redis://:PASSWORD@host:6379/0, rediss://..., unix:///path",
    ),
    Option(
        "--key",
        "snowplow",
        str,
        "the Redis list RedisEmitter pushes to",
        variable="SNOWPLOW_REDIS_KEY",
    ),
    Option(
        "--protocol",
        "http",
        str,
        "collector protocol; a scheme in --endpoint wins",
        "default http, as the emitters",
        ("http", "https"),
    ),
    Option("--port", None, int, "collector port", "default: the protocol's"),
    Option(
        "--method",
        "post",
        str,
        "post: batches of events per request; get: one request per event",
        choices=("get", "post"),
    ),
    Option("--process-count", None, int, "sender processes of the ProcessEmitter", _EMITTERS),
    Option(
        "--max-in-flight",
        None,
        int,
        "requests each sender process keeps in flight, when the ProcessEmitter supports it",
        _EMITTERS,
    ),
    Option(
        "--thread-count",
        None,
        int,
        "send with this many threads of the worker process (an "
        "AsyncEmitter: one request in flight per thread) instead of sender processes",
        "",
    ),
    Option("--buffer-size", "100", int, "events per POST request"),
    Option(
        "--batch-size",
        "500",
        int,
        "items taken from Redis at once; up to 4 times as many "
        "may be unacknowledged while the emitter sends",
    ),
    Option(
        "--heartbeat-ttl",
        "30",
        float,
        "seconds without a heartbeat after which a worker "
        "counts as dead and its items are recovered by others",
    ),
    Option("--block-timeout", "1", float, "seconds one BLMOVE waits for an item"),
    Option(
        "--shutdown-timeout", "30", float, "seconds allowed to finish sending after SIGTERM/SIGINT"
    ),
    Option(
        "--verify",
        "true",
        str,
        "how the collector's TLS certificate is verified: true (the "
        "REQUESTS_CA_BUNDLE bundle when set, else certifi's), false (not at all), or the path "
        "of a CA bundle file or directory (a private CA)",
    ),
    Option(
        "--worker-id",
        None,
        str,
        "this worker's name in Redis keys",
        "default hostname-pid-random; must be unique among running workers",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    """The ``snowplow-redis-worker`` argument parser (each option can come from the environment)."""
    parser = argparse.ArgumentParser(
        prog="snowplow-redis-worker",
        description=(
            "Send the Snowplow events that RedisEmitter stored in a Redis list to a collector, "
            "with a ProcessEmitter (or --thread-count threads). Items move atomically to a "
            "per-worker processing list and are removed only after the collector accepted them; "
            "events given up on go to KEY:failed. Stop with SIGTERM or Ctrl-C: the worker "
            "finishes its batch first."
        ),
        epilog=(
            "Prefer SNOWPLOW_REDIS_URL to --redis-url when the URL holds a password: command "
            "lines are visible to other users. The password is never logged."
        ),
    )
    endpoint = _env("SNOWPLOW_COLLECTOR")
    parser.add_argument(
        "--endpoint",
        default=endpoint,
        required=endpoint is None,
        help="collector host, optionally with scheme, port and path, e.g. "
        "collector.example.com (env SNOWPLOW_COLLECTOR; required)",
    )
    for option in OPTIONS:
        parser.add_argument(
            option.flag,
            type=option.kind,
            choices=option.choices,
            default=_env(option.env, option.default),
            help=option.help_text,
        )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=_LEVELS,
        default=(_env("SNOWPLOW_LOG_LEVEL") or "INFO").upper(),
        help="logging level (env SNOWPLOW_LOG_LEVEL; default INFO)",
    )
    return parser


def parse_args(
    parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]
) -> argparse.Namespace:
    """Parse and check the command line (environment defaults converted like the options).

    Args:
        parser: From :func:`build_parser`.
        argv: The arguments (None: ``sys.argv[1:]``).
    """
    args = parser.parse_args(argv)
    # Defaults from the environment are strings: convert and check them like the options.
    for option in OPTIONS:
        if option.kind is str:
            continue
        value = getattr(args, option.dest)
        if isinstance(value, str):
            try:
                value = option.kind(value)
            except ValueError:
                parser.error(f"{option.flag}: invalid {option.kind.__name__} {value!r}")
            setattr(args, option.dest, value)
        if value is not None and value <= 0:
            parser.error(f"{option.flag}: must be positive, got {value!r}")
    if args.thread_count is not None and (
        args.process_count is not None or args.max_in_flight is not None
    ):
        parser.error(
            "--thread-count sends from threads: it excludes --process-count and --max-in-flight"
        )
    try:
        args.redis_url = check_redis_url(args.redis_url, "snowplow-redis-worker --redis-url")
    except ConfigurationError as exc:
        parser.error(mask_credentials(str(exc), [args.redis_url]))
    return args


def verify_option(text: Optional[str]) -> Union[bool, str]:
    """The emitters' ``verify`` from ``--verify``: ``true``/``false`` (any case, also
    ``1``/``0``, ``yes``/``no``), else a path (checked by the emitter).

    Args:
        text: The option's value (None: true).
    """
    return True if text is None else _BOOLEANS.get(text.strip().lower(), text)


def build_emitter(args: argparse.Namespace) -> Any:
    """The emitter the worker program sends with: a ``ProcessEmitter`` (each sender keeping up
    to ``--max-in-flight`` requests open when it supports it), or an ``AsyncEmitter`` of
    ``--thread-count`` threads.

    Raises:
        ConfigurationError: An option is invalid for the chosen emitter.
    """
    options: Dict[str, Any] = {
        "protocol": args.protocol,
        "port": args.port,
        "method": args.method,
        "buffer_size": args.buffer_size,
        "verify": verify_option(getattr(args, "verify", None)),
    }
    if args.thread_count is not None:
        from ..threads import AsyncEmitter

        return AsyncEmitter(args.endpoint, thread_count=args.thread_count, **options)
    from ..process.emitter import ProcessEmitter  # imported here: it starts nothing until used

    if args.process_count is not None:
        options["process_count"] = args.process_count
    if args.max_in_flight is not None:
        options["max_in_flight"] = args.max_in_flight
    return ProcessEmitter(args.endpoint, **options)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The ``snowplow-redis-worker`` program: a :class:`RedisWorker` over :func:`build_emitter`.

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 after a clean stop (SIGTERM, SIGINT).
    """
    parser = build_parser()
    args = parse_args(parser, argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s",
        stream=sys.stderr,
    )
    secrets = [args.redis_url, args.endpoint]
    try:
        emitter = build_emitter(args)
    except ConfigurationError as exc:
        parser.error(mask_credentials(str(exc), secrets))
    client = redis_client(
        args.redis_url, socket_timeout=blocking_socket_timeout(args.block_timeout)
    )
    try:
        options = {name: getattr(args, name) for name in _WORKER_OPTIONS}
        worker = RedisWorker(emitter, args.key, client, **options)
    except ConfigurationError as exc:
        emitter.close(timeout=1.0)
        client.close()
        parser.error(mask_credentials(str(exc), secrets))
    logger.info(
        "snowplow-redis-worker %s: Redis %s, list %r -> collector %s",
        worker.worker_id,
        mask_url(args.redis_url),
        args.key,
        _collector_url(emitter, args.endpoint),
    )
    try:
        worker.run()
    finally:
        done = emitter.close(timeout=args.shutdown_timeout)
        client.close()
    if done is False:
        logger.warning("snowplow-redis-worker: the emitter did not finish sending before exit")
    return 0


def _collector_url(emitter: Any, endpoint: str) -> str:
    """The URL the worker's emitter sends to (never with credentials), for the start-up log."""
    url = getattr(emitter, "url", None)
    return url if isinstance(url, str) else mask_url(endpoint)


if __name__ == "__main__":
    sys.exit(main())
