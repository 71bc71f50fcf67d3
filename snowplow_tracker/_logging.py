"""The package logger. The library never configures logging; it only adds a NullHandler."""

import logging
import time

logger = logging.getLogger("snowplow_tracker")
logger.addHandler(logging.NullHandler())


class ThrottledLog:
    """Logs a recurring condition at most once per ``interval`` seconds, with a count.

    Used for drops and repeated failures so that a collector outage never floods the log.

    Args:
        interval: Minimum number of seconds between two records.
        level: Logging level of the records.
    """

    def __init__(self, interval: float = 10.0, level: int = logging.WARNING) -> None:
        self.interval = interval
        self.level = level
        self._last = float("-inf")  # the first record is always logged
        self._suppressed = 0

    def log(self, msg: str, *args: object, exc_info: bool = False) -> None:
        """Log ``msg % args`` unless another record was logged less than ``interval`` ago.

        Args:
            msg: The message, with ``%``-style placeholders for ``args``.
            args: The values of the placeholders.
            exc_info: Add the exception being handled to the record, as ``logging`` does.
        """
        now = time.monotonic()
        if now - self._last < self.interval:
            self._suppressed += 1
            return
        suppressed, self._suppressed = self._suppressed, 0
        self._last = now
        if suppressed:
            logger.log(
                self.level,
                msg + " (%d similar messages suppressed)",
                *args,
                suppressed,
                exc_info=exc_info,
            )
        else:
            logger.log(self.level, msg, *args, exc_info=exc_info)
