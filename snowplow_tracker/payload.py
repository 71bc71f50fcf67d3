"""Kept import path: the module is :mod:`snowplow_tracker.protocol.payload`."""

from .protocol.payload import *  # noqa: F403
