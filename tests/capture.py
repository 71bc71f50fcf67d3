"""The documented custom emitter for Tracker tests, a recorder of emitter callbacks, and the
contracts switch restored after each test.

``tests/conftest.py`` registers this module as a plugin: mark a module that switches contracts
off with ``pytestmark = pytest.mark.usefixtures("restore_contracts")``.
"""

from __future__ import annotations

import threading
from typing import Dict, Iterator, List, Tuple

import pytest

from snowplow_tracker.protocol import contracts


class Capture:
    """An emitter with only an ``input`` method; keeps every payload it is handed."""

    def __init__(self) -> None:
        self.events: List[Dict[str, str]] = []

    def input(self, payload: Dict[str, str]) -> None:
        """Keep the payload.

        Args:
            payload: The event.
        """
        self.events.append(payload)


class Calls:
    """Records the calls of an emitter's ``on_success`` and ``on_failure`` (from any thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.successes: List[List[Dict[str, str]]] = []
        self.failures: List[Tuple[int, List[Dict[str, str]]]] = []
        self.failed = threading.Event()

    def on_success(self, events: List[Dict[str, str]]) -> None:
        """Record a batch the collector accepted.

        Args:
            events: The batch's events.
        """
        with self.lock:
            self.successes.append(events)

    def on_failure(self, sent: int, unsent: List[Dict[str, str]]) -> None:
        """Record a failure, and set ``failed``.

        Args:
            sent: Events of the batch that were sent.
            unsent: The events that were not.
        """
        with self.lock:
            self.failures.append((sent, unsent))
        self.failed.set()

    def sent_eids(self) -> List[str]:
        """The ``eid`` of each event passed to ``on_success``, in order."""
        with self.lock:
            return [e["eid"] for batch in self.successes for e in batch]

    def failed_eids(self) -> List[Tuple[int, List[str]]]:
        """``(sent, eids of the unsent events)`` of each call of ``on_failure``."""
        with self.lock:
            return [(sent, [e["eid"] for e in unsent]) for sent, unsent in self.failures]


@pytest.fixture
def restore_contracts() -> Iterator[None]:
    """Contracts enabled before the test and again after it (a test may disable them)."""
    contracts.enable_contracts()
    yield
    contracts.enable_contracts()
