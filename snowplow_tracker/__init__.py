"""Snowplow event tracker for Python (work in progress: the full exports come with the tracker)."""

from ._logging import logger
from ._version import VERSION
from .emitters import AsyncEmitter, Emitter

__version__ = VERSION
__all__ = ["AsyncEmitter", "Emitter", "logger"]
