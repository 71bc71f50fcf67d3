"""The claim/acknowledge side of a :class:`~snowplow_tracker.emitters.redis.worker.RedisWorker`:
its processing list in Redis, the takes handed to the emitter, and the thread that acknowledges
them once the emitter sent them."""

from __future__ import annotations

import functools
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, List

import orjson

from ..._logging import logger
from .handover import Handover, Take

if TYPE_CHECKING:
    from .worker import RedisWorker

#: Moves per pipeline when a list is given back to the main list.
REQUEUE_CHUNK = 1000


def requeue(client: Any, list_name: str, key: str) -> int:
    """Move every item of ``list_name`` to the head of ``key``, keeping their order; return how
    many moved."""
    moved = 0
    while True:
        length = int(client.llen(list_name))
        if length == 0:
            return moved
        pipe = client.pipeline(transaction=False)
        for _ in range(min(length, REQUEUE_CHUNK)):
            pipe.lmove(list_name, key, "RIGHT", "LEFT")
        done = sum(1 for r in pipe.execute() if r is not None)
        moved += done
        if done == 0:
            return moved


class Claims:
    """What one :meth:`RedisWorker.run` claimed and has not acknowledged yet.

    The worker's loop calls :meth:`wait_for_room`, :meth:`claim` and :meth:`handed`; the
    acknowledging thread (``snowplow-redis-ack``, :meth:`start`) waits for the takes handed
    over, flushes the emitter, and acknowledges them in Redis.
    """

    def __init__(self, worker: RedisWorker, handover: Handover) -> None:
        self.worker = worker
        self.handover = handover
        self.client = worker.client
        self.stats = worker._stats
        self.cond = threading.Condition()
        self.takes: Deque[Take] = deque()  # handed over, not acknowledged, oldest first
        self.unacked = 0  # items in the processing list claimed by this run, not acknowledged
        self.head_lock = threading.Lock()  # the processing list's head vs. ``unacked``
        self.resync = False
        self.thread = threading.Thread(
            target=self._acknowledge_loop, name="snowplow-redis-ack", daemon=True
        )

    # -- the worker's loop -------------------------------------------------------------------

    def wait_for_room(self) -> int:
        """Wait until fewer than ``max_unacked`` items are unacknowledged; return the room."""
        limit = self.worker.max_unacked
        with self.cond:
            while self.unacked >= limit and not self.worker.stopping:
                self.cond.wait(0.5)
            return limit - self.unacked

    def claim(self, limit: int) -> List[bytes]:
        """Move up to ``limit`` items to the processing list (blocking for the first).

        After a Redis error in the middle of a move, the processing list may hold items that
        were never returned here: the next call then takes every item of the processing list
        beyond the unacknowledged ones, so that acknowledging cannot lose them.
        """
        client, key, processing = self.client, self.worker.key, self.worker.processing_key
        if self.resync:
            with self.head_lock:
                items: List[bytes] = list(client.lrange(processing, self.unacked, -1))
                self.resync = False
                self._claimed(items)
            if items:
                return items
        self.resync = True
        first = client.blmove(key, processing, self.worker.block_timeout, "LEFT", "RIGHT")
        if first is None:
            self.resync = False
            return []
        items = [first]
        available = min(limit - 1, int(client.llen(key))) if limit > 1 else 0
        if available > 0:
            pipe = client.pipeline(transaction=False)
            for _ in range(available):
                pipe.lmove(key, processing, "LEFT", "RIGHT")
            items.extend(item for item in pipe.execute() if item is not None)
        self.resync = False
        self._claimed(items)
        return items

    def _claimed(self, items: List[bytes]) -> None:
        self.stats.taken += len(items)
        with self.cond:
            self.unacked += len(items)

    def handed(self, take: Take) -> None:
        """Queue a take handed to the emitter for acknowledgement."""
        with self.cond:
            self.takes.append(take)
            self.cond.notify_all()

    # -- the acknowledging thread ------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def _acknowledge_loop(self) -> None:
        """Flush the emitter and acknowledge the takes handed over before each flush."""
        while True:
            takes = self._next_takes()
            if not takes or not self.handover.flush():
                return  # stopping: what is left goes back to the list (give_back)
            failed = self.handover.take_failures()
            dead = [item for take in takes for item in take.dead]
            invalid = len(dead)
            dead.extend(orjson.dumps(dict(event)) for event in failed)
            if not self.worker._retrying(functools.partial(self._acknowledge, takes, dead)):
                self.handover.put_back_failures(failed)  # stopping with Redis down
                return
            self.stats.batches += len(takes)
            self.stats.invalid += invalid
            self.stats.dead_lettered += len(dead)
            self.stats.delivered += max(0, sum(take.handed for take in takes) - len(failed))

    def _next_takes(self) -> List[Take]:
        """The takes handed over so far; none when stopping with nothing left."""
        with self.cond:
            while not self.takes and not self.worker.stopping:
                self.cond.wait(0.5)
            return list(self.takes)

    def _acknowledge(self, takes: List[Take], dead: List[bytes]) -> bool:
        """Dead-letter ``dead`` and remove the items of ``takes`` from the head of the
        processing list, atomically (``MULTI``)."""
        count = sum(take.items for take in takes)
        with self.head_lock:
            pipe = self.client.pipeline(transaction=True)
            if dead:
                pipe.rpush(self.worker.failed_key, *dead)
            pipe.ltrim(self.worker.processing_key, count, -1)
            pipe.execute()
            with self.cond:
                self.unacked -= count
                for _ in takes:
                    self.takes.popleft()
                self.cond.notify_all()
        logger.debug(
            "RedisWorker %s: %d item(s) acknowledged (%d dead-lettered)",
            self.worker.worker_id,
            count,
            len(dead),
        )
        return True

    # -- stopping ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Wake the acknowledging thread and wait for it (it ends by the shutdown deadline)."""
        with self.cond:
            self.cond.notify_all()
        if self.thread.is_alive():
            self.thread.join(timeout=self.worker.shutdown_timeout + 5.0)

    def give_back(self) -> None:
        """Move what is still in the processing list back to the main list."""
        worker = self.worker
        try:
            moved = requeue(self.client, worker.processing_key, worker.key)
        except Exception as exc:  # noqa: BLE001 - Redis down at exit: logged
            worker._redis_error("giving back the processing list", exc)
            return
        if moved:
            self.stats.requeued += moved
            logger.warning(
                "RedisWorker %s: gave %d unsent item(s) back to %r",
                worker.worker_id,
                moved,
                worker.key,
            )

    def dead_letter_late_failures(self) -> None:
        """Dead-letter the failures the emitter reported after the last acknowledgement."""
        failed = self.handover.take_failures()
        if not failed:
            return
        try:
            self.client.rpush(self.worker.failed_key, *(orjson.dumps(dict(e)) for e in failed))
        except Exception as exc:  # noqa: BLE001 - Redis down at exit: logged
            self.worker._redis_error("dead-lettering failed events", exc)
            logger.error(
                "RedisWorker %s: %d failed event(s) could not be dead-lettered",
                self.worker.worker_id,
                len(failed),
            )
            return
        self.stats.dead_lettered += len(failed)
