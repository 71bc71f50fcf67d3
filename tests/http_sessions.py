"""Real ``requests`` sessions for emitter tests: an adapter that counts, holds and tags requests.

Nothing is mocked: every request still goes through ``requests``/``urllib3`` to the real
embedded collector; the adapter only observes it (and can hold it back first).
"""

from __future__ import annotations

import threading
from typing import Any, Optional

import requests
from requests.adapters import HTTPAdapter

#: A header set by :func:`tagged_session`: the collector sees it on every request of the session.
TAG_HEADER = "X-Snowplow-Test"


class CountingAdapter(HTTPAdapter):
    """Counts the requests it sends and how many are in flight at once.

    Args:
        barrier: The first ``barrier.parties`` requests wait at it (bounded) before they are
            sent: they pass only if that many requests are in flight at the same time.
        gate: Every request waits (bounded) until this event is set.
    """

    def __init__(
        self,
        barrier: Optional[threading.Barrier] = None,
        gate: Optional[threading.Event] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.barrier = barrier
        self.gate = gate
        self.lock = threading.Lock()
        self.started = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        with self.lock:
            index = self.started
            self.started += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.barrier is not None and index < self.barrier.parties:
                self.barrier.wait(timeout=20)
            if self.gate is not None:
                self.gate.wait(timeout=30)
            return super().send(request, **kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1


def session_with(adapter: HTTPAdapter, tag: str = "via-user-session") -> requests.Session:
    """A session that sends through ``adapter`` and sets :data:`TAG_HEADER` to ``tag``."""
    session = requests.Session()
    session.headers[TAG_HEADER] = tag
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
