"""``AsyncEmitter``: sends from a pool of threads in the host process.

Its parts: the shared :class:`~snowplow_tracker.delivery.batching.Batcher` (through
:class:`~.sync.Emitter`), a queue of batches held as joined bytes and bounded by
``max_queue_bytes``, up to ``thread_count`` sending threads, and one
:class:`~snowplow_tracker.delivery.transport.HttpTransport` whose connection pool they share.

Example:
    >>> from snowplow_tracker import AsyncEmitter, Tracker
    >>> e = AsyncEmitter("collector.example.com", method="post", buffer_size=50, thread_count=4)
    >>> t = Tracker(e, app_id="shop")
    >>> t.track_page_view("https://shop.example.com/")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from .. import arguments as _args
from .._logging import logger
from ..delivery.batching import split_batches
from ..delivery.host_queue import HostQueue
from ..delivery.stats import EmitterStats
from ..delivery.transport import DeliveryResult, deliver
from ..protocol.wire import PayloadDict
from ..settings import POSITIONAL, Profile
from .base import DEFAULT_MAX_QUEUE_BYTES, StopWatch, encode_or_raise, wait_until
from .constructors import AsyncEmitterConstructor
from .sync import Emitter

#: Joins the events of a queued batch into one bytes object. Never inside an encoded event:
#: JSON escapes newlines and a querystring percent-encodes them.
_SEP = b"\n"


class _Batch:
    """A queued batch (a unit of the host queue), held compactly: its encoded events joined
    into one bytes object.

    (orjson hands each event back in a buffer of at least 4 KiB; joining copies the events
    into about their encoded size.)
    """

    __slots__ = ("abandoned", "claimed", "count", "data", "left", "records", "size", "ticket")

    def __init__(self, events: List[bytes], records: Optional[List[PayloadDict]] = None) -> None:
        self.data = _SEP.join(events)
        self.count = self.left = len(events)
        self.size = len(self.data)
        self.records = records  # the event store's dicts of these events, if any
        self.ticket = 0
        self.claimed = False  # its sending thread reports it
        self.abandoned = False  # close() gave up waiting and reported it

    def events(self) -> List[bytes]:
        return self.data.split(_SEP)


class _QueueView:
    """Tracker 1.x's ``AsyncEmitter.queue``: the batches waiting for a sending thread."""

    __slots__ = ("_emitter",)

    def __init__(self, emitter: AsyncEmitter) -> None:
        self._emitter = emitter

    def qsize(self) -> int:
        """Return the number of batches waiting."""
        with self._emitter._has_work:
            return len(self._emitter._queue.ready)

    def empty(self) -> bool:
        """Whether no batch is waiting."""
        return self.qsize() == 0


class _Run:
    """The sending threads of one life of an ``AsyncEmitter`` (until ``close()`` or a fork)."""

    __slots__ = ("inline", "stop", "threads")

    def __init__(self) -> None:
        self.stop = threading.Event()  # set by close(): no new batch, no retry
        self.threads: List[threading.Thread] = []
        self.inline = False  # threads cannot start (interpreter exit): flush sends itself


