"""The emitter side of a :class:`~snowplow_tracker.emitters.redis.worker.RedisWorker`: checking
the items it claimed, handing the events to the emitter, waiting (bounded) until the emitter sent
them, and collecting the events the emitter gave up on (its ``on_failure``)."""

from __future__ import annotations

import contextlib
import inspect
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional

import orjson

from ..._logging import ThrottledLog, logger
from ...protocol.wire import encode_event

if TYPE_CHECKING:
    from .worker import RedisWorker

_invalid_log = ThrottledLog()
_flush_log = ThrottledLog()

#: Longest single wait in ``emitter.flush``: how fast a stop request is noticed while sending.
FLUSH_SLICE = 1.0


@dataclass
class Take:
    """Items claimed together (``items``), of which ``handed`` went to the emitter and ``dead``
    are to be dead-lettered (not events, or refused by the emitter)."""

    items: int
    handed: int = 0
    dead: List[bytes] = field(default_factory=list)


def parse_event(raw: bytes) -> Optional[Dict[str, str]]:
    """The event dict of a list item, or None if it is not an event.

    An event is a JSON object whose values are all strings, with non-empty ``e`` and ``eid``
    (what :class:`~snowplow_tracker.emitters.redis.emitter.RedisEmitter` stores).
    """
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if (
        event.__class__ is not dict
        or not event.get("e")
        or not event.get("eid")
        or not all(value.__class__ is str for value in event.values())
    ):
        return None
    return event


def encoded_input(emitter: Any) -> Optional[Callable[[bytes], Any]]:
    """The emitter's ``input_encoded`` when it takes POST event bytes as they are, else None."""
    raw = getattr(emitter, "input_encoded", None)
    return raw if callable(raw) and getattr(emitter, "method", "post") == "post" else None


def _accepts_timeout(flush: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(flush).parameters
    except (TypeError, ValueError):
        return False
    return "timeout" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class Handover:
    """A worker's emitter during one :meth:`RedisWorker.run` (entered with :meth:`hooked`)."""

    def __init__(self, worker: RedisWorker) -> None:
        self.worker = worker
        self.emitter = worker.emitter
        self.input_encoded = encoded_input(self.emitter)
        self.flush_takes_timeout = _accepts_timeout(self.emitter.flush)
        self.failed_lock = threading.Lock()
        self.failed: List[Mapping[str, Any]] = []

    @contextlib.contextmanager
    def hooked(self) -> Iterator[Handover]:
        """Wrap the emitter's ``on_failure`` (the original is still called) so that the events
        it gives up on can be dead-lettered; restore it on exit."""
        emitter = self.emitter
        if not hasattr(emitter, "on_failure"):
            logger.warning(
                "RedisWorker: %s has no on_failure attribute: events it fails to send cannot "
                "be dead-lettered",
                type(emitter).__name__,
            )
            yield self
            return
        original = emitter.on_failure

        def on_failure(sent: int, failed: List[Mapping[str, Any]]) -> None:
            with self.failed_lock:
                self.failed.extend(failed)
            if original is not None:
                original(sent, failed)

        emitter.on_failure = on_failure
        try:
            yield self
        finally:
            emitter.on_failure = original

    def hand_over(self, items: List[bytes]) -> Take:
        """Check ``items`` and hand the events to the emitter."""
        take = Take(len(items))
        raw_input = self.input_encoded
        for raw in items:
            event = parse_event(raw)
            if event is None:
                take.dead.append(raw)
                continue
            try:
                if raw_input is None:
                    self.emitter.input(event)
                elif raw[-1:] == b"}" and raw[:1] == b"{" and "stm" not in event:
                    raw_input(raw)  # the stored bytes, as they are
                else:  # padded or with a send time: make it what the request builder expects
                    raw_input(encode_event(event, "post"))
                take.handed += 1
            except Exception as exc:
                logger.debug("RedisWorker: emitter refused an item", exc_info=True)
                _invalid_log.log(
                    "RedisWorker %s: the emitter refused an item (%s); dead-lettered",
                    self.worker.worker_id,
                    type(exc).__name__,
                )
                take.dead.append(raw)
        if take.dead:
            _invalid_log.log(
                "RedisWorker %s: %d item(s) are not valid events; moved to %r",
                self.worker.worker_id,
                len(take.dead),
                self.worker.failed_key,
            )
        return take

    def flush(self) -> bool:
        """Flush until done; False only when stopping and ``shutdown_timeout`` passed.

        The wait is cut in slices of at most a second so that a stop request is noticed while
        the emitter retries; a flush slower than ``flush_timeout`` is logged (throttled).
        """
        worker = self.worker
        started = time.monotonic()
        while True:
            now = time.monotonic()
            deadline = worker._stop_deadline
            if deadline is not None and now >= deadline:
                logger.warning(
                    "RedisWorker %s: stopping before the emitter finished sending; the batch "
                    "goes back to the list (its events may arrive twice)",
                    worker.worker_id,
                )
                return False
            timeout = FLUSH_SLICE if deadline is None else min(FLUSH_SLICE, deadline - now)
            try:
                if self.flush_takes_timeout:
                    done = self.emitter.flush(timeout=timeout)
                else:
                    done = self.emitter.flush()
                failed = False
            except Exception:
                logger.exception("RedisWorker %s: emitter.flush() raised", worker.worker_id)
                done, failed = False, True
            if done is None or done:
                return True
            if time.monotonic() - started >= worker.flush_timeout:
                _flush_log.log(
                    "RedisWorker %s: the emitter has not finished sending after %.0f s "
                    "(collector down?); still waiting",
                    worker.worker_id,
                    time.monotonic() - started,
                )
            if failed or not self.flush_takes_timeout:
                worker._stop.wait(0.1)  # never spin on a flush that returns at once

    def take_failures(self) -> List[Mapping[str, Any]]:
        """The events the emitter gave up on since the last call."""
        with self.failed_lock:
            failed, self.failed = self.failed, []
        return failed

    def put_back_failures(self, failed: List[Mapping[str, Any]]) -> None:
        """Keep ``failed`` (not dead-lettered after all) for the next :meth:`take_failures`."""
        with self.failed_lock:
            self.failed[:0] = failed
