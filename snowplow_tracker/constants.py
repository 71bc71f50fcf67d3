"""Kept import path: the module is :mod:`snowplow_tracker.protocol.constants`."""

from .protocol.constants import *  # noqa: F403
