"""A bounded wait for a condition that another thread or process makes true."""

from __future__ import annotations

import time
from typing import Callable


def wait_until(condition: Callable[[], object], timeout: float = 20.0, step: float = 0.02) -> bool:
    """Poll ``condition`` every ``step`` seconds for at most ``timeout`` seconds.

    Args:
        condition: Called with no arguments; a truthy result ends the wait.
        timeout: The most seconds to wait (a bound, not a timing).
        step: Seconds between polls.

    Returns:
        Whether the condition held, checked once more at the deadline.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())
