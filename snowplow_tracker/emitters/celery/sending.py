"""The worker side of :class:`~snowplow_tracker.emitters.celery.emitter.CeleryEmitter`: the sending
task.

What a Celery worker runs for each published batch (task ``snowplow_tracker.send_events``):

1. The message's format version is checked; the retry policy is rebuilt from the one the
   producer serialised (:func:`policy_from_message`, no second copy of its defaults).
2. The destination is checked against the worker's allowlist (:func:`allowed_endpoints`):
   ``snowplow_allowed_endpoints`` in the app's configuration, else the environment variable
   ``SNOWPLOW_CELERY_ALLOWED_ENDPOINTS``. A message for another destination is never sent.
   Deny by default: a worker with neither setting sends nothing (it says so at ERROR when it
   starts, and dead-letters every message), since anyone who can publish to the broker could
   otherwise have it send requests anywhere.
3. The batch is sent with the shared :class:`~snowplow_tracker.delivery.transport.HttpTransport`; a
   retryable failure is retried through Celery (``self.retry(countdown=...)``) with only the
   events not yet accepted, until the policy's attempts or deadline are spent. The countdown is
   the longer of the backoff and a collector's ``Retry-After`` (429, 503; capped by the
   policy's ``max_retry_after``), and while such a hold lasts the worker process's other tasks
   for that collector are put back with the rest of it as their countdown, unsent.

A message the worker cannot run (unknown format version, malformed, refused destination) is not
dropped: it is published unchanged to the dead-letter queue ``snowplow.failed`` (a Redis list of
that name with the Redis broker), which no worker consumes, and logged at ERROR.

Celery is not imported by this module; the functions receive the app or task they act on.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit

import orjson

from ..._logging import ThrottledLog, logger
from ...delivery.retry import RetryPolicy
from ...delivery.throttle import Throttle
from ...delivery.transport import HttpTransport
from ...protocol.credentials import mask_credentials, mask_url, with_credentials
from ...protocol.wire import encode_event

__all__ = [
    "ALLOWED_ENDPOINTS_CONF",
    "ALLOWED_ENDPOINTS_ENV",
    "DEAD_LETTER_QUEUE",
    "MESSAGE_VERSION",
    "QUEUE",
    "TASK_NAME",
    "TASK_OPTIONS",
    "allowed_endpoints",
    "connect_worker_signals",
    "endpoint_allowed",
    "invalid_entries",
    "policy_from_message",
    "policy_to_message",
    "replay_dead_letters",
    "send_events",
    "task_options",
]

#: The name the sending task is registered under (stable: queued messages refer to it).
TASK_NAME = "snowplow_tracker.send_events"
#: The queue the emitter publishes to by default; a worker that knows the task consumes it.
QUEUE = "snowplow"
#: Where messages a worker cannot run go (nobody consumes it; inspect and replay by hand).
DEAD_LETTER_QUEUE = "snowplow.failed"
#: Version of the task's ``config`` argument: 2 when it carries collector credentials
#: (``"auth"``), 1 otherwise, so that a worker too old to send them refuses the message.
MESSAGE_VERSION = 2
_VERSIONS = (1, 2)
#: The app setting with the destinations a worker may send to.
ALLOWED_ENDPOINTS_CONF = "snowplow_allowed_endpoints"
#: The environment variable with the same, comma-separated (when the app setting is absent).
ALLOWED_ENDPOINTS_ENV = "SNOWPLOW_CELERY_ALLOWED_ENDPOINTS"
#: How the task is registered, on a given app or as a shared task (one place for both).
TASK_OPTIONS: Dict[str, Any] = {
    "name": TASK_NAME,
    "bind": True,
    "serializer": "json",
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "max_retries": None,  # bounded by the RetryPolicy carried in each message
}

_DEFAULT_PORTS = {"http": 80, "https": 443}

_retry_log = ThrottledLog()
_dead_letter_log = ThrottledLog(level=logging.ERROR)
_transports = threading.local()
#: Per collector URL, the "not before" time every task of this worker process respects.
_throttles: Dict[str, Throttle] = {}
_throttles_lock = threading.Lock()
_throttles_pid = 0
_signals_lock = threading.Lock()
_signals_connected = False


def task_options(events: Sequence[Any], queue: Optional[str]) -> Dict[str, Any]:
    """Publishing options of a snowplow task: JSON, its queue, no event contents in headers.

    Celery copies a ``repr`` of the arguments into the message headers (``argsrepr``), which
    monitoring tools and Celery's own error logs show; a count replaces it here.
    """
    return {
        "queue": queue,
        "serializer": "json",
        "argsrepr": f"<{len(events)} snowplow event(s)>",
        "kwargsrepr": "{}",
    }


# -- the retry policy in a message ------------------------------------------------------------


def policy_to_message(policy: RetryPolicy) -> Dict[str, Any]:
    """The policy as JSON-ready data (every field, so the worker needs no defaults)."""
    data = dataclasses.asdict(policy)
    data["no_retry_statuses"] = sorted(policy.no_retry_statuses)
    return data


def policy_from_message(config: Mapping[str, Any]) -> RetryPolicy:
    """Rebuild the producer's policy; fields the message lacks take ``RetryPolicy``'s defaults.

    Raises:
        ConfigurationError: A field has an invalid value.
    """
    retry = config.get("retry") or {}
    names = {f.name for f in dataclasses.fields(RetryPolicy)}
    return RetryPolicy(**{k: v for k, v in retry.items() if k in names})


# -- where a worker may send ------------------------------------------------------------------

_Entry = Tuple[FrozenSet[str], str, Optional[int], str]


def _parse_entry(entry: str) -> Optional[_Entry]:
    """An allowlist entry as (schemes, host, port, path); None when it is not a valid one."""
    text = entry.strip()
    try:
        if "://" not in text:  # host[:port]: http or https
            parts = urlsplit(f"//{text}")
            schemes, port = frozenset(_DEFAULT_PORTS), parts.port
        else:
            parts = urlsplit(text)
            scheme = parts.scheme.lower()
            schemes, port = frozenset({scheme}), parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number or out of range
        return None
    if not parts.hostname:
        return None
    return schemes, parts.hostname.lower(), port, parts.path.rstrip("/")


def invalid_entries(entries: Sequence[str]) -> List[str]:
    """The allowlist entries that can match nothing (reported when a worker starts)."""
    return [entry for entry in entries if _parse_entry(entry) is None]


def endpoint_allowed(url: str, entries: Sequence[str]) -> bool:
    """Whether the collector ``url`` matches one of the allowlist ``entries``.

    An entry is ``scheme://host[:port][/path]`` (the port defaults to the scheme's; the URL's
    path must start with the entry's path) or ``host[:port]`` (http or https). Host names are
    compared without case; credentials in the URL are ignored.

    Args:
        url: The collector base URL from a task message.
        entries: The allowed destinations.
    """
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return False
    path = parts.path.rstrip("/")
    for entry in entries:
        parsed = _parse_entry(entry)
        if parsed is None:
            continue
        schemes, entry_host, entry_port, entry_path = parsed
        if (
            scheme in schemes
            and host == entry_host
            and ((entry_port is None and port == _DEFAULT_PORTS[scheme]) or port == entry_port)
            and (path == entry_path or path.startswith(entry_path + "/"))
        ):
            return True
    return False


def allowed_endpoints(app: Any) -> Optional[List[str]]:
    """The worker's allowlist: the app setting, else the environment; None when neither is set
    (then the worker sends nothing).

    Args:
        app: The worker's Celery app (its ``conf`` is read).
    """
    value = app.conf.get(ALLOWED_ENDPOINTS_CONF) if app is not None else None
    if value is None:
        value = os.environ.get(ALLOWED_ENDPOINTS_ENV)
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


# -- dead letters ------------------------------------------------------------------------------


def broker_urls(app: Any) -> List[str]:
    """The broker URL(s) of ``app``, whose passwords no message may show."""
    try:
        url = app.conf.broker_url
    except Exception:  # noqa: BLE001 - an app without a configuration: nothing to hide
        return []
    if isinstance(url, str):
        return url.split(";")
    return [str(u) for u in url] if isinstance(url, (list, tuple)) else []


def _dead_letter(task: Any, events: Any, config: Any, reason: str) -> Dict[str, int]:
    """Publish the message unchanged to :data:`DEAD_LETTER_QUEUE` and log why (no events)."""
    count = len(events) if isinstance(events, list) else 0
    _dead_letter_log.log(
        "CeleryEmitter task: %s; %d event(s) moved to the dead-letter queue %r",
        reason,
        count,
        DEAD_LETTER_QUEUE,
    )
    try:
        task.app.send_task(
            TASK_NAME,
            args=[events, config],
            headers={"snowplow_dead_letter_reason": reason},
            **task_options(events if isinstance(events, list) else [], DEAD_LETTER_QUEUE),
        )
    except Exception as exc:  # noqa: BLE001 - keep the message in its queue instead
        from celery.exceptions import Reject

        logger.error(
            "CeleryEmitter task: could not dead-letter the message (%s: %s); it goes back to "
            "its queue",
            type(exc).__name__,
            mask_credentials(str(exc), broker_urls(task.app)),
        )
        raise Reject(reason, requeue=True) from None
    return {"sent": 0, "rejected": 0, "failed": 0, "dead_lettered": count}


def replay_dead_letters(app: Any, limit: Optional[int] = None, queue: str = QUEUE) -> int:
    """Publish the dead-lettered tasks again to ``queue``, oldest first, once their cause is fixed.

    Each message leaves the dead-letter queue only after it was published again (as a new JSON
    task; only JSON messages are read). Messages still refused go back to the dead-letter queue.

    Args:
        app: A Celery app on the broker that holds the dead-letter queue.
        limit: At most this many messages (default: all).
        queue: Where to publish them (default ``"snowplow"``).

    Returns:
        How many messages were published again.
    """
    moved = 0
    with app.connection_for_write() as conn:
        dead = conn.SimpleQueue(DEAD_LETTER_QUEUE, accept=["json"])
        try:
            while limit is None or moved < limit:
                try:
                    message = dead.get(block=False)
                except dead.Empty:
                    break
                args, kwargs, _embed = message.decode()
                app.send_task(TASK_NAME, args=args, kwargs=kwargs, **task_options(args[0], queue))
                message.ack()
                moved += 1
        finally:
            dead.close()
    return moved


# -- the task ----------------------------------------------------------------------------------


def _throttle_for(url: str) -> Throttle:
    """The throttle shared by every thread of this worker process sending to ``url``."""
    global _throttles_pid
    with _throttles_lock:
        if _throttles_pid != os.getpid():  # a forked pool child starts with none held
            _throttles.clear()
            _throttles_pid = os.getpid()
        throttle = _throttles.get(url)
        if throttle is None:
            throttle = _throttles[url] = Throttle()
        return throttle


def _transport_for(config: Mapping[str, Any], policy: RetryPolicy) -> HttpTransport:
    """A keep-alive transport per thread and configuration (worker pools may use threads)."""
    timeout = config.get("timeout")
    timeout_pair: Optional[Tuple[float, float]] = (
        (float(timeout[0]), float(timeout[1])) if timeout else None
    )
    verify = config.get("verify", True)
    auth = config.get("auth")
    if auth is not None and not isinstance(auth, str):
        raise TypeError("'auth' must be a string")
    key = (config["url"], auth, config["method"], timeout_pair, policy, verify)
    cache: Dict[Any, HttpTransport] = getattr(_transports, "cache", None) or {}
    _transports.cache = cache
    transport = cache.get(key)
    if transport is None:
        transport = HttpTransport(
            config["url"] if auth is None else with_credentials(config["url"], auth),
            config["method"],
            request_timeout=timeout_pair,
            retry_policy=policy,
            verify=verify,
            throttle=_throttle_for(str(config["url"])),
            where="CeleryEmitter task",
        )
        cache[key] = transport
    return transport


def _refusal(task: Any, events: Any, config: Any) -> Optional[str]:
    """Why this worker will not run the message, or None."""
    if not isinstance(config, dict) or not isinstance(events, list):
        return "malformed message (events or config of the wrong type)"
    if config.get("v") not in _VERSIONS:
        return (
            f"message format version {config.get('v')!r} is not 1 or 2 (a newer "
            "snowplow-multiprocess-tracker published it: upgrade the worker)"
        )
    allowed = allowed_endpoints(getattr(task, "app", None))
    url = str(config.get("url", ""))
    if allowed is None:
        return (
            f"destination {mask_url(url)} refused: this worker has no allowed endpoints "
            f"(set {ALLOWED_ENDPOINTS_ENV} or the app setting {ALLOWED_ENDPOINTS_CONF})"
        )
    if not endpoint_allowed(url, allowed):
        return f"destination {mask_url(url)} is not in this worker's allowed endpoints"
    return None


def send_events(
    task: Any,
    events: List[str],
    config: Dict[str, Any],
    first_attempt: Optional[float] = None,
) -> Dict[str, int]:
    """The Celery task: send ``events`` to the collector; retry through Celery on failure.

    Args:
        task: The bound task (``self``).
        events: The events, each the JSON object of one event (string values, no ``stm``).
        config: ``{"v": 1, "url": collector base URL, "method": "post" or "get",
            "timeout": [connect, read], "retry": RetryPolicy fields, "verify": True, False or
            a CA bundle path (optional, default True)}``; with ``"v": 2``, also
            ``"auth": "user:password"``, sent as HTTP basic auth (never logged).
        first_attempt: ``time.time()`` of the batch's first attempt (set on retries).

    Returns:
        Counts of ``sent``, ``rejected``, ``failed`` and ``dead_lettered`` events, and
        ``throttled``: answers whose ``Retry-After`` was obeyed.
    """
    try:
        refusal = _refusal(task, events, config)
    except Exception as exc:  # noqa: BLE001 - never lose a message to an unexpected error
        refusal = f"the message could not be checked ({type(exc).__name__}: {exc})"
    if refusal is not None:
        return _dead_letter(task, events, config, refusal)
    try:
        policy = policy_from_message(config)
        transport = _transport_for(config, policy)
        if transport.method == "post":
            encoded = [event.encode("utf-8") for event in events]
        else:
            encoded = [encode_event(orjson.loads(event), "get") for event in events]
    except Exception as exc:  # noqa: BLE001 - a malformed message never succeeds
        return _dead_letter(
            task, events, config, f"malformed message ({type(exc).__name__}: {exc})"
        )
    originals = {id(data): event for data, event in zip(encoded, events)}
    started = first_attempt if first_attempt is not None else time.time()
    where = mask_url(transport.url)
    attempts = int(task.request.retries) + 1
    hold = transport.throttle.remaining() if policy.retries else 0.0
    if hold > 0 and policy.may_retry(attempts, time.time() - started, hold):
        # Another task of this worker process was told Retry-After: hold this one too.
        _retry_log.log(
            "CeleryEmitter task: %s asked to wait (Retry-After); %d event(s) retried in %.1f s",
            where,
            len(events),
            hold,
        )
        raise _retry(task, list(events), config, started, policy, hold)
    result = transport.send(encoded)
    if result.rejected:
        logger.error(
            "CeleryEmitter task: collector %s rejected %d event(s) (%s); not retried",
            where,
            len(result.rejected),
            result.error,
        )
    failed = 0
    retry = result.retry + result.deferred
    if retry:
        delay = max(policy.delay(attempts), transport.throttle.remaining())
        if policy.may_retry(attempts, time.time() - started, delay):
            _retry_log.log(
                "CeleryEmitter task: sending %d event(s) to %s failed (%s); retry %d in %.1f s",
                len(retry),
                where,
                result.error,
                attempts,
                delay,
            )
            remaining = [originals[id(data)] for data in retry]
            raise _retry(task, remaining, config, started, policy, delay)
        failed = len(retry)
        logger.error(
            "CeleryEmitter task: gave up on %d event(s) after %d attempt(s) to %s (%s)",
            failed,
            attempts,
            where,
            result.error,
        )
    return {
        "sent": len(result.sent),
        "rejected": len(result.rejected),
        "failed": failed,
        "throttled": result.throttled,
    }


def _retry(
    task: Any,
    events: List[str],
    config: Dict[str, Any],
    started: float,
    policy: RetryPolicy,
    countdown: float,
) -> Exception:
    """The ``Retry`` to raise: the task again with ``events``, after ``countdown`` seconds."""
    retry: Exception = task.retry(
        args=[events, config],
        kwargs={"first_attempt": started},
        countdown=countdown,
        max_retries=None if policy.max_attempts is None else policy.max_attempts - 1,
        argsrepr=task_options(events, None)["argsrepr"],
        kwargsrepr="{}",
    )
    return retry


# -- the worker consumes the snowplow queue ----------------------------------------------------


def _consume_snowplow_queue(sender: Any = None, instance: Any = None, **_: Any) -> None:
    """``celeryd_after_setup``: a worker whose app knows the task also consumes :data:`QUEUE`."""
    app = getattr(instance, "app", None)
    if app is None or TASK_NAME not in app.tasks:
        return
    queues = app.amqp.queues
    if QUEUE not in queues.consume_from:
        queues.select_add(QUEUE)
        logger.info("CeleryEmitter: worker %s also consumes the queue %r", sender, QUEUE)
    accepted = {str(c).lower() for c in (app.conf.accept_content or ())}
    if accepted & {"pickle", "application/x-python-serialize"}:
        logger.warning(
            "CeleryEmitter: worker %s accepts pickle messages (accept_content): anyone who can "
            "publish to the broker can run code in it; snowplow tasks need JSON only",
            sender,
        )
    allowed = allowed_endpoints(app)
    if allowed is not None and len(invalid_entries(allowed)) == len(allowed):
        allowed = None  # set, but to nothing valid: the same as unset
    if allowed is None:
        logger.error(
            "CeleryEmitter: worker %s sends no event: it has no allowed endpoints, so every "
            "snowplow task goes to the dead-letter queue %r; set %s (comma-separated) or the app "
            "setting %s to the collectors it may send to, e.g. "
            "'https://collector.example.com'",
            sender,
            DEAD_LETTER_QUEUE,
            ALLOWED_ENDPOINTS_ENV,
            ALLOWED_ENDPOINTS_CONF,
        )
    else:
        logger.info(
            "CeleryEmitter: worker %s sends only to %s",
            sender,
            ", ".join(mask_url(entry) for entry in allowed),
        )
        invalid = invalid_entries(allowed)
        if invalid:
            logger.warning(
                "CeleryEmitter: worker %s ignores invalid allowed endpoint(s) %s (expected "
                "scheme://host[:port][/path] or host[:port])",
                sender,
                ", ".join(mask_url(entry) for entry in invalid),
            )


def connect_worker_signals() -> None:
    """Make every worker in this process that knows the task consume :data:`QUEUE` (once)."""
    global _signals_connected
    with _signals_lock:
        if _signals_connected:
            return
        from celery.signals import celeryd_after_setup

        celeryd_after_setup.connect(
            _consume_snowplow_queue, weak=False, dispatch_uid="snowplow_tracker.consume_queue"
        )
        _signals_connected = True
