"""``CeleryEmitter``: the tracker enqueues batches of events as Celery tasks; workers send them.

The emitter batches events in the host with the shared rules (``buffer_size``, ``byte_limit``,
see :mod:`snowplow_tracker.delivery.batching`) and publishes each batch as **one** task,
``snowplow_tracker.send_events``, on the queue ``snowplow``. Its arguments are the list of events
as JSON strings and the sending configuration (collector URL, method, timeouts, retry policy).
Messages are always serialised as JSON, never with pickle. A Celery worker sends the batch with
the shared :class:`~snowplow_tracker.delivery.transport.HttpTransport`, retries through Celery with
the policy carried in the message, and acknowledges late (see
:mod:`snowplow_tracker.emitters.celery.sending` for the worker side: allowlist, dead letters).

Celery is imported only when an app is given or built: importing ``snowplow_tracker`` or this
module creates no Celery app and opens no connection. Install it with
``pip install 'snowplow-multiprocess-tracker[celery]'``. The emitter publishes with the app
given as ``celery_app`` (the task is registered on it: :func:`register_task`), else with a
default app created on first use (:func:`default_app`).

The tasks travel on their own queue, ``snowplow`` (argument ``queue``): a worker whose app knows
the task consumes it automatically, and workers that do not know the task never receive (and
drop) them. A worker sends only to the collectors in its allowlist (``snowplow_allowed_endpoints``
in its app's configuration, or ``SNOWPLOW_CELERY_ALLOWED_ENDPOINTS``); without one it sends
nothing. Run a worker for the default app with::

    SNOWPLOW_CELERY_BROKER_URL=redis://localhost:6379/0 \\
    SNOWPLOW_CELERY_ALLOWED_ENDPOINTS=https://collector.example.com \\
        celery -A snowplow_tracker.emitters worker --loglevel=info

Collector credentials (``https://user:password@collector.example.com``) reach the workers in
each task message (its ``auth`` field; format version 2, which workers older than this
library version dead-letter rather than send without them) and are sent as HTTP basic auth.
The message travels through, and waits in, the broker as the events do: whoever can read the
broker's queues (``snowplow``, ``snowplow.failed``) can read them, so protect the broker (a
password, TLS, no shared access). They never appear in ``repr``, logs, task headers
(``argsrepr``) or error messages.

Example:
    >>> from snowplow_tracker import Tracker
    >>> from snowplow_tracker.emitters.celery.emitter import CeleryEmitter
    >>> e = CeleryEmitter("collector.example.com", protocol="https", buffer_size=100)
    >>> t = Tracker(e)  # doctest: +SKIP
    >>> t.track_page_view("https://www.example.com/")  # doctest: +SKIP
    >>> e.flush()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import weakref
from typing import Any, Dict, List, Mapping, Optional

from ... import arguments as _args
from ..._logging import ThrottledLog, logger
from ...delivery.batching import Batcher, split_batches
from ...delivery.stats import Counters, EmitterStats
from ...protocol.credentials import mask_credentials
from ...protocol.wire import POST_PATH, collector_credentials
from ...settings import POSITIONAL, Profile
from .. import lifecycle
from ..base import BaseEmitter, FlushTimer, encode_or_raise
from ..constructors import CeleryEmitterConstructor
from .sending import (
    DEAD_LETTER_QUEUE,
    MESSAGE_VERSION,
    QUEUE,
    TASK_NAME,
    TASK_OPTIONS,
    broker_urls,
    connect_worker_signals,
    policy_to_message,
    send_events,
    task_options,
)

__all__ = [
    "BROKER_URL_ENV",
    "CONFIG_MODULE",
    "DEAD_LETTER_QUEUE",
    "QUEUE",
    "TASK_NAME",
    "CeleryEmitter",
    "default_app",
    "register_task",
]

#: A module with this name, if importable, configures the default app.
CONFIG_MODULE = "snowplow_celery_config"
#: The environment variable with the default app's broker URL (when there is no config module).
BROKER_URL_ENV = "SNOWPLOW_CELERY_BROKER_URL"
DEFAULT_BROKER_URL = "redis://localhost:6379/0"
#: How publishing a task retries a broker that cannot be reached (bounds the caller's wait).
PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0.0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}

_JSON_ONLY = {
    "accept_content": ["json"],
    "task_serializer": "json",
    "result_serializer": "json",
}

_publish_log = ThrottledLog()
_drop_log = ThrottledLog()

_default_app: Any = None
_default_app_lock = threading.Lock()
_registered: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_registered_lock = threading.Lock()


def _kind(value: Any) -> str:
    return type(value).__name__


def _import_celery() -> Any:
    try:
        import celery
    except ImportError:  # pragma: no cover - depends on the environment
        pass
    else:
        return celery
    # Raised outside the except block, as before: the ImportError is not chained.
    _args.refuse(  # pragma: no cover
        "CeleryEmitter",
        "needs the celery package: pip install 'snowplow-multiprocess-tracker[celery]'",
    )


def default_app() -> Any:
    """The default Celery app, created (and the task registered on it) on first call.

    Configured from the module ``snowplow_celery_config`` if it can be imported, else with the
    broker URL from ``SNOWPLOW_CELERY_BROKER_URL`` (default ``redis://localhost:6379/0``).
    JSON is the only accepted content and the task and result serializer, whatever the
    configuration module says. Creating the app opens no connection.
    """
    global _default_app
    with _default_app_lock:
        if _default_app is not None:
            return _default_app
        celery = _import_celery()
        app = celery.Celery("snowplow_tracker")
        try:
            config = importlib.import_module(CONFIG_MODULE)
        except ModuleNotFoundError as exc:
            if exc.name != CONFIG_MODULE:
                raise  # the config module exists but imports something missing: say so
            config = None
        if config is not None:
            app.config_from_object(config)
            source = f"module {CONFIG_MODULE}"
        else:
            app.conf.broker_url = os.environ.get(BROKER_URL_ENV) or DEFAULT_BROKER_URL
            source = f"${BROKER_URL_ENV}" if os.environ.get(BROKER_URL_ENV) else "the default"
        app.conf.update(_JSON_ONLY)
        if app.conf.get("broker_connection_retry_on_startup") is None:
            app.conf.broker_connection_retry_on_startup = True
        register_task(app)
        logger.debug(
            "CeleryEmitter: default Celery app configured from %s, broker %s",
            source,
            mask_credentials(str(app.conf.broker_url), broker_urls(app)),
        )
        _default_app = app
        return app


def register_task(app: Any) -> Any:
    """Register the sending task on a Celery app (once) and return it.

    :class:`CeleryEmitter` calls it when built with an app. Call it yourself in the module
    your Celery worker loads if that module builds no emitter (or list
    ``snowplow_tracker.emitters.celery.task`` in the app's ``include``). Only the task is added; the
    app's configuration is not changed (the task itself is serialised as JSON and acknowledged
    late). A worker whose app has the task also consumes the queue ``snowplow``.

    Args:
        app: A ``celery.Celery`` application.

    Returns:
        The registered task.
    """
    if not callable(getattr(app, "task", None)):
        # The type only: a broker URL given by mistake may hold a password.
        _args.fail("CeleryEmitter", "celery_app", "a celery.Celery app", app, shown=_kind(app))
    with _registered_lock:
        task = _registered.get(app)
        if task is None:
            task = app.task(shared=False, **TASK_OPTIONS)(send_events)
            _registered[app] = task
    connect_worker_signals()
    return task


# -- the emitter (runs in the host) -------------------------------------------------------------


class CeleryEmitter(CeleryEmitterConstructor, BaseEmitter):
    """Batches events and publishes each batch as one Celery task (see the module docs).

    Thread-safe. ``stats().sent`` counts events handed to the broker: their delivery to the
    collector happens in the workers (see their logs). If the broker cannot be reached, the
    batch is kept (up to ``max_pending`` events, then the oldest are dropped, counted in
    ``stats().dropped`` and logged) and published again with the next batch or flush.
    Publishing blocks the caller for one broker round trip per batch (about 1.5 s at most while
    the broker is down).

    Args:
        endpoint: Collector host, e.g. ``"collector.example.com"``; a scheme in it wins over
            ``protocol``. Credentials in it (``user:password@host``, percent-encoded) travel
            in each task message through the broker, and the workers send them as HTTP basic
            auth (see the module docs).
        method: ``"post"`` (default; one request per batch) or ``"get"`` (one per event).
        buffer_size: Events per task (and per POST request); default 10 for POST, 1 for GET.
        byte_limit: Bytes per task/request as sent on the wire; default none.
        request_timeout: Seconds, or ``(connect, read)``, for the worker's requests; default
            ``(5, 10)``.
        celery_app: The Celery app to publish with; the task is registered on it now (nothing
            else changes). Default: :func:`default_app`, created on first use.
        retry_policy: How the worker retries a failed batch; default ``RetryPolicy()``
            (8 attempts within 300 s, exponential backoff from 0.5 s).
        on_success: Not supported; must be None.
        on_failure: Not supported; must be None.
        max_batch_age: Seconds a partial batch may wait before the next ``input`` publishes it;
            see also :meth:`set_flush_timer`. Default: wait for a full batch or a flush.
        max_pending: Events kept while the broker cannot be reached (default 100,000).
        queue: The queue the tasks are published to (default ``"snowplow"``, which workers
            that know the task consume automatically; give another name to route them to
            dedicated workers started with ``-Q NAME``; None: the app's own routing).
        verify: How the worker verifies the collector's TLS certificate, as in ``requests``:
            True (default: the worker's ``REQUESTS_CA_BUNDLE`` bundle when set, else
            certifi's), False, or the path of a CA bundle file or directory, which must exist
            here and on the workers (it travels in each task message).

    Raises:
        ConfigurationError: An argument is invalid, or a callback was given.
    """

    _where = "CeleryEmitter"
    _profile = Profile(
        positional=(*POSITIONAL[:5], "byte_limit", "request_timeout", "celery_app"),
        defaults={"method": "post"},
        excluded=frozenset({"shutdown_timeout", "session", "batch_size", "buffer_capacity"})
        | {"max_retry_delay_seconds", "custom_retry_codes"},
        no_callbacks="the events are sent by a Celery worker in another process (see the "
        "worker's logs)",
    )

    def _setup(
        self, *, celery_app: Any = None, max_pending: int = 100_000, queue: Optional[str] = QUEUE
    ) -> None:
        where = self._where
        if celery_app is not None and not callable(getattr(celery_app, "task", None)):
            expected = "a celery.Celery app or None"
            _args.fail(where, "celery_app", expected, celery_app, shown=_kind(celery_app))
        _args.positive_integer(where, "max_pending", max_pending)
        _args.optional_non_empty_string(where, "queue", queue)
        self.max_pending = max_pending
        self.queue = queue
        self._app = celery_app
        # Registered now, not at the first publish: a worker that imports the module building
        # this emitter must know the task (else Celery drops its messages as unregistered).
        self._task: Any = None if celery_app is None else register_task(celery_app)
        self._init_state()
        self.task_config: Dict[str, Any] = {
            "v": 1,
            "url": self.settings.collector.post_url[: -len(POST_PATH)],
            "method": self.method,
            "timeout": list(self.request_timeout),
            "retry": policy_to_message(self.retry_policy),
            "verify": self.verify,
        }
        # The message carries the credentials; the public task_config does not (users log it).
        credentials = collector_credentials(self.endpoint, self.settings.collector.protocol)
        self._message_config = self.task_config
        if credentials is not None:
            self.task_config["v"] = MESSAGE_VERSION
            self._message_config = dict(self.task_config, auth=credentials)
        self._transport_loaded = False
        lifecycle.watch(self)  # at exit, what is buffered is published

    def _init_state(self) -> None:
        """Create what belongs to one process (again in a forked child): counters and locks
        (the counters' lock is the emitter's: ``stats()`` is one consistent snapshot), the
        buffer, and the events the broker refused."""
        self._pid = os.getpid()
        self._counters = Counters()
        self._lock = self._counters.lock
        self._publish_lock = threading.Lock()
        self._batcher = Batcher(self.limits)
        self._pending: List[bytes] = []  # batches the broker refused, flattened, oldest first
        self._publishing = 0  # events being handed to the broker (stats().in_flight)

    def __repr__(self) -> str:
        return (
            f"CeleryEmitter(url={self.task_config['url']!r}, method={self.method!r}, "
            f"buffer_size={self.buffer_size})"
        )

    @property
    def celery_app(self) -> Any:
        """The Celery app used (the default one is created on first access)."""
        if self._app is None:
            self._app = default_app()
        return self._app

    @property
    def task(self) -> Any:
        """The sending task, registered on :attr:`celery_app`."""
        if self._task is None:
            self._task = register_task(self.celery_app)
        return self._task

    def input(self, payload: Mapping[str, Any]) -> None:
        """Buffer one event; publish a task when the batch is full.

        Args:
            payload: The event: a flat dict of protocol field names to strings (not modified).

        Raises:
            EncodingError: The payload cannot be serialised; nothing was buffered.
        """
        event = encode_or_raise(payload, "post", self._where)
        if not (self._kept and self._transport_loaded):
            self._prepare()
        with self._lock:
            ready = [] if not self._batcher.is_stale() else [self._batcher.drain()]
            ready.extend(self._batcher.add(event))
            self._counters.accepted += 1  # the counters' lock is self._lock
            if ready:
                self._publishing += sum(map(len, ready))
        for batch in ready:
            self._publish(batch)

    def flush(self, is_async: bool = False, timeout: Optional[float] = None) -> bool:
        """Publish the buffered events (and any kept after a broker failure) now.

        Does not wait for the workers to send them: there is no result backend.

        Args:
            is_async: Publish on a background thread and return at once.
            timeout: Accepted for compatibility; publishing is bounded by the broker retry
                policy.

        Returns:
            True when everything buffered was handed to the broker; False otherwise (or with
            ``is_async``).
        """
        with self._lock:
            batch = self._batcher.drain()
            self._publishing += len(batch)
        if is_async:
            threading.Thread(
                target=self._publish, args=(batch,), name="snowplow-celery-flush", daemon=True
            ).start()
            return False
        return self._publish(batch)

    def close(self, timeout: Optional[float] = None) -> bool:
        """Stop the flush timer and publish what is buffered.

        Args:
            timeout: Accepted for symmetry with the other emitters.

        Returns:
            Whether everything was handed to the broker.
        """
        self.cancel_flush_timer()
        try:
            return self.flush(timeout=timeout)
        finally:
            lifecycle.release(self)

    # ------------------------------------------------ exit and fork (emitters.lifecycle)
    def _prepare(self) -> None:
        """At the first event (after ``close()``, again): published at exit from now on, even
        if its owner drops it; and the broker's transport module loaded (no connection made).

        Otherwise the first publish loads it, which may be at interpreter exit, when modules
        that register thread exit hooks (redis-py imports ``concurrent.futures``) can no longer
        be imported: the events buffered then could not be published.
        """
        if not self._kept:
            lifecycle.keep(self)
        if self._transport_loaded:
            return
        self._transport_loaded = True
        try:
            self.celery_app.connection_for_write().release()
        except Exception:
            logger.debug("CeleryEmitter: loading the broker transport failed", exc_info=True)

    def _begin_exit(self) -> None:
        """At exit, before any emitter is waited on: nothing to start."""

    def _shutdown(self, timeout: float, when: str) -> bool:
        """At exit: publish what is buffered (bounded by the broker retry policy); events the
        broker still refuses are counted as dropped and logged once."""
        if self.close(timeout):
            return True
        with self._lock:
            left, self._pending = self._pending, []
            self._counters.add_locked(dropped=len(left))
        if left:
            logger.log(
                logging.WARNING, "CeleryEmitter: %d event(s) not published at %s", len(left), when
            )
        return False

    def _rebuild_in_child(self) -> None:
        """In a forked child: empty, with locks and a flush timer of its own."""
        interval = self.timer.interval
        self._init_state()
        self.timer = FlushTimer()
        if interval is not None:
            self.set_flush_timer(interval)

    def stats(self) -> EmitterStats:
        """Counters; ``sent`` counts events handed to the broker, ``queued`` events waiting
        here, ``in_flight`` events being handed to the broker."""
        with self._lock:
            return self._counters.snapshot_locked(
                queued=len(self._batcher) + len(self._pending), in_flight=self._publishing
            )

    def _publish(self, batch: List[bytes]) -> bool:
        """Publish the kept events then ``batch``; keep what the broker refused. Never raises."""
        with self._publish_lock:
            with self._lock:
                pending, self._pending = self._pending, []
                self._publishing += len(pending)
            batches = split_batches(pending, self.limits) + ([batch] if batch else [])
            for index, events in enumerate(batches):
                try:
                    self.task.apply_async(
                        args=[[e.decode("utf-8") for e in events], self._message_config],
                        retry=True,
                        retry_policy=PUBLISH_RETRY_POLICY,
                        **task_options(events, self.queue),
                    )
                except Exception as exc:  # noqa: BLE001 - any broker/kombu error: keep the batch
                    _publish_log.log(
                        "CeleryEmitter: publishing a task failed (%s: %s); %d event(s) kept",
                        type(exc).__name__,
                        mask_credentials(str(exc), broker_urls(self.celery_app)),
                        sum(len(b) for b in batches[index:]),
                    )
                    self._keep([e for b in batches[index:] for e in b])
                    return False
                with self._lock:
                    self._publishing -= len(events)
                    self._counters.add_locked(sent=len(events))
            return True

    def _keep(self, events: List[bytes]) -> None:
        """Keep events the broker refused (they were being published) for the next publish."""
        with self._lock:
            self._publishing -= len(events)
            self._pending[:0] = events
            overflow = len(self._pending) - self.max_pending
            dropped = self._pending[:overflow] if overflow > 0 else []
            if dropped:
                del self._pending[:overflow]
                self._counters.add_locked(dropped=len(dropped))
        if dropped:
            _drop_log.log(
                "CeleryEmitter: broker unreachable and %d events kept: dropped %d event(s)",
                self.max_pending,
                len(dropped),
            )
