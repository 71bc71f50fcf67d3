"""The package logger. The library never configures logging; it only adds a NullHandler."""

import logging
import time
from typing import Optional

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


def _has_handler(log: logging.Logger) -> bool:
    """Whether a record of ``log`` reaches a handler other than a ``NullHandler`` (the search
    :meth:`logging.Logger.callHandlers` makes, without the library's own ``NullHandler``)."""
    current: Optional[logging.Logger] = log
    while current is not None:
        if any(not isinstance(h, logging.NullHandler) for h in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


def log_loss(level: int, msg: str, *args: object) -> None:
    """Log, on the package logger, that events were lost (dropped at a shutdown deadline).

    Never silent: when the application's logging has no handler that this record reaches
    (the package's ``NullHandler`` aside, e.g. a gunicorn worker, whose logging configures only
    the ``gunicorn.*`` loggers), the record goes to :data:`logging.lastResort` (stderr), as
    Python does for a program that configured no logging. A level set on the package logger
    (or the root) that disables ``level`` is respected. No handler is added.

    Args:
        level: The logging level (``logging.WARNING`` or above).
        msg: The message, with ``%``-style placeholders for ``args``.
        args: The values of the placeholders.
    """
    if not logger.isEnabledFor(level):
        return
    if _has_handler(logger):
        logger.log(level, msg, *args)
        return
    last_resort = logging.lastResort
    if last_resort is not None:
        prefix = f"{logging.getLevelName(level)} {logger.name}: "
        record = logger.makeRecord(logger.name, level, "", 0, prefix + msg, args, None)
        last_resort.handle(record)
