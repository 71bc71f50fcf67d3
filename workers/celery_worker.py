#!/usr/bin/env python3
"""Run a Celery worker for ``CeleryEmitter`` tasks (``celery -A snowplow_tracker.emitters``).

A thin launcher for operators: it turns options and environment variables into the ``celery``
command line and replaces itself with it (``exec``), so signals reach Celery directly (SIGTERM:
warm shutdown, running batches finish; unfinished tasks stay in the broker thanks to late
acknowledgement). The app and the task live in
:mod:`snowplow_tracker.emitters.celery.worker_app`; the worker consumes the queue ``snowplow``
(where ``CeleryEmitter`` publishes) in addition to ``--queues``.

List the collectors the worker may send to with ``--allowed-endpoints`` (or
``SNOWPLOW_CELERY_ALLOWED_ENDPOINTS``, or ``snowplow_allowed_endpoints`` in
``snowplow_celery_config``): a task for any other destination is moved to the dead-letter queue
``snowplow.failed`` and never sent. Without an allowlist the worker sends nothing.

The broker URL is passed through the environment (``SNOWPLOW_CELERY_BROKER_URL``), never on the
command line, so that its password does not show in ``ps``. If a module named
``snowplow_celery_config`` is importable, it configures the app instead (see
``workers/README.md``)::

    SNOWPLOW_CELERY_BROKER_URL=redis://:PASSWORD@redis.internal:6379/0 \\
        python workers/celery_worker.py --concurrency 8 \\
        --allowed-endpoints https://collector.example.com

    python workers/celery_worker.py --dry-run   # print the command it would run
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

_CHECKOUT: Optional[str] = None
try:
    import snowplow_tracker  # noqa: F401 - installed (pip install snowplow-multiprocess-tracker[celery])
except ImportError:  # run from a checkout: use the library next to this folder
    _CHECKOUT = str(Path(__file__).resolve().parents[1])
    sys.path.insert(0, _CHECKOUT)

from snowplow_tracker.emitters.celery.emitter import (  # noqa: E402
    BROKER_URL_ENV,
    DEFAULT_BROKER_URL,
)
from snowplow_tracker.emitters.celery.sending import ALLOWED_ENDPOINTS_ENV  # noqa: E402
from snowplow_tracker.protocol.credentials import mask_url  # noqa: E402

APP_MODULE = "snowplow_tracker.emitters"


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def build_parser() -> argparse.ArgumentParser:
    """The launcher's options; each can also come from an environment variable."""
    parser = argparse.ArgumentParser(
        prog="celery_worker.py",
        description="Run a Celery worker that sends the batches published by CeleryEmitter "
        f"(celery -A {APP_MODULE} worker).",
    )
    parser.add_argument(
        "--broker-url",
        default=_env(BROKER_URL_ENV, DEFAULT_BROKER_URL),
        help=f"Celery broker URL (env {BROKER_URL_ENV}; default {DEFAULT_BROKER_URL}); "
        "ignored when a snowplow_celery_config module is importable. Prefer the environment "
        "variable when the URL holds a password.",
    )
    parser.add_argument(
        "--allowed-endpoints",
        default=os.environ.get(ALLOWED_ENDPOINTS_ENV),
        help="comma-separated collectors the worker may send to, each "
        "scheme://host[:port][/path] or host[:port] (env "
        f"{ALLOWED_ENDPOINTS_ENV}; required: without it the worker sends nothing). Tasks for other "
        "destinations go to the dead-letter queue snowplow.failed, unsent.",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=int(_env("SNOWPLOW_CELERY_CONCURRENCY", "4")),
        help="worker threads or processes (env SNOWPLOW_CELERY_CONCURRENCY; default 4)",
    )
    parser.add_argument(
        "--pool",
        choices=("threads", "prefork", "solo"),
        default=_env("SNOWPLOW_CELERY_POOL", "threads"),
        help="execution pool; sending is I/O-bound, so threads suit it "
        "(env SNOWPLOW_CELERY_POOL; default threads)",
    )
    parser.add_argument(
        "--queues",
        default=_env("SNOWPLOW_CELERY_QUEUES", ""),
        help="comma-separated queues to consume besides snowplow (env SNOWPLOW_CELERY_QUEUES; "
        "default: Celery's default queue)",
    )
    parser.add_argument(
        "--loglevel",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
        default=_env("SNOWPLOW_LOG_LEVEL", "INFO").upper(),
        help="log level (env SNOWPLOW_LOG_LEVEL; default INFO)",
    )
    parser.add_argument(
        "--hostname",
        default=os.environ.get("SNOWPLOW_CELERY_HOSTNAME"),
        help="worker node name, e.g. snowplow@%%h (env SNOWPLOW_CELERY_HOSTNAME)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the command (with the broker password masked) and exit",
    )
    return parser


def celery_command(args: argparse.Namespace) -> List[str]:
    """The ``celery worker`` command line for ``args``."""
    command = [
        sys.executable, "-m", "celery", "-A", APP_MODULE, "worker",
        f"--pool={args.pool}", "--concurrency", str(args.concurrency),
        "--loglevel", args.loglevel,
    ]  # fmt: skip
    if args.queues:
        command += ["--queues", args.queues]
    if args.hostname:
        command += ["--hostname", args.hostname]
    return command


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the options and ``exec`` the Celery worker (or print it with ``--dry-run``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error(f"--concurrency: must be a positive integer, got {args.concurrency}")
    command = celery_command(args)
    env = dict(os.environ)
    env[BROKER_URL_ENV] = args.broker_url
    if args.allowed_endpoints:
        env[ALLOWED_ENDPOINTS_ENV] = args.allowed_endpoints
    if _CHECKOUT is not None:  # the worker must find the library where this launcher did
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_CHECKOUT, env.get("PYTHONPATH")) if p)
    if args.dry_run:
        allowed = (
            f"{ALLOWED_ENDPOINTS_ENV}="
            f"{','.join(mask_url(e) for e in args.allowed_endpoints.split(','))} "
            if args.allowed_endpoints
            else ""
        )
        print(f"{BROKER_URL_ENV}={mask_url(args.broker_url)} {allowed}{' '.join(command)}")
        return 0
    os.execve(sys.executable, command, env)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
