"""The synchronous ``Emitter``: sends in the thread that tracks, for scripts and tests.

Example:
    >>> from snowplow_tracker import Emitter, Tracker
    >>> e = Emitter("collector.example.com", method="post", buffer_size=50)
    >>> t = Tracker(e, app_id="shop")
    >>> t.track_page_view("https://shop.example.com/")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import weakref
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import requests
from requests.adapters import HTTPAdapter

from .. import arguments as _args
from .._logging import logger
from ..compat import HookTransport, HttpHooks1x, StoredEvents1x
from ..delivery.batching import Batcher, split_batches
from ..delivery.event_store import BufferView, EventStore
from ..delivery.retry import RetryPolicy
from ..delivery.stats import Counters, EmitterStats
from ..delivery.throttle import Throttle
from ..delivery.transport import DeliveryResult, deliver
from ..protocol.wire import PayloadDict
from ..settings import Profile
from . import lifecycle
from .base import (
    BaseEmitter,
    FlushTimer,
    StopWatch,
    deliver_until,
    drop_log,
    encode_or_raise,
    split_outcome,
    wait_until,
)
from .constructors import EmitterConstructor


def _forget_pooled_connections(session: requests.Session) -> None:
    """In a forked child: give the session's adapters fresh, empty connection pools.

    The pooled connections are the parent's sockets; a child that used them would mix its
    requests into the parent's. ``close()`` is not used: it takes urllib3's locks, which another
    thread of the parent may have held at the fork. Re-initialising through the adapter's own
    pickling protocol keeps its configuration (and a subclass's ``init_poolmanager``).
    """
    for adapter in session.adapters.values():
        if isinstance(adapter, HTTPAdapter):
            # Both exist at run time (requests pickles adapters); the type stubs omit them.
            adapter.__setstate__(adapter.__getstate__())  # type: ignore[attr-defined]


class Emitter(EmitterConstructor, BaseEmitter, HttpHooks1x):
    """Sends events synchronously, in the thread that calls ``track_*``: for scripts and tests.

    A ``track_*`` call that fills the buffer sends the batch before it returns (at most the
    request timeout per request and retry). Thread-safe: many threads may track at once.
    By default a failed request is not retried here: its events go to ``on_failure``, from
    where they can be passed to ``input`` again. Arguments as :class:`BaseEmitter` (the 0.10
    positional order: ``endpoint, protocol, port, method, buffer_size, on_success, on_failure,
    byte_limit, request_timeout``; the others are keywords).

    Tracker 1.x's methods work too: ``sync_flush``, ``async_flush``, ``send_events``,
    ``reached_limit``, ``http_post``/``http_get`` (every request goes through them when a
    subclass or a test replaces them), ``attach_sent_timestamp``, ``as_collector_uri``,
    ``is_good_status_code``, and the ``bytes_queued``, ``batch_size``, ``event_store`` and
    ``timer`` attributes.

    Lifecycle: events still buffered at interpreter exit are sent by an ``atexit`` handler (also
    when nothing refers to the emitter any more: from its first event until ``close()`` the
    handler holds it), and after ``os.fork()`` the child starts with an empty buffer, new locks,
    new connections and (if one was set) its own flush timer.
    """

    _where = "Emitter"
    _profile = Profile(retry_policy=RetryPolicy.never())  # failed events go to on_failure

    def _setup(self, *, event_store: Optional[EventStore] = None) -> None:
        _args.optional_event_store(self._where, "event_store", event_store)
        #: The user's event store (1.x), or None: the default compact buffer.
        self._store = (
            None if event_store is None else StoredEvents1x(event_store, self.method, self._where)
        )
        self._closing = False  # close() runs: events given back to the store wait there
        #: The part that sends: HTTP to the collector from this process. (The emitters that
        #: send from other processes, ``ProcessEmitter`` and ``CeleryEmitter``, have none.)
        self.transport = self._new_transport()
        self._init_process_state()
        lifecycle.watch(self)

    def _new_transport(self) -> HookTransport:
        owner = weakref.ref(self)

        def count_hold() -> None:  # counted when the answer arrives, not when the batch ends
            emitter = owner()
            if emitter is not None:
                emitter._counters.add(throttled=1)

        return HookTransport(
            method=self.method,
            retry_policy=self.retry_policy,
            **self.settings.collector.transport_arguments(),
            throttle=Throttle(on_hold=count_hold),
            where=self._where,
            owner=self,
            **self._transport_options(),
        )

    def _transport_options(self) -> Dict[str, Any]:
        """Extra keyword arguments for the transport (``AsyncEmitter`` adds its pool size)."""
        return {}

    def _init_process_state(self) -> None:
        """Create what belongs to one process: counters, locks and buffers (again in a forked
        child). The counters' lock is the emitter's lock: ``stats()`` is one consistent
        snapshot (:mod:`~snowplow_tracker.delivery.stats`)."""
        self._pid = os.getpid()
        self._counters = Counters()
        self._lock = self._counters.lock
        self._batcher = Batcher(self.limits)
        # Events taken out of the buffer (or the event store) whose outcome is not counted yet:
        # being sent in a calling thread (``in_flight``), or on their way to the AsyncEmitter's
        # queue (``queued``).
        self._taken = 0

    # ------------------------------------------------------------ tracker 1.x's emitter API
    @property
    def event_store(self) -> Union[EventStore, BufferView]:
        """The user's ``event_store``, or a read-only 1.x view of the default buffer
        (``event_buffer``, ``size()``)."""
        if self._store is not None:
            return self._store.store
        return BufferView(self._buffered_events, self.method, self.buffer_capacity)

    def _buffered_events(self) -> List[bytes]:
        """A copy of the events buffered, not yet sent (default buffer)."""
        with self._lock:
            return self._batcher.events()

    @property
    def bytes_queued(self) -> Optional[int]:
        """Bytes the buffered events will take on the wire (what ``byte_limit`` counts); None
        without a ``byte_limit`` (as 1.x)."""
        if self.byte_limit is None:
            return None
        return self._buffered_bytes()

    def _buffered_bytes(self) -> int:
        with self._lock:
            return self._store.nbytes if self._store is not None else self._batcher.nbytes

    def reached_limit(self) -> bool:
        """Whether the buffered events reach ``batch_size`` or ``byte_limit`` (1.x)."""
        if self._store is None:
            with self._lock:
                return self._batcher.is_full()
        limit = self.byte_limit
        return self._store.store.size() >= self.buffer_size or (
            limit is not None and self._buffered_bytes() >= limit
        )

    def sync_flush(self) -> None:
        """Send the buffered events in this thread, then wait for the events already being
        sent (1.x). Time bound: the retry policy's attempts and deadline per batch, and
        ``request_timeout`` per request."""
        self.send_events(self._take_buffered())
        self.flush()

    def async_flush(self) -> None:
        """Start sending the buffered events and return at once (1.x); the synchronous
        ``Emitter`` sends them before it returns."""
        self.flush(is_async=True)

    def _take_buffered(self) -> Union[List[bytes], List[PayloadDict]]:
        """Take every buffered event: encoded bytes, or the event store's dicts."""
        if self._store is not None:
            records = self._store.take()
            with self._lock:
                self._taken += len(records)
            return records
        with self._lock:
            events = self._batcher.drain()
            self._taken += len(events)
            return events

    def _settle_locked(self, count: int, **outcomes: int) -> None:
        """Count the outcomes of ``count`` events taken out of the buffer, under the lock.

        Events beyond those taken (handed straight to ``send_events``) are counted as accepted
        here, so that the identity of :mod:`~snowplow_tracker.delivery.stats` holds.

        Args:
            count: Events leaving ``_taken`` (sent, failed, dropped, or given back to the
                event store).
            outcomes: Counter increments (``sent``, ``failed``, ``dropped``, ``retried``).
        """
        taken = min(count, self._taken)
        self._taken -= taken
        self._counters.add_locked(accepted=count - taken, **outcomes)

    def send_events(self, evts: Sequence[Union[Mapping[str, Any], bytes]]) -> None:
        """Send events now, in this thread, in batches within the limits, with retries as the
        retry policy says; report them to ``on_success``/``on_failure`` (1.x).

        Time bound: per batch, the retry policy's attempts and deadline, and
        ``request_timeout`` per request.

        Args:
            evts: Event dicts (as ``input`` takes), or encoded events. Dicts taken from the
                ``event_store`` are given back to it (``cleanup``) once sent or failed.

        Raises:
            EncodingError: An event cannot be serialised; nothing was sent.
        """
        self._send_now(evts, deliver)

    def _send_now(
        self,
        evts: Sequence[Union[Mapping[str, Any], bytes]],
        send: Callable[..., DeliveryResult],
    ) -> None:
        where = self._where
        events = [
            e if isinstance(e, bytes) else encode_or_raise(e, self.method, where, "send_events")
            for e in evts
        ]
        stored = self._store is not None and bool(evts) and not isinstance(evts[0], bytes)
        start = 0
        # GET sends one request per event whatever the batch: one delivery, one report.
        batches = split_batches(events, self.limits) if self.method == "post" else [events]
        for batch in batches:
            records = list(evts[start : start + len(batch)]) if stored else None
            start += len(batch)
            result = send(self.transport, batch, self.retry_policy)
            self._settle(result, batch, records)  # type: ignore[arg-type]

    def _settle(
        self,
        result: DeliveryResult,
        batch: List[bytes],
        records: Optional[List[PayloadDict]],
        *,
        stopped: bool = False,
        release: Optional[Callable[[int], None]] = None,
    ) -> None:
        """Count and report a delivered batch; with an event store, give its events back to it:
        failed ones that may be retried with ``need_retry=True``, then retry after a backoff.

        Args:
            result: The delivery's outcome.
            batch: The events delivered.
            records: The event store's dicts of those events, if they came from it.
            stopped: A shutdown stopped the retries: events still retryable are dropped.
            release: Called under the lock with the number of events, instead of taking them
                out of ``_taken``: the gauge that held them (the AsyncEmitter's in flight).
        """
        store = self._store if records is not None else None
        # Events still retryable go back to an event store (retried later); otherwise they
        # are dropped when a shutdown stopped their retries.
        sent, failed, left = split_outcome(result, stopped or store is not None)
        counts = {"sent": len(sent), "failed": len(failed), "retried": result.retried}
        if store is None:
            counts["dropped"] = len(left)
        else:
            store.settle(batch, records or [], (sent, failed), left)
            counts["retried"] += len(left)
        with self._lock:
            if release is None:
                self._settle_locked(len(batch), **counts)
            else:
                release(len(batch))
                self._counters.add_locked(**counts)
        if store is None:
            self._notify(sent, failed + left)
            return
        if left and not self._closing:
            store.retry_later(self._retry_delay, lambda: self.flush(is_async=True))
        elif sent and not left:
            store.attempt = 0
        self._notify(sent, failed)

    def _retry_delay(self, attempt: int) -> float:
        """Seconds before events given back to the event store are sent again."""
        return max(self.retry_policy.delay(attempt), self.transport.throttle.remaining())

    def _cancel_retry(self) -> None:
        if self._store is not None:
            self._store.cancel_retry()

    def _rebuild_in_child(self) -> None:
        """After ``os.fork()``, in the child: a fresh, empty emitter (the parent sends its own)."""
        interval = self.timer.interval
        self._init_process_state()  # new counters too
        self.timer = FlushTimer()
        if self._store is not None:
            self._store.renew()
        if self.session is not None:
            _forget_pooled_connections(self.session)
        self.transport = self._new_transport()
        if interval is not None:
            self.set_flush_timer(interval)

    def input(self, payload: Mapping[str, Any]) -> None:
        """Buffer one event and send the buffer when it is full.

        Args:
            payload: The event: a flat dict of protocol field names to strings. It is not
                modified (the same dict may go to several emitters).

        When the buffer reaches ``buffer_size`` or ``byte_limit`` (or ``max_batch_age``
        passed), it calls :meth:`flush` (without waiting, for the ``AsyncEmitter``), as 1.x.
        An event that does not fit into the ``byte_limit`` of the buffered batch sends that
        batch first.

        Raises:
            EncodingError: The payload cannot be serialised; nothing was buffered.
        """
        event = encode_or_raise(payload, self.method, self._where)
        if self._store is not None:
            if not self._kept:  # delivered at exit from now on, even if its owner drops it
                lifecycle.keep(self)
            self._input_to_store(payload, event)
            return
        with self._lock:
            if not self._kept:  # held while it holds events: delivered at exit (see flush)
                lifecycle.keep(self)
            ready = self._batcher.add(event, keep_full=True)
            full = self._batcher.is_full() or self._batcher.is_stale()
            self._counters.accepted += 1  # the counters' lock is self._lock
            if ready:
                self._taken += sum(map(len, ready))
        for batch in ready:
            self._send(batch)
        if full:
            self.flush(True)  # positional, as 1.x code that replaces flush() expects

    def _input_to_store(self, payload: Mapping[str, Any], event: bytes) -> None:
        """``input`` with an ``event_store``: add a copy of the event dict to the store."""
        if not self._store.add(payload, event):  # type: ignore[union-attr]
            drop_log.log("%s: event_store is full: dropped an event", self._where)
            self._counters.add(accepted=1, dropped=1)
            self._notify([], [event])
            return
        self._counters.add(accepted=1)
        if self.reached_limit():
            self.flush(True)

    def _send(self, batch: List[bytes]) -> None:
        if batch:
            self._settle(deliver(self.transport, batch, self.retry_policy), batch, None)

    def _take_batches(self) -> List[List[bytes]]:
        """Take the default buffer's events, cut into batches within the limits."""
        with self._lock:
            batches = self._batcher.drain_batches()
            self._taken += sum(map(len, batches))
            return batches

    def flush(self, is_async: bool = False, timeout: Optional[float] = None) -> bool:
        """Send every buffered event now, in this thread, and return when done.

        Args:
            is_async: Accepted for compatibility; the synchronous emitter always blocks.
            timeout: Ignored; each request is bounded by ``request_timeout`` (and the retry
                policy, by default a single attempt).

        Returns:
            True (every buffered event was sent or reported to ``on_failure``; with an
            ``event_store``, or given back to it to be retried).
        """
        if self._store is not None:
            self.send_events(self._take_buffered())
            return True
        for batch in self._take_batches():
            self._send(batch)
        with self._lock:  # nothing held: the registry need not keep it alive until close()
            if self._kept and not len(self._batcher):
                lifecycle.release(self)
        return True

    def close(self, timeout: Optional[float] = None) -> bool:
        """Stop the flush timer, send every buffered event and close the HTTP connections.

        Time bound: returns within ``timeout`` plus at most one request's ``request_timeout``
        (connect + read). Events not sent by the deadline are dropped: counted in
        ``stats().dropped``, reported to ``on_failure`` and logged once.

        Args:
            timeout: Seconds to spend at most (default ``shutdown_timeout``).

        Returns:
            True when every buffered event was sent or reported as failed by the collector,
            False when some were dropped at the deadline.
        """
        return self._shutdown(self.shutdown_timeout if timeout is None else timeout, "close")

    def _begin_exit(self) -> None:
        """At exit, before any emitter is waited on: nothing to start (sending is inline)."""

    def _shutdown(self, timeout: float, when: str) -> bool:
        """Close within ``timeout``; events given back to an event store meanwhile stay there."""
        self._closing = True
        try:
            return self._shutdown_steps(timeout, when)
        finally:
            self._closing = False
            lifecycle.release(self)

    def _shutdown_steps(self, timeout: float, when: str) -> bool:
        deadline = time.monotonic() + max(0.0, timeout)
        self.cancel_flush_timer(timeout)
        self._cancel_retry()
        if self._store is not None:  # what is not sent goes back to the user's store
            self._send_now(self._take_buffered(), deliver_until(deadline))
            self.transport.close()
            return True
        with self._lock:
            batch = self._batcher.drain()
            self._taken += len(batch)
        # GET sends one request per event: check the deadline between them.
        limits = self.limits
        if self.method == "get":
            limits = dataclasses.replace(limits, buffer_size=1)
        left: List[bytes] = []
        gave_up = False  # retries stopped by the deadline: those events were dropped
        for chunk in split_batches(batch, limits):
            if left or time.monotonic() >= deadline:
                left.extend(chunk)
                continue
            wait = StopWatch(wait_until(deadline))
            result = deliver(self.transport, chunk, self.retry_policy, wait=wait)
            self._settle(result, chunk, None, stopped=wait.stopped)
            gave_up = gave_up or (wait.stopped and bool(result.unfinished))
        self.transport.close()
        if left:  # taken out of the buffer and given up on at the deadline
            with self._lock:
                self._settle_locked(len(left), dropped=len(left))
        self._notify_dropped([left] if left else [], when)
        return not left and not gave_up

    def _drop_hint(self, when: str) -> str:
        """What to change so that a shutdown delivers everything (ends the drop warning)."""
        if when == "exit":
            wait = f"raise shutdown_timeout (now {self.shutdown_timeout:g} s)"
        else:
            wait = "give close() a longer timeout"
        if self.method == "get":
            return f"{wait}, or use method='post' (many events per request)"
        return wait

    def _notify_dropped(self, batches: List[List[bytes]], when: str) -> None:
        """Log (once) and pass to ``on_failure`` events dropped at a deadline, already
        counted."""
        total = sum(map(len, batches))
        if not total:
            return
        logger.log(
            logging.WARNING,
            "%s: %d event(s) not delivered by the %s deadline were dropped (reported to "
            "on_failure); %s",
            self._where,
            total,
            when,
            self._drop_hint(when),
        )
        for events in batches:
            self._notify([], events)

    def stats(self) -> EmitterStats:
        """Counters of this emitter; see :class:`~snowplow_tracker.delivery.stats.EmitterStats`.

        ``queued`` counts the buffered events (with an ``event_store``: its ``size()``),
        ``in_flight`` those being sent by a calling thread.
        """
        stored = self._store.store.size() if self._store is not None else 0
        with self._lock:
            queued = stored if self._store is not None else len(self._batcher)
            return self._counters.snapshot_locked(queued=queued, in_flight=self._taken)
