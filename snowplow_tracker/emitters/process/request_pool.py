"""The request threads of a sender process: up to ``size`` requests in flight, each delivered
with retries on its own thread over its own keep-alive connection."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Deque, Dict, List, Optional, Sequence, Tuple

from ..._logging import ThrottledLog
from ...delivery.retry import RetryPolicy
from ...delivery.transport import DeliveryResult, HttpTransport, deliver

if TYPE_CHECKING:
    from .sender import Sender

#: A micro-batch id and the index of an event in it.
Tag = Tuple[int, int]

_crash_log = ThrottledLog()


@dataclass
class Request:
    """Events sent together (one POST body, or one GET event) and where each came from.

    ``owner`` is the :class:`Sender` that acknowledges them (None: the pool's own).
    """

    events: List[bytes]
    tags: List[Tag]
    owner: Optional[Sender] = None


def failed_positions(events: Sequence[bytes], failed: Sequence[bytes]) -> List[int]:
    """Positions in ``events`` of the objects in ``failed`` (matched by identity).

    Args:
        events: The events of a request.
        failed: Those of them given up on (the same objects), from a :class:`DeliveryResult`.
    """
    if not failed:
        return []
    if len(failed) == len(events):
        return list(range(len(events)))
    where: Dict[int, List[int]] = {}
    for position, event in enumerate(events):
        where.setdefault(id(event), []).append(position)
    return [where[id(event)].pop() for event in failed]


class RequestPool:
    """Sends requests on up to ``size`` threads at once, each with its own transport.

    Threads start on demand (a sender that never has two requests waiting keeps one thread).
    The pool is its own rather than a ``concurrent.futures.ThreadPoolExecutor``: that one costs
    more CPU per request (a future and its condition per request; ``python -m
    perf.request_pool_cpu`` measures the pool alone), and its threads are joined at interpreter
    exit, where a request stuck on the wire would hold the sender (these threads are daemons).
    Each request is delivered with retries on its thread, so a slow or failing request never
    holds up the others. Once ``abandon`` is set, backoff ends at once and requests not yet
    started fail without being tried.

    Args:
        size: Most requests in flight at once.
        new_transport: Makes a transport (called on each thread, on its first request).
        policy: The retry policy.
        on_done: Called on the request's thread with its outcome; must not raise.
        abandon: Set to give up retrying.
    """

    def __init__(
        self,
        size: int,
        new_transport: Callable[[], HttpTransport],
        policy: RetryPolicy,
        on_done: Callable[[Request, DeliveryResult], None],
        abandon: threading.Event,
    ) -> None:
        self.size = size
        self._new_transport = new_transport
        self._policy = policy
        self._on_done = on_done
        self._abandon = abandon
        lock = threading.Lock()
        self._has_work = threading.Condition(lock)  # request threads wait here for work
        self._idle = threading.Condition(lock)  # wait_idle() waits here
        self._queue: Deque[Request] = deque()
        self._threads: List[threading.Thread] = []
        self._waiting = 0  # threads waiting for a request
        self._active = 0  # requests being delivered
        self._closing = False

    @property
    def threads(self) -> int:
        """Threads started so far."""
        return len(self._threads)

    def submit(self, request: Request) -> None:
        """Queue a request; a thread picks it up at once if fewer than ``size`` are busy."""
        with self._has_work:
            self._queue.append(request)
            if len(self._queue) > self._waiting and len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._work,
                    name=f"snowplow-request-{len(self._threads)}",
                    daemon=True,  # a request stuck on the wire never keeps the sender alive
                )
                self._threads.append(thread)
                thread.start()
            self._has_work.notify()

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until no request is queued or being delivered.

        Returns:
            Whether the pool is idle.
        """
        with self._idle:
            return self._idle.wait_for(lambda: not self._queue and not self._active, timeout)

    def close(self) -> None:
        """Let the threads end once the queue is empty."""
        with self._has_work:
            self._closing = True
            self._has_work.notify_all()

    def _next(self) -> Optional[Request]:
        """The next request for this thread, or None when the pool is closed and empty."""
        with self._has_work:
            while not self._queue and not self._closing:
                self._waiting += 1
                self._has_work.wait()
                self._waiting -= 1
            if not self._queue:
                return None
            self._active += 1
            return self._queue.popleft()

    def _finished(self) -> None:
        with self._idle:
            self._active -= 1
            if not self._active and not self._queue:
                self._idle.notify_all()

    def _work(self) -> None:
        own: List[HttpTransport] = []  # this thread's transport, made on its first request
        try:
            while True:
                request = self._next()
                if request is None:
                    return
                try:
                    self._on_done(request, self._deliver(own, request))
                except Exception:  # noqa: BLE001 - the thread must live on for the next request
                    _crash_log.log("sender: unexpected error after a request", exc_info=True)
                finally:
                    self._finished()
        finally:
            for transport in own:
                transport.close()

    def _deliver(self, own: List[HttpTransport], request: Request) -> DeliveryResult:
        if self._abandon.is_set():
            return DeliveryResult(failed=list(request.events))
        try:
            if not own:
                own.append(self._new_transport())
            return deliver(own[0], request.events, self._policy, wait=self._abandon.wait)
        except Exception:  # noqa: BLE001 - nothing may kill a request thread; report the events
            _crash_log.log("sender: unexpected error while sending a request", exc_info=True)
            return DeliveryResult(failed=list(request.events))
