"""The documented custom emitter for Tracker tests, and the contracts switch restored after each.

``tests/conftest.py`` registers this module as a plugin: mark a module that switches contracts
off with ``pytestmark = pytest.mark.usefixtures("restore_contracts")``.
"""

from __future__ import annotations

from typing import Dict, Iterator, List

import pytest

from snowplow_tracker import contracts


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


@pytest.fixture
def restore_contracts() -> Iterator[None]:
    """Contracts enabled before the test and again after it (a test may disable them)."""
    contracts.enable_contracts()
    yield
    contracts.enable_contracts()
