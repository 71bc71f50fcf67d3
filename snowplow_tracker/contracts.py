"""Kept import path: the module is :mod:`snowplow_tracker.protocol.contracts`."""

from .protocol.contracts import *  # noqa: F403