class AsyncEmitter(AsyncEmitterConstructor, Emitter):
    """Sends events from a pool of threads in the host process (the documented ``AsyncEmitter``).

    ``track_*`` only buffers; full batches go to a queue that up to ``thread_count`` threads send
    from at once, each over its own keep-alive connection. A request that fails waits out its
    retry backoff without holding a sending slot: the batches queued behind it go out on other
    threads meanwhile (up to ``max(thread_count, 4)`` more threads may be waiting to retry).

    The queue holds each batch as one bytes object (about the encoded size of its events) and
    is bounded in bytes by ``max_queue_bytes``: a batch that would exceed it is dropped (counted
    in ``stats().dropped``, passed to ``on_failure`` in the thread that tracked, logged at a
    throttled rate), so ``track_*`` never blocks on the network. Callbacks of sent and failed
    batches run on the sending threads: do not call ``flush()`` from them.

    Positional arguments in the documented 0.10 order: ``endpoint, protocol, port, method,
    buffer_size, on_success, on_failure, thread_count, byte_limit``; the others are keywords.

    Args:
        thread_count: Requests in flight at once, one sending thread each (default 1).
        max_queue_bytes: Bytes of encoded events held (queued or in flight) before new batches
            are dropped (default 96 MiB, :data:`DEFAULT_MAX_QUEUE_BYTES`).
        max_queued_batches: Also drop when this many batches wait (default None: no bound by
            count).

    Lifecycle: at interpreter exit an ``atexit`` handler delivers what is buffered and queued
    within ``shutdown_timeout`` (see :meth:`close`); after ``os.fork()`` the child gets a fresh,
    empty emitter (threads, locks, queue and connections of its own).
    """

    _where = "AsyncEmitter"
    _profile = Profile(
        queue_arguments=frozenset({"max_queue_bytes"}),
        positional=(*POSITIONAL[:7], "thread_count", "byte_limit"),
        defaults={"max_queue_bytes": DEFAULT_MAX_QUEUE_BYTES},
    )

    def _setup(
        self, *, thread_count: int = 1, max_queued_batches: Optional[int] = None, **rest: Any
    ) -> None:
        _args.positive_integer(self._where, "thread_count", thread_count)
        _args.optional_positive_integer(self._where, "max_queued_batches", max_queued_batches)
        self.thread_count = thread_count
        self.max_queued_batches = max_queued_batches
        # Sending threads plus those waiting out a retry backoff.
        self._max_threads = thread_count + max(thread_count, 4)
        self.max_queue_bytes: int = self.settings.queue.max_bytes or DEFAULT_MAX_QUEUE_BYTES
        super()._setup(**rest)

    def _transport_options(self) -> Dict[str, Any]:
        # One keep-alive connection per thread that may send at once.
        return {**super()._transport_options(), "pool_size": self._max_threads}

    def _init_process_state(self) -> None:
        super()._init_process_state()
        # The batches waiting (ready) and taken by a thread (in flight: sending, retrying,
        # reporting); its lock is the counters': stats() is one consistent snapshot.
        events = self.settings.queue.max_events  # the 1.x buffer_capacity
        full = (
            f"AsyncEmitter: queue full (max_queue_bytes={self.max_queue_bytes}, max_queued_"
            f"batches={self.max_queued_batches}, buffer_capacity={events}): "
            "dropped %d event(s), reported to on_failure"
        )
        bounds = (self.max_queue_bytes, events)
        self._queue: HostQueue[_Batch] = HostQueue(*bounds, full, self._notify, self._counters)
        self._queue.open_locked()
        lock = self._lock
        self._has_work = threading.Condition(lock)  # idle threads wait here
        self._has_slot = threading.Condition(lock)  # threads back from a backoff wait here
        self._done = self._queue.changed  # flush() waits here
        self._sending = 0  # threads holding a sending slot (at most thread_count)
        self._parked = 0  # threads waiting out a backoff, or for a slot after it
        self._slot_waiters = 0
        self._gave_up = 0  # deliveries whose retries a shutdown stopped (events dropped)
        self._run = _Run()

    # ---------------------------------------------------------------- queueing (caller side)
    @property
    def queue(self) -> _QueueView:
        """Tracker 1.x's ``queue`` of batches waiting for a sending thread (``empty()``,
        ``qsize()``)."""
        return _QueueView(self)

    def _send(self, batch: List[bytes], records: Optional[List[PayloadDict]] = None) -> None:
        if not batch:
            return
        item = _Batch(batch, records)
        q = self._queue
        with self._has_work:
            self._settle_locked(item.count)  # from taken to queued (or dropped): no outcome
            most = self.max_queued_batches
            if (most is None or len(q.ready) < most) and q.reserve_locked(
                item.size, item.count, first_fits=True
            ):
                q.put_locked(item)
                self._wake_locked()
                return
            q.drop_locked(item.count)
        if records is not None and self._store is not None:
            self._store.cleanup(records, False)
        q.report_drops(batch)

    def _wake_locked(self, run: Optional[_Run] = None) -> None:
        """Make sure a thread of ``run`` (default: the current one) will take the ready batches;
        start threads as needed."""
        if run is None:
            run = self._run
        if run.inline or run.stop.is_set() or run is not self._run:
            return
        threads = len(run.threads)
        idle = threads - self._sending - self._parked
        while threads < self.thread_count or (
            idle <= 0
            and self._queue.ready
            and self._sending < self.thread_count
            and threads < self._max_threads
        ):
            if not self._start_thread_locked(run):
                return
            threads += 1
            idle += 1
        self._has_work.notify()

    def _start_thread_locked(self, run: _Run) -> bool:
        thread = threading.Thread(
            target=self._work, args=(run,), name=f"snowplow-async-{len(run.threads)}", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # no new threads at interpreter exit (3.12+): flush sends itself
            run.inline = not run.threads
            return False
        run.threads.append(thread)
        return True

    # ---------------------------------------------------------------- sending (thread side)
    def _take_locked(self) -> _Batch:
        self._sending += 1
        return self._queue.take_locked()

    def _work(self, run: _Run) -> None:
        me = threading.current_thread()
        ready = self._queue.ready
        while True:
            with self._has_work:
                while True:
                    if run.stop.is_set() or (
                        len(run.threads) > self.thread_count
                        and not (ready and self._sending < self.thread_count)
                    ):
                        run.threads.remove(me)  # stopped, or a surplus thread gone idle
                        self._has_work.notify()
                        return
                    if ready and self._sending < self.thread_count:
                        batch = self._take_locked()
                        break
                    self._has_work.wait()
            self._deliver(batch, functools.partial(self._park, run))

    def _deliver(self, batch: _Batch, wait: Callable[[float], bool]) -> None:
        """Send one taken batch with retries, then report it (unless ``close()`` gave up).

        Events still waiting to be retried when the emitter closes are dropped, not failed.
        """
        watch = StopWatch(wait)
        try:
            result = deliver(self.transport, batch.events(), self.retry_policy, wait=watch)
        except Exception:
            logger.exception("AsyncEmitter: sending a batch failed")
            result = DeliveryResult(failed=batch.events())
        with self._has_work:
            self._sending -= 1
            self._release_slot_locked()
            claimed = batch.claimed = not batch.abandoned
        if not claimed:
            return
        try:
            self._settle(
                result,
                batch.events(),
                batch.records,
                stopped=watch.stopped,
                release=lambda count: self._land_locked(batch),
            )
            if watch.stopped and result.unfinished:
                with self._done:
                    self._gave_up += 1
        finally:
            with self._done:
                drained = self._queue.release_locked(batch)
            if drained:  # a burst was delivered: return its heap pages to the OS
                self._queue.give_back_memory()

    def _land_locked(self, batch: _Batch) -> None:
        """The outcome of an in-flight batch is being counted: it is no longer in flight."""
        if batch.left:
            self._queue.land_locked(batch)

    def _release_slot_locked(self) -> None:
        if self._slot_waiters:
            self._has_slot.notify()
        else:
            self._has_work.notify()

    def _park(self, run: _Run, delay: float) -> bool:
        """``deliver``'s wait between attempts: free the sending slot meanwhile.

        Returns:
            True when the emitter is closing (no more retries).
        """
        with self._has_work:
            self._sending -= 1
            self._parked += 1
            self._release_slot_locked()
            self._wake_locked(run)  # the batches behind this one go out on other threads
        stop = run.stop.wait(delay)
        with self._has_slot:
            self._slot_waiters += 1
            while not stop and self._sending >= self.thread_count:
                self._has_slot.wait()
                stop = run.stop.is_set()
            self._slot_waiters -= 1
            self._parked -= 1
            self._sending += 1
        return stop

    # ---------------------------------------------------------------- flush and close
    def flush(self, is_async: bool = False, timeout: Optional[float] = None) -> bool:
        """Queue the buffered events for sending; unless ``is_async``, wait until all are done.

        Time bound: at most ``timeout`` seconds (None: until done; each batch is bounded by
        its retry policy's attempts and deadline and by ``request_timeout`` per request).

        Args:
            is_async: Return at once after queueing.
            timeout: Seconds to wait at most.

        Returns:
            True when every event queued before the call was sent or reported to
            ``on_failure``; False if ``timeout`` passed first (or ``is_async``).
        """
        if self._store is not None:
            self._queue_records(self._take_buffered())  # type: ignore[arg-type]
        else:
            for batch in self._take_batches():
                self._send(batch)
        if is_async:
            return False
        deadline = math.inf if timeout is None else time.monotonic() + max(0.0, timeout)
        run = self._run
        q = self._queue
        with self._done:
            # Wait for the batches queued so far only: events tracked meanwhile by other
            # threads must not keep a flush waiting for ever.
            target = q.next_ticket

        def send_here() -> bool:  # no threads (interpreter exit): the flush sends, in time
            return run.inline and bool(q.ready) and time.monotonic() < deadline

        while True:
            with self._done:
                if not q.wait_locked(target, deadline, send_here):
                    return False
                if not q.pending_locked(target):
                    return True
                taken = self._take_locked()
            self._deliver(taken, wait_until(deadline, run.stop))

    def _queue_records(self, records: List[PayloadDict]) -> None:
        """Queue the event store's dicts in batches within the limits."""
        where = self._where
        events = [encode_or_raise(r, self.method, where, "flush") for r in records]
        start = 0
        for batch in split_batches(events, self.limits):
            self._send(batch, records[start : start + len(batch)])
            start += len(batch)

    def _begin_exit(self) -> None:
        """At exit, before any emitter is waited on: queue what is buffered for the threads."""
        self.flush(is_async=True)

    def close(self, timeout: Optional[float] = None) -> bool:
        """Flush, then stop the sending threads and close the connections.

        Time bound: waits up to ``timeout`` for delivery; then retries stop and the requests
        in progress end (each within ``request_timeout``, connect + read). Batches not sent by
        then, including a batch waiting out a retry backoff, are dropped: counted in
        ``stats().dropped`` (not ``failed``), passed to ``on_failure`` and logged once. The
        emitter can be used again afterwards (threads start anew).

        Args:
            timeout: Seconds to wait for the flush (default ``shutdown_timeout``).

        Returns:
            Whether everything was delivered or reported as failed by the collector before the
            deadline (False when some events were dropped or the flush timed out).
        """
        return self._shutdown(self.shutdown_timeout if timeout is None else timeout, "close")

    def _shutdown_steps(self, timeout: float, when: str) -> bool:
        timeout = max(0.0, timeout)
        deadline = time.monotonic() + timeout
        self.cancel_flush_timer(timeout)
        self._cancel_retry()
        with self._done:
            gave_up = self._gave_up
        done = self.flush(timeout=max(0.0, deadline - time.monotonic()))
        with self._has_work:
            run, self._run = self._run, _Run()
            run.stop.set()
            self._has_work.notify_all()
            self._has_slot.notify_all()
            left = self._queue.take_ready_locked()
            self._count_dropped_locked(left)
            threads = list(run.threads)
        # Retries stop at once; a request in progress ends within its timeout.
        join_by = time.monotonic() + sum(self.request_timeout) + 1.0
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, join_by - time.monotonic()))
        with self._done:
            abandoned = [b for b in self._queue.in_flight.values() if not b.claimed]
            for batch in abandoned:
                batch.abandoned = True
                self._queue.release_locked(batch)
            self._count_dropped_locked(abandoned)
            left += abandoned
            self._done.notify_all()
        self.transport.close()
        store = self._store
        for batch in left:  # with an event store, what was not sent goes back to it
            if batch.records is not None and store is not None:
                store.cleanup(batch.records, True)
        dropped = [b.events() for b in left if b.records is None or store is None]
        self._notify_dropped(dropped, when)
        with self._done:
            gave_up = self._gave_up - gave_up
        return done and not left and not gave_up

    def _drop_hint(self, when: str) -> str:
        """What to change so that a shutdown delivers everything: the wait, or the rate of
        sending (``thread_count`` requests at a time, one event each with GET)."""
        hint = super()._drop_hint(when)
        return f"{hint}, or raise thread_count (now {self.thread_count})"

    def _count_dropped_locked(self, batches: List[_Batch]) -> None:
        """Count as dropped the events of batches taken out of the queue or out of flight at
        the close deadline (with an event store, they go back to it: queued again)."""
        if self._store is None:
            dropped = sum(b.count for b in batches)
        else:
            dropped = sum(b.count for b in batches if b.records is None)
        if dropped:
            self._counters.add_locked(dropped=dropped)

    def stats(self) -> EmitterStats:
        """Counters and gauges; see :class:`~snowplow_tracker.delivery.stats.EmitterStats`.

        ``queued`` counts buffered and queued events, ``in_flight`` those taken by a sending
        thread (sending, or waiting to retry), ``queued_bytes`` the bytes of both.
        """
        stored = self._store.store.size() if self._store is not None else 0
        with self._done:
            if self._store is None:
                buffered, buffered_bytes = len(self._batcher), self._batcher.nbytes
            else:
                buffered, buffered_bytes = stored, self._store.nbytes
            q = self._queue
            snapshot = self._counters.snapshot_locked(
                queued=buffered + self._taken + q.ready_events,
                in_flight=q.in_flight_events,
                queued_bytes=q.held_bytes + buffered_bytes,
            )
            threads = list(self._run.threads)
        snapshot.senders_alive = sum(t.is_alive() for t in threads)
        return snapshot
