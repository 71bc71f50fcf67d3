"""Which :class:`~snowplow_tracker.emitters.redis.worker.RedisWorker` s are alive: each keeps a
heartbeat key ``{key}:worker:{worker_id}``, and the processing lists of workers without one are
given back to the list."""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Union

import orjson

from ..._logging import logger
from .claims import requeue

if TYPE_CHECKING:
    from .worker import RedisWorker

_GLOB_SPECIALS = "\\*?[]"


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in _GLOB_SPECIALS else c for c in text)


def _text(value: Union[bytes, str]) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class Heartbeat:
    """A worker's heartbeat key (``SET ... PX heartbeat_ttl``), refreshed every third of
    ``heartbeat_ttl`` by a thread (``snowplow-redis-heartbeat``) until the worker stops.

    Args:
        worker: The worker: its ``heartbeat_key``, ``heartbeat_ttl``, client and stop event.
    """

    def __init__(self, worker: RedisWorker) -> None:
        self.worker = worker
        self.thread = threading.Thread(
            target=self._loop, name="snowplow-redis-heartbeat", daemon=True
        )

    def start(self) -> None:
        """Beat once (retried until Redis answers or a stop is asked), then start the thread."""
        self.worker._retrying(self.beat)
        self.thread.start()

    def beat(self) -> None:
        worker = self.worker
        value = orjson.dumps({"worker_id": worker.worker_id, "pid": os.getpid(), "at": time.time()})
        worker.client.set(worker.heartbeat_key, value, px=max(1, int(worker.heartbeat_ttl * 1000)))

    def _loop(self) -> None:
        interval = self.worker.heartbeat_ttl / 3.0
        while not self.worker._stop.wait(interval):
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 - the heartbeat thread must survive outages
                self.worker._redis_error("refreshing the heartbeat", exc)

    def join(self) -> None:
        if self.thread.is_alive():
            self.thread.join(timeout=self.worker.heartbeat_ttl)

    def remove(self) -> None:
        """Delete the heartbeat key (when Redis is down, it expires by itself)."""
        try:
            self.worker.client.delete(self.worker.heartbeat_key)
        except Exception as exc:  # noqa: BLE001 - logged; the key expires
            self.worker._redis_error("deleting the heartbeat", exc)


def recover_dead_workers(worker: RedisWorker, include_own: bool) -> int:
    """Move the items of dead workers' processing lists back to the head of the list.

    Args:
        worker: The worker recovering.
        include_own: Also recover the worker's own processing list.

    Returns:
        How many items were moved back.
    """
    client = worker.client
    prefix = f"{worker.key}:processing:"
    total = 0
    for name in client.scan_iter(match=_glob_escape(prefix) + "*", count=200):
        list_name = _text(name)
        worker_id = list_name[len(prefix) :]
        if worker_id == worker.worker_id:
            if not include_own:
                continue
        elif client.exists(f"{worker.key}:worker:{worker_id}"):
            continue
        moved = requeue(client, list_name, worker.key)
        if moved:
            logger.warning(
                "RedisWorker %s: recovered %d item(s) left by worker %s",
                worker.worker_id,
                moved,
                worker_id,
            )
        total += moved
    return total
