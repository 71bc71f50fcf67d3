"""``SenderPool``: one run of a ``ProcessEmitter``'s sender processes, and the host state it owns.

A pool owns, for one run in one process (until ``close()`` or a fork replaces it):

- its :class:`~snowplow_tracker.delivery.host_queue.HostQueue` of sealed micro-batches, and
  the micro-batch being filled (a framed ``bytearray`` and an ``array`` of lengths: the
  emitter's ``input`` appends to them under the queue's lock);
- the handles of its sender processes;
- its feeder thread, which seals old micro-batches and writes each to the sender with the least
  work in flight (:meth:`SenderPool._feed`);
- its listener thread, whose loop reads as its steps (:meth:`SenderPool._listen`): wait for a
  message or an exit, process what arrived, adjust the senders (stop the late, start the
  missing), report drops, until it is asked to shut down and no sender is left.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from multiprocessing.connection import wait
from typing import Any, Callable, List, Optional, Tuple, Union

from ..._logging import logger
from ...delivery.host_queue import HostQueue
from ...delivery.stats import Counters
from ...errors import SenderStartError
from . import ipc
from .handles import (
    SENDER_START_TIMEOUT,
    STOPPED_EXIT_CODES,
    MicroBatch,
    SenderHandle,
    start_sender,
    stop_late_senders,
)
from .sender import SenderConfig
from .shared import SharedLink, SharedSpec, connect_shared

#: A micro-batch goes to a sender once it holds this many bytes, whatever its event count.
IPC_MAX_BATCH_BYTES = 1024 * 1024
#: Bytes of dropped events held for ``on_failure`` before the tracking thread reports them
#: itself (when the listener thread falls behind): bounds what a tight loop can pile up.
DROP_PILE_BYTES = 1024 * 1024
#: Seconds between two wake-ups of the listener thread for drops (a wake-up is a syscall in the
#: tracking thread and a GIL hand-over; a tight loop dropping events must not pay it per event).
DROP_WAKE_INTERVAL = 0.05
#: What the feeder writes next: the message, the senders it goes to, the micro-batch if any.
_Job = Tuple[Union[bytes, bytearray], List[SenderHandle], Optional[MicroBatch]]


class SenderPool:
    """The sender processes of one run of a ``ProcessEmitter``, with its queue and threads.

    Args:
        owner: The emitter: its settings (``process_count``, ``ipc_max_delay``,
            ``max_queue_bytes``, ``max_queue_size``, ``_shared``: the shared senders to connect
            to instead of starting its own), its callbacks and its ``_notify`` (for outcomes
            already counted).
        config: What each sender is started with.
        counters: The emitter's counters (they outlive a run; the queue's lock is theirs).
    """

    def __init__(self, owner: Any, config: SenderConfig, counters: Counters) -> None:
        self.pid = os.getpid()
        self.owner = owner
        self.where: str = owner._where
        self.process_count: int = owner.process_count
        self.ipc_max_delay: float = owner.ipc_max_delay
        self.shared: Optional[SharedSpec] = owner._shared
        self.config = config
        self.notify: Callable[[List[bytes], List[bytes]], None] = owner._notify
        bounds = (owner.max_queue_bytes, owner.max_queue_size)
        full = "ProcessEmitter queue full (max_queue_bytes={}, max_queue_size={})".format(*bounds)
        # Closed until started (the hot path takes the slow path); keeps drops for on_failure.
        self.queue: HostQueue[MicroBatch] = HostQueue(
            *bounds, full + ": dropped %d event(s)", owner._notify, counters, DROP_PILE_BYTES
        )
        self.lock = self.queue.lock
        self.feeder_cond = threading.Condition(self.lock)
        self.micro = ipc.new_batch()  # the micro-batch being filled, framed in place
        self.micro_lengths = ipc.new_lengths()  # the lengths of its events
        self.micro_events = 0
        self.micro_started = 0.0
        self.senders: List[Optional[SenderHandle]] = []
        self.flush_before = 0  # write FLUSH once no micro-batch older than this ticket waits
        self.stop_wanted = False  # write STOP once nothing waits
        self.drop_wake_at = 0.0
        self.feeder: Optional[threading.Thread] = None
        self.listener: Optional[threading.Thread] = None
        self.wake_r: Optional[socket.socket] = None
        self.wake_w: Optional[socket.socket] = None
        self.started = False
        self.closing = False
        self.stopped = False
        self.feeder_idle = False
        self.ever_ready = False  # a sender of this run ran
        self.start_error: Optional[SenderStartError] = None  # no sender could start

    # ---------------------------------------------------------------- the caller's side
    def start_locked(self) -> None:
        """Open the queue and start the feeder and listener threads (senders start from the
        listener)."""
        self.started = True
        self.queue.open_locked()
        self.senders = [None] * self.process_count
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.listener = threading.Thread(target=self._listen, name="snowplow-listener", daemon=True)
        self.feeder = threading.Thread(target=self._feed, name="snowplow-feeder", daemon=True)
        self.listener.start()
        self.feeder.start()

    def wake_feeder_locked(self) -> None:
        self.feeder_idle = False
        self.feeder_cond.notify()

    def submit_locked(self) -> None:
        """Seal the micro-batch being filled and queue it for the feeder."""
        n = self.micro_events
        if not n:
            return
        q = self.queue
        message = self.micro
        size = len(message) - ipc.BATCH_HEADER_SIZE + ipc.EVENT_OVERHEAD * n
        ipc.seal_batch(message, self.micro_lengths, q.next_ticket)
        q.put_locked(MicroBatch(q.next_ticket, message, n, size))
        self.micro = ipc.new_batch()
        self.micro_lengths = ipc.new_lengths()
        self.micro_events = 0
        q.event_room -= n
        q.counters.accepted += n  # micro_events are added by stats()
        q.watermark.note(q.max_bytes - q.room)
        if self.feeder_idle:
            self.wake_feeder_locked()

    def drop_locked(self, event: bytes) -> Optional[List[bytes]]:
        """Drop one event (a bound was reached); returns drops for the caller to report when
        the listener falls behind."""
        q = self.queue
        q.counters.accepted += 1
        if q.drop_locked(1, (event,)):
            return q.take_drops_locked()
        if q.unreported == 1:  # the listener reports them: wake it, at most every
            now = time.monotonic()  # DROP_WAKE_INTERVAL (else it finds them within 1 s)
            if now >= self.drop_wake_at:
                self.drop_wake_at = now + DROP_WAKE_INTERVAL
                self.wake_listener()
        return None

    def request_flush_locked(self) -> int:
        """Seal the micro-batch being filled and have the senders send what they hold once the
        feeder wrote what waits; returns the ticket a flush barrier waits for."""
        self.submit_locked()
        target = self.queue.next_ticket
        self.flush_before = max(self.flush_before, target)
        self.wake_feeder_locked()
        return target

    def flush_check_locked(self) -> bool:
        """For a flush barrier: raise when no sender could start; True once stopped."""
        if self.start_error is not None:
            raise self.start_error
        return self.stopped

    def wake_listener(self) -> None:
        wake_w = self.wake_w
        if wake_w is not None:
            try:
                wake_w.send(b"x")
            except OSError:
                pass  # buffer full: the listener is already due to wake up

    # ---------------------------------------------------------------- the feeder thread
    def _feed(self) -> None:
        """Feeder thread: writes the next message to its senders, until STOP is written."""
        while True:
            with self.lock:
                job = self._next_job_locked()
            if job is None:
                return
            message, targets, batch = job
            if not self._write(message, targets) and batch is not None:
                with self.lock:
                    self._requeue_locked([batch])
                time.sleep(0.01)
            if message is ipc.STOP:
                return

    def _pick_sender_locked(self) -> Optional[SenderHandle]:
        best: Optional[SenderHandle] = None
        for handle in self.senders:
            if handle is not None and (best is None or handle.in_flight < best.in_flight):
                best = handle
        return best

    def _next_job_locked(self) -> Optional[_Job]:
        """Wait for the next message to write; None once stopped."""
        q = self.queue
        while not self.stopped:
            if self.flush_before and not q.pending_ready_locked(self.flush_before):
                self.flush_before = 0
                return ipc.FLUSH, self._live_senders_locked(), None
            handle = self._pick_sender_locked() if q.ready else None
            if handle is not None:
                batch = q.take_locked()
                batch.sender = handle.index
                handle.in_flight += batch.count
                return batch.message, [handle], batch
            if self.stop_wanted and not q.ready:
                return ipc.STOP, self._live_senders_locked(), None
            self._idle_locked()
        return None

    def _idle_locked(self) -> None:
        """Wait for work: seal a micro-batch once ``ipc_max_delay`` old, poll for a sender
        while micro-batches wait for one."""
        timeout: Optional[float] = None
        if self.micro_events:
            timeout = self.ipc_max_delay - (time.monotonic() - self.micro_started)
            if timeout <= 0:
                self.submit_locked()
                return
        if self.queue.ready:  # waiting for a sender to (re)start
            timeout = 0.05 if timeout is None else min(timeout, 0.05)
        self.feeder_idle = True
        self.feeder_cond.wait(timeout)
        self.feeder_idle = False

    def _live_senders_locked(self) -> List[SenderHandle]:
        targets = [h for h in self.senders if h is not None]
        for target in targets:
            target.writing = True
        return targets

    def _write(self, message: Union[bytes, bytearray], targets: List[SenderHandle]) -> bool:
        """Write ``message`` to each target; False when a write failed (the sender died)."""
        ok = True
        for target in targets:
            try:
                target.conn.send_bytes(message)
            except OSError:
                ok = False  # it died; the listener replaces it
            with self.lock:
                target.writing = False
                if target.exited:
                    target.conn.close()  # the listener left it to us
        return ok

    def _requeue_locked(self, batches: List[MicroBatch]) -> int:
        """Put in-flight micro-batches back at the head of the queue; returns the events.

        A micro-batch some of whose events were reported delivered (``P``) is cut down to the
        others, so that the next sender does not send them again."""
        for batch in batches:
            handle = self.senders[batch.sender] if batch.sender >= 0 else None
            if handle is not None:
                handle.in_flight -= batch.count
            batch.sender = -1
            if batch.done:
                batch.keep_undone()
        moved = self.queue.requeue_locked(batches)
        if moved and self.feeder_idle:
            self.wake_feeder_locked()
        return moved

    # ---------------------------------------------------------------- the listener thread
    def _listen(self) -> None:
        """Listener thread: start the senders, then take their messages and replace those
        that die, until shutdown and no sender is left."""
        # Senders start from this thread, which blocks SIGINT for them (start_sender).
        while True:
            handles = self._adjust_senders()
            if handles is None:
                break
            ready = self._wait_for_messages(handles)
            self._process_messages(handles, ready)
            self._report_drops()
        self._report_drops()

    def _adjust_senders(self) -> Optional[List[SenderHandle]]:
        """Stop the senders late to start, start the missing ones; returns the live senders,
        or None when shut down and none is left."""
        while True:
            with self.lock:
                handles = [h for h in self.senders if h is not None]
                missing = [i for i, h in enumerate(self.senders) if h is None]
                closing = self.closing or self.start_error is not None
            if closing:
                return handles or None
            if not missing:
                stop_late_senders(handles)
                return handles
            for index in missing:
                try:
                    self._spawn(index)
                except Exception as exc:  # noqa: BLE001 - logged; tried again
                    # A shared sender may be starting in another host: only its own failure
                    # to start is final.
                    final = self.shared is None or isinstance(exc, SenderStartError)
                    with self.lock:
                        if final and not self.ever_ready and self.start_error is None:
                            self._fail_start_locked(
                                f"sender process {index} could not be started ({exc})"
                            )
                    time.sleep(0.5)
                    return handles  # serve the others meanwhile

    def _wait_for_messages(self, handles: List[SenderHandle]) -> List[Any]:
        """Wait (1 s at most) for a message, an exit or a wake-up; drain the wake-ups."""
        assert self.wake_r is not None
        objects: List[Any] = [self.wake_r]
        for h in handles:
            objects.append(h.conn)
            if h.process.sentinel is not h.conn:
                objects.append(h.process.sentinel)
        ready = wait(objects, timeout=1.0)
        if self.wake_r in ready:
            try:
                while self.wake_r.recv(4096):
                    pass
            except OSError:
                pass
        return ready

    def _process_messages(self, handles: List[SenderHandle], ready: List[Any]) -> None:
        for handle in handles:
            if handle.conn in ready or handle.process.sentinel in ready:
                self._read_messages(handle)
            if handle.process.sentinel in ready:
                handle.process.join(0.1)
                if not handle.process.is_alive():
                    self._on_sender_exit(handle)

    def _spawn(self, index: int) -> None:
        if self.shared is None:
            handle = start_sender(self.config, index)
        else:
            try:
                handle = connect_shared(self.shared, self.config, index)
            except Exception as error:
                logger.info("shared sender %d: %s", index, error)
                raise
        with self.lock:
            self.senders[index] = handle
            if self.feeder_idle:
                self.wake_feeder_locked()

    def _read_messages(self, handle: SenderHandle) -> None:
        conn = handle.conn
        try:
            while conn.poll(0):
                message = conn.recv_bytes()
                kind = message[:1]
                if kind == ipc.ACK:
                    self._on_ack(*ipc.unpack_ack(message))
                elif kind == ipc.PROGRESS:
                    self._on_progress(*ipc.unpack_progress(message))
                elif kind == ipc.THROTTLED:
                    self.queue.counters.add(throttled=ipc.unpack_throttled(message))
                elif kind == ipc.READY:
                    with self.lock:
                        handle.ready = self.ever_ready = True
                elif kind == ipc.LOG:
                    handle.log(message)
        except (EOFError, OSError):
            if isinstance(handle.process, SharedLink):
                handle.process.hang_up()

    def _in_flight_locked(self, ticket: int) -> Optional[MicroBatch]:
        batch = self.queue.in_flight.get(ticket)
        return batch if batch is not None and batch.sender >= 0 else None

    def _on_progress(self, ticket: int, sent_idx: List[int]) -> None:
        """Some events of an in-flight micro-batch were accepted: count and report them now."""
        with self.lock:
            batch = self._in_flight_locked(ticket)
            if batch is None:
                return
            if batch.done is None:
                batch.done = set()
            new = [i for i in sent_idx if i not in batch.done and 0 <= i < batch.count]
            batch.done.update(new)
            self.queue.land_locked(batch, len(new))
            self.queue.counters.sent += len(new)
        if new and self.owner.on_success is not None:
            events = ipc.batch_events(batch.message)
            self.notify([events[i] for i in new], [])

    def _on_ack(self, ticket: int, retried: int, failed_idx: List[int]) -> None:
        """Every event of a micro-batch has an outcome: count it, report it, release it (a
        flush barrier waits until the callbacks ran)."""
        q = self.queue
        with self.lock:
            batch = self._in_flight_locked(ticket)
            if batch is None:
                return
            done = batch.done or set()
            bad = sorted({i for i in failed_idx if i not in done and 0 <= i < batch.count})
            q.counters.add_locked(sent=batch.left - len(bad), failed=len(bad), retried=retried)
            q.land_locked(batch)
            handle = self.senders[batch.sender]
            if handle is not None:
                handle.in_flight -= batch.count
            batch.sender = -1  # acknowledged: no longer the sender's
        try:
            owner = self.owner
            if (bad and owner.on_failure is not None) or owner.on_success is not None:
                events = ipc.batch_events(batch.message)
                skip = done.union(bad)
                sent = [e for i, e in enumerate(events) if i not in skip]
                self.notify(sent, [events[i] for i in bad])
        finally:
            with self.lock:
                drained = q.release_locked(batch)
            if drained:  # a burst was delivered: return its heap pages to the OS
                q.give_back_memory()

    def _on_sender_exit(self, handle: SenderHandle) -> None:
        handle.process.close()
        with self.lock:
            handle.exited = True
            if not handle.writing:
                handle.conn.close()  # else the feeder closes it when its write ends
            if self.senders[handle.index] is handle:
                self.senders[handle.index] = None
            if self.closing or self.start_error is not None:
                return
            # An error before it ran (a Python exception exits with 1; a signal sent to the
            # process group is not one) while no sender ever ran: senders cannot start here.
            code = handle.process.exitcode
            failed_start = handle.late or (code is not None and code > 0)
            if failed_start and not handle.ready and not self.ever_ready:
                how = (
                    f"did not start within {SENDER_START_TIMEOUT:g} s"
                    if handle.late
                    else f"exited with code {code} before it started"
                )
                self._fail_start_locked(
                    f"sender process {handle.index} (pid {handle.process.pid}) {how}"
                )
                return
            lost = [b for b in self.queue.in_flight.values() if b.sender == handle.index]
            moved = self._requeue_locked(lost)
            if moved:
                # A flush may have been asked of the dead sender: have them sent promptly.
                self.flush_before = max(self.flush_before, self.queue.next_ticket)
        # 0 or SIGTERM: the sender was stopped on purpose (a service manager or `kill -TERM
        # -PGID` signals the whole process group, host included): not a failure.
        log = logger.info if code in STOPPED_EXIT_CODES else logger.warning
        log(
            "sender process %d (pid %s) exited with code %s; replacing it and handing its %d "
            "unacknowledged event(s) to the pool",
            handle.index,
            handle.process.pid,
            code,
            moved,
        )
        self.queue.counters.add(restarts=1, redelivered=moved)

    def _fail_start_locked(self, what: str) -> None:
        """A sender could not be started, or exited before it ran, and none of this run ever
        did: senders cannot start. ``track_*`` and ``flush()`` raise from now on; ``close()``
        drops what is held.

        Args:
            what: What happened to the sender, for the error message.
        """
        self.start_error = SenderStartError(
            f"{self.where}: {what}, and no sender could start (its error is on standard error)."
        )
        self.queue.close_locked()  # track_* takes the slow path, which raises
        self.queue.changed.notify_all()
        logger.error("%s", self.start_error)

    def _report_drops(self) -> None:
        q = self.queue
        with self.lock:
            if not q.unreported:
                return
            events = q.take_drops_locked()
        q.report_taken(events)

    # ---------------------------------------------------------------- shutdown
    def shutdown(self, deadline: float, successor: Callable[[], None]) -> int:
        """Stop the senders and threads by ``deadline`` (then SIGTERM, and SIGKILL 1 s later);
        drop, count and report what is still held. Returns the events dropped.

        Args:
            deadline: ``time.monotonic()`` by which the senders should have exited.
            successor: Called under the lock when this run stops, to put the next in place.
        """
        self._ask_to_stop()
        if self.feeder is not None:
            self.feeder.join(max(0.1, deadline - time.monotonic()))
        self._wait_for_senders(deadline)
        self._end_senders()
        self.wake_listener()
        if self.listener is not None:
            self.listener.join(5.0)  # it reads what the senders acknowledged before they ended
        left = self._take_what_is_left(successor)
        dropped = sum(map(len, left))
        if dropped:
            if self.start_error is not None:
                hint = "no sender process could start"
            else:
                hint = "raise shutdown_timeout (or close()'s timeout) or process_count"
            logger.log(
                logging.WARNING,
                "ProcessEmitter.close: dropped %d undelivered event(s) at the deadline (reported "
                "to on_failure); %s",
                dropped,
                hint,
            )
        for events in left:
            if events:
                self.notify([], events)  # counted
        for sock in (self.wake_r, self.wake_w):
            if sock is not None:
                sock.close()
        if self.listener is None or not self.listener.is_alive():  # it waits on the exit pipes
            with self.lock:
                handles = [h for h in self.senders if h is not None]
            for handle in handles:
                handle.process.join(0)  # reaped if it exited
                handle.process.close()
        return dropped

    def _ask_to_stop(self) -> None:
        with self.lock:
            self.closing = self.stop_wanted = True
            self.wake_feeder_locked()

    def _wait_for_senders(self, deadline: float) -> None:
        """Wait until ``deadline`` for the senders (a replacement started meanwhile too) to
        drain and exit."""
        while time.monotonic() < deadline:
            with self.lock:
                alive = [h for h in self.senders if h is not None and h.process.is_alive()]
            if not alive:
                return
            alive[0].process.join(min(0.1, max(0.0, deadline - time.monotonic())))

    def _end_senders(self) -> None:
        """SIGTERM the senders still running (send what you can in 1 s), then SIGKILL."""
        with self.lock:
            handles = [h for h in self.senders if h is not None]
        for stop in ("terminate", "kill"):
            alive = [h.process for h in handles if h.process.is_alive()]
            for process in alive:
                getattr(process, stop)()
            end = time.monotonic() + 1.0
            for process in alive:
                process.join(max(0.0, end - time.monotonic()))

    def _take_what_is_left(self, successor: Callable[[], None]) -> List[List[bytes]]:
        """Stop the run: count as dropped every event still held, and return them (the
        drops not reported yet included)."""
        q = self.queue
        with self.lock:
            left = [batch.undone() for batch in q.clear_locked() if batch.left]
            if self.micro_events:
                q.counters.accepted += self.micro_events
                ipc.seal_batch(self.micro, self.micro_lengths, 0)
                left.append(ipc.batch_events(self.micro))
                self.micro_events = 0
            q.counters.add_locked(dropped=sum(map(len, left)))
            self.stopped = True
            self.started = False
            q.close_locked()
            self.feeder_cond.notify_all()
            successor()
            drops = q.take_drops_locked()  # last: report_taken must follow (settle_drops waits)
        q.report_taken(drops)
        return left

    def abandon_after_fork(self) -> None:
        """In a forked child: let go of the parent's sockets and pipes (the senders are the
        parent's children, never waited on here)."""
        for handle in self.senders:
            if handle is None:
                continue
            try:
                handle.conn.close()
            except OSError:
                pass
            handle.process.abandon()
        for sock in (self.wake_r, self.wake_w):
            if sock is not None:
                sock.close()
